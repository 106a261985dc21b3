"""Routing use cases: review an order, source it, reserve the plan, merge, release, BOPIS."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from omnihub.domain import events as ev
from omnihub.domain.errors import Conflict, DomainError, ErrorCode, NotFound
from omnihub.domain.inventory import MovementKind, Reservation, ReservationState, StockLevel
from omnihub.domain.locations import DeliveryMode, Location
from omnihub.domain.orders import HOLDS_STOCK, HoldReason, Order, OrderStatus
from omnihub.domain.routing.fulfilment import (
    PICKUP_MAX_ATTEMPTS,
    Fulfilment,
    FulfilmentStatus,
    MergeGroup,
    MergeState,
    PickupCodeError,
    hash_pickup_code,
    merge_key,
    new_pickup_code,
    pickup_code_matches,
)
from omnihub.domain.routing.review import ReviewRules, default_rules, parse_rules
from omnihub.domain.routing.sourcing import (
    CostWeights,
    Decision,
    Need,
    NodeIndex,
    PlanItem,
    RoutingError,
    SourcingRequest,
    source,
)
from omnihub.domain.values import new_id
from omnihub.ports import UnitOfWork
from omnihub.services.inventory import reservation_event, stock_changed_event


@dataclass
class RoutingPolicy:
    """How orders are routed; one per process, its review rules replaceable at run time."""

    rules: ReviewRules = field(default_factory=default_rules)
    weights: CostWeights = field(default_factory=CostWeights)
    same_day_radius_km: float = 5.0
    merge_window_seconds: float = 60.0
    pickup_pay_seconds: float = 15 * 60
    pickup_collect_seconds: float = 72 * 3600
    allocation_attempts: int = 3
    rules_version: int = 0
    _cache: tuple[tuple[Location, ...], NodeIndex] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def adopt(self, rules: ReviewRules, version: int) -> bool:
        """Put stored rules in force unless newer ones already are (threads finish in any
        order; the rules and their version change together)."""
        with self._lock:
            if version <= self.rules_version:
                return False
            self.rules, self.rules_version = rules, version
            return True

    def node_index(self, locations: Sequence[Location]) -> NodeIndex:
        key = tuple(locations)
        with self._lock:
            if self._cache is None or self._cache[0] != key:
                self._cache = (key, NodeIndex(locations))
            return self._cache[1]


DEFAULT_POLICY = RoutingPolicy()
REVIEW_RULES = "review_rules"


def replace_review_rules(
    uow: UnitOfWork, text: str, now: datetime, policy: RoutingPolicy, actor: str = "api"
) -> tuple[ReviewRules, int]:
    """Check and store new review rules, and their version; a bad file changes nothing
    (RuleFileError says why)."""
    rules = parse_rules(text)
    with uow:
        version = uow.routing.save_document(REVIEW_RULES, text, now)
        uow.audit.record(
            actor=actor,
            action="rules.review_replaced",
            subject="rules:review",
            details={
                "version": version,
                "rules": len(rules.rules),
                "services": len(rules.services),
            },
            at=now,
        )
        uow.commit()
    policy.adopt(rules, version)
    return rules, version


def sync_review_rules(uow: UnitOfWork, policy: RoutingPolicy) -> bool:
    """Pick up rules another worker stored; True when they changed here."""
    with uow:
        stored = uow.routing.document(REVIEW_RULES)
    if stored is None or stored[0] <= policy.rules_version:
        return False
    return policy.adopt(parse_rules(stored[1]), stored[0])


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
        _release(uow, order, now, f"{order.id}")
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
    uow.emit(*(reservation_event(ev.RESERVATION_TAKEN, r, now) for r in reservations))
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
        _release(uow, order, now, order.id)
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


def _release(uow: UnitOfWork, order: Order, now: datetime, shipment_prefix: str) -> None:
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
            _release_group(uow, group, now, skip=order.id)
        _release(uow, order, now, order.merge_group)
        return
    _release(uow, order, now, order.id)


def _release_group(
    uow: UnitOfWork, group: MergeGroup, now: datetime, skip: str | None = None
) -> list[str]:
    released = []
    for order_id in group.order_ids:
        if order_id == skip:
            continue
        member = uow.orders.get(order_id)
        if member is not None and member.status is OrderStatus.ALLOCATED:
            _release(uow, member, now, group.id)
            uow.orders.save(member)
            released.append(order_id)
    uow.routing.set_merge_state(group.id, MergeState.RELEASED, now)
    return released


def release_due(
    uow: UnitOfWork, now: datetime, policy: RoutingPolicy | None = None, batch: int = 200
) -> int:
    """The release worker: hand over orders whose merge window has passed."""
    policy = policy or DEFAULT_POLICY
    released = 0
    with uow:
        before = now - timedelta(seconds=policy.merge_window_seconds)
        for group in uow.routing.groups_due(before, batch):
            released += len(_release_group(uow, group, now))
        uow.commit()
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
            uow.emit(reservation_event(ev.RESERVATION_CONSUMED, reservation, now))
        else:
            uow.emit(reservation_event(ev.RESERVATION_RELEASED, reservation, now))
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
