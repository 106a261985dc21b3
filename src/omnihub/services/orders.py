"""Order use cases: ingest a canonical order, allocate stock to it, move it through its life."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from omnihub.domain.errors import Conflict, DomainError, ErrorCode, InvalidInput, NotFound
from omnihub.domain.inventory import (
    MovementKind,
    Reservation,
    ReservationState,
)
from omnihub.domain.locations import DeliveryMode
from omnihub.domain.orders import (
    HOLDS_STOCK,
    HoldReason,
    IllegalTransition,
    IngestOrder,
    Order,
    OrderLine,
    OrderStatus,
)
from omnihub.domain.orders import IncomingLine as IncomingLine  # the use case's command
from omnihub.domain.routing.fulfilment import FulfilmentStatus
from omnihub.domain.values import new_id, utc
from omnihub.ports import (
    Clock,
    ConcurrentUpdate,
    DuplicateOrder,
    UnitOfWork,
    UnitOfWorkFactory,
)
from omnihub.services import routing
from omnihub.services.inventory import stock_changed_event
from omnihub.services.routing import RoutingPolicy

#: How often allocation re-plans after losing a race for stock before holding the order.
#: How often an ingestion is retried after a concurrent writer of the same order won.
INGEST_ATTEMPTS = 5


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
    pickup_code: str | None = None
    """Issued when this message made the store hold a pickup order; shown to the buyer once."""


def ingest_order(
    uow_factory: UnitOfWorkFactory,
    command: IngestOrder,
    clock: Clock,
    policy: RoutingPolicy | None = None,
) -> IngestResult:
    """Create the order or apply a newer update of it, exactly once; the raw payload is kept
    with what became of it."""
    last_error: DomainError | None = None
    for _ in range(INGEST_ATTEMPTS):
        try:
            return _ingest_once(uow_factory(), command, clock, policy)
        except (DuplicateOrder, ConcurrentUpdate) as exc:
            last_error = exc  # a concurrent delivery of the same order won: read it and go on
        except DomainError as exc:
            _record_rejected(uow_factory(), command, clock, exc.message)
            raise
    assert last_error is not None
    raise last_error


def _ingest_once(
    uow: UnitOfWork, command: IngestOrder, clock: Clock, policy: RoutingPolicy | None
) -> IngestResult:
    now = clock.now()
    with uow:
        existing = uow.orders.get_by_external(command.channel, command.external_id)
        if existing is not None:
            outcome, code = _apply_update(uow, existing, command, now, policy)
            if outcome is Outcome.UPDATED:
                uow.orders.save(existing)
            _record_inbound(uow, command, now, outcome, existing.id)
            uow.commit()
            return IngestResult(existing, outcome, code)
        order = _new_order(command, now)
        resolve_lines(uow, order)
        # An order that arrives already cancelled is kept as it is: nothing will be fulfilled,
        # and holding it (CANCELLED -> HELD) is illegal, which used to reject the whole message.
        if command.refund_requested and order.status in (OrderStatus.CREATED, OrderStatus.PAID):
            order.hold(HoldReason.REFUND_REQUESTED, now, f"refund requested on {order.channel}")
        elif order.unresolved_lines and order.status in (OrderStatus.CREATED, OrderStatus.PAID):
            missing = ", ".join(line.channel_sku for line in order.unresolved_lines)
            order.hold(HoldReason.UNMAPPED_SKU, now, f"no SKU mapped for {missing}")
        uow.orders.add(order)
        if command.counter_sale:
            if order.status is not OrderStatus.REFUNDED:  # a return that beat its sale: none
                _counter_movements(uow, order, MovementKind.SALE, now)
            uow.orders.save(order)
            _record_inbound(uow, command, now, Outcome.CREATED, order.id)
            uow.commit()
            return IngestResult(order, Outcome.CREATED)
        routed = routing.route_order(uow, order, now, policy)
        if routed.changed:
            uow.orders.save(order)
        outcome = Outcome.HELD if order.status is OrderStatus.HELD else Outcome.CREATED
        _record_inbound(uow, command, now, outcome, order.id)
        uow.commit()
        return IngestResult(order, outcome, routed.pickup_code)


def _record_inbound(
    uow: UnitOfWork, command: IngestOrder, received_at: datetime, outcome: Outcome, order_id: str
) -> None:
    """The raw payload with what became of it, written once in the transaction that applied it
    (a rejected one is kept by ``_record_rejected`` after the rollback)."""
    uow.inbound.record(
        channel=command.channel,
        kind="order",
        body=command.raw,
        received_at=received_at,
        result=str(outcome),
        order_id=order_id,
    )


def _record_rejected(uow: UnitOfWork, command: IngestOrder, clock: Clock, error: str) -> None:
    with uow:
        uow.inbound.record(
            channel=command.channel,
            kind="order",
            body=command.raw,
            received_at=clock.now(),
            result="rejected",
            error=error,
        )
        uow.commit()


def _new_order(command: IngestOrder, now: datetime) -> Order:
    lines = [
        OrderLine(
            line_no=i,
            channel_sku=line.channel_sku,
            qty=line.qty,
            unit_price=line.unit_price,
            discount=line.discount,
            sku=line.sku,
        )
        for i, line in enumerate(command.lines, start=1)
    ]
    return Order.receive(
        id=new_id(),
        channel=command.channel,
        external_id=command.external_id,
        channel_status=command.status,
        delivery=command.delivery,
        lines=lines,
        channel_created_at=command.created_at,
        channel_updated_at=command.updated_at,
        at=now,
        buyer=command.buyer,
        ship_to=command.ship_to,
        pickup_location=command.pickup_location,
        shipping_fee=command.shipping_fee,
        total=command.total,
        payment=command.payment,
        remark=command.remark,
        cod=command.cod,
    )


def _apply_update(
    uow: UnitOfWork,
    order: Order,
    command: IngestOrder,
    now: datetime,
    policy: RoutingPolicy | None,
) -> tuple[Outcome, str | None]:
    """A later message about a known order: newer wins, older or equal changes nothing."""
    incoming = utc(command.updated_at)  # refuses a naive local time, keeps UTC inside
    if incoming == order.channel_updated_at:
        return Outcome.DUPLICATE, None
    if incoming < order.channel_updated_at:
        return Outcome.STALE, None
    order.channel_updated_at = incoming
    order.buyer = command.buyer
    order.ship_to = command.ship_to
    order.remark = command.remark
    if command.payment is not None:
        order.payment = command.payment
    target = command.status
    if command.counter_sale:
        if target is OrderStatus.REFUNDED and order.can_become(target):
            order.transition(
                target,
                f"returned at the counter of {order.pickup_location}",
                now,
                source=order.channel,
            )
            _counter_movements(uow, order, MovementKind.RETURN, now)
        return Outcome.UPDATED, None
    if target is OrderStatus.REFUNDED and (
        order.status is OrderStatus.CREATED or order.held_from is OrderStatus.CREATED
    ):
        target = OrderStatus.CANCELLED  # never paid in the hub's eyes: nothing to refund
    if target in (OrderStatus.CANCELLED, OrderStatus.REFUNDED) and order.can_become(target):
        _give_back(uow, order, now)
        order.transition(target, f"{target} on {order.channel}", now, source=order.channel)
        return Outcome.UPDATED, None
    if command.refund_requested:
        _refund_requested(uow, order, now)
        return Outcome.UPDATED, None
    if order.status is OrderStatus.HELD and order.hold_reason == HoldReason.REFUND_REQUESTED:
        # the refund was withdrawn or refused on the channel: fulfil the order after all
        order.resume(f"refund request closed on {order.channel}", now)
        resumed: OrderStatus = order.status
        if target is not OrderStatus.PAID or resumed is not OrderStatus.CREATED:
            return Outcome.UPDATED, routing.route_order(uow, order, now, policy).pickup_code
    if (
        target is OrderStatus.PAID
        and order.status is OrderStatus.CREATED
        or (
            target is OrderStatus.PAID
            and order.status is OrderStatus.HELD
            and order.held_from is OrderStatus.CREATED
        )
    ):
        order.pay(command.payment, f"paid on {order.channel}", now)
        return Outcome.UPDATED, routing.route_order(uow, order, now, policy).pickup_code
    return Outcome.UPDATED, None


def _counter_movements(uow: UnitOfWork, order: Order, kind: MovementKind, now: datetime) -> None:
    """A store's counter sale takes its units off that store's shelf at once (a return puts
    them back). A sale beyond the hub's free stock there is taken as far as it goes and noted:
    the shelf was right and the hub's count was short, which the next stock-take settles."""
    store = order.pickup_location
    if store is None or uow.locations.get(store) is None:
        raise InvalidInput(f"a counter sale needs a known store, got {store!r}")
    moved_skus: set[str] = set()
    for line in order.lines:
        if line.sku is None:
            continue
        reference = f"order:{order.id}:{line.line_no}"
        level = uow.stock.level(store, line.sku, lock=True)
        if uow.stock.has_movement(store, line.sku, kind, reference):
            continue
        if kind is MovementKind.SALE:
            delta = -min(line.qty, max(0, level.on_hand - level.reserved))
            if -delta < line.qty:
                order.note(
                    f"sold {line.qty} x {line.sku} at {store} with only {-delta} free "
                    "in the hub; count the shelf",
                    now,
                )
        else:
            sold = uow.stock.movement_qty(
                store, line.sku, MovementKind.SALE, f"order:{order.id}:{line.line_no}"
            )
            delta = -sold if sold < 0 else 0
        if delta:
            uow.stock.move(store, line.sku, kind, delta, reference, now)
            moved_skus.add(line.sku)
    for sku in sorted(moved_skus):
        uow.emit(stock_changed_event(uow, sku, now))


