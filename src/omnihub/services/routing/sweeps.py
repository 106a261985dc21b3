"""What the sweepers do on their own: release the orders whose merge window passed, expire
reservations whose time ran out and cancel the store pickups whose hold ran out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from omnihub.domain.inventory import ReservationState
from omnihub.domain.locations import DeliveryMode
from omnihub.domain.orders import HOLDS_STOCK, HoldReason, OrderStatus
from omnihub.domain.routing.fulfilment import FulfilmentStatus
from omnihub.ports import Clock, UnitOfWork
from omnihub.services.inventory import expire_due
from omnihub.services.routing.fulfilment import close_fulfilments, give_back_stock, release_group
from omnihub.services.routing.policy import DEFAULT_POLICY, RoutingPolicy


def release_due(
    uow: UnitOfWork, now: datetime, policy: RoutingPolicy | None = None, batch: int = 200
) -> int:
    """The release worker: hand over orders whose merge window has passed."""
    policy = policy or DEFAULT_POLICY
    released = 0
    with uow:
        before = now - timedelta(seconds=policy.merge_window_seconds)
        for group in uow.routing.groups_due(before, batch):
            released += len(release_group(uow, group, now))
        uow.commit()
    return released


def expire_pickup_holds(uow: UnitOfWork, order_ids: Sequence[str], now: datetime) -> int:
    """Orders whose store hold ran out: give back what is left and cancel, saying why."""
    cancelled = 0
    with uow:
        for order_id in order_ids:
            order = uow.orders.get(order_id)
            if order is None or order.delivery is not DeliveryMode.PICKUP:
                continue
            if order.status is OrderStatus.CREATED:
                cause = "pickup hold expired: not paid in time; the store's stock was released"
            elif order.status in HOLDS_STOCK:
                cause = "pickup hold expired: not collected by the deadline; stock released"
            else:
                continue
            if any(
                r.expires_at is None or r.expires_at > now
                for r in uow.reservations.for_order(order_id)
            ):
                continue  # paid since the sweep and reserved again: the order has a new hold
            give_back_stock(uow, order, now, ReservationState.RELEASED)
            close_fulfilments(uow, order, now, FulfilmentStatus.CANCELLED)
            order.hold_reason = HoldReason.PICKUP_EXPIRED
            order.transition(OrderStatus.CANCELLED, cause, now)
            uow.orders.save(order)
            uow.audit.record(
                actor="sweeper",
                action="order.pickup_expired",
                subject=f"order:{order_id}",
                details={"cause": cause},
                at=now,
            )
            cancelled += 1
        uow.commit()
    return cancelled


def expire_reservations(uow: UnitOfWork, clock: Clock, batch: int = 500) -> int:
    """One full sweep (``omnihub sweep``, and the server's sweeper): expire what is due, then
    cancel the store pickups whose hold ran out. Expiring alone would leave such an order
    allocated or released with none of its stock, and the books would not balance."""
    expired = expire_due(uow, clock, batch)
    orders = sorted({r.order_id for r in expired if r.order_id})
    if orders:
        expire_pickup_holds(uow, orders, clock.now())
    return len(expired)
