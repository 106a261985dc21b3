"""After allocation: hand an order to its nodes (merged orders together), ship and deliver its
parts, give its stock back, and split a merge group a person wants shipped apart."""

from __future__ import annotations

from datetime import datetime

from omnihub.domain.errors import Conflict, ErrorCode, NotFound
from omnihub.domain.events import ReservationConsumed, ReservationReleased
from omnihub.domain.inventory import MovementKind, Reservation, ReservationState
from omnihub.domain.orders import Order, OrderStatus
from omnihub.domain.routing.fulfilment import Fulfilment, FulfilmentStatus, MergeGroup, MergeState
from omnihub.domain.values import new_id
from omnihub.ports import UnitOfWork
from omnihub.services.inventory import reservation_event, stock_changed_event


def release_to_nodes(uow: UnitOfWork, order: Order, now: datetime, shipment_prefix: str) -> None:
    """Hand the order to its nodes: one shipment per node (merged orders share it)."""
    for fulfilment in uow.routing.fulfilments(order.id):
        if fulfilment.status is FulfilmentStatus.PENDING:
            fulfilment.status = FulfilmentStatus.RELEASED
            fulfilment.shipment = f"{shipment_prefix}:{fulfilment.location}"
            fulfilment.updated_at = now
            uow.routing.save_fulfilment(fulfilment)
    if order.status is OrderStatus.ALLOCATED:
        nodes = ", ".join(f.location for f in uow.routing.fulfilments(order.id))
        order.transition(OrderStatus.RELEASED, f"released to {nodes}", now)


def release_order(uow: UnitOfWork, order: Order, now: datetime) -> None:
    """Release now (a person's action): the order's whole merge group goes with it."""
    if order.merge_group:
        group = uow.routing.get_merge_group(order.merge_group)
        if group is not None and group.state is MergeState.OPEN:
            release_group(uow, group, now, skip=order.id)
        release_to_nodes(uow, order, now, order.merge_group)
        return
    release_to_nodes(uow, order, now, order.id)


def release_group(
    uow: UnitOfWork, group: MergeGroup, now: datetime, skip: str | None = None
) -> list[str]:
    released = []
    for order_id in group.order_ids:
        if order_id == skip:
            continue
        member = uow.orders.get(order_id)
        if member is not None and member.status is OrderStatus.ALLOCATED:
            release_to_nodes(uow, member, now, group.id)
            uow.orders.save(member)
            released.append(order_id)
    uow.routing.set_merge_state(group.id, MergeState.RELEASED, now)
    return released


def unmerge(uow: UnitOfWork, group_id: str, now: datetime, actor: str = "api") -> MergeGroup:
    """Split a merge group before release: each order then ships on its own."""
    with uow:
        group = uow.routing.get_merge_group(group_id)
        if group is None:
            raise NotFound(f"merge group {group_id} does not exist")
        if group.state is not MergeState.OPEN:
            raise Conflict(
                f"merge group {group_id} is {group.state}; only an open group "
                "(not yet released) can be unmerged",
                code=ErrorCode.ILLEGAL_TRANSITION,
            )
        for order_id in group.order_ids:
            order = uow.orders.get(order_id)
            if order is None:
                continue
            alone = MergeGroup(
                new_id(), f"unmerged:{order_id}", MergeState.OPEN, group.created_at, now
            )
            uow.routing.add_merge_group(alone)
            order.merge_group = alone.id
            order.note(f"unmerged from {group_id} by {actor}", now)
            uow.orders.save(order)
        uow.routing.set_merge_state(group_id, MergeState.UNMERGED, now)
        uow.audit.record(
            actor=actor,
            action="merge.unmerged",
            subject=f"merge:{group_id}",
            details={"orders": group.order_ids},
            at=now,
        )
        uow.commit()
        group.state = MergeState.UNMERGED
        return group


def give_back_stock(
    uow: UnitOfWork, order: Order, now: datetime, how: ReservationState, location: str | None = None
) -> list[Reservation]:
    """Release (or consume, on shipment) the order's active reservations (at one node)."""
    ended = []
    for reservation in uow.reservations.for_order(order.id):
        if location is not None and reservation.location != location:
            continue
        if not uow.reservations.change_state(reservation.id, how, now):
            continue
        uow.stock.unreserve(reservation.location, reservation.sku, reservation.qty)
        if how is ReservationState.CONSUMED:
            uow.stock.move(
                reservation.location,
                reservation.sku,
                MovementKind.SALE,
                -reservation.qty,
                f"order:{order.id}:{reservation.id}",
                now,
            )
            uow.emit(reservation_event(ReservationConsumed, reservation, now))
        else:
            uow.emit(reservation_event(ReservationReleased, reservation, now))
        ended.append(reservation)
    for sku in sorted({r.sku for r in ended}):
        uow.emit(stock_changed_event(uow, sku, now))
    return ended


