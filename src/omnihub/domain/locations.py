"""Fulfilment nodes: regional warehouses, front warehouses (前置仓) and stores."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from omnihub.domain.catalog import valid_code
from omnihub.domain.errors import InvalidInput


class LocationType(StrEnum):
    WAREHOUSE = "warehouse"
    FRONT = "front"
    STORE = "store"


class Service(StrEnum):
    SHIP = "ship"
    PICKUP = "pickup"
    SAME_DAY = "same_day"


class DeliveryMode(StrEnum):
    EXPRESS = "express"
    SAME_DAY = "same_day"
    PICKUP = "pickup"

    @property
    def required_service(self) -> Service:
        return {
            DeliveryMode.EXPRESS: Service.SHIP,
            DeliveryMode.SAME_DAY: Service.SAME_DAY,
            DeliveryMode.PICKUP: Service.PICKUP,
        }[self]


@dataclass(frozen=True, slots=True)
class Location:
    code: str
    name: str
    type: LocationType
    lat: float
    lon: float
    services: frozenset[Service] = field(default_factory=frozenset)
    channels: frozenset[str] = field(default_factory=frozenset)
    """Channels this node fulfils for; empty means every channel."""
    capacity_per_day: int | None = None
    """Fulfilments the node can take a day; None is unlimited."""
    priority: int = 0
    """Routing preference: lower is preferred (it adds ``priority`` × weight to the cost)."""

    def __post_init__(self) -> None:
        valid_code(self.code, "location code")
        if not self.name.strip():
            raise InvalidInput("a location needs a name")
        if self.capacity_per_day is not None and self.capacity_per_day < 0:
            raise InvalidInput("capacity_per_day cannot be negative")
        if not (-90.0 <= self.lat <= 90.0) or not (-180.0 <= self.lon <= 180.0):
            raise InvalidInput(f"coordinates ({self.lat}, {self.lon}) are outside the globe")

    def serves(self, channel: str) -> bool:
        return not self.channels or channel in self.channels

    def offers(self, mode: DeliveryMode) -> bool:
        return mode.required_service in self.services


EARTH_RADIUS_KM = 6371.0088


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))
