"""The abstract interfaces the services depend on; adapters implement them."""

from __future__ import annotations

import abc
import builtins
import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self

from omnihub.domain.catalog import ChannelMapping, Sku
from omnihub.domain.errors import DomainError, ErrorCode
from omnihub.domain.events import Event
from omnihub.domain.inventory import MovementKind, Reservation, ReservationState, StockLevel
from omnihub.domain.locations import Location
from omnihub.domain.orders import Order, OrderStatus
from omnihub.domain.routing.fulfilment import Fulfilment, MergeGroup, MergeState


class Clock(abc.ABC):
    @abc.abstractmethod
    def now(self) -> datetime: ...


class SystemClock(Clock):
    def now(self) -> datetime:
        return datetime.now(UTC)


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


#: rider-task states after which a task changes no more (``RiderState.final`` of the delivery
#: port, as the text the repositories store)
RIDER_TASK_FINAL_STATES = frozenset({"delivered", "cancelled", "expired", "returned"})


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


Envelope = dict[str, Any]
"""An event as it travels: {"id", "type", "occurred_at", "aggregate_id", "version", "data"}."""
Handler = Callable[[Envelope], None]
BatchHandler = Callable[[list[Envelope]], None]


class BusUnavailable(Exception):
    """The broker did not take (or acknowledge) the events; the caller keeps them and retries."""


class EventBus(abc.ABC):
    """Carries the outbox's events to the hub's own consumers (and, on NATS, other processes)."""

    @abc.abstractmethod
    def publish(self, envelopes: Sequence[Envelope]) -> None:
        """Return once every envelope is acknowledged; BusUnavailable otherwise."""

    @abc.abstractmethod
    def subscribe(self, durable: str, patterns: Sequence[str], handler: Handler) -> None:
        """Deliver each matching event to ``handler`` at least once; an exception redelivers."""

    def subscribe_batch(self, durable: str, patterns: Sequence[str], handler: BatchHandler) -> None:
        """Like ``subscribe``, several events per call (one write per batch for a consumer
        that stores what it does); an exception redelivers the whole batch."""
        self.subscribe(durable, patterns, lambda envelope: handler([envelope]))

    @abc.abstractmethod
    def close(self) -> None: ...


class UnitOfWork(abc.ABC):
    """One transaction; rolled back on leaving the block unless ``commit()`` was called."""

    catalog: CatalogRepository
    locations: LocationRepository
    stock: StockRepository
    reservations: ReservationRepository
    orders: OrderRepository
    inbound: InboundLog
    audit: AuditLog
    outbox: Outbox
    routing: RoutingRepository
    backends: BackendRepository

    def __init__(self) -> None:
        self._events: list[Event] = []

    def __enter__(self) -> Self:
        self._events = []
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()

    def emit(self, *events: Event) -> None:
        self._events.extend(events)

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        """A block whose writes are undone, and whose row locks are let go, when it raises.

        A caller undoes its writes itself before raising: this default only runs the block, as
        does an adapter with no row locks to let go of (the in-memory fakes; SQLite, where a
        writer holds the whole database until commit), and each ends up in the same state.
        """
        yield

    def commit(self) -> None:
        for order in self.orders.seen.values():
            self._events.extend(order.events)
            order.events.clear()
        if self._events:
            self.outbox.add(self._events)
            self._events = []
        self._commit()

    @abc.abstractmethod
    def _commit(self) -> None: ...

    @abc.abstractmethod
    def rollback(self) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]


# -- sales channels ---------------------------------------------------------------------------
# Each channel's adapter (adapters/channels/<name>/) translates between the platform's own
# language and the hub's; the HTTP transport, retries and cursors are the hub's, shared by all.


class ChannelRefused(DomainError):
    """An inbound request is refused before anything is stored: bad signature (401), a
    timestamp outside the window (401), a message id seen before (409)."""

    code = ErrorCode.BAD_SIGNATURE


class UnreadablePayload(DomainError):
    """The adapter cannot read the body (400); the raw body is kept in the inbound log."""

    code = ErrorCode.UNREADABLE_PAYLOAD


class UnknownChannelStatus(UnreadablePayload):
    def __init__(self, channel: str, status: object) -> None:
        super().__init__(
            f"{channel} status {status!r} is not in the {channel} status table; the order is "
            "kept in the inbound log until the table knows it",
            code=ErrorCode.UNKNOWN_CHANNEL_STATUS,
            details={"status": str(status)},
        )


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    """One channel instance: which adapter speaks for it and how to reach the platform."""

    code: str
    adapter: str
    secret: str | None = None
    credentials: dict[str, Any] | None = None
    endpoint: str | None = None

    def credential(self, name: str, default: str | None = None) -> str:
        value = (self.credentials or {}).get(name, default)
        if value is None:
            raise InvalidChannelConfig(
                f"channel {self.code} ({self.adapter}) needs credentials.{name}"
            )
        return str(value)

    def url(self, path: str = "") -> str:
        if not self.endpoint:
            raise InvalidChannelConfig(f"channel {self.code} has no endpoint")
        return self.endpoint.rstrip("/") + path


class InvalidChannelConfig(DomainError):
    code = ErrorCode.VALIDATION


