"""Order use cases: ingest a canonical order, allocate stock to it, move it through its life."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from omnihub.domain import events as ev
from omnihub.domain.allocation import Need, NoFulfilmentNode, candidate_nodes, plan
from omnihub.domain.errors import Conflict, DomainError, ErrorCode, InvalidInput, NotFound
from omnihub.domain.inventory import (
    InsufficientStock,
    MovementKind,
    Reservation,
    ReservationState,
)
from omnihub.domain.locations import DeliveryMode
from omnihub.domain.orders import (
    HOLDS_STOCK,
    Address,
    Buyer,
    HoldReason,
    Order,
    OrderLine,
    OrderStatus,
    Payment,
)
from omnihub.domain.values import Money, new_id
from omnihub.ports import (
    Clock,
    ConcurrentUpdate,
    DuplicateOrder,
    UnitOfWork,
    UnitOfWorkFactory,
)
from omnihub.services.inventory import reservation_event, stock_changed_event

#: How often allocation re-plans after losing a race for stock before holding the order.
ALLOCATION_ATTEMPTS = 3
#: How often an ingestion is retried after a concurrent writer of the same order won.
INGEST_ATTEMPTS = 5


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
    raw: str = ""


class Outcome(StrEnum):
    CREATED = "created"
    HELD = "held"
    UPDATED = "updated"
    DUPLICATE = "duplicate"
    STALE = "stale"


@dataclass(frozen=True, slots=True)
class IngestResult:
    order: Order
    outcome: Outcome


def ingest_order(
    uow_factory: UnitOfWorkFactory, command: IngestOrder, clock: Clock
) -> IngestResult:
    """Store the raw payload, then create the order or apply a newer update of it, exactly once."""
    last_error: DomainError | None = None
    for _ in range(INGEST_ATTEMPTS):
        try:
            return _ingest_once(uow_factory(), command, clock)
        except (DuplicateOrder, ConcurrentUpdate) as exc:
            last_error = exc  # a concurrent delivery of the same order won: read it and go on
        except DomainError as exc:
            _record_rejected(uow_factory(), command, clock, exc.message)
            raise
    assert last_error is not None
    raise last_error


def _ingest_once(uow: UnitOfWork, command: IngestOrder, clock: Clock) -> IngestResult:
    now = clock.now()
    with uow:
        inbound_id = uow.inbound.record(
            channel=command.channel, kind="order", body=command.raw, received_at=now,
            result="received",
        )
        existing = uow.orders.get_by_external(command.channel, command.external_id)
        if existing is not None:
            outcome = _apply_update(uow, existing, command, now)
            if outcome is Outcome.UPDATED:
                uow.orders.save(existing)
            _finish_inbound(uow, inbound_id, outcome, existing.id)
            uow.commit()
            return IngestResult(existing, outcome)
        order = _new_order(command, now)
        resolve_lines(uow, order)
        if order.unresolved_lines:
            missing = ", ".join(line.channel_sku for line in order.unresolved_lines)
            order.hold(HoldReason.UNMAPPED_SKU, now, f"no SKU mapped for {missing}")
        uow.orders.add(order)
        if allocate_if_paid(uow, order, now):
            uow.orders.save(order)
        outcome = Outcome.HELD if order.status is OrderStatus.HELD else Outcome.CREATED
        _finish_inbound(uow, inbound_id, outcome, order.id)
        uow.commit()
        return IngestResult(order, outcome)


def _finish_inbound(uow: UnitOfWork, inbound_id: int, outcome: Outcome, order_id: str) -> None:
    uow.inbound.mark(inbound_id, result=str(outcome), order_id=order_id)


def _record_rejected(uow: UnitOfWork, command: IngestOrder, clock: Clock, error: str) -> None:
    with uow:
        uow.inbound.record(
            channel=command.channel, kind="order", body=command.raw, received_at=clock.now(),
            result="rejected", error=error,
        )
        uow.commit()


def _new_order(command: IngestOrder, now: datetime) -> Order:
    lines = [
        OrderLine(
            line_no=i, channel_sku=line.channel_sku, qty=line.qty, unit_price=line.unit_price,
            discount=line.discount, sku=line.sku,
        )
        for i, line in enumerate(command.lines, start=1)
    ]
    return Order.receive(
        id=new_id(), channel=command.channel, external_id=command.external_id,
        channel_status=command.status, delivery=command.delivery, lines=lines,
        channel_created_at=command.created_at, channel_updated_at=command.updated_at, at=now,
        buyer=command.buyer, ship_to=command.ship_to, pickup_location=command.pickup_location,
        shipping_fee=command.shipping_fee, total=command.total, payment=command.payment,
        remark=command.remark,
    )


def _apply_update(uow: UnitOfWork, order: Order, command: IngestOrder, now: datetime) -> Outcome:
    """A later message about a known order: newer wins, older or equal changes nothing."""
    incoming = command.updated_at
    if incoming == order.channel_updated_at:
        return Outcome.DUPLICATE
    if incoming < order.channel_updated_at:
        return Outcome.STALE
    order.channel_updated_at = incoming
    order.buyer = command.buyer
    order.ship_to = command.ship_to
    order.remark = command.remark
    if command.payment is not None:
        order.payment = command.payment
    target = command.status
    if target is OrderStatus.PAID and order.status is OrderStatus.CREATED or (
        target is OrderStatus.PAID
        and order.status is OrderStatus.HELD
        and order.held_from is OrderStatus.CREATED
    ):
        order.pay(command.payment, f"paid on {order.channel}", now)
        allocate_if_paid(uow, order, now)
    elif target in (OrderStatus.CANCELLED, OrderStatus.REFUNDED) and order.can_become(target):
        give_back_stock(uow, order, now, ReservationState.RELEASED)
        order.transition(target, f"{target} on {order.channel}", now)
    return Outcome.UPDATED


def resolve_lines(uow: UnitOfWork, order: Order) -> bool:
    """Fill in master SKUs from the channel's mappings; True when every line has one."""
    given = [line.sku for line in order.lines if line.sku is not None]
    known = uow.catalog.existing(given)
    for line in order.lines:
        if line.sku is not None and line.sku not in known:
            # a SKU the catalog does not know is as good as unmapped: keep and hold the order
            line.sku = None
    unresolved = order.unresolved_lines
    if unresolved:
        mapped = uow.catalog.resolve(order.channel, [line.channel_sku for line in unresolved])
        for line in unresolved:
            line.sku = mapped.get(line.channel_sku)
    return not order.unresolved_lines


