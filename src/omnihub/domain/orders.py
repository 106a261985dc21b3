"""The order aggregate and its explicit state machine (R-04)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from omnihub.domain.catalog import valid_code
from omnihub.domain.errors import DomainError, ErrorCode, InvalidInput
from omnihub.domain.events import (
    Event,
    OrderHeld,
    OrderIngested,
    OrderStatusChanged,
    Payload,
)
from omnihub.domain.locations import DeliveryMode
from omnihub.domain.values import Money, positive_quantity, utc


class OrderStatus(StrEnum):
    CREATED = "created"
    PAID = "paid"
    HELD = "held"
    ALLOCATED = "allocated"
    RELEASED = "released"
    PICKED = "picked"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


S = OrderStatus

#: The one table of allowed transitions.
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.CREATED: frozenset({S.PAID, S.HELD, S.CANCELLED}),
    S.PAID: frozenset({S.HELD, S.ALLOCATED, S.CANCELLED, S.REFUNDED}),
    S.HELD: frozenset({S.CREATED, S.PAID, S.ALLOCATED, S.CANCELLED, S.REFUNDED}),
    S.ALLOCATED: frozenset({S.RELEASED, S.HELD, S.CANCELLED, S.REFUNDED}),
    # RELEASED -> HELD: the node handed the order back (a rider task that failed before the
    # goods left the store); its stock is given back and it is routed again or waits for a person
    S.RELEASED: frozenset({S.PICKED, S.SHIPPED, S.HELD, S.CANCELLED, S.REFUNDED}),
    S.PICKED: frozenset({S.SHIPPED, S.DELIVERED, S.CANCELLED, S.REFUNDED}),
    S.SHIPPED: frozenset({S.DELIVERED, S.REFUNDED}),
    S.DELIVERED: frozenset({S.COMPLETED, S.REFUNDED}),
    S.COMPLETED: frozenset({S.REFUNDED}),
    S.CANCELLED: frozenset(),
    S.REFUNDED: frozenset(),
}

#: Statuses in which the order holds reserved stock.
HOLDS_STOCK = frozenset({S.ALLOCATED, S.RELEASED, S.PICKED})
TERMINAL = frozenset({S.CANCELLED, S.REFUNDED, S.COMPLETED})
#: Statuses a channel may report for an order the hub has never seen (fulfilled without it).
FULFILLED_ELSEWHERE = frozenset({S.SHIPPED, S.DELIVERED, S.COMPLETED, S.REFUNDED})


class HoldReason(StrEnum):
    UNMAPPED_SKU = "unmapped_sku"
    NO_STOCK = "no_stock"
    NO_NODE = "no_node"
    PICKUP_STORE_SHORT = "pickup_store_short"
    PICKUP_EXPIRED = "pickup_expired"
    REFUND_REQUESTED = "refund_requested"
    DELIVERY_FAILED = "delivery_failed"
    """the delivery provider gave the order back (rider task cancelled, expired, returned)"""
    MANUAL = "manual"


class IllegalTransition(DomainError):
    code = ErrorCode.ILLEGAL_TRANSITION

    def __init__(self, order_id: str, current: OrderStatus, target: OrderStatus) -> None:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (it is final)"
        super().__init__(
            f"order {order_id} is {current} and cannot become {target}; from {current} it can "
            f"become: {allowed}",
            details={"status": str(current), "target": str(target)},
        )


@dataclass(frozen=True, slots=True)
class Buyer:
    channel_buyer_id: str | None = None
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    member_id: str | None = None
    tier: str | None = None
    """Member tier as the channel or the member centre knows it (e.g. "vip")."""
    masked: tuple[str, ...] = ()
    """Fields the channel sent masked or encrypted ("屈**", ciphertext): kept as given, never
    guessed; a person or a decrypting service resolves them."""


@dataclass(frozen=True, slots=True)
class Address:
    name: str | None = None
    phone: str | None = None
    province: str | None = None
    city: str | None = None
    district: str | None = None
    address: str | None = None
    postcode: str | None = None
    lat: float | None = None
    lon: float | None = None
    masked: tuple[str, ...] = ()
    """Fields the channel sent masked or encrypted, kept as given."""

    @property
    def has_coordinates(self) -> bool:
        return self.lat is not None and self.lon is not None


@dataclass(frozen=True, slots=True)
class Payment:
    provider: str
    transaction_id: str
    amount: Money
    paid_at: datetime


@dataclass(slots=True)
class OrderLine:
    line_no: int
    channel_sku: str
    qty: int
    unit_price: Money
    discount: Money
    sku: str | None = None

    def __post_init__(self) -> None:
        positive_quantity(self.qty, f"qty of line {self.line_no}")
        if self.unit_price.amount < 0 or self.discount.amount < 0:
            raise InvalidInput(f"line {self.line_no}: prices and discounts cannot be negative")
        if self.discount.amount > self.unit_price.amount * self.qty:
            raise InvalidInput(f"line {self.line_no}: the discount is larger than the line amount")

    @property
    def amount(self) -> Money:
        return self.unit_price.times(self.qty) - self.discount


@dataclass(frozen=True, slots=True)
class Transition:
    from_status: OrderStatus | None
    to_status: OrderStatus
    cause: str
    at: datetime


@dataclass(slots=True)
class Order:
    id: str
    channel: str
    external_id: str
    status: OrderStatus
    delivery: DeliveryMode
    lines: list[OrderLine]
    channel_created_at: datetime
    channel_updated_at: datetime
    buyer: Buyer = field(default_factory=Buyer)
    ship_to: Address = field(default_factory=Address)
    pickup_location: str | None = None
    shipping_fee: Money = field(default_factory=lambda: Money.of("0"))
    total: Money = field(default_factory=lambda: Money.of("0"))
    payment: Payment | None = None
    remark: str = ""
    hold_reason: str | None = None
    held_from: OrderStatus | None = None
    cod: bool = False
    """Cash on delivery: no payment record is expected before shipping."""
    service_level: str | None = None
    """Set by a member-tier rule, e.g. "next_day"."""
    reviewed: bool = False
    """Automatic review has run (or a person released the order past it)."""
    merge_group: str | None = None
    version: int = 0
    transitions: list[Transition] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    # -- creation -----------------------------------------------------------------------------
    @classmethod
    def receive(
        cls,
        *,
        id: str,
        channel: str,
        external_id: str,
        channel_status: OrderStatus,
        delivery: DeliveryMode,
        lines: list[OrderLine],
        channel_created_at: datetime,
        channel_updated_at: datetime,
        at: datetime,
        **fields: Any,
    ) -> Order:
        """A new order as a channel sent it: created, then paid if the channel says so."""
        valid_code(channel, "channel")
        if not external_id.strip():
            raise InvalidInput("external_id must not be empty")
        if not lines:
            raise InvalidInput("an order needs at least one line")
        if len({line.line_no for line in lines}) != len(lines):
            raise InvalidInput("line numbers must be unique within an order")
        if delivery is DeliveryMode.PICKUP and not fields.get("pickup_location"):
            raise InvalidInput("a pickup order must name its pickup_location (the store)")
        if channel_status not in {S.CREATED, S.PAID, S.CANCELLED} | FULFILLED_ELSEWHERE:
            raise InvalidInput(
                f"a new order must arrive as created, paid, cancelled or already fulfilled on "
                f"the channel, not {channel_status}"
            )
        order = cls(
            id=id,
            channel=channel,
            external_id=external_id.strip(),
            status=S.CREATED,
            delivery=delivery,
            lines=lines,
            channel_created_at=utc(channel_created_at),
            channel_updated_at=utc(channel_updated_at),
            **fields,
        )
        order.transitions.append(Transition(None, S.CREATED, f"received from {channel}", at))
        order._record(OrderIngested(order.id, channel, external_id, str(order.status)), at)
        if channel_status is S.PAID:
            order.transition(S.PAID, "paid on the channel", at)
        elif channel_status is S.CANCELLED:
            order.transition(S.CANCELLED, "cancelled on the channel", at, source=channel)
        elif channel_status in FULFILLED_ELSEWHERE:
            # first seen after the channel fulfilled it (e.g. pulled after an outage, or shipped
            # by the seller by hand): recorded as it is, never routed or reserved again
            previous, order.status = order.status, channel_status
            cause = f"already {channel_status} on the channel when first received"
            order.transitions.append(Transition(previous, channel_status, cause, at))
            order._record(order._status_changed(previous, channel_status, cause, channel), at)
        return order

    # -- state machine ------------------------------------------------------------------------
    def can_become(self, target: OrderStatus) -> bool:
        return target in TRANSITIONS[self.status]

    def transition(
        self, target: OrderStatus, cause: str, at: datetime, *, source: str | None = None
    ) -> None:
        """``source``: the channel whose own message made this change (it is not told back)."""
        if not self.can_become(target):
            raise IllegalTransition(self.id, self.status, target)
        previous = self.status
        self.status = target
        self.transitions.append(Transition(previous, target, cause, at))
        self._record(self._status_changed(previous, target, cause, source), at)

    def note(self, cause: str, at: datetime) -> None:
        """Record something that happened to the order without changing its status."""
        self.transitions.append(Transition(self.status, self.status, cause, at))

    def hold(self, reason: str, at: datetime, cause: str | None = None) -> None:
        if self.status is S.HELD:
            self.hold_reason = reason
            return
        self.held_from = self.status
        self.hold_reason = reason
        self.transition(S.HELD, cause or f"held: {reason}", at)
        self._record(
            OrderHeld(self.id, self.channel, self.external_id, str(self.status), reason), at
        )

    def resume(self, cause: str, at: datetime) -> None:
        """Lift a hold: the order returns to where it was before it was held."""
        if self.status is not S.HELD:
            raise IllegalTransition(self.id, self.status, self.held_from or S.PAID)
        target = self.held_from or S.CREATED
        if target in (S.ALLOCATED, S.RELEASED):
            # stock was given back when held; it must be allocated again
            target = S.PAID
        self.hold_reason = None
        self.held_from = None
        self.transition(target, cause, at)

    def pay(self, payment: Payment | None, cause: str, at: datetime) -> None:
        if self.status is S.HELD and self.held_from not in (None, S.CREATED):
            # Already paid: HELD -> PAID here would lift the hold behind the reason's back.
            raise DomainError(
                f"order {self.id} was paid before it was held ({self.hold_reason}); "
                "release the hold instead of paying again",
                code=ErrorCode.ILLEGAL_TRANSITION,
                details={"status": str(self.status), "held_from": str(self.held_from)},
            )
        if payment is not None:
            self.payment = payment
        if self.status is S.HELD and self.held_from is S.CREATED:
            self.held_from = S.PAID
            self.transitions.append(Transition(S.HELD, S.HELD, f"{cause} (still held)", at))
            return
        self.transition(S.PAID, cause, at)

    @property
    def unresolved_lines(self) -> list[OrderLine]:
        return [line for line in self.lines if line.sku is None]

    @property
    def is_paid(self) -> bool:
        return self.status is S.PAID or (self.status is S.HELD and self.held_from is S.PAID)

    @property
    def lines_total(self) -> Money:
        total = Money.of("0", self.total.currency)
        for line in self.lines:
            total = total + line.amount
        return total

    def with_lines(self, lines: list[OrderLine]) -> Order:
        return replace(self, lines=lines)

    def _status_changed(
        self, previous: OrderStatus, target: OrderStatus, cause: str, source: str | None
    ) -> OrderStatusChanged:
        return OrderStatusChanged(
            order_id=self.id,
            channel=self.channel,
            external_id=self.external_id,
            status=str(self.status),
            from_status=str(previous),
            to=str(target),
            cause=cause,
            source=source,
        )

    def _record(self, payload: Payload, at: datetime) -> None:
        self.events.append(Event.of(payload, self.id, at, self.version + 1))


@dataclass(frozen=True, slots=True)
class IncomingLine:
    channel_sku: str
    qty: int
    unit_price: Money
    discount: Money
    sku: str | None = None


@dataclass(frozen=True, slots=True)
class IngestOrder:
    """A canonical order as a channel adapter (or the canonical API) hands it over."""

    channel: str
    external_id: str
    status: OrderStatus
    created_at: datetime
    updated_at: datetime
    delivery: DeliveryMode
    lines: list[IncomingLine]
    buyer: Buyer = field(default_factory=Buyer)
    ship_to: Address = field(default_factory=Address)
    pickup_location: str | None = None
    shipping_fee: Money = field(default_factory=lambda: Money.of("0"))
    total: Money = field(default_factory=lambda: Money.of("0"))
    payment: Payment | None = None
    remark: str = ""
    cod: bool = False
    refund_requested: bool = False
    """The buyer asked for a refund that is still open: the hub stops fulfilling the order."""
    counter_sale: bool = False
    """Sold (or, as REFUNDED, returned) at a store's counter (POS): the goods left or came back
    at ``pickup_location`` already, so its stock moves at once and nothing is routed."""
    raw: str = ""