def close_fulfilments(
    uow: UnitOfWork, order: Order, now: datetime, status: FulfilmentStatus
) -> None:
    for fulfilment in uow.routing.fulfilments(order.id):
        if fulfilment.status in (FulfilmentStatus.PENDING, FulfilmentStatus.RELEASED) or (
            status is FulfilmentStatus.DELIVERED and fulfilment.status is FulfilmentStatus.SHIPPED
        ):
            fulfilment.status = status
            fulfilment.updated_at = now
            uow.routing.save_fulfilment(fulfilment)


def ship_fulfilment(
    uow: UnitOfWork,
    fulfilment_id: str,
    now: datetime,
    *,
    carrier: str | None,
    tracking_number: str | None,
    actor: str = "api",
) -> tuple[Fulfilment, Order]:
    """One node ships its part: its reservations are consumed; the last part ships the order."""
    with uow:
        fulfilment = uow.routing.get_fulfilment(fulfilment_id)
        if fulfilment is None:
            raise NotFound(f"fulfilment {fulfilment_id} does not exist")
        order = uow.orders.get(fulfilment.order_id)
        assert order is not None
        ship_part(
            uow,
            fulfilment,
            order,
            now,
            carrier=carrier,
            tracking_number=tracking_number,
            actor=actor,
        )
        uow.commit()
    return fulfilment, order


def ship_part(
    uow: UnitOfWork,
    fulfilment: Fulfilment,
    order: Order,
    now: datetime,
    *,
    carrier: str | None,
    tracking_number: str | None,
    actor: str,
) -> None:
    """``ship_fulfilment`` inside the caller's unit of work (a warehouse's confirmation or a
    rider's pickup ships a part the same way a person does); the caller commits."""
    if fulfilment.status is not FulfilmentStatus.RELEASED:
        raise Conflict(
            f"fulfilment {fulfilment.id} is {fulfilment.status}; only a released one can ship",
            code=ErrorCode.ILLEGAL_TRANSITION,
        )
    give_back_stock(uow, order, now, ReservationState.CONSUMED, fulfilment.location)
    fulfilment.status = FulfilmentStatus.SHIPPED
    fulfilment.carrier, fulfilment.tracking_number = carrier, tracking_number
    fulfilment.updated_at = now
    uow.routing.save_fulfilment(fulfilment)
    parts = uow.routing.fulfilments(order.id)
    if all(p.status is FulfilmentStatus.SHIPPED for p in parts):
        order.transition(
            OrderStatus.SHIPPED,
            f"shipped by {fulfilment.location} ({carrier or 'carrier'} "
            f"{tracking_number or ''})".strip(),
            now,
        )
    else:
        order.note(f"part shipped by {fulfilment.location} ({carrier} {tracking_number})", now)
    uow.orders.save(order)
    uow.audit.record(
        actor=actor,
        action="fulfilment.shipped",
        subject=f"order:{order.id}",
        details={
            "fulfilment": fulfilment.id,
            "carrier": carrier,
            "tracking_number": tracking_number,
        },
        at=now,
    )


def deliver_part(
    uow: UnitOfWork, fulfilment: Fulfilment, order: Order, now: datetime, cause: str
) -> None:
    """A shipped part reached the buyer (a rider's delivery): the order is delivered once
    every part that was not cancelled is. The caller saves the order and commits."""
    if fulfilment.status is not FulfilmentStatus.SHIPPED:
        raise Conflict(
            f"fulfilment {fulfilment.id} is {fulfilment.status}; only a shipped one is delivered",
            code=ErrorCode.ILLEGAL_TRANSITION,
        )
    fulfilment.status = FulfilmentStatus.DELIVERED
    fulfilment.updated_at = now
    uow.routing.save_fulfilment(fulfilment)
    live = [
        p for p in uow.routing.fulfilments(order.id) if p.status is not FulfilmentStatus.CANCELLED
    ]
    if order.status is OrderStatus.SHIPPED and all(
        p.status is FulfilmentStatus.DELIVERED for p in live
    ):
        order.transition(OrderStatus.DELIVERED, cause, now)
    else:
        order.note(f"part delivered from {fulfilment.location}: {cause}", now)