def _refund_requested(uow: UnitOfWork, order: Order, now: datetime) -> None:
    """Stop fulfilling an order whose buyer asked for a refund: before it reaches a node the
    order is held and its stock given back; at a node it is noted for the node to stop it."""
    cause = f"refund requested on {order.channel}"
    if order.status is OrderStatus.HELD:
        if order.hold_reason != HoldReason.REFUND_REQUESTED:
            order.note(f"{cause} (already held: {order.hold_reason})", now)
        return
    if order.status in (OrderStatus.CREATED, OrderStatus.PAID, OrderStatus.ALLOCATED):
        if order.status is OrderStatus.ALLOCATED or uow.reservations.for_order(order.id):
            _give_back(uow, order, now)
        order.hold(HoldReason.REFUND_REQUESTED, now, cause)
        return
    order.note(f"{cause} while {order.status}: stop it at the node if it has not left", now)


def _give_back(uow: UnitOfWork, order: Order, now: datetime) -> None:
    routing.give_back_stock(uow, order, now, ReservationState.RELEASED)
    routing.close_fulfilments(uow, order, now, FulfilmentStatus.CANCELLED)


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


def allocate_if_paid(
    uow: UnitOfWork, order: Order, now: datetime, policy: RoutingPolicy | None = None
) -> bool:
    """Route the order if it is ready (paid, or an unpaid store pickup); True if it changed."""
    return routing.route_order(uow, order, now, policy).changed


