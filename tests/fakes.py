"""In-memory fakes of the ports, for service tests and as the reference adapter of the contracts.

Each fake subclasses the abstract class it stands for, so a missing method fails at once. All
fakes of one unit of work share a ``FakeState`` (the "tables"); a ``FakeDatabase`` holds the
committed state that several units of work can share. Entering a unit of work copies the
committed state, the repositories work on the copy, and ``commit()`` replaces the committed
state with it: leaving the block without ``commit()`` really throws the work away.
"""

from __future__ import annotations

import builtins
import copy
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Self

from omnihub.domain.backends import RIDER_FINAL_STATES
from omnihub.domain.catalog import ChannelMapping, Sku
from omnihub.domain.errors import AlreadyExists
from omnihub.domain.events import Event
from omnihub.domain.inventory import MovementKind, Reservation, ReservationState, StockLevel
from omnihub.domain.locations import Location
from omnihub.domain.orders import Order, OrderStatus
from omnihub.domain.routing.fulfilment import Fulfilment, FulfilmentStatus, MergeGroup, MergeState
from omnihub.ports import (
    AuditLog,
    BackendRepository,
    CatalogRepository,
    Clock,
    CompareReport,
    ConcurrentUpdate,
    DuplicateOrder,
    InboundLog,
    LedgerEntry,
    LocationRepository,
    OrderPage,
    OrderRepository,
    Outbox,
    PickupCodeRecord,
    ReservationRepository,
    RiderTaskRecord,
    RoutingRepository,
    StockRepository,
    TrackPoint,
    UnitOfWork,
)

# -- the clock ------------------------------------------------------------------------------------

SINGLES_DAY = datetime(2026, 11, 11, 0, 0, tzinfo=UTC)


class FrozenClock(Clock):
    """A clock that stands still until a test moves it on."""

    def __init__(self, at: datetime = SINGLES_DAY) -> None:
        if at.tzinfo is None:
            raise ValueError("a FrozenClock needs an aware datetime")
        self._now = at.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now


# -- the state ------------------------------------------------------------------------------------


@dataclass
class FakeState:
    """Everything a database would hold, as plain Python containers."""

    skus: dict[str, Sku] = field(default_factory=dict)
    mappings: dict[tuple[str, str], ChannelMapping] = field(default_factory=dict)
    locations: dict[str, Location] = field(default_factory=dict)
    levels: dict[tuple[str, str], StockLevel] = field(default_factory=dict)
    ledger: list[LedgerEntry] = field(default_factory=list)
    reservations: dict[str, Reservation] = field(default_factory=dict)
    reservations_ended_at: dict[str, datetime] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    order_refs: dict[tuple[str, str], str] = field(default_factory=dict)
    inbound: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[Event] = field(default_factory=list)
    routing_decisions: list[dict[str, Any]] = field(default_factory=list)
    fulfilments: dict[str, Fulfilment] = field(default_factory=dict)
    merge_groups: dict[str, MergeGroup] = field(default_factory=dict)
    pickup_codes: dict[str, PickupCodeRecord] = field(default_factory=dict)
    documents: dict[str, tuple[int, str]] = field(default_factory=dict)
    backend_refs: dict[tuple[str, str, str], str] = field(default_factory=dict)
    backend_messages: set[tuple[str, str]] = field(default_factory=set)
    rider_tasks: dict[str, RiderTaskRecord] = field(default_factory=dict)
    rider_track: list[tuple[str, TrackPoint]] = field(default_factory=list)
    compares: list[CompareReport] = field(default_factory=list)
    last_id: int = 0

    def next_id(self) -> int:
        self.last_id += 1
        return self.last_id


class FakeDatabase:
    """The committed state, shared by every FakeUnitOfWork built on it."""

    def __init__(self) -> None:
        self.state = FakeState()


# -- repositories ---------------------------------------------------------------------------------


