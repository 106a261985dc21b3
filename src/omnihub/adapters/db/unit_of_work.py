"""The SQL unit of work: one connection, one transaction, every repository on it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import TracebackType
from typing import Self

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from omnihub.adapters.db.backends import SqlBackendRepository
from omnihub.adapters.db.engine import writers_in_line
from omnihub.adapters.db.repositories import (
    SqlAuditLog,
    SqlCatalogRepository,
    SqlInboundLog,
    SqlLocationRepository,
    SqlOrderRepository,
    SqlOutbox,
)
from omnihub.adapters.db.routing import SqlRoutingRepository
from omnihub.adapters.db.stock import SqlReservationRepository, SqlStockRepository
from omnihub.ports import UnitOfWork


class SqlUnitOfWork(UnitOfWork):
    def __init__(self, engine: Engine, *, read_only: bool = False) -> None:
        super().__init__()
        self.engine = engine
        self.read_only = read_only
        self._conn: sa.Connection | None = None
        self._tx: sa.RootTransaction | None = None
        self._turn = contextlib.ExitStack()

    def __enter__(self) -> Self:
        super().__enter__()
        if not self.read_only:
            self._turn.enter_context(writers_in_line(self.engine))
        try:
            conn = self._begin()
        except BaseException:
            self._turn.close()
            raise
        self.catalog = SqlCatalogRepository(conn)
        self.locations = SqlLocationRepository(conn)
        self.stock = SqlStockRepository(conn)
        self.reservations = SqlReservationRepository(conn)
        self.orders = SqlOrderRepository(conn)
        self.inbound = SqlInboundLog(conn)
        self.audit = SqlAuditLog(conn)
        self.outbox = SqlOutbox(conn)
        self.routing = SqlRoutingRepository(conn)
        self.backends = SqlBackendRepository(conn)
        return self

    def _begin(self) -> sa.Connection:
        conn = self.engine.connect()
        if self.read_only and self.engine.dialect.name == "sqlite":
            conn = conn.execution_options(sqlite_begin="DEFERRED")
        elif self.read_only:
            # One snapshot for the whole unit of work: under READ COMMITTED each statement sees
            # the commits made since the previous one, so a report that reads levels, ledger and
            # reservations one after another would find "violations" that never existed.
            conn = conn.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        try:
            self._tx = conn.begin()
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            super().__exit__(exc_type, exc, tb)
        finally:
            try:
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None
            finally:
                self._turn.close()

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        assert self._conn is not None
        if self._conn.dialect.name == "sqlite":
            # A writer holds the whole database from BEGIN IMMEDIATE to the commit: there are
            # no row locks to let go of, and the caller undoes its own writes (see the port).
            yield
            return
        with self._conn.begin_nested():
            yield

    def _commit(self) -> None:
        assert self._tx is not None
        self._tx.commit()

    def rollback(self) -> None:
        if self._tx is not None and self._tx.is_active:
            self._tx.rollback()
