"""The warehouses (WMS): the delivery order the hub sends for a fulfilment, and what a
warehouse's confirmation of it does (ships the part; a partial one is noted with its packages)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from omnihub.domain.backends import DeliveryConfirmation, Line, OutboundOrder
from omnihub.domain.errors import Conflict, ErrorCode, NotFound
from omnihub.domain.orders import Order
from omnihub.domain.routing.fulfilment import Fulfilment, FulfilmentStatus
from omnihub.ports import UnitOfWork
from omnihub.services.backends.documents import Applied, lines_of, receiver_of
from omnihub.services.routing import ship_part

TRACKING_NUMBER_LENGTH = 64


def outbound_order(order: Order, fulfilment: Fulfilment) -> OutboundOrder:
    """The warehouse's delivery order for one fulfilment (its id is the WMS's order code)."""
    return OutboundOrder(
        reference=fulfilment.id,
        order_reference=order.id,
        location=fulfilment.location,
        created_at=fulfilment.created_at,
        lines=lines_of(order, fulfilment),
        receiver=receiver_of(order),
        channel=order.channel,
        remark=f"{order.channel} order {order.external_id}",
    )


def _tracking(numbers: Sequence[str]) -> str | None:
    """Every package's number when they fit the column, else the first."""
    if not numbers:
        return None
    joined = ",".join(numbers)
    return joined if len(joined) <= TRACKING_NUMBER_LENGTH else numbers[0][:TRACKING_NUMBER_LENGTH]


def _described(lines: Sequence[Line]) -> str:
    return ", ".join(f"{line.qty} x {line.sku}" for line in lines) or "no lines"


def apply_delivery_confirmation(
    uow: UnitOfWork, confirmation: DeliveryConfirmation, now: datetime
) -> Applied:
    """The warehouse shipped (part of) a delivery order: a final confirmation ships the
    fulfilment, a partial one is noted with its packages. Idempotent by the message id (and by
    the fulfilment's state, for a re-sent confirmation with a new id)."""
    conf = confirmation
    what = f"delivery order {conf.reference} ({'final' if conf.final else 'partial'})"
    fulfilment = uow.routing.get_fulfilment(conf.reference)
    if fulfilment is None:
        raise NotFound(
            f"{conf.source} confirmed {what}, which is no fulfilment of the hub",
            code=ErrorCode.NOT_FOUND,
        )
    if fulfilment.location != conf.location:
        raise Conflict(
            f"{conf.source} confirmed {what} from {conf.location}, but the fulfilment is at "
            f"{fulfilment.location}; check the warehouse mapping",
            code=ErrorCode.ILLEGAL_TRANSITION,
        )
    if fulfilment.status is FulfilmentStatus.PENDING:
        raise Conflict(
            f"{conf.source} confirmed {what} before the hub released it; send it again later",
            code=ErrorCode.ILLEGAL_TRANSITION,
        )
    order = uow.orders.get(fulfilment.order_id)
    assert order is not None
    if not uow.backends.remember_message(conf.source, f"confirm:{conf.message_id}", now):
        return Applied(what, "duplicate", order.id)
    if fulfilment.status in (FulfilmentStatus.SHIPPED, FulfilmentStatus.DELIVERED):
        return Applied(what, "already shipped", order.id)
    numbers = [n for n in (fulfilment.tracking_number or "").split(",") if n]
    numbers += [n for n in conf.tracking_numbers if n not in numbers]
    packages = f"{conf.carrier or 'carrier'} {' '.join(conf.tracking_numbers)}"
    actor = f"backend:{conf.source}"
    if fulfilment.status is FulfilmentStatus.CANCELLED:
        order.note(
            f"{conf.source} shipped {_described(conf.lines)} from {conf.location} after the hub "
            f"cancelled the fulfilment ({packages}); the goods have left: settle it with the "
            "buyer",
            now,
        )
        uow.orders.save(order)
        uow.audit.record(
            actor=actor,
            action="backend.shipped_after_cancel",
            subject=f"order:{order.id}",
            details={"fulfilment": fulfilment.id, "tracking_numbers": list(numbers)},
            at=now,
        )
        return Applied(what, "shipped after cancel", order.id, (f"{what} shipped after cancel",))
    if not conf.final:
        fulfilment.carrier = conf.carrier or fulfilment.carrier
        fulfilment.tracking_number = _tracking(numbers)
        fulfilment.updated_at = now
        uow.routing.save_fulfilment(fulfilment)
        order.note(
            f"{conf.location} shipped part of it: {_described(conf.lines)} ({packages})", now
        )
        uow.orders.save(order)
        return Applied(what, "part shipped", order.id)
    ship_part(
        uow,
        fulfilment,
        order,
        now,
        carrier=conf.carrier,
        tracking_number=_tracking(numbers),
        actor=actor,
    )
    return Applied(what, "shipped", order.id)
