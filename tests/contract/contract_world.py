"""The few rows every contract needs first: locations and SKUs (stock rows refer to both); and
the integration stores' world (the stores and units of work on the same database)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from omnihub.domain.catalog import Sku
from omnihub.domain.locations import Location, LocationType, Service
from omnihub.domain.values import Money
from omnihub.ports import IntegrationStores, UnitOfWork

UowFactory = Callable[[], UnitOfWork]

SH_WH, HZ_WH = "SH-WH", "HZ-WH"
TEE, MUG = "TEE-WHITE-M", "MUG-CLASSIC"
AT = datetime(2026, 11, 11, 0, 0, 1, tzinfo=UTC)

LOCATIONS = [
    Location(SH_WH, "上海仓", LocationType.WAREHOUSE, 31.23, 121.47, frozenset({Service.SHIP})),
    Location(HZ_WH, "杭州仓", LocationType.WAREHOUSE, 30.27, 120.15, frozenset({Service.SHIP})),
]
SKUS = [
    Sku(TEE, "白色T恤 M", Money.of("59.00"), "6901234567892"),
    Sku(MUG, "经典马克杯", Money.of("39.00")),
]


def seed(uow_factory: UowFactory) -> UowFactory:
    with uow_factory() as uow:
        for location in LOCATIONS:
            uow.locations.add(location)
        for sku in SKUS:
            uow.catalog.add_sku(sku)
        uow.commit()
    return uow_factory


@dataclass(frozen=True)
class IntegrationWorld:
    """The integration stores of one database, and units of work on the same database (to
    write what the stores read: events, channel mappings, fulfilments)."""

    uow: UowFactory
    stores: IntegrationStores
