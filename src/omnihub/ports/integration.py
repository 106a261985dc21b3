"""The integration plumbing's stores: what the hub keeps to carry its events out and to keep
the channels in step, each a small port with its own records.

- :class:`OutboxRelay`: publishes the outbox's events to the bus, oldest first;
- :class:`DeliveryQueue`: every outbound call (webhooks, channel pushes, back-end documents)
  with its attempts, backoff and dead letters;
- :class:`StockSync`: per (channel, SKU) the value the channel should show, what was queued
  and what the channel acknowledged;
- :class:`ChannelDirectory`: the sales channels (:class:`ChannelRecord`);
- :class:`WebhookSubscriptions`: who gets which events (:class:`Subscription`);
- :class:`MessageLog`: message ids a channel signed and the hub accepted (replay protection);
- :class:`PullCursors`: how far each pulled channel (or periodic job) has read, and who
  holds it now.

:class:`IntegrationStores` hands all of them out together. The SQL adapters are in
``omnihub.adapters.db.integration``; the in-memory fakes in the tests. One contract suite per
port (``tests/contract``) runs on both.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from omnihub.domain.integration import matches
from omnihub.ports.bus import Envelope
from omnihub.ports.channels import ChannelConfig

# -- the outbox relay -----------------------------------------------------------------------


class OutboxBacklog(NamedTuple):
    events: int
    """events not published yet"""
    oldest_age_seconds: float
    """how long the oldest of them has waited (0 when none waits)"""


class OutboxRelay(abc.ABC):
    """Publishes the oldest unpublished events and marks them published once acknowledged."""

    @abc.abstractmethod
    def relay_batch(
        self, publish: Callable[[list[Envelope]], None], now: datetime, limit: int = 500
    ) -> int:
        """Hand up to ``limit`` of the oldest unpublished events to ``publish`` in order, and
        mark them published when it returns; when it raises, none is marked. Returns how many
        were published."""

    @abc.abstractmethod
    def backlog(self, now: datetime) -> OutboxBacklog: ...

    @abc.abstractmethod
    def position(self) -> int:
        """The sequence of the newest event recorded so far (0 when none)."""

    @abc.abstractmethod
    def totals(self) -> dict[str, int]:
        """{"events": recorded, "published": of them published}."""


# -- outbound deliveries --------------------------------------------------------------------


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"
    """every attempt failed: a dead letter, for a person to replay or discard"""
    DISCARDED = "discarded"


# the statuses as plain strings, as stored and shown
PENDING, DELIVERED, DEAD, DISCARDED = (
    DeliveryStatus.PENDING.value,
    DeliveryStatus.DELIVERED.value,
    DeliveryStatus.DEAD.value,
    DeliveryStatus.DISCARDED.value,
)
STOCK_PUSH = "stock.push"
"""the event type of a delivery pushing a (channel, SKU)'s value"""


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """A call to queue: one per (endpoint, event id), however often it is queued."""

    endpoint: str
    """``webhook:<id>``, ``channel:<code>`` or ``backend:<code>``"""
    url: str
    event_id: str
    event_type: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    endpoint: str
    url: str
    event_id: str
    event_type: str
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    last_status: int | None
    created_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one attempt (or why it was not made)."""

    delivery_id: int
    at: datetime
    error: str | None = None
    status: int | None = None
    latency_ms: float | None = None
    retry_at: datetime | None = None
    postpone_until: datetime | None = None


class DeliveryCount(NamedTuple):
    endpoint: str
    status: str
    deliveries: int
    attempts: int


class DeliveryQueue(abc.ABC):
    """The connector runtime's queue. A claimed delivery is leased to its worker; an outcome
    delivers it, schedules a retry or makes it a dead letter."""

    @abc.abstractmethod
    def enqueue(self, items: Sequence[NewDelivery], now: datetime) -> int:
        """Queue deliveries, one per (endpoint, event id) however often an item comes; the
        number queued (0 when the write joins a relay batch still to commit)."""

    @abc.abstractmethod
    def claim_due(self, now: datetime, limit: int) -> list[Delivery]:
        """Take due pending deliveries (oldest due first) for this worker: no other worker
        gets them until their lease runs out."""

    @abc.abstractmethod
    def record(self, outcomes: Sequence[Outcome]) -> None:
        """Write the outcomes of a batch of attempts in one transaction; a stock push
        delivered is the channel acknowledging its value (``StockSync.acked``), in the same
        one."""

    def succeeded(self, delivery_id: int, status: int, latency_ms: float, now: datetime) -> None:
        self.record([Outcome(delivery_id, now, status=status, latency_ms=latency_ms)])

    def failed(
        self,
        delivery_id: int,
        error: str,
        status: int | None,
        latency_ms: float,
        retry_at: datetime | None,
        now: datetime,
    ) -> None:
        """A failed attempt: retried at ``retry_at``, or a dead letter when that is None."""
        outcome = Outcome(
            delivery_id, now, error=error, status=status, latency_ms=latency_ms, retry_at=retry_at
        )
        self.record([outcome])

    def postpone(self, delivery_id: int, until: datetime) -> None:
        """Not attempted (circuit open, rate limit): try again later, no attempt counted."""
        self.record([Outcome(delivery_id, until, postpone_until=until)])

    @abc.abstractmethod
    def recent(
        self, *, status: str | None = None, endpoint: str | None = None, limit: int = 100
    ) -> list[Delivery]:
        """Newest first."""

    @abc.abstractmethod
    def get(self, delivery_id: int) -> Delivery | None: ...

    @abc.abstractmethod
    def status_of(self, endpoint: str, event_id: str) -> str | None:
        """The status of the delivery of ``event_id`` to ``endpoint``; None when never queued
        (a back end's cancel asks whether the create went out before it)."""

    @abc.abstractmethod
    def replay(
        self, now: datetime, *, delivery_id: int | None = None, endpoint: str | None = None
    ) -> int:
        """Dead letters back in the queue, attempts counted from zero; how many."""

    @abc.abstractmethod
    def discard(self, delivery_id: int, now: datetime) -> bool:
        """Give up on a dead letter; False when it is not one."""

    @abc.abstractmethod
    def counts(self) -> list[DeliveryCount]:
        """Deliveries and attempts per (endpoint, status)."""


# -- stock sync -----------------------------------------------------------------------------

NEVER = -1
"""the queued or acknowledged version of a (channel, SKU) never pushed"""


class StockWant(NamedTuple):
    """The quantity a channel should show for a SKU, as of a version of the hub's stock."""

    channel: str
    sku: str
    quantity: int
    version: int


class WaitingValue(NamedTuple):
    channel: str
    sku: str
    since: datetime
    """when the hub learned of the first change not queued yet"""


@dataclass(frozen=True, slots=True)
class StockSyncRow:
    """What the hub keeps about one (channel, SKU): the value wanted there, the version queued
    and the value the channel acknowledged."""

    channel: str
    sku: str
    wanted: int
    wanted_version: int
    wanted_at: datetime
    queued_version: int
    acked: int | None
    acked_version: int
    acked_at: datetime | None
    lag_ms: float | None
    repushes: int


@dataclass(frozen=True, slots=True)
class StockPush:
    """The delivery pushing a (channel, SKU)'s wanted value; ``item`` None: nothing to send
    (the SKU is not sold there), the value counts as pushed."""

    item: NewDelivery | None


ChannelSkus = Callable[[str, str], list[str]]
"""(channel, SKU) -> the channel's own item ids mapped to the SKU"""
PushBuilder = Callable[[StockSyncRow, ChannelSkus], "StockPush | None"]
"""The push of a row's wanted value, given a lookup of the channel's own item ids for a SKU;
None leaves the row waiting (the channel has nowhere to push to)."""


@dataclass(frozen=True, slots=True)
class SyncStatus:
    channel: str
    skus: int
    in_sync: int
    behind: int
    lag_ms_p50: float | None
    lag_ms_p99: float | None
    last_ack_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "skus": self.skus,
            "in_sync": self.in_sync,
            "behind": self.behind,
            "lag_ms_p50": self.lag_ms_p50,
            "lag_ms_p99": self.lag_ms_p99,
            "last_ack_at": self.last_ack_at.isoformat() if self.last_ack_at else None,
        }


