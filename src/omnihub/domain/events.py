"""Past-tense facts recorded with every state change; the outbox carries them out.

An :class:`Event` is what the outbox stores: a type, the aggregate it is about, when, and its
``data`` as a plain mapping (the JSON receivers get). Each event type has a frozen dataclass
payload (:class:`StockChanged`, :class:`OrderStatusChanged`, ...): producers build the payload
and record it with :meth:`Event.of`, consumers read ``data`` back with the payload's
``from_dict``. ``to_dict`` writes the same keys in the same order as the hub always has, so
the JSON on the wire (outbox rows, bus messages, webhook bodies) does not change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol, Self

from omnihub.domain.values import new_id

# Event type names, one place.
ORDER_INGESTED = "order.ingested"
ORDER_UPDATED = "order.updated"
ORDER_STATUS_CHANGED = "order.status_changed"
ORDER_HELD = "order.held"
STOCK_CHANGED = "stock.changed"
STOCK_REPAIRED = "stock.repaired"
RESERVATION_TAKEN = "reservation.taken"
RESERVATION_RELEASED = "reservation.released"
RESERVATION_EXPIRED = "reservation.expired"
RESERVATION_CONSUMED = "reservation.consumed"


class Payload(Protocol):
    """What every event payload offers: its type name and its wire form."""

    TYPE: ClassVar[str]

    def to_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    aggregate_id: str
    occurred_at: datetime
    data: dict[str, Any] = field(default_factory=dict)
    version: int = 0
    id: str = field(default_factory=new_id)

    @classmethod
    def of(
        cls, payload: Payload, aggregate_id: str, occurred_at: datetime, version: int = 0
    ) -> Event:
        """The event recording ``payload`` (its type is the payload's)."""
        return cls(payload.TYPE, aggregate_id, occurred_at, payload.to_dict(), version)

    @property
    def family(self) -> str:
        return self.type.split(".", 1)[0]


# -- stock ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LocationStock:
    """One location's levels of a SKU, as ``stock.changed`` carries them."""

    location: str
    on_hand: int
    reserved: int
    available: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "location": self.location,
            "on_hand": self.on_hand,
            "reserved": self.reserved,
            "available": self.available,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            str(data["location"]),
            int(data.get("on_hand", 0)),
            int(data.get("reserved", 0)),
            int(data.get("available", 0)),
        )


@dataclass(frozen=True, slots=True)
class StockChanged:
    """A SKU's levels after a change, every location of it in location order."""

    TYPE: ClassVar[str] = STOCK_CHANGED
    sku: str
    available: int
    locations: tuple[LocationStock, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "available": self.available,
            "locations": [location.to_dict() for location in self.locations],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            str(data["sku"]),
            int(data.get("available", 0)),
            tuple(LocationStock.from_dict(loc) for loc in data.get("locations", ())),
        )


@dataclass(frozen=True, slots=True)
class StockRepaired:
    """A location's counters recomputed from the ledger and the active reservations (the SKU is
    the event's aggregate)."""

    TYPE: ClassVar[str] = STOCK_REPAIRED
    location: str
    on_hand_before: int
    on_hand_after: int
    reserved_before: int
    reserved_after: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "location": self.location,
            "on_hand_before": self.on_hand_before,
            "on_hand_after": self.on_hand_after,
            "reserved_before": self.reserved_before,
            "reserved_after": self.reserved_after,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            str(data["location"]),
            int(data["on_hand_before"]),
            int(data["on_hand_after"]),
            int(data["reserved_before"]),
            int(data["reserved_after"]),
        )


# -- reservations -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReservationEvent:
    """What every reservation event carries; each type is a subclass."""

    TYPE: ClassVar[str]
    reservation_id: str
    sku: str
    location: str
    qty: int
    order_id: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "reservation_id": self.reservation_id,
            "sku": self.sku,
            "location": self.location,
            "qty": self.qty,
            "order_id": self.order_id,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            str(data["reservation_id"]),
            str(data["sku"]),
            str(data["location"]),
            int(data["qty"]),
            data.get("order_id"),
        )


@dataclass(frozen=True, slots=True)
class ReservationTaken(ReservationEvent):
    TYPE: ClassVar[str] = RESERVATION_TAKEN


@dataclass(frozen=True, slots=True)
class ReservationReleased(ReservationEvent):
    TYPE: ClassVar[str] = RESERVATION_RELEASED


@dataclass(frozen=True, slots=True)
class ReservationExpired(ReservationEvent):
    TYPE: ClassVar[str] = RESERVATION_EXPIRED


@dataclass(frozen=True, slots=True)
class ReservationConsumed(ReservationEvent):
    TYPE: ClassVar[str] = RESERVATION_CONSUMED


# -- orders -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderIngested:
    """A new order. ``external_id`` is the channel's id as it was received."""

    TYPE: ClassVar[str] = ORDER_INGESTED
    order_id: str
    channel: str
    external_id: str
    status: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "channel": self.channel,
            "external_id": self.external_id,
            "status": self.status,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            str(data["order_id"]),
            str(data["channel"]),
            str(data["external_id"]),
            str(data["status"]),
        )


@dataclass(frozen=True, slots=True)
class OrderStatusChanged:
    """An order moved from one status to another. ``source`` is the channel whose own message
    made the change (it is not told back); None when the hub or a person made it."""

    TYPE: ClassVar[str] = ORDER_STATUS_CHANGED
    order_id: str
    channel: str
    external_id: str
    status: str
    from_status: str
    to: str
    cause: str
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "order_id": self.order_id,
            "channel": self.channel,
            "external_id": self.external_id,
            "status": self.status,
            "from": self.from_status,
            "to": self.to,
            "cause": self.cause,
        }
        if self.source is not None:
            data["source"] = self.source
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            str(data["order_id"]),
            str(data["channel"]),
            str(data["external_id"]),
            str(data["status"]),
            str(data["from"]),
            str(data["to"]),
            str(data["cause"]),
            data.get("source"),
        )


@dataclass(frozen=True, slots=True)
class OrderHeld:
    """An order held for a person or a later retry, with the reason."""

    TYPE: ClassVar[str] = ORDER_HELD
    order_id: str
    channel: str
    external_id: str
    status: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "channel": self.channel,
            "external_id": self.external_id,
            "status": self.status,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            str(data["order_id"]),
            str(data["channel"]),
            str(data["external_id"]),
            str(data["status"]),
            str(data["reason"]),
        )


#: the payload of each event type the hub records
PAYLOADS: dict[str, type[Any]] = {
    payload.TYPE: payload
    for payload in (
        OrderIngested,
        OrderStatusChanged,
        OrderHeld,
        StockChanged,
        StockRepaired,
        ReservationTaken,
        ReservationReleased,
        ReservationExpired,
        ReservationConsumed,
    )
}
