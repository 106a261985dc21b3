"""Store pickup (BOPIS): the buyer collects with the code the channel showed, a code is reissued
when lost or locked."""

from __future__ import annotations

from datetime import datetime

from omnihub.domain.errors import Conflict, DomainError, ErrorCode, NotFound
from omnihub.domain.inventory import ReservationState
from omnihub.domain.locations import DeliveryMode
from omnihub.domain.orders import HOLDS_STOCK, Order, OrderStatus
from omnihub.domain.routing.fulfilment import (
    PICKUP_MAX_ATTEMPTS,
    FulfilmentStatus,
    PickupCodeError,
    hash_pickup_code,
    new_pickup_code,
    pickup_code_matches,
)
from omnihub.ports import UnitOfWork
from omnihub.services.routing.fulfilment import close_fulfilments, give_back_stock


class WrongPickupCode(DomainError):
    code = ErrorCode.WRONG_PICKUP_CODE


def collect_pickup(
    uow: UnitOfWork, order_id: str, code: str, now: datetime, actor: str = "store"
) -> Order:
    """The buyer shows the code at the store: the order is delivered and the stock consumed.

    A wrong code is counted (committed even though the call fails); the fifth locks the code.
    """
    with uow:
        order = uow.orders.get(order_id)
        if order is None:
            raise NotFound(f"order {order_id} does not exist")
        if order.delivery is not DeliveryMode.PICKUP:
            raise Conflict(
                f"order {order_id} is not a store pickup order", code=ErrorCode.ILLEGAL_TRANSITION
            )
        if order.status not in HOLDS_STOCK:
            raise Conflict(
                f"order {order_id} is {order.status}; it can be collected only "
                "once paid and while the store holds it",
                code=ErrorCode.ILLEGAL_TRANSITION,
            )
        if not uow.reservations.for_order(order_id):
            # the sweeper released the store's hold (it cancels the order next): the goods are
            # no longer set aside, so they are not handed over against this order
            raise Conflict(
                f"the store's hold on order {order_id} has run out and its stock was released",
                code=ErrorCode.ILLEGAL_TRANSITION,
            )
        record = uow.routing.pickup_code(order_id)
        if record is None:
            raise PickupCodeError(f"order {order_id} has no pickup code")
        if record.used_at is not None:
            raise PickupCodeError(f"the pickup code of order {order_id} was already used")
        if record.attempts >= PICKUP_MAX_ATTEMPTS:
            raise PickupCodeError(
                f"the pickup code of order {order_id} is locked after {PICKUP_MAX_ATTEMPTS} "
                "wrong tries; reissue a code for the buyer",
                code=ErrorCode.PICKUP_CODE_LOCKED,
            )
        if not pickup_code_matches(order_id, code, record.code_hash):
            attempts = uow.routing.count_pickup_attempt(order_id)
            uow.audit.record(
                actor=actor,
                action="order.pickup_refused",
                subject=f"order:{order_id}",
                details={"attempts": attempts},
                at=now,
            )
            uow.commit()
            left = max(0, PICKUP_MAX_ATTEMPTS - attempts)
            raise WrongPickupCode(
                f"wrong pickup code for order {order_id}; {left} tries left before it locks",
                details={"attempts": attempts, "tries_left": left},
            )
        uow.routing.use_pickup_code(order_id, now)
        if order.status is OrderStatus.ALLOCATED:
            order.transition(OrderStatus.RELEASED, f"released to {order.pickup_location}", now)
        if order.status is OrderStatus.RELEASED:
            order.transition(OrderStatus.PICKED, f"prepared at {order.pickup_location}", now)
        order.transition(OrderStatus.DELIVERED, "collected at the store with the pickup code", now)
        give_back_stock(uow, order, now, ReservationState.CONSUMED)
        close_fulfilments(uow, order, now, FulfilmentStatus.DELIVERED)
        uow.orders.save(order)
        uow.audit.record(
            actor=actor, action="order.picked_up", subject=f"order:{order_id}", details={}, at=now
        )
        uow.commit()
    return order


def reissue_pickup_code(uow: UnitOfWork, order_id: str, now: datetime, actor: str = "api") -> str:
    with uow:
        order = uow.orders.get(order_id)
        if order is None:
            raise NotFound(f"order {order_id} does not exist")
        if (
            order.delivery is not DeliveryMode.PICKUP
            or order.status not in (HOLDS_STOCK | {OrderStatus.CREATED})
            or not uow.reservations.for_order(order_id)
        ):
            raise Conflict(
                f"order {order_id} is not waiting for pickup", code=ErrorCode.ILLEGAL_TRANSITION
            )
        code = new_pickup_code()
        uow.routing.put_pickup_code(order_id, hash_pickup_code(order_id, code), now)
        uow.audit.record(
            actor=actor,
            action="order.pickup_code_reissued",
            subject=f"order:{order_id}",
            details={},
            at=now,
        )
        uow.commit()
    return code
