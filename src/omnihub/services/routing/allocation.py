"""Routing an order: review it, source it over the nodes, reserve the plan (every row or none)
and hand it over, or hold it with the reason."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from omnihub.domain.errors import DomainError, ErrorCode
from omnihub.domain.events import ReservationTaken
from omnihub.domain.inventory import Reservation, ReservationState, StockLevel
from omnihub.domain.locations import DeliveryMode
from omnihub.domain.orders import HoldReason, Order, OrderStatus
from omnihub.domain.routing.fulfilment import (
    Fulfilment,
    FulfilmentStatus,
    MergeGroup,
    MergeState,
    hash_pickup_code,
    merge_key,
    new_pickup_code,
)
from omnihub.domain.routing.sourcing import (
    Decision,
    Need,
    PlanItem,
    RoutingError,
    SourcingRequest,
    source,
)
from omnihub.domain.values import new_id
from omnihub.ports import UnitOfWork
from omnihub.services.inventory import reservation_event, stock_changed_event
from omnihub.services.routing.fulfilment import close_fulfilments, give_back_stock, release_to_nodes
from omnihub.services.routing.policy import DEFAULT_POLICY, RoutingPolicy


@dataclass(frozen=True, slots=True)
class RoutingResult:
    changed: bool
    pickup_code: str | None = None


def route_order(
    uow: UnitOfWork, order: Order, now: datetime, policy: RoutingPolicy | None = None
) -> RoutingResult:
    """Review, source and reserve an order that is ready for it; hold it with the reason if not.

    A paid order is routed; an unpaid pickup order holds its store's stock for the payment
    window. Returns whether the order changed, and the pickup code when one was issued.
    """
    policy = policy or DEFAULT_POLICY
    unpaid_pickup = order.status is OrderStatus.CREATED and order.delivery is DeliveryMode.PICKUP
    if order.status is not OrderStatus.PAID and not unpaid_pickup:
        return RoutingResult(False)
    holding = uow.reservations.for_order(order.id)
    if holding and unpaid_pickup:
        return RoutingResult(False)
    if not order.reviewed and order.status is OrderStatus.PAID:
        order.reviewed = True
        findings = policy.rules.review(order)
        upgrade = policy.rules.service_for(order.buyer.tier)
        if upgrade is not None and upgrade.service_level:
            order.service_level = upgrade.service_level
        if findings:
            reason = findings[0].hold
            cause = "review: " + "; ".join(f.message for f in findings)
            uow.routing.add_decision(
                order.id,
                now,
                f"held:{reason}",
                {
                    "review": [
                        {"rule": f.rule, "hold": f.hold, "message": f.message} for f in findings
                    ]
                },
            )
            if holding:
                # a pickup order its store reserved before payment: a held order holds no stock
                give_back_stock(uow, order, now, ReservationState.RELEASED)
                close_fulfilments(uow, order, now, FulfilmentStatus.CANCELLED)
            order.hold(reason, now, cause)
            return RoutingResult(True)
    if holding:
        # a pickup order paid within its hold: keep the stock until the pickup deadline
        uow.reservations.set_expiry(
            order.id, now + timedelta(seconds=policy.pickup_collect_seconds)
        )
        order.transition(OrderStatus.ALLOCATED, "paid; the store keeps the goods for pickup", now)
        release_to_nodes(uow, order, now, f"{order.id}")
        return RoutingResult(True)
    return _source_and_reserve(uow, order, now, policy, unpaid_pickup)


def _source_and_reserve(
    uow: UnitOfWork, order: Order, now: datetime, policy: RoutingPolicy, unpaid_pickup: bool
) -> RoutingResult:
    needs = [Need(line.line_no, line.sku, line.qty) for line in order.lines if line.sku]
    skus = sorted({need.sku for need in needs})
    nodes = uow.locations.list()
    index = policy.node_index(nodes)
    # only a node with a daily capacity has a load that counts (read through the index on
    # (location, created_at): at most its capacity of rows, not the whole day's fulfilments)
    limited = [node.code for node in nodes if node.capacity_per_day is not None]
    upgrade = policy.rules.service_for(order.buyer.tier)
    request = SourcingRequest(
        channel=order.channel,
        mode=order.delivery,
        needs=needs,
        buyer_lat=order.ship_to.lat,
        buyer_lon=order.ship_to.lon,
        pickup_location=order.pickup_location,
        same_day_radius_km=policy.same_day_radius_km,
        prefer_warehouse=bool(
            upgrade and upgrade.prefer_warehouse and order.delivery is DeliveryMode.EXPRESS
        ),
    )
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    for attempt in range(1, policy.allocation_attempts + 1):
        load_by_node = uow.routing.fulfilments_per_node_since(day_start, limited)
        load = index.availability({(k, "_load"): v for k, v in load_by_node.items()}, ["_load"])[
            "_load"
        ]
        levels = uow.stock.levels(skus)
        available = {(lv.location, lv.sku): lv.available for lv in levels}
        try:
            decision = source(
                request,
                index,
                index.availability(available, skus),
                load=load,
                weights=policy.weights,
            )
        except RoutingError as exc:
            reason = _routing_error_reason(exc)
            uow.routing.add_decision(order.id, now, f"held:{reason}", {"why": exc.message})
            order.hold(reason, now, exc.message)
            return RoutingResult(True)
        if decision.plan is None:
            reason = decision.hold_reason or HoldReason.NO_STOCK
            uow.routing.add_decision(order.id, now, f"held:{reason}", decision.explanation)
            order.hold(reason, now, decision.explanation.get("why", reason))
            return RoutingResult(True)
        expires = None
        if order.delivery is DeliveryMode.PICKUP:
            window = policy.pickup_pay_seconds if unpaid_pickup else policy.pickup_collect_seconds
            expires = now + timedelta(seconds=window)
        if _reserve(uow, order, decision, now, expires, levels):
            explanation = dict(decision.explanation, attempt=attempt)
            if upgrade is not None:
                explanation["service"] = {
                    "tier": upgrade.tier,
                    "service_level": upgrade.service_level,
                    "free_shipping": upgrade.free_shipping,
                    "prefer_warehouse": upgrade.prefer_warehouse,
                }
            uow.routing.add_decision(order.id, now, "allocated", explanation)
            return _after_reserved(uow, order, decision, now, policy, unpaid_pickup)
    uow.routing.add_decision(
        order.id, now, "held:no_stock", {"why": "stock was taken by other orders while allocating"}
    )
    order.hold(HoldReason.NO_STOCK, now, "stock was taken by other orders while allocating")
    return RoutingResult(True)


def _routing_error_reason(exc: DomainError) -> str:
    if exc.code is ErrorCode.UNKNOWN_LOCATION:
        return "unknown_pickup_store"
    if "pickup" in exc.message:
        return "pickup_not_offered"
    if "coordinates" in exc.message:
        return "no_coordinates"
    return HoldReason.NO_NODE


class _RaceLost(Exception):
    """Another order took stock the plan counted on (rolls the attempt's savepoint back)."""


def _reserve(
    uow: UnitOfWork,
    order: Order,
    decision: Decision,
    now: datetime,
    expires: datetime | None,
    levels: Sequence[StockLevel],
) -> bool:
    """Take every row of the plan or none; rows in (location, sku) order against deadlocks.

    A lost race is undone in a savepoint, which also lets go of the rows this attempt locked:
    kept until commit, they would break the lock order of the next attempt's plan, and orders
    re-planning at the same time deadlocked on PostgreSQL.

    ``levels`` are those the plan was made from; with the rows taken as their updates left
    them, they are the SKUs' levels for ``stock.changed``, without reading them again.
    """
    items = sorted(decision.plan or [], key=lambda i: (i.location, i.sku, i.line_no))
    after = {(lv.location, lv.sku): lv for lv in levels}
    taken: list[PlanItem] = []
    try:
        with uow.savepoint():
            for item in items:
                level = uow.stock.reserve(item.location, item.sku, item.qty)
                if level is None:
                    for done in taken:
                        uow.stock.unreserve(done.location, done.sku, done.qty)
                    raise _RaceLost
                taken.append(item)
                after[(item.location, item.sku)] = level
    except _RaceLost:
        return False
    reservations = [
        Reservation(
            id=new_id(),
            location=item.location,
            sku=item.sku,
            qty=item.qty,
            state=ReservationState.ACTIVE,
            created_at=now,
            expires_at=expires,
            order_id=order.id,
        )
        for item in items
    ]
    uow.reservations.add_all(reservations)
    uow.emit(*(reservation_event(ReservationTaken, r, now) for r in reservations))
    for sku in sorted({item.sku for item in items}):
        sku_levels = [after[key] for key in sorted(after) if key[1] == sku]
        uow.emit(stock_changed_event(uow, sku, now, sku_levels))
    return True


def _after_reserved(
    uow: UnitOfWork,
    order: Order,
    decision: Decision,
    now: datetime,
    policy: RoutingPolicy,
    unpaid_pickup: bool,
) -> RoutingResult:
    by_node: dict[str, list[dict[str, Any]]] = {}
    for item in decision.plan or []:
        by_node.setdefault(item.location, []).append(
            {"line_no": item.line_no, "sku": item.sku, "qty": item.qty}
        )
    for location, lines in sorted(by_node.items()):
        uow.routing.add_fulfilment(
            Fulfilment(
                id=new_id(),
                order_id=order.id,
                location=location,
                status=FulfilmentStatus.PENDING,
                lines=lines,
                created_at=now,
                updated_at=now,
            )
        )
    code = None
    if order.delivery is DeliveryMode.PICKUP:
        code = new_pickup_code()
        uow.routing.put_pickup_code(order.id, hash_pickup_code(order.id, code), now)
    if unpaid_pickup:
        order.note(f"store {order.pickup_location} holds the goods until paid", now)
        return RoutingResult(True, code)
    nodes = ", ".join(sorted(by_node))
    split = " (split)" if len(by_node) > 1 else ""
    order.transition(OrderStatus.ALLOCATED, f"allocated at {nodes}{split}", now)
    key = merge_key(order) if policy.merge_window_seconds > 0 else None
    if key is None:
        release_to_nodes(uow, order, now, order.id)
        return RoutingResult(True, code)
    since = now - timedelta(seconds=policy.merge_window_seconds)
    group = uow.routing.open_merge_group(key, since)
    if group is None:
        group = MergeGroup(new_id(), key, MergeState.OPEN, now, now)
        uow.routing.add_merge_group(group)
    elif group.order_ids:
        order.note(f"merged with {', '.join(group.order_ids)} (same buyer and address)", now)
    order.merge_group = group.id
    return RoutingResult(True, code)
