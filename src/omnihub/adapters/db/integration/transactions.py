"""The transactions every SQL integration store of one database shares: reads that take no
write lock, writes that wait their turn in the writers' line, a retry when PostgreSQL chose a
write as a deadlock's victim, and (SQLite) the relay batch that the hub's reactions' writes
join while it publishes."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from omnihub.adapters.db.engine import writers_in_line

log = logging.getLogger("omnihub.adapters.db.integration")

#: times a write chosen as a deadlock's victim is tried (PostgreSQL undoes it whole)
DEADLOCK_ATTEMPTS = 3

Work = Callable[[sa.Connection], int]


def deadlock(exc: sa.exc.OperationalError) -> bool:
    """PostgreSQL's deadlock_detected (40P01) or serialization_failure (40001)."""
    return getattr(exc.orig, "sqlstate", None) in ("40P01", "40001")


def aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


class IntegrationDb:
    """One per database, shared by its integration stores (the relay batch is this object's:
    a reaction's store must share it with the relay's)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self._relaying = threading.local()

    def read(self) -> sa.Connection:
        conn = self.engine.connect()
        if not self.postgres:
            conn = conn.execution_options(sqlite_begin="DEFERRED")
        return conn

    @contextlib.contextmanager
    def begin(self) -> Iterator[sa.Connection]:
        """A write transaction; on SQLite it waits its turn in the writers' line with the
        units of work (rather than in SQLite's busy handler, which lets it lose round after
        round to them)."""
        with writers_in_line(self.engine), self.engine.begin() as conn:
            yield conn

    def write(self, work: Work) -> int:
        """Run ``work`` in a write transaction of its own; or, on the thread of an SQLite
        relay batch that is publishing, with that batch's (the in-process bus runs the hub's
        reactions there: their writes and the events marked delivered then take the write lock
        once, and commit together). Returns what ``work`` returns; when it is left to the
        batch, 0 (not known yet)."""
        batch: list[Work] | None = getattr(self._relaying, "writes", None)
        if batch is not None:
            batch.append(work)
            return 0
        return self.retrying(work)

    def retrying(self, work: Work) -> int:
        """Run ``work`` in a write transaction, again (up to ``DEADLOCK_ATTEMPTS``) when
        PostgreSQL chose it as a deadlock's victim: the transaction was undone whole."""
        for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
            try:
                with self.begin() as conn:
                    return work(conn)
            except sa.exc.OperationalError as exc:
                if attempt == DEADLOCK_ATTEMPTS or not deadlock(exc):
                    raise
                log.info("write chosen as a deadlock victim; attempt %d again", attempt + 1)
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def collecting(self, writes: list[Work]) -> Iterator[None]:
        """The writes this thread makes through ``write`` meanwhile are collected in
        ``writes`` (for the caller to run in its own transaction)."""
        self._relaying.writes = writes
        try:
            yield
        finally:
            self._relaying.writes = None
