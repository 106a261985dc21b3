"""Instant delivery (riders from a store): the task the hub sends for a same-day fulfilment,
what each status of it does to the order (ships, delivers, reroutes or holds it), its track."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from omnihub.domain.backends import (
    Position,
    RiderState,
    RiderStatus,
    RiderTask,
    RiderTaskRef,
    supersedes,
)
from omnihub.domain.errors import InvalidInput, NotFound
from omnihub.domain.inventory import ReservationState
from omnihub.domain.orders import HoldReason, Order, OrderStatus
from omnihub.domain.routing.fulfilment import Fulfilment, FulfilmentStatus
from omnihub.domain.values import Money
from omnihub.ports import RiderTaskRecord, TrackPoint, UnitOfWork
from omnihub.services.backends.documents import Applied, lines_of, receiver_of
from omnihub.services.routing import (
    RoutingPolicy,
    close_fulfilments,
    deliver_part,
    give_back_stock,
    route_order,
    ship_part,
)

#: a rider task before the provider said anything about it
REQUESTED = "requested"
FAILED_RIDER_STATES = frozenset(str(s) for s in RiderState if s.failed)


def rider_task(order: Order, fulfilment: Fulfilment) -> RiderTask:
    """A rider from the store to the buyer for one store fulfilment."""
    if order.ship_to.lat is None or order.ship_to.lon is None:
        raise InvalidInput(f"order {order.id} has no coordinates to send a rider to")
    lines = lines_of(order, fulfilment)
    value = sum(
        ((line.unit_price or Money.of("0")).amount * line.qty for line in lines), Decimal("0")
    )
    return RiderTask(
        reference=fulfilment.id,
        store=fulfilment.location,
        created_at=fulfilment.created_at,
        receiver=receiver_of(order),
        destination=Position(order.ship_to.lat, order.ship_to.lon),
        cargo_value=Money.of(value, order.total.currency),
        items=lines,
        note=order.remark or None,
    )


def record_rider_task_sent(
    uow: UnitOfWork, now: datetime, backend: str, fulfilment: Fulfilment, ref: RiderTaskRef
) -> None:
    """The provider took the task: its fee and distance. Its statuses (perhaps already
    arrived: providers call back before they answer) are the callbacks'."""
    with uow:
        task = _locked_task(uow, backend, fulfilment, now)
        uow.backends.save_rider_task(
            replace(task, fee_cents=ref.fee.cents, distance_m=ref.distance_m, updated_at=now)
        )
        uow.commit()


def _locked_task(
    uow: UnitOfWork, backend: str, fulfilment: Fulfilment, now: datetime
) -> RiderTaskRecord:
    """The fulfilment's rider task, created if new, its row held until commit: the provider's
    callbacks (sent before it answers the create) and the create's answer change it at once."""
    task = uow.backends.rider_task(fulfilment.id, lock=True)
    if task is None:
        uow.backends.add_rider_task(
            RiderTaskRecord(
                reference=fulfilment.id,
                backend=backend,
                order_id=fulfilment.order_id,
                location=fulfilment.location,
                state=REQUESTED,
                created_at=now,
                updated_at=now,
            )
        )
        task = uow.backends.rider_task(fulfilment.id, lock=True)
    assert task is not None
    return task


def _as_status(task: RiderTaskRecord) -> RiderStatus | None:
    if task.state_at is None or task.state == REQUESTED:
        return None
    return RiderStatus(
        source=task.backend,
        reference=task.reference,
        external_id=task.external_id,
        state=RiderState(task.state),
        native_status=task.native_status or 0,
        updated_at=task.state_at,
        message_id="",
    )


def _track(uow: UnitOfWork, task: RiderTaskRecord, status: RiderStatus, now: datetime) -> bool:
    """Add the rider's position to the order's track, unless the rider has not moved."""
    position = status.position
    if position is None:
        return False
    state = str(status.state if supersedes(_as_status(task), status) else task.state)
    last = next(
        (p for p in reversed(uow.backends.track(task.order_id)) if p.reference == task.reference),
        None,
    )
    if last is not None and (last.lat, last.lon, last.state) == (position.lat, position.lng, state):
        return False
    uow.backends.add_track_point(
        task.order_id, TrackPoint(task.reference, now, position.lat, position.lng, state)
    )
    return True