class StockSync(abc.ABC):
    """Per (channel, SKU): the newest value to show (a burst keeps only the newest), one push
    in flight at a time, and what the channel acknowledged (with the lag)."""

    def want(self, channel: str, sku: str, qty: int, version: int, at: datetime) -> None:
        """Remember the newest quantity a channel should show; an older version changes
        nothing (events may arrive out of order or twice)."""
        self.want_many([StockWant(channel, sku, qty, version)], at)

    @abc.abstractmethod
    def want_many(self, wants: Sequence[StockWant], at: datetime) -> None:
        """``want`` for several at once, in one write. ``at`` is when the hub learned of
        them: a row already waiting keeps waiting since its first change."""

    @abc.abstractmethod
    def waiting(self, limit: int = 2000) -> list[WaitingValue]:
        """The rows with a value to push and no push of theirs in flight, the longest waiting
        first: a read."""

    @abc.abstractmethod
    def to_push(self, limit: int) -> list[StockSyncRow]:
        """Rows with a newer value to push and no push of theirs still in flight."""

    @abc.abstractmethod
    def queue_pushes(
        self,
        build: PushBuilder,
        now: datetime,
        *,
        waiting_since: datetime | None = None,
        pairs: Sequence[tuple[str, str]] | None = None,
        limit: int = 2000,
    ) -> int:
        """Queue, in one transaction, the push of the newest value of every (channel, SKU)
        waiting since ``waiting_since`` or before (all when None; only ``pairs`` when given)
        with no push of its own in flight; never a second push of a (channel, SKU) beside one
        not settled. Returns the number of deliveries queued."""

    @abc.abstractmethod
    def acked(
        self, channel: str, sku: str, qty: int, version: int, at: datetime
    ) -> datetime | None:
        """Record what the channel acknowledged. Returns since when a newer value has been
        waiting for this push to settle (None when none waits)."""

    @abc.abstractmethod
    def waiting_since(self, channel: str, sku: str) -> datetime | None:
        """Since when a newer value than the one queued has been waiting (None: none)."""

    @abc.abstractmethod
    def requeue_drift(self) -> int:
        """The full compare: every row whose acknowledged value differs from the wanted one
        is pushed again (a new delivery: ``repushes`` names it); a row with a push in flight
        is left to that push's acknowledgement. Returns how many."""

    @abc.abstractmethod
    def status(self, channel: str) -> SyncStatus: ...

    @abc.abstractmethod
    def values(self, channel: str) -> dict[str, tuple[int, int | None]]:
        """SKU -> (value wanted, value the channel acknowledged)."""


