"""Past-tense facts recorded with every state change; the outbox carries them out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from omnihub.domain.values import new_id


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    aggregate_id: str
    occurred_at: datetime
    data: dict[str, Any] = field(default_factory=dict)
    version: int = 0
    id: str = field(default_factory=new_id)

    @property
    def family(self) -> str:
        return self.type.split(".", 1)[0]


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