def apply_rider_status(
    uow: UnitOfWork,
    status: RiderStatus,
    now: datetime,
    *,
    policy: RoutingPolicy | None = None,
    reroute_attempts: int = 1,
) -> Applied:
    """Where a rider task is (a callback or a status query). Duplicates and late statuses
    change nothing but the track. The goods leave with the rider (``delivering``: the store
    fulfilment ships), reach the buyer (``delivered``), or the task ends without a delivery
    (``cancelled``, ``expired``, ``returned``): see :func:`_rider_failed`."""
    what = f"rider task {status.reference} {status.state}"
    task = uow.backends.rider_task(status.reference, lock=True)
    if task is None:
        fulfilment = uow.routing.get_fulfilment(status.reference)
        if fulfilment is None:
            raise NotFound(f"{status.source} reports {what}, which is no fulfilment of the hub")
        task = _locked_task(uow, status.source, fulfilment, now)
    moved = _track(uow, task, status, now)
    if not supersedes(_as_status(task), status):
        return Applied(what, "moved" if moved else "unchanged", task.order_id)
    rider = status.rider
    task = replace(
        task,
        state=str(status.state),
        native_status=status.native_status,
        state_at=status.updated_at,
        external_id=status.external_id or task.external_id,
        rider=asdict(rider) if rider is not None else task.rider,
        fee_cents=status.fee.cents if status.fee is not None else task.fee_cents,
        cancel_reason=status.cancel_reason,
        cancelled_by=status.cancelled_by,
        updated_at=now,
    )
    uow.backends.save_rider_task(task)
    fulfilment = uow.routing.get_fulfilment(task.reference)
    order = uow.orders.get(task.order_id)
    assert fulfilment is not None
    assert order is not None
    outcome = _follow(uow, task, status, fulfilment, order, now, policy, reroute_attempts)
    uow.orders.save(order)
    return Applied(what, outcome, order.id)


def _follow(
    uow: UnitOfWork,
    task: RiderTaskRecord,
    status: RiderStatus,
    fulfilment: Fulfilment,
    order: Order,
    now: datetime,
    policy: RoutingPolicy | None,
    reroute_attempts: int,
) -> str:
    state = status.state
    who = f"rider {status.rider.name} ({status.rider.phone})" if status.rider else "a rider"
    tracking = task.external_id or task.reference
    actor = f"backend:{task.backend}"
    if state in (RiderState.DELIVERING, RiderState.DELIVERED) and (
        fulfilment.status is FulfilmentStatus.CANCELLED
    ):
        order.note(
            f"{who} took the goods from {task.location} ({state}) after the hub withdrew the "
            "fulfilment: settle it with the buyer",
            now,
        )
        uow.audit.record(
            actor=actor,
            action="backend.rider_after_cancel",
            subject=f"order:{order.id}",
            details={"fulfilment": fulfilment.id, "state": str(state)},
            at=now,
        )
        return "noted"
    if state in (RiderState.DELIVERING, RiderState.DELIVERED):
        shipped = fulfilment.status is FulfilmentStatus.RELEASED
        if shipped:  # the goods left the store with the rider (perhaps the callback was lost)
            ship_part(
                uow,
                fulfilment,
                order,
                now,
                carrier=task.backend,
                tracking_number=tracking,
                actor=actor,
            )
        if state is RiderState.DELIVERING:
            return "shipped" if shipped else "noted"
        if fulfilment.status is FulfilmentStatus.SHIPPED:
            deliver_part(uow, fulfilment, order, now, f"delivered by {who} ({task.backend})")
            return "delivered"
        return "noted"
    if state.failed:
        return _rider_failed(uow, task, status, fulfilment, order, now, policy, reroute_attempts)
    notes = {
        RiderState.WAITING: f"{task.backend} is looking for a rider"
        + (f" ({status.cancel_reason})" if status.cancel_reason else ""),
        RiderState.ACCEPTED: f"{who} accepted the delivery from {task.location}",
        RiderState.PICKING_UP: f"{who} is at {task.location} for the goods",
        RiderState.RETURNING: f"{who} could not deliver; the goods go back to {task.location}",
    }
    order.note(notes.get(state, f"rider task {state}"), now)
    return "noted"