# -- channels -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChannelRecord:
    """A sales channel the hub pushes stock and order status to."""

    code: str
    adapter: str
    """``generic`` (the hub's own JSON) or a platform adapter's name"""
    endpoint: str | None
    secret: str | None
    allocation_ratio: float
    buffer: int
    locations: tuple[str, ...]
    """the locations whose stock it sells; none: all"""
    created_at: datetime
    credentials: Mapping[str, Any] = field(default_factory=dict)

    @property
    def config(self) -> ChannelConfig:
        """The channel as its adapter's configuration."""
        return ChannelConfig(
            code=self.code,
            adapter=self.adapter,
            secret=self.secret,
            credentials=dict(self.credentials),
            endpoint=self.endpoint,
        )

    @property
    def generic(self) -> bool:
        return self.adapter == "generic"

    def public(self) -> dict[str, Any]:
        """What the API shows: never the secret, the credentials or the creation time."""
        return {
            "code": self.code,
            "adapter": self.adapter,
            "endpoint": self.endpoint,
            "allocation_ratio": self.allocation_ratio,
            "buffer": self.buffer,
            "locations": list(self.locations),
        }


class ChannelDirectory(abc.ABC):
    @abc.abstractmethod
    def add(self, channel: ChannelRecord) -> None:
        """Store a new channel (its code is unique)."""

    @abc.abstractmethod
    def get(self, code: str) -> ChannelRecord | None: ...

    @abc.abstractmethod
    def all(self) -> list[ChannelRecord]:
        """By code."""

    @abc.abstractmethod
    def channel_skus(self, channel: str, sku: str) -> list[str]:
        """The channel's own item identities mapped to one of our SKUs (usually one), in
        order."""

    @abc.abstractmethod
    def shipments(self, order_id: str) -> list[tuple[str | None, str | None]]:
        """(carrier, tracking number) of each fulfilment of an order, in creation order: what
        a channel is told when the order ships."""


