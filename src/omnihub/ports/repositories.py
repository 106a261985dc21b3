"""Repositories: what the services read and write inside a unit of work, one per aggregate
or record kind; the in-memory fakes (tests) and the SQL adapters (SQLite, PostgreSQL) each
implement them and run the same contract suites."""

from __future__ import annotations

import abc
import builtins
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from omnihub.domain.catalog import ChannelMapping, Sku
from omnihub.domain.errors import DomainError, ErrorCode
from omnihub.domain.events import Event
from omnihub.domain.inventory import MovementKind, Reservation, ReservationState, StockLevel
from omnihub.domain.locations import Location
from omnihub.domain.orders import Order, OrderStatus
from omnihub.domain.routing.fulfilment import Fulfilment, MergeGroup, MergeState


class DuplicateOrder(DomainError):
    """Another transaction bound the same (channel, external id) first."""

    code = ErrorCode.ALREADY_EXISTS


class ConcurrentUpdate(DomainError):
    """The row changed under us (optimistic version check); the use case should be retried."""

    code = ErrorCode.ALREADY_EXISTS


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    id: int
    location: str
    sku: str
    kind: MovementKind
    qty: int
    reference: str
    at: datetime


@dataclass(frozen=True, slots=True)
class OrderPage:
    items: list[Order]
    next_cursor: str | None


class CatalogRepository(abc.ABC):
    @abc.abstractmethod
    def add_sku(self, sku: Sku) -> None:
        """Raise AlreadyExists when the code is taken."""

    @abc.abstractmethod
    def get_sku(self, code: str) -> Sku | None: ...

    @abc.abstractmethod
    def existing(self, codes: Iterable[str]) -> set[str]: ...

    @abc.abstractmethod
    def list_skus(self, after: str | None, limit: int) -> list[Sku]: ...

    @abc.abstractmethod
    def get_mapping(self, channel: str, channel_sku: str) -> ChannelMapping | None: ...

    @abc.abstractmethod
    def add_mapping(self, mapping: ChannelMapping) -> None:
        """Bind a channel listing to a master SKU; AlreadyExists if it is bound already."""

    @abc.abstractmethod
    def resolve(self, channel: str, channel_skus: Iterable[str]) -> dict[str, str]:
        """channel sku -> master sku, for those that are mapped."""


class LocationRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, location: Location) -> None: ...

    @abc.abstractmethod
    def get(self, code: str) -> Location | None: ...

    @abc.abstractmethod
    def list(self) -> builtins.list[Location]: ...


class StockRepository(abc.ABC):
    """Stock counters and their ledger. The only code that changes on_hand and reserved."""

    @abc.abstractmethod
    def level(self, location: str, sku: str, *, lock: bool = False) -> StockLevel:
        """The level (zeros if never stocked); ``lock`` holds the row until commit."""

    @abc.abstractmethod
    def levels(self, skus: Iterable[str]) -> list[StockLevel]: ...

    @abc.abstractmethod
    def all_levels(self) -> list[StockLevel]: ...

    @abc.abstractmethod
    def move(
        self, location: str, sku: str, kind: MovementKind, delta: int, reference: str, at: datetime
    ) -> None:
        """Append a ledger row and change on_hand by ``delta`` in the same transaction."""

    @abc.abstractmethod
    def has_movement(self, location: str, sku: str, kind: MovementKind, reference: str) -> bool:
        """Whether this movement was recorded already (movements are idempotent by reference)."""

    @abc.abstractmethod
    def movement_qty(self, location: str, sku: str, kind: MovementKind, reference: str) -> int:
        """The signed quantity recorded by that movement (0 if there is none)."""

    @abc.abstractmethod
    def try_reserve(self, location: str, sku: str, qty: int) -> bool:
        """Take ``qty`` in one conditional update; False when not that much is available."""

    def reserve(self, location: str, sku: str, qty: int) -> StockLevel | None:
        """``try_reserve`` that returns the level as the update left it (None when refused);
        a database answers it from the update itself (``UPDATE ... RETURNING``)."""
        if not self.try_reserve(location, sku, qty):
            return None
        return self.level(location, sku)

    @abc.abstractmethod
    def unreserve(self, location: str, sku: str, qty: int) -> None: ...

    @abc.abstractmethod
    def set_safety(self, location: str, sku: str, safety: int) -> None: ...

    @abc.abstractmethod
    def ledger_sums(self) -> dict[tuple[str, str], int]: ...

    @abc.abstractmethod
    def ledger(self, sku: str, limit: int = 100) -> list[LedgerEntry]: ...

    @abc.abstractmethod
    def set_counters(self, location: str, sku: str, *, on_hand: int, reserved: int) -> None:
        """Overwrite counters (repair only)."""


class ReservationRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, reservation: Reservation) -> None: ...

    def add_all(self, reservations: Sequence[Reservation]) -> None:
        """Several at once (a database writes them in one statement)."""
        for reservation in reservations:
            self.add(reservation)

    @abc.abstractmethod
    def get(self, reservation_id: str) -> Reservation | None: ...

    @abc.abstractmethod
    def change_state(self, reservation_id: str, to: ReservationState, at: datetime) -> bool:
        """Move an active reservation to ``to``; False if it was no longer active."""

    @abc.abstractmethod
    def set_expiry(self, order_id: str, expires_at: datetime | None) -> None:
        """Change when the active reservations of an order expire (None: never)."""

    @abc.abstractmethod
    def expired(self, now: datetime, limit: int) -> list[Reservation]: ...

    @abc.abstractmethod
    def for_order(self, order_id: str, active_only: bool = True) -> list[Reservation]: ...

    @abc.abstractmethod
    def active_sums(self) -> dict[tuple[str, str], int]: ...

    @abc.abstractmethod
    def count_by_state(self) -> dict[str, int]: ...


class OrderRepository(abc.ABC):
    seen: dict[str, Order]
    """Orders loaded or added in this unit of work; their events are collected at commit."""

    @abc.abstractmethod
    def get(self, order_id: str) -> Order | None: ...

    @abc.abstractmethod
    def get_by_external(self, channel: str, external_id: str) -> Order | None: ...

    @abc.abstractmethod
    def add(self, order: Order) -> None:
        """Store a new order and bind its (channel, external id); DuplicateOrder if bound."""

    @abc.abstractmethod
    def save(self, order: Order) -> None:
        """Persist changes; ConcurrentUpdate if another writer saved a newer version."""

    @abc.abstractmethod
    def list(
        self,
        *,
        channel: str | None = None,
        status: OrderStatus | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> OrderPage: ...

    @abc.abstractmethod
    def waiting_for_mapping(self, channel: str, channel_sku: str) -> builtins.list[str]:
        """Ids of held orders with an unresolved line of that channel sku."""

    @abc.abstractmethod
    def count_by(self) -> builtins.list[tuple[str, str, str | None, int]]:
        """(channel, status, hold_reason, count) rows."""

    @abc.abstractmethod
    def count_by_delivery(self) -> dict[str, int]:
        """Orders per delivery mode."""


@dataclass(frozen=True, slots=True)
class PickupCodeRecord:
    order_id: str
    code_hash: str
    attempts: int
    issued_at: datetime
    used_at: datetime | None


class RoutingRepository(abc.ABC):
    """Routing decisions, fulfilments, merge groups and pickup codes."""

    @abc.abstractmethod
    def add_decision(
        self, order_id: str, at: datetime, outcome: str, explanation: dict[str, Any]
    ) -> None: ...

    @abc.abstractmethod
    def decisions(self, order_id: str) -> builtins.list[dict[str, Any]]: ...

    @abc.abstractmethod
    def add_fulfilment(self, fulfilment: Fulfilment) -> None: ...

    @abc.abstractmethod
    def save_fulfilment(self, fulfilment: Fulfilment) -> None: ...

    @abc.abstractmethod
    def get_fulfilment(self, fulfilment_id: str) -> Fulfilment | None: ...

    @abc.abstractmethod
    def fulfilments(self, order_id: str) -> builtins.list[Fulfilment]: ...

    @abc.abstractmethod
    def fulfilments_per_node_since(
        self, since: datetime, locations: Sequence[str]
    ) -> dict[str, int]:
        """How many live (not cancelled) fulfilments each of ``locations`` was given since
        ``since`` (its load today)."""

    @abc.abstractmethod
    def open_merge_group(self, merge_key: str, since: datetime) -> MergeGroup | None:
        """The open group with that key created at or after ``since``, with its orders."""

    @abc.abstractmethod
    def get_merge_group(self, group_id: str) -> MergeGroup | None: ...

    @abc.abstractmethod
    def add_merge_group(self, group: MergeGroup) -> None: ...

    @abc.abstractmethod
    def set_merge_state(self, group_id: str, state: MergeState, at: datetime) -> None: ...

    @abc.abstractmethod
    def groups_due(self, before: datetime, limit: int) -> builtins.list[MergeGroup]:
        """Open groups created before ``before`` (their merge window has passed)."""

    @abc.abstractmethod
    def put_pickup_code(self, order_id: str, code_hash: str, at: datetime) -> None: ...

    @abc.abstractmethod
    def pickup_code(self, order_id: str) -> PickupCodeRecord | None: ...

    @abc.abstractmethod
    def count_pickup_attempt(self, order_id: str) -> int:
        """Add one wrong try; returns the tries so far."""

    @abc.abstractmethod
    def use_pickup_code(self, order_id: str, at: datetime) -> bool:
        """Mark the code used; False if it was used already (single use)."""

    @abc.abstractmethod
    def stats(self) -> dict[str, int]:
        """split_orders, merged_groups, merged_orders, pickup codes used."""

    @abc.abstractmethod
    def document(self, name: str) -> tuple[int, str] | None:
        """(version, body) of a run-time document such as the review rules."""

    @abc.abstractmethod
    def save_document(self, name: str, body: str, at: datetime) -> int:
        """Store a new version; returns its number."""


@dataclass(frozen=True, slots=True)
class RiderTaskRecord:
    """A store fulfilment handed to an instant-delivery provider, as the hub last knew it.
    ``state`` is the provider's task state (``requested`` until the first word from it)."""

    reference: str
    """our fulfilment id (the provider keeps it as its origin id)"""
    backend: str
    order_id: str
    location: str
    state: str
    created_at: datetime
    updated_at: datetime
    native_status: int | None = None
    state_at: datetime | None = None
    """the provider's time of ``state``: a callback older than this is late and refused"""
    external_id: str | None = None
    rider: dict[str, str] | None = None
    fee_cents: int | None = None
    distance_m: int | None = None
    cancel_reason: str | None = None
    cancelled_by: str | None = None


@dataclass(frozen=True, slots=True)
class TrackPoint:
    reference: str
    at: datetime
    lat: float
    lon: float
    state: str


@dataclass(frozen=True, slots=True)
class CompareReport:
    """A full compare of the hub's stock with one back end's snapshot."""

    backend: str
    taken_at: datetime
    mode: str
    """off, report or correct (the back end's ``compare`` rule)"""
    compared: int
    differences: list[dict[str, Any]]
    skipped: list[dict[str, Any]]
    unmapped: list[str]
    corrected: int
    error: str | None = None
    id: int | None = None


class BackendRepository(abc.ABC):
    """What the hub keeps about its back ends (ERP, WMS, delivery providers): bindings of their
    document ids, message ids already applied, rider tasks and tracks, stock compares."""

    @abc.abstractmethod
    def bind(
        self, backend: str, kind: str, external_id: str, internal_id: str, at: datetime
    ) -> None:
        """Bind the back end's id of one of our documents (idempotent)."""

    @abc.abstractmethod
    def bound(self, backend: str, kind: str, internal_id: str) -> str | None:
        """The back end's id bound to ``internal_id``, if any."""

    @abc.abstractmethod
    def remember_message(self, backend: str, message_id: str, at: datetime) -> bool:
        """False when the back end's message id was applied before."""

    @abc.abstractmethod
    def rider_task(self, reference: str, *, lock: bool = False) -> RiderTaskRecord | None:
        """The task; ``lock`` holds its row until commit (a callback and the create's answer
        may change it at the same time)."""

    @abc.abstractmethod
    def add_rider_task(self, task: RiderTaskRecord) -> bool:
        """Insert the task unless it is there already (then False, and nothing changes)."""

    @abc.abstractmethod
    def save_rider_task(self, task: RiderTaskRecord) -> None:
        """Insert or replace the task."""

    @abc.abstractmethod
    def rider_tasks(self, order_id: str) -> builtins.list[RiderTaskRecord]:
        """The order's tasks, oldest first."""

    @abc.abstractmethod
    def live_rider_tasks(self, backend: str, limit: int) -> builtins.list[RiderTaskRecord]:
        """Tasks of ``backend`` not in a final state (delivered, cancelled, expired, returned)."""

    @abc.abstractmethod
    def add_track_point(self, order_id: str, point: TrackPoint) -> None: ...

    @abc.abstractmethod
    def track(self, order_id: str) -> builtins.list[TrackPoint]:
        """Every point of the order's riders, in the order they were reported."""

    @abc.abstractmethod
    def in_flight(self, locations: Sequence[str]) -> set[tuple[str, str]]:
        """(location, sku) with stock reserved for a fulfilment released to its node and not
        shipped yet: the node may have sent the goods before the hub heard of it."""

    @abc.abstractmethod
    def add_compare(self, report: CompareReport) -> int: ...

    @abc.abstractmethod
    def compares(self, backend: str, limit: int) -> builtins.list[CompareReport]:
        """Newest first."""

    @abc.abstractmethod
    def returns_since(
        self, locations: Sequence[str], since: datetime, limit: int
    ) -> builtins.list[LedgerEntry]:
        """The ledger's return movements at ``locations`` recorded at or after ``since``,
        oldest first (the goods that came back, for the ERP to book)."""


class InboundLog(abc.ABC):
    """Every payload received, stored before anything is done with it."""

    @abc.abstractmethod
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
    ) -> int: ...

    @abc.abstractmethod
    def mark(self, entry_id: int, *, result: str, order_id: str | None = None) -> None: ...

    @abc.abstractmethod
    def recent(self, limit: int, result: str | None = None) -> list[dict[str, Any]]: ...


class AuditLog(abc.ABC):
    @abc.abstractmethod
    def record(
        self, *, actor: str, action: str, subject: str, details: dict[str, Any], at: datetime
    ) -> None: ...


class Outbox(abc.ABC):
    @abc.abstractmethod
    def add(self, events: Sequence[Event]) -> None: ...