def allocate_if_paid(uow: UnitOfWork, order: Order, now: datetime) -> bool:
    """Reserve stock for a paid order, all lines or none; hold it with the reason otherwise.

    Returns True when the order changed.
    """
    if order.status is not OrderStatus.PAID:
        return False
    needs = [Need(line.line_no, line.sku, line.qty) for line in order.lines if line.sku]
    try:
        nodes = candidate_nodes(
            uow.locations.list(), channel=order.channel, mode=order.delivery,
            pickup_location=order.pickup_location, buyer_lat=order.ship_to.lat,
            buyer_lon=order.ship_to.lon,
        )
    except NoFulfilmentNode as exc:
        order.hold(HoldReason.NO_NODE, now, exc.message)
        return True
    skus = sorted({need.sku for need in needs})
    for _ in range(ALLOCATION_ATTEMPTS):
        available = {(lv.location, lv.sku): lv.available for lv in uow.stock.levels(skus)}
        try:
            items = plan(needs, nodes, available)
        except InsufficientStock as exc:
            order.hold(HoldReason.NO_STOCK, now, exc.message)
            return True
        except NoFulfilmentNode as exc:
            order.hold(HoldReason.NO_NODE, now, exc.message)
            return True
        # Rows are taken in one order (location, sku) so concurrent allocations cannot deadlock.
        items.sort(key=lambda item: (item.location, item.sku, item.line_no))
        taken = []
        for item in items:
            if not uow.stock.try_reserve(item.location, item.sku, item.qty):
                break
            taken.append(item)
        else:
            for item in items:
                reservation = Reservation(
                    id=new_id(), location=item.location, sku=item.sku, qty=item.qty,
                    state=ReservationState.ACTIVE, created_at=now, order_id=order.id,
                )
                uow.reservations.add(reservation)
                uow.emit(reservation_event(ev.RESERVATION_TAKEN, reservation, now))
            for sku in sorted({item.sku for item in items}):
                uow.emit(stock_changed_event(uow, sku, now))
            nodes_used = sorted({item.location for item in items})
            order.transition(OrderStatus.ALLOCATED, f"allocated at {', '.join(nodes_used)}", now)
            return True
        for item in taken:  # lost a race for one line: give back the others and plan again
            uow.stock.unreserve(item.location, item.sku, item.qty)
    order.hold(HoldReason.NO_STOCK, now, "stock was taken by other orders while allocating")
    return True


def give_back_stock(
    uow: UnitOfWork, order: Order, now: datetime, how: ReservationState
) -> list[Reservation]:
    """Release (or consume, on shipment) every active reservation the order holds."""
    ended = []
    for reservation in uow.reservations.for_order(order.id):
        if not uow.reservations.change_state(reservation.id, how, now):
            continue
        uow.stock.unreserve(reservation.location, reservation.sku, reservation.qty)
        if how is ReservationState.CONSUMED:
            uow.stock.move(
                reservation.location, reservation.sku, MovementKind.SALE, -reservation.qty,
                f"order:{order.id}:{reservation.id}", now,
            )
            uow.emit(reservation_event(ev.RESERVATION_CONSUMED, reservation, now))
        else:
            uow.emit(reservation_event(ev.RESERVATION_RELEASED, reservation, now))
        ended.append(reservation)
    for sku in sorted({r.sku for r in ended}):
        uow.emit(stock_changed_event(uow, sku, now))
    return ended


