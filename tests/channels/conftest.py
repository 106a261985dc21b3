"""Fixtures of the channel adapter tests: ``hub`` is a real server with a seeded retailer;
``shared_hub`` one such server for a module whose tests each use a channel of their own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.channels.harness import HubUnderTest, hub_on_a_fresh_file, hub_under_test


@pytest.fixture
def hub(sqlite_url: str, tmp_path: Path) -> Iterator[HubUnderTest]:
    """A running hub on a fresh SQLite file (fast stock flush and pull loops), seeded."""
    with hub_under_test(sqlite_url, tmp_path) as running:
        yield running


@pytest.fixture(scope="module")
def shared_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubUnderTest]:
    """One hub for a module's tests, each on a channel of its own. It starts pulling a new
    channel half an hour back: an order made two hours ago reaches it only by a message."""
    with hub_on_a_fresh_file(
        tmp_path_factory.mktemp("hub"), OMNIHUB_PULL_START_HOURS="0.5"
    ) as running:
        yield running