class FakeCatalogRepository(CatalogRepository):
    def __init__(self, state: FakeState) -> None:
        self.state = state

    def add_sku(self, sku: Sku) -> None:
        if sku.code in self.state.skus:
            raise AlreadyExists(f"SKU {sku.code} already exists", details={"sku": sku.code})
        self.state.skus[sku.code] = sku

    def get_sku(self, code: str) -> Sku | None:
        return self.state.skus.get(code)

    def existing(self, codes: Iterable[str]) -> set[str]:
        return {code for code in codes if code in self.state.skus}

    def list_skus(self, after: str | None, limit: int) -> list[Sku]:
        codes = sorted(code for code in self.state.skus if after is None or code > after)
        return [self.state.skus[code] for code in codes[:limit]]

    def get_mapping(self, channel: str, channel_sku: str) -> ChannelMapping | None:
        return self.state.mappings.get((channel, channel_sku))

    def add_mapping(self, mapping: ChannelMapping) -> None:
        key = (mapping.channel, mapping.channel_sku)
        if key in self.state.mappings:
            raise AlreadyExists(
                f"{mapping.channel} listing {mapping.channel_sku} is already mapped",
                details={"channel": mapping.channel, "channel_sku": mapping.channel_sku},
            )
        self.state.mappings[key] = mapping

    def resolve(self, channel: str, channel_skus: Iterable[str]) -> dict[str, str]:
        found = {}
        for channel_sku in set(channel_skus):
            mapping = self.state.mappings.get((channel, channel_sku))
            if mapping is not None:
                found[channel_sku] = mapping.sku
        return found


class FakeLocationRepository(LocationRepository):
    def __init__(self, state: FakeState) -> None:
        self.state = state

    def add(self, location: Location) -> None:
        if location.code in self.state.locations:
            raise AlreadyExists(f"location {location.code} already exists")
        self.state.locations[location.code] = location

    def get(self, code: str) -> Location | None:
        return self.state.locations.get(code)

    def list(self) -> list[Location]:
        return [self.state.locations[code] for code in sorted(self.state.locations)]


class FakeStockRepository(StockRepository):
    def __init__(self, state: FakeState) -> None:
        self.state = state

    def _row(self, location: str, sku: str) -> StockLevel:
        key = (location, sku)
        if key not in self.state.levels:
            self.state.levels[key] = StockLevel(location, sku, 0, 0, 0)
        return self.state.levels[key]

    def level(self, location: str, sku: str, *, lock: bool = False) -> StockLevel:
        if lock:
            return self._row(location, sku)
        return self.state.levels.get((location, sku), StockLevel(location, sku, 0, 0, 0))

    def levels(self, skus: Iterable[str]) -> list[StockLevel]:
        wanted = set(skus)
        found = [lv for lv in self.state.levels.values() if lv.sku in wanted]
        return sorted(found, key=lambda lv: (lv.sku, lv.location))

    def all_levels(self) -> list[StockLevel]:
        return [self.state.levels[key] for key in sorted(self.state.levels)]

    def move(
        self, location: str, sku: str, kind: MovementKind, delta: int, reference: str, at: datetime
    ) -> None:
        level = self._row(location, sku)
        if self.has_movement(location, sku, kind, reference):
            raise ValueError(f"{kind} {reference} of {sku} at {location} is already recorded")
        if level.on_hand + delta < 0:
            raise ValueError(f"movement would make on-hand of {sku} at {location} negative")
        self.state.ledger.append(
            LedgerEntry(self.state.next_id(), location, sku, kind, delta, reference, at)
        )
        self.state.levels[(location, sku)] = replace(level, on_hand=level.on_hand + delta)

    def has_movement(self, location: str, sku: str, kind: MovementKind, reference: str) -> bool:
        return any(
            (e.location, e.sku, e.kind, e.reference) == (location, sku, kind, reference)
            for e in self.state.ledger
        )

    def movement_qty(self, location: str, sku: str, kind: MovementKind, reference: str) -> int:
        return sum(
            e.qty
            for e in self.state.ledger
            if (e.location, e.sku, e.kind, e.reference) == (location, sku, kind, reference)
        )

    def try_reserve(self, location: str, sku: str, qty: int) -> bool:
        # The same rule as the conditional UPDATE: on_hand - reserved - safety >= qty.
        level = self.state.levels.get((location, sku))
        if level is None or level.on_hand - level.reserved - level.safety < qty:
            return False
        self.state.levels[(location, sku)] = replace(level, reserved=level.reserved + qty)
        return True

    def unreserve(self, location: str, sku: str, qty: int) -> None:
        level = self.state.levels.get((location, sku))
        if level is None or level.reserved < qty:
            raise ValueError(f"cannot give back {qty} of {sku} at {location}: not reserved")
        self.state.levels[(location, sku)] = replace(level, reserved=level.reserved - qty)

    def set_safety(self, location: str, sku: str, safety: int) -> None:
        level = self._row(location, sku)
        self.state.levels[(location, sku)] = replace(level, safety=safety)

    def ledger_sums(self) -> dict[tuple[str, str], int]:
        sums: dict[tuple[str, str], int] = {}
        for entry in self.state.ledger:
            key = (entry.location, entry.sku)
            sums[key] = sums.get(key, 0) + entry.qty
        return sums

    def ledger(self, sku: str, limit: int = 100) -> list[LedgerEntry]:
        entries = [e for e in self.state.ledger if e.sku == sku]
        return sorted(entries, key=lambda e: e.id, reverse=True)[:limit]

    def set_counters(self, location: str, sku: str, *, on_hand: int, reserved: int) -> None:
        level = self._row(location, sku)
        self.state.levels[(location, sku)] = replace(level, on_hand=on_hand, reserved=reserved)