# -- webhook subscriptions ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Subscription:
    """A system subscribed to the hub's events; its deliveries are signed with ``secret``."""

    id: str
    url: str
    events: tuple[str, ...]
    """event types, families (``order.*``) or ``*``"""
    secret: str
    created_at: datetime
    active: bool = True

    @property
    def endpoint(self) -> str:
        return f"webhook:{self.id}"

    def wants(self, event_type: str) -> bool:
        return any(matches(event_type, pattern) for pattern in self.events)


class WebhookSubscriptions(abc.ABC):
    @abc.abstractmethod
    def add(self, subscription: Subscription) -> None: ...

    @abc.abstractmethod
    def active(self) -> list[Subscription]:
        """The active subscriptions, by id."""

    @abc.abstractmethod
    def deactivate(self, sub_id: str) -> bool:
        """False when there is no such subscription."""


# -- inbound message ids --------------------------------------------------------------------


class MessageLog(abc.ABC):
    """Message ids already accepted per channel (replay protection)."""

    @abc.abstractmethod
    def seen(self, channel: str, message_id: str) -> bool: ...

    @abc.abstractmethod
    def remember(self, channel: str, message_id: str, at: datetime) -> bool:
        """False when the id was already there (a concurrent delivery of the same message)."""

    @abc.abstractmethod
    def forget(self, before: datetime) -> int:
        """Drop the ids received before ``before`` (replay protection only needs those younger
        than the signed-timestamp window); how many."""


# -- pull cursors ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PullCursor:
    """How far a pulled channel (or a periodic job, by its key) has read, and who holds it."""

    key: str
    cursor_at: datetime
    lease_owner: str | None
    lease_until: datetime | None
    pulled: int
    rejected: int
    last_error: str | None
    last_pull_at: datetime | None


class PullCursors(abc.ABC):
    @abc.abstractmethod
    def get(self, key: str) -> PullCursor | None: ...

    @abc.abstractmethod
    def lease(
        self, key: str, owner: str, start_at: datetime, now: datetime, lease: timedelta
    ) -> datetime | None:
        """Take ``key`` for ``lease`` (one holder at a time; its own lease is renewed); the
        cursor to read from, or None when another holder has it. A key taken for the first
        time starts at ``start_at``."""

    @abc.abstractmethod
    def advance(
        self,
        key: str,
        owner: str,
        *,
        to: datetime | None,
        pulled: int,
        rejected: int,
        error: str | None,
        now: datetime,
    ) -> None:
        """Record a turn and give the lease back: the cursor moves forward to ``to`` (only
        forward, and only for the lease's holder), the counts add up."""


# -- all of them ----------------------------------------------------------------------------


@dataclass(frozen=True)
class IntegrationStores:
    """The integration stores of one database, handed out together."""

    outbox: OutboxRelay
    deliveries: DeliveryQueue
    stock_sync: StockSync
    directory: ChannelDirectory
    webhooks: WebhookSubscriptions
    messages: MessageLog
    cursors: PullCursors
