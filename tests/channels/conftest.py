"""Fixtures of the channel adapter tests: ``hub`` is a real server with a seeded retailer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.channels.harness import HubUnderTest, hub_under_test


@pytest.fixture
def hub(sqlite_url: str, tmp_path: Path) -> Iterator[HubUnderTest]:
    """A running hub on a fresh SQLite file (fast stock flush and pull loops), seeded."""
    with hub_under_test(sqlite_url, tmp_path) as running:
        yield running
