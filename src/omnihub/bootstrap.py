"""Wiring: the one place that picks adapters from settings and hands them to the entrypoints."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from omnihub.adapters.db.engine import create_engine
from omnihub.adapters.db.integration import IntegrationStore
from omnihub.adapters.db.migrate import upgrade
from omnihub.adapters.db.unit_of_work import SqlUnitOfWork
from omnihub.config import Settings
from omnihub.domain.routing.review import ReviewRules, default_rules, parse_rules
from omnihub.ports import Clock, SystemClock
from omnihub.services.routing import RoutingPolicy


@dataclass
class Hub:
    settings: Settings
    engine: Engine
    policy: RoutingPolicy = field(default_factory=RoutingPolicy)
    clock: Clock = field(default_factory=SystemClock)
    counters: dict[str, int] = field(default_factory=dict)

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)

    def read_uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, read_only=True)

    @property
    def integration(self) -> IntegrationStore:
        return IntegrationStore(self.engine)

    def close(self) -> None:
        self.engine.dispose()


def bootstrap(settings: Settings | None = None, *, migrate: bool = False) -> Hub:
    settings = settings or Settings()
    engine = create_engine(settings.database_url, pool_size=settings.db_pool_size)
    if migrate:
        upgrade(engine)
    return Hub(settings=settings, engine=engine, policy=routing_policy(settings))


def review_rules(settings: Settings) -> ReviewRules:
    """The rules file named in the settings (refused with its line and problem), or defaults."""
    if not settings.review_rules:
        return default_rules()
    with open(settings.review_rules, encoding="utf-8") as handle:
        return parse_rules(handle.read())


def routing_policy(settings: Settings) -> RoutingPolicy:
    return RoutingPolicy(
        rules=review_rules(settings),
        same_day_radius_km=settings.same_day_radius_km,
        merge_window_seconds=settings.merge_window_seconds,
        pickup_pay_seconds=settings.pickup_pay_seconds,
        pickup_collect_seconds=settings.pickup_collect_seconds,
    )
