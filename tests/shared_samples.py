"""Where the platforms' real published samples are (``../shared/fixtures`` beside the project,
see its SOURCES.md): conformance tests read them when the folder is there and skip otherwise.
They are never copied into the project (licences); our own fixtures are in the same formats."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"

needs_shared = pytest.mark.skipif(
    not SHARED_FIXTURES.exists(), reason="the published samples (../shared/fixtures) are absent"
)


def shared_sample(*parts: str) -> Path:
    """The path of one published sample (its test is marked ``needs_shared``)."""
    return SHARED_FIXTURES.joinpath(*parts)