# -- actions ----------------------------------------------------------------------------------

ACTIONS = (
    "pay",
    "hold",
    "release",
    "allocate",
    "pick",
    "ship",
    "deliver",
    "complete",
    "cancel",
    "refund",
    "pickup",
)


@dataclass(frozen=True, slots=True)
class OrderAction:
    order_id: str
    action: str
    actor: str = "api"
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def apply_action(
    uow: UnitOfWork, command: OrderAction, clock: Clock, policy: RoutingPolicy | None = None
) -> Order:
    """Move an order through its state machine on a person's or a system's request."""
    if command.action not in ACTIONS:
        raise InvalidInput(
            f"unknown action {command.action!r}; actions are: {', '.join(ACTIONS)}",
            code=ErrorCode.UNKNOWN_ACTION,
        )
    now = clock.now()
    if command.action == "pickup":
        code = str(command.details.get("code") or "")
        if not code.strip():
            raise InvalidInput('give the pickup code the buyer shows: {"code": "..."}')
        return routing.collect_pickup(uow, command.order_id, code, now, actor=command.actor)
    with uow:
        order = uow.orders.get(command.order_id)
        if order is None:
            raise NotFound(f"order {command.order_id} does not exist")
        cause = command.reason or f"{command.action} by {command.actor}"
        _ACTION_HANDLERS[command.action](_Act(uow, order, cause, now, policy, command.details))
        uow.orders.save(order)
        uow.audit.record(
            actor=command.actor,
            action=f"order.{command.action}",
            subject=f"order:{order.id}",
            details={"reason": command.reason, **command.details, "status": str(order.status)},
            at=now,
        )
        uow.commit()
    return order


@dataclass(frozen=True, slots=True)
class _Act:
    uow: UnitOfWork
    order: Order
    cause: str
    now: datetime
    policy: RoutingPolicy | None
    details: dict[str, Any]


def _pay(a: _Act) -> None:
    a.order.pay(None, a.cause, a.now)
    routing.route_order(a.uow, a.order, a.now, a.policy)


