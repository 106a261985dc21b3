"""The central inventory pool: stock per (location, SKU), its ledger and reservations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from omnihub.domain.errors import Conflict, ErrorCode, InvalidInput


class MovementKind(StrEnum):
    RECEIPT = "receipt"
    ADJUSTMENT = "adjustment"
    STOCKTAKE = "stocktake"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    SALE = "sale"
    RETURN = "return"
    REPAIR = "repair"


#: Movements a caller (ERP, WMS, a person) may post; SALE is written by the hub itself, and
#: REPAIR is refused from callers (``omnihub check --repair`` sets counters, not the ledger).
EXTERNAL_MOVEMENTS = frozenset(
    {
        MovementKind.RECEIPT,
        MovementKind.ADJUSTMENT,
        MovementKind.STOCKTAKE,
        MovementKind.TRANSFER_OUT,
        MovementKind.TRANSFER_IN,
        MovementKind.RETURN,
    }
)


@dataclass(frozen=True, slots=True)
class StockLevel:
    location: str
    sku: str
    on_hand: int
    reserved: int
    safety: int

    @property
    def available(self) -> int:
        """Available to sell: on hand less what is promised and the safety stock, never below 0."""
        return max(0, self.on_hand - self.reserved - self.safety)

    @property
    def over_reserved(self) -> int:
        """Units promised beyond what is on hand (movements refuse to cause it; 0 when balanced)."""
        return max(0, self.reserved - self.on_hand)


def movement_delta(kind: MovementKind, qty: int, level: StockLevel) -> int:
    """The signed change to on-hand that a movement of ``qty`` makes, checked against the level.

    ``qty`` is the moved quantity (positive) for receipts, returns and transfers, a signed
    correction for adjustments, and the counted quantity for stock-takes.
    """
    if isinstance(qty, bool) or not isinstance(qty, int):
        raise InvalidInput("qty must be a whole number")
    if kind is MovementKind.STOCKTAKE:
        if qty < 0:
            raise InvalidInput(f"a stock-take counts what is there: qty must be 0 or more ({qty})")
        delta = qty - level.on_hand
    elif kind is MovementKind.ADJUSTMENT:
        if qty == 0:
            raise InvalidInput("an adjustment of 0 changes nothing; give a signed correction")
        delta = qty
    elif kind in (MovementKind.RECEIPT, MovementKind.TRANSFER_IN, MovementKind.RETURN):
        if qty <= 0:
            raise InvalidInput(f"a {kind} must move a quantity greater than zero, got {qty}")
        delta = qty
    elif kind in (MovementKind.TRANSFER_OUT, MovementKind.SALE):
        if qty <= 0:
            raise InvalidInput(f"a {kind} must move a quantity greater than zero, got {qty}")
        delta = -qty
    else:
        raise InvalidInput(f"{kind} movements are written by the hub itself")
    if delta < 0 and level.on_hand + delta < level.reserved:
        free = level.on_hand - level.reserved
        raise Conflict(
            f"only {max(free, 0)} of {level.on_hand} units of {level.sku} at {level.location} "
            f"are free; {level.reserved} are reserved for orders, so {-delta} cannot be removed",
            code=ErrorCode.STOCK_RESERVED,
            details={"on_hand": level.on_hand, "reserved": level.reserved, "requested": -delta},
        )
    return delta


class ReservationState(StrEnum):
    ACTIVE = "active"
    RELEASED = "released"
    EXPIRED = "expired"
    CONSUMED = "consumed"


@dataclass(frozen=True, slots=True)
class Reservation:
    id: str
    location: str
    sku: str
    qty: int
    state: ReservationState
    created_at: datetime
    expires_at: datetime | None = None
    order_id: str | None = None

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def require_active(self) -> None:
        if self.state is not ReservationState.ACTIVE:
            raise Conflict(
                f"reservation {self.id} is already {self.state}",
                code=ErrorCode.RESERVATION_NOT_ACTIVE,
                details={"state": str(self.state)},
            )


class InsufficientStock(Conflict):
    """Every shortfall of one request, collected and raised once."""

    code = ErrorCode.INSUFFICIENT_STOCK

    def __init__(self, shortfalls: list[dict[str, object]]) -> None:
        parts = ", ".join(
            f"{s['sku']} at {s.get('location') or 'any location'} (wanted {s['requested']})"
            for s in shortfalls
        )
        super().__init__(
            f"not enough stock available for {parts}", details={"shortfalls": shortfalls}
        )
