"""Wiring: the one place that picks adapters from settings and hands them to the entrypoints."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from omnihub.adapters.backends import load_backends
from omnihub.adapters.db.engine import create_engine
from omnihub.adapters.db.integration import SqlIntegrationStores
from omnihub.adapters.db.migrate import upgrade
from omnihub.adapters.db.unit_of_work import SqlUnitOfWork
from omnihub.config import Settings
from omnihub.domain.routing.review import ReviewRules, default_rules, parse_rules
from omnihub.ports import (
    BackendConfig,
    Clock,
    IntegrationStores,
    InvalidBackendConfig,
    SystemClock,
)
from omnihub.services.backends import backend_rules
from omnihub.services.routing import RoutingPolicy


@dataclass
class Hub:
    settings: Settings
    engine: Engine
    policy: RoutingPolicy = field(default_factory=RoutingPolicy)
    clock: Clock = field(default_factory=SystemClock)
    counters: dict[str, int] = field(default_factory=dict)
    backends: Mapping[str, BackendConfig] = field(default_factory=dict)
    """The back ends (ERP, WMS, delivery) by code, checked at load (``backend_configs``)."""

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)

    def read_uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, read_only=True)

    @cached_property
    def integration(self) -> IntegrationStores:
        """The integration stores of the hub's database (``omnihub.ports.integration``), one
        set per hub: the outbox relay and the reactions must share it (see
        ``adapters/db/integration``)."""
        return SqlIntegrationStores.on(self.engine)

    def close(self) -> None:
        self.engine.dispose()


def bootstrap(settings: Settings | None = None, *, migrate: bool = False) -> Hub:
    settings = settings or Settings()
    engine = create_engine(settings.database_url, pool_size=settings.db_pool_size)
    if migrate:
        upgrade(engine)
    return Hub(
        settings=settings,
        engine=engine,
        policy=routing_policy(settings),
        backends=backend_configs(settings),
    )


def backend_configs(settings: Settings) -> dict[str, BackendConfig]:
    """Every configured back end, checked: the adapters' own checks and the hub's rules
    (``services.backends.backend_rules``). ``InvalidBackendConfig`` lists every problem, each
    naming its field, so a config is fixed in one pass (the server will not start with one)."""
    items: Any = settings.backends
    where = "OMNIHUB_BACKENDS"
    if isinstance(items, str):
        where = items
        try:
            data = tomllib.loads(Path(items).read_text(encoding="utf-8"))
        except OSError as exc:
            raise InvalidBackendConfig(
                f"the back-end config {items} cannot be read: {exc.strerror or exc}"
            ) from exc
        except tomllib.TOMLDecodeError as exc:
            raise InvalidBackendConfig(f"the back-end config {items} is not TOML: {exc}") from exc
        items = data.get("backends", [])
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        raise InvalidBackendConfig(
            f"{where} must hold a list of [[backends]] tables, not {type(items).__name__}"
        )
    configs = load_backends(items)
    problems: list[str] = []
    for config in configs.values():
        try:
            backend_rules(config)
        except InvalidBackendConfig as exc:
            problems.extend(exc.problems)
    if problems:
        raise InvalidBackendConfig(problems)
    return configs


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