def _hold(a: _Act) -> None:
    if a.order.status in HOLDS_STOCK - {OrderStatus.ALLOCATED}:
        raise Conflict(
            f"order {a.order.id} is {a.order.status} at its node; cancel it there instead",
            code=ErrorCode.ILLEGAL_TRANSITION,
        )
    if a.order.status is OrderStatus.ALLOCATED or a.uow.reservations.for_order(a.order.id):
        # an unpaid pickup order (CREATED) holds its store's stock too: a held order holds none
        _give_back(a.uow, a.order, a.now)
    a.order.hold(HoldReason.MANUAL, a.now, a.cause)


def _release(a: _Act) -> None:
    """``release`` lifts a hold (a person's decision), or hands an allocated order to its nodes."""
    order = a.order
    if order.status is OrderStatus.HELD:
        if not resolve_lines(a.uow, order):
            missing = ", ".join(line.channel_sku for line in order.unresolved_lines)
            raise Conflict(
                f"order {order.id} still has lines with no SKU mapped ({missing}); "
                "add the mappings first",
                code=ErrorCode.ILLEGAL_TRANSITION,
            )
        order.reviewed = True  # a person looked at it: the review rules don't hold it again
        order.resume(a.cause, a.now)
        routing.route_order(a.uow, order, a.now, a.policy)
        return
    if order.status is not OrderStatus.ALLOCATED:
        raise IllegalTransition(order.id, order.status, OrderStatus.RELEASED)
    routing.release_order(a.uow, order, a.now)


def _allocate(a: _Act) -> None:
    if a.order.status is not OrderStatus.PAID:
        raise Conflict(
            f"only a paid order can be allocated; order {a.order.id} is {a.order.status}",
            code=ErrorCode.ILLEGAL_TRANSITION,
        )
    routing.route_order(a.uow, a.order, a.now, a.policy)


def _pick(a: _Act) -> None:
    a.order.transition(OrderStatus.PICKED, a.cause, a.now)


def _ship(a: _Act) -> None:
    a.order.transition(OrderStatus.SHIPPED, a.cause, a.now)
    routing.give_back_stock(a.uow, a.order, a.now, ReservationState.CONSUMED)
    for fulfilment in a.uow.routing.fulfilments(a.order.id):
        if fulfilment.status in (FulfilmentStatus.PENDING, FulfilmentStatus.RELEASED):
            fulfilment.status = FulfilmentStatus.SHIPPED
            fulfilment.carrier = a.details.get("carrier") or fulfilment.carrier
            fulfilment.tracking_number = (
                a.details.get("tracking_number") or fulfilment.tracking_number
            )
            fulfilment.updated_at = a.now
            a.uow.routing.save_fulfilment(fulfilment)


def _deliver(a: _Act) -> None:
    if a.order.delivery is DeliveryMode.PICKUP:
        raise Conflict(
            f"order {a.order.id} is collected at the store: use the pickup action with the "
            "buyer's code",
            code=ErrorCode.ILLEGAL_TRANSITION,
        )
    a.order.transition(OrderStatus.DELIVERED, a.cause, a.now)
    routing.give_back_stock(a.uow, a.order, a.now, ReservationState.CONSUMED)
    routing.close_fulfilments(a.uow, a.order, a.now, FulfilmentStatus.DELIVERED)


def _complete(a: _Act) -> None:
    a.order.transition(OrderStatus.COMPLETED, a.cause, a.now)


def _cancel(a: _Act) -> None:
    a.order.transition(OrderStatus.CANCELLED, a.cause, a.now)
    _give_back(a.uow, a.order, a.now)


def _refund(a: _Act) -> None:
    a.order.transition(OrderStatus.REFUNDED, a.cause, a.now)
    _give_back(a.uow, a.order, a.now)


_ACTION_HANDLERS: dict[str, Callable[[_Act], None]] = {
    "pay": _pay,
    "hold": _hold,
    "release": _release,
    "allocate": _allocate,
    "pick": _pick,
    "ship": _ship,
    "deliver": _deliver,
    "complete": _complete,
    "cancel": _cancel,
    "refund": _refund,
}


def get_order(uow: UnitOfWork, order_id: str) -> tuple[Order, list[Reservation]]:
    with uow:
        order = uow.orders.get(order_id)
        if order is None:
            raise NotFound(f"order {order_id} does not exist")
        return order, uow.reservations.for_order(order_id, active_only=False)
