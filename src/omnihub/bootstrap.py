"""Wiring: the one place that picks adapters from settings and hands them to the entrypoints."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from omnihub.adapters.db.engine import create_engine
from omnihub.adapters.db.migrate import upgrade
from omnihub.adapters.db.unit_of_work import SqlUnitOfWork
from omnihub.config import Settings
from omnihub.ports import Clock, SystemClock


@dataclass
class Hub:
    settings: Settings
    engine: Engine
    clock: Clock = field(default_factory=SystemClock)

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)

    def read_uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, read_only=True)

    def close(self) -> None:
        self.engine.dispose()


def bootstrap(settings: Settings | None = None, *, migrate: bool = False) -> Hub:
    settings = settings or Settings()
    engine = create_engine(settings.database_url, pool_size=settings.db_pool_size)
    if migrate:
        upgrade(engine)
    return Hub(settings=settings, engine=engine)