class FakeReservationRepository(ReservationRepository):
    def __init__(self, state: FakeState) -> None:
        self.state = state

    def add(self, reservation: Reservation) -> None:
        if reservation.id in self.state.reservations:
            raise ValueError(f"reservation {reservation.id} exists already")
        self.state.reservations[reservation.id] = reservation

    def get(self, reservation_id: str) -> Reservation | None:
        return self.state.reservations.get(reservation_id)

    def change_state(self, reservation_id: str, to: ReservationState, at: datetime) -> bool:
        reservation = self.state.reservations.get(reservation_id)
        if reservation is None or reservation.state is not ReservationState.ACTIVE:
            return False
        self.state.reservations[reservation_id] = replace(reservation, state=to)
        self.state.reservations_ended_at[reservation_id] = at
        return True

    def set_expiry(self, order_id: str, expires_at: datetime | None) -> None:
        for r in self._active():
            if r.order_id == order_id:
                self.state.reservations[r.id] = replace(r, expires_at=expires_at)

    def _active(self) -> list[Reservation]:
        return [r for r in self.state.reservations.values() if r.state is ReservationState.ACTIVE]

    def expired(self, now: datetime, limit: int) -> list[Reservation]:
        due = [r for r in self._active() if r.expires_at is not None and r.expires_at <= now]
        return sorted(due, key=lambda r: (r.expires_at, r.id))[:limit]

    def for_order(self, order_id: str, active_only: bool = True) -> list[Reservation]:
        found = [
            r
            for r in self.state.reservations.values()
            if r.order_id == order_id and (not active_only or r.state is ReservationState.ACTIVE)
        ]
        return sorted(found, key=lambda r: r.id)

    def active_sums(self) -> dict[tuple[str, str], int]:
        sums: dict[tuple[str, str], int] = {}
        for r in self._active():
            sums[(r.location, r.sku)] = sums.get((r.location, r.sku), 0) + r.qty
        return sums

    def count_by_state(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.state.reservations.values():
            counts[str(r.state)] = counts.get(str(r.state), 0) + 1
        return counts


def _stored(order: Order) -> Order:
    """A detached copy as a table would keep it: no pending events, no shared lists."""
    return copy.deepcopy(replace(order, events=[]))


class FakeOrderRepository(OrderRepository):
    def __init__(self, state: FakeState, database: FakeDatabase) -> None:
        self.state = state
        self.database = database
        self.seen: dict[str, Order] = {}
        self._loaded: dict[str, int] = {}

    def _load(self, order_id: str) -> Order:
        order = copy.deepcopy(self.state.orders[order_id])
        self.seen[order.id] = order
        self._loaded[order.id] = order.version
        return order

    def get(self, order_id: str) -> Order | None:
        return self._load(order_id) if order_id in self.state.orders else None

    def get_by_external(self, channel: str, external_id: str) -> Order | None:
        order_id = self.state.order_refs.get((channel, external_id))
        return None if order_id is None else self._load(order_id)

    def add(self, order: Order) -> None:
        if (order.channel, order.external_id) in self.state.order_refs:
            raise DuplicateOrder(f"order {order.external_id} of {order.channel} is already known")
        if order.id in self.state.orders:
            raise ValueError(f"order id {order.id} is taken")
        order.version = 1
        self.state.order_refs[(order.channel, order.external_id)] = order.id
        self.state.orders[order.id] = _stored(order)
        self.seen[order.id] = order
        self._loaded[order.id] = order.version

    def save(self, order: Order) -> None:
        loaded = self._loaded[order.id]
        # Like an UPDATE ... WHERE version = :loaded, which sees rows other writers committed.
        committed = self.database.state.orders.get(order.id)
        if self.state.orders[order.id].version != loaded or (
            committed is not None and committed.version > loaded
        ):
            raise ConcurrentUpdate(f"order {order.id} was changed by someone else; try again")
        order.version = loaded + 1
        self.state.orders[order.id] = _stored(order)
        self._loaded[order.id] = order.version

    def list(
        self,
        *,
        channel: str | None = None,
        status: OrderStatus | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> OrderPage:
        ids = sorted(
            order.id
            for order in self.state.orders.values()
            if (channel is None or order.channel == channel)
            and (status is None or order.status is status)
            and (cursor is None or order.id > cursor)
        )
        items = [self._load(order_id) for order_id in ids[:limit]]
        more = len(ids) > limit
        return OrderPage(items, items[-1].id if more and items else None)

    def waiting_for_mapping(self, channel: str, channel_sku: str) -> builtins.list[str]:
        return sorted(
            order.id
            for order in self.state.orders.values()
            if order.channel == channel
            and order.status is OrderStatus.HELD
            and any(ln.channel_sku == channel_sku and ln.sku is None for ln in order.lines)
        )

    def count_by(self) -> builtins.list[tuple[str, str, str | None, int]]:
        counts: dict[tuple[str, str, str | None], int] = {}
        for order in self.state.orders.values():
            key = (order.channel, str(order.status), order.hold_reason)
            counts[key] = counts.get(key, 0) + 1
        return [(c, s, h, n) for (c, s, h), n in counts.items()]

    def count_by_delivery(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for order in self.state.orders.values():
            counts[str(order.delivery)] = counts.get(str(order.delivery), 0) + 1
        return counts


class FakeRoutingRepository(RoutingRepository):
    def __init__(self, state: FakeState) -> None:
        self.state = state

    def add_decision(
        self, order_id: str, at: datetime, outcome: str, explanation: dict[str, Any]
    ) -> None:
        self.state.routing_decisions.append(
            {"order_id": order_id, "at": at, "outcome": outcome, "explanation": explanation}
        )

    def decisions(self, order_id: str) -> list[dict[str, Any]]:
        return [
            {"at": d["at"].isoformat(), "outcome": d["outcome"], "explanation": d["explanation"]}
            for d in self.state.routing_decisions
            if d["order_id"] == order_id
        ]

    def add_fulfilment(self, fulfilment: Fulfilment) -> None:
        if fulfilment.id in self.state.fulfilments:
            raise ValueError(f"fulfilment {fulfilment.id} exists already")
        self.state.fulfilments[fulfilment.id] = copy.deepcopy(fulfilment)

    def save_fulfilment(self, fulfilment: Fulfilment) -> None:
        if fulfilment.id in self.state.fulfilments:
            self.state.fulfilments[fulfilment.id] = copy.deepcopy(fulfilment)

    def get_fulfilment(self, fulfilment_id: str) -> Fulfilment | None:
        return copy.deepcopy(self.state.fulfilments.get(fulfilment_id))

    def fulfilments(self, order_id: str) -> list[Fulfilment]:
        found = [f for f in self.state.fulfilments.values() if f.order_id == order_id]
        return copy.deepcopy(sorted(found, key=lambda f: (f.location, f.id)))

    def fulfilments_per_node_since(
        self, since: datetime, locations: Sequence[str]
    ) -> dict[str, int]:
        load: dict[str, int] = {}
        for f in self.state.fulfilments.values():
            if (
                f.location in locations
                and f.created_at >= since
                and f.status is not FulfilmentStatus.CANCELLED
            ):
                load[f.location] = load.get(f.location, 0) + 1
        return load

    def _group(self, group: MergeGroup) -> MergeGroup:
        members = sorted(o.id for o in self.state.orders.values() if o.merge_group == group.id)
        return replace(group, order_ids=members)

    def _groups(self, state: MergeState) -> list[MergeGroup]:
        found = [g for g in self.state.merge_groups.values() if g.state is state]
        return sorted(found, key=lambda g: (g.created_at, g.id))

    def open_merge_group(self, merge_key: str, since: datetime) -> MergeGroup | None:
        for group in self._groups(MergeState.OPEN):
            if group.merge_key == merge_key and group.created_at >= since:
                return self._group(group)
        return None

    def get_merge_group(self, group_id: str) -> MergeGroup | None:
        group = self.state.merge_groups.get(group_id)
        return None if group is None else self._group(group)

    def add_merge_group(self, group: MergeGroup) -> None:
        if group.id in self.state.merge_groups:
            raise ValueError(f"merge group {group.id} exists already")
        self.state.merge_groups[group.id] = replace(group, order_ids=[])

    def set_merge_state(self, group_id: str, state: MergeState, at: datetime) -> None:
        group = self.state.merge_groups.get(group_id)
        if group is not None:
            self.state.merge_groups[group_id] = replace(group, state=state, updated_at=at)

    def groups_due(self, before: datetime, limit: int) -> list[MergeGroup]:
        due = [g for g in self._groups(MergeState.OPEN) if g.created_at <= before]
        return [self._group(g) for g in due[:limit]]

    def put_pickup_code(self, order_id: str, code_hash: str, at: datetime) -> None:
        self.state.pickup_codes[order_id] = PickupCodeRecord(order_id, code_hash, 0, at, None)

    def pickup_code(self, order_id: str) -> PickupCodeRecord | None:
        return self.state.pickup_codes.get(order_id)

    def count_pickup_attempt(self, order_id: str) -> int:
        record = self.state.pickup_codes[order_id]
        self.state.pickup_codes[order_id] = replace(record, attempts=record.attempts + 1)
        return record.attempts + 1

    def use_pickup_code(self, order_id: str, at: datetime) -> bool:
        record = self.state.pickup_codes.get(order_id)
        if record is None or record.used_at is not None:
            return False
        self.state.pickup_codes[order_id] = replace(record, used_at=at)
        return True

    def document(self, name: str) -> tuple[int, str] | None:
        return self.state.documents.get(name)

    def save_document(self, name: str, body: str, at: datetime) -> int:
        current = self.state.documents.get(name)
        version = 1 if current is None else current[0] + 1
        self.state.documents[name] = (version, body)
        return version

    def stats(self) -> dict[str, int]:
        nodes: dict[str, set[str]] = {}
        for f in self.state.fulfilments.values():
            nodes.setdefault(f.order_id, set()).add(f.location)
        sizes: dict[str, int] = {}
        for order in self.state.orders.values():
            if order.merge_group is not None:
                sizes[order.merge_group] = sizes.get(order.merge_group, 0) + 1
        merged = [n for n in sizes.values() if n > 1]
        return {
            "split_orders": sum(1 for locations in nodes.values() if len(locations) > 1),
            "merged_groups": len(merged),
            "merged_orders": sum(merged),
            "picked_up_with_code": sum(
                1 for r in self.state.pickup_codes.values() if r.used_at is not None
            ),
            "pickup_expired": sum(
                1 for a in self.state.audit if a["action"] == "order.pickup_expired"
            ),
        }


class FakeBackendRepository(BackendRepository):
    def __init__(self, state: FakeState) -> None:
        self.state = state

    def bind(
        self, backend: str, kind: str, external_id: str, internal_id: str, at: datetime
    ) -> None:
        self.state.backend_refs.setdefault((backend, kind, internal_id), external_id)

    def bound(self, backend: str, kind: str, internal_id: str) -> str | None:
        return self.state.backend_refs.get((backend, kind, internal_id))

    def remember_message(self, backend: str, message_id: str, at: datetime) -> bool:
        key = (backend, message_id)
        if key in self.state.backend_messages:
            return False
        self.state.backend_messages.add(key)
        return True

    def rider_task(self, reference: str, *, lock: bool = False) -> RiderTaskRecord | None:
        return self.state.rider_tasks.get(reference)

    def add_rider_task(self, task: RiderTaskRecord) -> bool:
        if task.reference in self.state.rider_tasks:
            return False
        self.state.rider_tasks[task.reference] = task
        return True

    def save_rider_task(self, task: RiderTaskRecord) -> None:
        self.state.rider_tasks[task.reference] = task

    def rider_tasks(self, order_id: str) -> list[RiderTaskRecord]:
        found = [t for t in self.state.rider_tasks.values() if t.order_id == order_id]
        return sorted(found, key=lambda t: (t.created_at, t.reference))

    def live_rider_tasks(self, backend: str, limit: int) -> list[RiderTaskRecord]:
        live = [
            t
            for t in self.state.rider_tasks.values()
            if t.backend == backend and t.state not in RIDER_FINAL_STATES
        ]
        return sorted(live, key=lambda t: (t.updated_at, t.reference))[:limit]

    def add_track_point(self, order_id: str, point: TrackPoint) -> None:
        self.state.rider_track.append((order_id, point))

    def track(self, order_id: str) -> list[TrackPoint]:
        points = [p for o, p in self.state.rider_track if o == order_id]
        return sorted(points, key=lambda p: p.at)

    def in_flight(self, locations: Sequence[str]) -> set[tuple[str, str]]:
        released = {
            (f.order_id, f.location)
            for f in self.state.fulfilments.values()
            if f.status is FulfilmentStatus.RELEASED
        }
        return {
            (r.location, r.sku)
            for r in self.state.reservations.values()
            if r.state is ReservationState.ACTIVE
            and r.location in locations
            and (r.order_id, r.location) in released
        }

    def add_compare(self, report: CompareReport) -> int:
        report_id = self.state.next_id()
        self.state.compares.append(replace(report, id=report_id))
        return report_id

    def compares(self, backend: str, limit: int) -> list[CompareReport]:
        found = [c for c in self.state.compares if c.backend == backend]
        return list(reversed(found))[:limit]

    def returns_since(
        self, locations: Sequence[str], since: datetime, limit: int
    ) -> list[LedgerEntry]:
        found = [
            e
            for e in self.state.ledger
            if e.kind is MovementKind.RETURN and e.location in locations and e.at >= since
        ]
        return found[:limit]


class FakeInboundLog(InboundLog):
    def __init__(self, state: FakeState) -> None:
        self.state = state

    def record(
        self,
        *,
        channel: str,
        kind: str,
        body: str,
        received_at: datetime,
        result: str,
        order_id: str | None = None,
        error: str | None = None,
    ) -> int:
        entry_id = self.state.next_id()
        self.state.inbound.append(
            {
                "id": entry_id,
                "channel": channel,
                "kind": kind,
                "body": body,
                "body_sha256": hashlib.sha256(body.encode("utf-8", "replace")).hexdigest(),
                "received_at": received_at,
                "result": result,
                "order_id": order_id,
                "error": error,
            }
        )
        return entry_id

    def mark(self, entry_id: int, *, result: str, order_id: str | None = None) -> None:
        for entry in self.state.inbound:
            if entry["id"] == entry_id:
                entry["result"] = result
                entry["order_id"] = order_id

    def recent(self, limit: int, result: str | None = None) -> list[dict[str, Any]]:
        entries = [e for e in self.state.inbound if result is None or e["result"] == result]
        return [dict(e) for e in sorted(entries, key=lambda e: e["id"], reverse=True)[:limit]]


class FakeAuditLog(AuditLog):
    def __init__(self, state: FakeState) -> None:
        self.state = state

    def record(
        self, *, actor: str, action: str, subject: str, details: dict[str, Any], at: datetime
    ) -> None:
        self.state.audit.append(
            {"actor": actor, "action": action, "subject": subject, "details": details, "at": at}
        )


class FakeOutbox(Outbox):
    def __init__(self, state: FakeState) -> None:
        self.state = state

    def add(self, events: Sequence[Event]) -> None:
        known = {e.id for e in self.state.outbox}
        for event in events:
            if event.id in known:
                raise ValueError(f"event {event.id} is in the outbox already")
            known.add(event.id)
            self.state.outbox.append(event)


# -- the unit of work -----------------------------------------------------------------------------


class FakeUnitOfWork(UnitOfWork):
    """A transaction over a copy of the committed state; ``commit()`` publishes the copy."""

    def __init__(self, database: FakeDatabase | None = None) -> None:
        super().__init__()
        self.database = database if database is not None else FakeDatabase()
        self.commits = 0
        self._open(copy.deepcopy(self.database.state))

    @property
    def committed(self) -> FakeState:
        """What a new transaction would see: write drift here to corrupt the "database"."""
        return self.database.state

    def _open(self, state: FakeState) -> None:
        self._working = state
        self.catalog = FakeCatalogRepository(state)
        self.locations = FakeLocationRepository(state)
        self.stock = FakeStockRepository(state)
        self.reservations = FakeReservationRepository(state)
        self.orders = FakeOrderRepository(state, self.database)
        self.inbound = FakeInboundLog(state)
        self.audit = FakeAuditLog(state)
        self.outbox = FakeOutbox(state)
        self.routing = FakeRoutingRepository(state)
        self.backends = FakeBackendRepository(state)

    def __enter__(self) -> Self:
        super().__enter__()
        self._open(copy.deepcopy(self.database.state))
        return self

    def _commit(self) -> None:
        self.database.state = copy.deepcopy(self._working)
        self.commits += 1

    def rollback(self) -> None:
        self._open(copy.deepcopy(self.database.state))
