"""End-to-end fixtures: a real ``omnihub serve`` (several worker processes) over HTTP."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.e2e.server import running_server as _running_server

StartServer = Callable[..., str]


@pytest.fixture
def running_server(tmp_path: Path) -> Iterator[StartServer]:
    """A factory: ``running_server(database_url, workers=4)`` starts a server, returns its URL.

    Every server started is stopped when the test ends. Request ``database_url`` before this
    fixture in a test's arguments so the server stops before its database is dropped.
    """
    counter = itertools.count(1)
    with contextlib.ExitStack() as stack:

        def start(database_url: str, *, workers: int = 4) -> str:
            workdir = tmp_path / f"server-{next(counter)}"
            return stack.enter_context(
                _running_server(database_url, workers=workers, workdir=workdir)
            )

        yield start
