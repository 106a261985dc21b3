"""Engines for SQLite (WAL, durable commits, write transactions that queue) and PostgreSQL."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

#: How long a writer waits in line before it asks SQLite for the write lock anyway.
WRITER_QUEUE_SECONDS = 60.0
#: How often a process's first writer looks whether another process's writer is done.
_OTHER_PROCESS_POLL_SECONDS = 0.001


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and use psycopg 3 for them."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def create_engine(url: str, *, pool_size: int = 10) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    # pool_size + overflow per process: with several server processes the total must stay
    # under the server's max_connections (100 by default on PostgreSQL)
    return sa.create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size // 2,
        pool_pre_ping=True,
        pool_timeout=60,
    )


def _sqlite_engine(url: str) -> Engine:
    engine = sa.create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})
    _writer_lines[engine] = _WriterLine.for_database(make_url(url).database, engine)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # We issue BEGIN ourselves (below), so the driver must not.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: an acknowledged order survives a power cut (docs/benchmarks.md weighs NORMAL).
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        # Writers take the write lock at BEGIN, so two writers queue on busy_timeout instead of
        # both reading and then failing to upgrade (SQLite's "database is locked").
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


# -- SQLite writers in line -------------------------------------------------------------------
# SQLite lets one writer in at a time; one that finds the lock taken sleeps in its busy handler
# (1, 2, 5 ... 100 ms) and tries again, so the lock is often free while every waiter sleeps and
# unlucky ones lose round after round (p99 of seconds while the median is tens of ms). Writers
# wait in line here instead: in a process on a lock that hands over at once, and between
# processes on a lock file beside the database (``<database>.writers.lock``), which only each
# process's first writer in line polls.


@dataclass
class _WriterLine:
    in_process: threading.Lock
    lock_file: int | None  # the lock file's descriptor; None in memory

    @classmethod
    def for_database(cls, database: str | None, engine: Engine) -> _WriterLine:
        lock_file = None
        if database and database != ":memory:" and not database.startswith("file:"):
            lock_file = os.open(f"{database}.writers.lock", os.O_RDWR | os.O_CREAT, 0o600)
            weakref.finalize(engine, os.close, lock_file)
        return cls(threading.Lock(), lock_file)

    def _lock_file(self, deadline: float) -> bool:
        assert self.lock_file is not None
        while True:
            try:
                fcntl.flock(self.lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(_OTHER_PROCESS_POLL_SECONDS)

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        deadline = time.monotonic() + WRITER_QUEUE_SECONDS
        # past the deadline (a writer that never lets go) go on as before: SQLite's busy
        # handler decides, and times out
        in_line = self.in_process.acquire(timeout=WRITER_QUEUE_SECONDS)
        in_file = in_line and self.lock_file is not None and self._lock_file(deadline)
        try:
            yield
        finally:
            if in_file:
                assert self.lock_file is not None
                fcntl.flock(self.lock_file, fcntl.LOCK_UN)
            if in_line:
                self.in_process.release()


_writer_lines: weakref.WeakKeyDictionary[Engine, _WriterLine] = weakref.WeakKeyDictionary()


def writers_in_line(engine: Engine) -> contextlib.AbstractContextManager[None]:
    """Held by a unit of work that writes, from before BEGIN IMMEDIATE until after its commit or
    rollback: SQLite's writers take turns. Other databases: nothing to wait for."""
    line = _writer_lines.get(engine)
    return contextlib.nullcontext() if line is None else line.turn()