def _rider_failed(
    uow: UnitOfWork,
    task: RiderTaskRecord,
    status: RiderStatus,
    fulfilment: Fulfilment,
    order: Order,
    now: datetime,
    policy: RoutingPolicy | None,
    reroute_attempts: int,
) -> str:
    """A task ended without a delivery. While the goods are still at the store (the
    fulfilment was not shipped and no other part has left), the order's stock is given back
    and the order goes back to routing, ``reroute_attempts`` times; then it is held with the
    reason for a person. Goods that came back after leaving the store are noted for a person
    (the order shipped; it is settled with the buyer); a task the hub withdrew is only noted."""
    cause = (
        f"rider task {status.state}: {status.cancel_reason or 'no reason given'} "
        f"({status.cancelled_by or 'provider'})"
    )
    if fulfilment.status is FulfilmentStatus.CANCELLED:  # the hub withdrew it: as expected
        order.note(cause, now)
        return "noted"
    parts = uow.routing.fulfilments(order.id)
    gone = any(p.status in (FulfilmentStatus.SHIPPED, FulfilmentStatus.DELIVERED) for p in parts)
    if (
        fulfilment.status is FulfilmentStatus.RELEASED
        and order.status is OrderStatus.RELEASED
        and not gone
    ):
        tasks = uow.backends.rider_tasks(order.id)
        failures = sum(1 for t in tasks if t.state in FAILED_RIDER_STATES)
        give_back_stock(uow, order, now, ReservationState.RELEASED)
        close_fulfilments(uow, order, now, FulfilmentStatus.CANCELLED)
        if failures <= reroute_attempts:
            order.hold(HoldReason.DELIVERY_FAILED, now, cause)
            order.resume(f"back to routing after {cause}", now)
            uow.routing.add_decision(
                order.id, now, "rerouted", {"why": cause, "failed_rider_tasks": failures}
            )
            route_order(uow, order, now, policy)
            return "rerouted"
        why = f"{cause}; {failures} rider task(s) failed, a person decides"
        uow.routing.add_decision(order.id, now, f"held:{HoldReason.DELIVERY_FAILED}", {"why": why})
        order.hold(HoldReason.DELIVERY_FAILED, now, why)
        return "held"
    order.note(f"{cause}; the order is {order.status} and stays so: a person settles it", now)
    uow.audit.record(
        actor=f"backend:{task.backend}",
        action="backend.rider_task_failed",
        subject=f"order:{order.id}",
        details={"fulfilment": fulfilment.id, "state": str(status.state), "cause": cause},
        at=now,
    )
    return "noted"


def deliveries_of(uow: UnitOfWork, order_id: str) -> list[dict[str, Any]]:
    """The order's rider tasks, each with its track (oldest point first)."""
    with uow:
        tasks = uow.backends.rider_tasks(order_id)
        points = uow.backends.track(order_id)
    by_task: Mapping[str, list[TrackPoint]] = {
        t.reference: [p for p in points if p.reference == t.reference] for t in tasks
    }
    return [
        {
            "reference": t.reference,
            "backend": t.backend,
            "location": t.location,
            "state": t.state,
            "state_at": t.state_at.isoformat() if t.state_at else None,
            "external_id": t.external_id,
            "rider": t.rider,
            "fee": str(Money.from_cents(t.fee_cents)) if t.fee_cents is not None else None,
            "distance_m": t.distance_m,
            "cancel_reason": t.cancel_reason,
            "cancelled_by": t.cancelled_by,
            "track": [
                {"at": p.at.isoformat(), "lat": p.lat, "lon": p.lon, "state": p.state}
                for p in by_task[t.reference]
            ],
        }
        for t in tasks
    ]