@dataclass(frozen=True, slots=True)
class InboundRequest:
    """A request a platform made to the hub, as received: raw bytes, headers (lower-case
    names) and query parameters."""

    body: bytes
    headers: dict[str, str]
    query: dict[str, str]

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True, slots=True)
class Verified:
    """What the signature check learnt: the message id (for replay protection) and when the
    platform says it sent the message (checked against the allowed clock skew)."""

    message_id: str | None = None
    sent_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Parsed:
    """What an inbound message says: orders (new or updated), ids of orders to fetch in full
    (platforms that notify with an id only), or nothing the hub acts on (``ignored``)."""

    orders: list[Any]
    """Each an ``IngestOrder`` (domain.orders); several when a platform batches messages."""
    fetch: list[str] | None = None
    ignored: str | None = None


@dataclass(frozen=True, slots=True)
class OutboundRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes = b""
    params: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class PulledOrder:
    external_id: str
    native: dict[str, Any]
    """The order as the platform returned it (one element of the page)."""


@dataclass(frozen=True, slots=True)
class PulledPage:
    orders: list[PulledOrder]
    has_more: bool
    total: int | None = None
    """How many orders the whole window holds, when the platform says: the hub then reads the
    pages from the last one back, so an order that leaves the window while it reads (modified
    again, after the window's end) cannot shift an unread order onto a page already read."""


@dataclass(frozen=True, slots=True)
class StockUpdate:
    channel_sku: str
    """The platform's identity of the item (the merchant SKU code or its product/variant id,
    as the adapter documents), i.e. the channel SKU of the mapping."""
    quantity: int
    sku: str
    version: int


@dataclass(frozen=True, slots=True)
class ShipmentUpdate:
    external_id: str
    carrier: str | None
    tracking_number: str | None
    status: str
    """The hub's order status that caused the push: shipped, delivered, cancelled, refunded."""


class CallRefused(Exception):
    """The platform answered with an error. ``retry`` says whether a later attempt may work
    (rate limits, outages) or never will (bad data, an order closed on the platform)."""

    def __init__(self, message: str, *, retry: bool, code: str | None = None) -> None:
        super().__init__(message)
        self.retry = retry
        self.code = code


class ChannelAdapter(abc.ABC):
    """The port every channel implements. ``mapper.py`` holds its pure native ↔ canonical
    functions; ``client.py`` the adapter class built on them; ``signature.py`` how it signs;
    ``simulator.py`` a local stand-in of the platform."""

    name: str
    #: which field of a native line is the channel SKU a mapping matches
    line_identity: str
    #: True when the hub pulls orders by modified-time window (else they are pushed to it)
    pulls: bool = False
    #: the longest modified-time window one pull may ask for
    max_window: timedelta = timedelta(hours=1)
    #: how far back each pull window starts before the cursor (late commits, clock skew)
    overlap: timedelta = timedelta(minutes=2)
    page_size: int = 100
    #: how far a signed timestamp may be from our clock
    max_skew: timedelta = timedelta(minutes=5)
    #: the hub's statuses this channel accepts a push for (shipped, cancelled, ...)
    pushes: frozenset[str] = frozenset()
    #: the answer to a message received before (its id seen): 409 by default; 200 for a
    #: platform that reads any other answer as a failed delivery (and retries it, or in the end
    #: disables the webhook). Nothing is stored again either way.
    replay_status: int = 409

    # inbound
    @abc.abstractmethod
    def verify(self, config: ChannelConfig, request: InboundRequest) -> Verified:
        """Check the signature; raise ``ChannelRefused`` if it is wrong."""

    @abc.abstractmethod
    def parse(self, config: ChannelConfig, request: InboundRequest) -> Parsed:
        """Read a pushed message; raise ``UnreadablePayload`` when it can't."""

    @abc.abstractmethod
    def to_order(self, config: ChannelConfig, native: dict[str, Any], raw: str) -> Any:
        """One native order (pushed, pulled or fetched) as an ``IngestOrder``."""

    def acknowledge(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        """Extra fields of the answer the platform expects from a receiver."""
        return {}

    # pull
    def pull_request(
        self, config: ChannelConfig, start: datetime, end: datetime, page: int
    ) -> OutboundRequest:
        raise NotImplementedError(f"{self.name} pushes its orders; it has no pull")

    def read_page(self, config: ChannelConfig, status: int, body: bytes) -> PulledPage:
        raise NotImplementedError(f"{self.name} pushes its orders; it has no pull")

    def after_fetch(self, config: ChannelConfig, key: str, order: Any) -> Any:
        """A fetched order (``IngestOrder``) with what the message that named it adds (e.g.
        an open refund request the fetched order does not show); most platforms: as it is."""
        return order

    def complete(self, native: dict[str, Any]) -> bool:
        """False for a pulled entry that only names an order (read it in full first)."""
        return True

    def fetch_request(self, config: ChannelConfig, external_id: str) -> OutboundRequest:
        raise NotImplementedError(f"{self.name} sends whole orders; nothing to fetch")

    def read_fetched(self, config: ChannelConfig, status: int, body: bytes) -> dict[str, Any]:
        raise NotImplementedError(f"{self.name} sends whole orders; nothing to fetch")

    # outbound
    @abc.abstractmethod
    def stock_request(self, config: ChannelConfig, update: StockUpdate) -> OutboundRequest:
        """The platform's own call that sets an item's sellable quantity."""

    def shipment_request(
        self, config: ChannelConfig, update: ShipmentUpdate
    ) -> OutboundRequest | None:
        """The platform's call for a status the hub pushes; None when it has no such call."""
        return None

    @abc.abstractmethod
    def check_response(self, status: int, body: bytes) -> None:
        """Raise ``CallRefused`` when the platform's answer is an error (HTTP status or the
        platform's own error code in a 200)."""