# -- actions ----------------------------------------------------------------------------------

ACTIONS = (
    "pay", "hold", "release", "allocate", "pick", "ship", "deliver", "complete", "cancel",
    "refund",
)


@dataclass(frozen=True, slots=True)
class OrderAction:
    order_id: str
    action: str
    actor: str = "api"
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def apply_action(uow: UnitOfWork, command: OrderAction, clock: Clock) -> Order:
    """Move an order through its state machine on a person's or a system's request."""
    if command.action not in ACTIONS:
        raise InvalidInput(
            f"unknown action {command.action!r}; actions are: {', '.join(ACTIONS)}",
            code=ErrorCode.UNKNOWN_ACTION,
        )
    now = clock.now()
    with uow:
        order = uow.orders.get(command.order_id)
        if order is None:
            raise NotFound(f"order {command.order_id} does not exist")
        cause = command.reason or f"{command.action} by {command.actor}"
        _ACTION_HANDLERS[command.action](uow, order, cause, now)
        uow.orders.save(order)
        uow.audit.record(
            actor=command.actor, action=f"order.{command.action}", subject=f"order:{order.id}",
            details={"reason": command.reason, **command.details, "status": str(order.status)},
            at=now,
        )
        uow.commit()
    return order


def _pay(uow: UnitOfWork, order: Order, cause: str, now: datetime) -> None:
    order.pay(None, cause, now)
    allocate_if_paid(uow, order, now)


def _hold(uow: UnitOfWork, order: Order, cause: str, now: datetime) -> None:
    if order.status in HOLDS_STOCK - {OrderStatus.ALLOCATED}:
        raise Conflict(
            f"order {order.id} is {order.status} at its node; cancel it there instead",
            code=ErrorCode.ILLEGAL_TRANSITION,
        )
    if order.status is OrderStatus.ALLOCATED:
        give_back_stock(uow, order, now, ReservationState.RELEASED)
    order.hold(HoldReason.MANUAL, now, cause)


def _release(uow: UnitOfWork, order: Order, cause: str, now: datetime) -> None:
    """``release`` lifts a hold, or hands an allocated order to its fulfilment node."""
    if order.status is OrderStatus.HELD:
        if not resolve_lines(uow, order):
            missing = ", ".join(line.channel_sku for line in order.unresolved_lines)
            raise Conflict(
                f"order {order.id} still has lines with no SKU mapped ({missing}); "
                "add the mappings first",
                code=ErrorCode.ILLEGAL_TRANSITION,
            )
        order.resume(cause, now)
        allocate_if_paid(uow, order, now)
        return
    order.transition(OrderStatus.RELEASED, cause, now)


def _allocate(uow: UnitOfWork, order: Order, cause: str, now: datetime) -> None:
    if order.status is not OrderStatus.PAID:
        raise Conflict(
            f"only a paid order can be allocated; order {order.id} is {order.status}",
            code=ErrorCode.ILLEGAL_TRANSITION,
        )
    allocate_if_paid(uow, order, now)


def _simple(target: OrderStatus) -> Any:
    def handler(uow: UnitOfWork, order: Order, cause: str, now: datetime) -> None:
        order.transition(target, cause, now)

    return handler


def _ship(uow: UnitOfWork, order: Order, cause: str, now: datetime) -> None:
    order.transition(OrderStatus.SHIPPED, cause, now)
    give_back_stock(uow, order, now, ReservationState.CONSUMED)


def _deliver(uow: UnitOfWork, order: Order, cause: str, now: datetime) -> None:
    order.transition(OrderStatus.DELIVERED, cause, now)
    give_back_stock(uow, order, now, ReservationState.CONSUMED)  # picked up at the store


def _cancel_or_refund(target: OrderStatus) -> Any:
    def handler(uow: UnitOfWork, order: Order, cause: str, now: datetime) -> None:
        order.transition(target, cause, now)
        give_back_stock(uow, order, now, ReservationState.RELEASED)

    return handler


_ACTION_HANDLERS = {
    "pay": _pay,
    "hold": _hold,
    "release": _release,
    "allocate": _allocate,
    "pick": _simple(OrderStatus.PICKED),
    "ship": _ship,
    "deliver": _deliver,
    "complete": _simple(OrderStatus.COMPLETED),
    "cancel": _cancel_or_refund(OrderStatus.CANCELLED),
    "refund": _cancel_or_refund(OrderStatus.REFUNDED),
}


def get_order(uow: UnitOfWork, order_id: str) -> tuple[Order, list[Reservation]]:
    with uow:
        order = uow.orders.get(order_id)
        if order is None:
            raise NotFound(f"order {order_id} does not exist")
        return order, uow.reservations.for_order(order_id, active_only=False)
