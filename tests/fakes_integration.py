"""In-memory fakes of the integration stores (``omnihub.ports.integration``), for service tests
and as the reference adapter of their contracts (``tests/contract``).

They are built together on a ``FakeDatabase`` (``FakeIntegrationStores.on``): the relay
publishes the events its units of work committed, the channel directory reads their channel
mappings and fulfilments, and the delivery queue and the stock sync share their rows (a
delivered stock push is the channel's acknowledgement, as in SQL).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from fakes import FakeDatabase
from omnihub.domain.errors import AlreadyExists
from omnihub.ports import (
    DEAD,
    DELIVERED,
    DISCARDED,
    NEVER,
    PENDING,
    STOCK_PUSH,
    ChannelDirectory,
    ChannelRecord,
    Delivery,
    DeliveryCount,
    DeliveryQueue,
    Envelope,
    IntegrationStores,
    MessageLog,
    NewDelivery,
    OutboxBacklog,
    OutboxRelay,
    Outcome,
    PullCursor,
    PullCursors,
    PushBuilder,
    StockSync,
    StockSyncRow,
    StockWant,
    Subscription,
    SyncStatus,
    WaitingValue,
    WebhookSubscriptions,
)

CLAIM_LEASE = timedelta(seconds=60)


@dataclass
class FakeIntegrationState:
    """The rows the delivery queue and the stock sync share."""

    deliveries: dict[int, Delivery] = field(default_factory=dict)
    stock: dict[tuple[str, str], StockSyncRow] = field(default_factory=dict)
    last_id: int = 0

    def next_id(self) -> int:
        self.last_id += 1
        return self.last_id

    def insert(self, items: Sequence[NewDelivery], now: datetime) -> int:
        taken = {(d.endpoint, d.event_id) for d in self.deliveries.values()}
        queued = 0
        for item in items:
            if (item.endpoint, item.event_id) in taken:
                continue
            taken.add((item.endpoint, item.event_id))
            delivery_id = self.next_id()
            self.deliveries[delivery_id] = Delivery(
                delivery_id, item.endpoint, item.url, item.event_id, item.event_type,
                dict(item.payload), PENDING, 0, now, None, None, now, None,
            )  # fmt: skip
            queued += 1
        return queued

    def in_flight(self) -> set[tuple[str, str]]:
        return {
            (d.payload["channel"], d.payload["sku"])
            for d in self.deliveries.values()
            if d.status == PENDING and d.event_type == STOCK_PUSH
        }

    def ack(self, channel: str, sku: str, qty: int, version: int, at: datetime) -> datetime | None:
        row = self.stock.get((channel, sku))
        if row is None:
            return None
        if row.acked_version <= version:
            lag = (
                max(0.0, (at - row.wanted_at).total_seconds() * 1000)
                if version == row.wanted_version
                else row.lag_ms
            )
            self.stock[(channel, sku)] = replace(
                row, acked=qty, acked_version=version, acked_at=at, lag_ms=lag
            )
        return row.wanted_at if row.wanted_version > row.queued_version else None


# -- the outbox relay -----------------------------------------------------------------------------


class FakeOutboxRelay(OutboxRelay):
    """Publishes the events committed to the fake database, in the order they were committed;
    an event's sequence is its place in the outbox."""

    def __init__(self, database: FakeDatabase) -> None:
        self.database = database
        self.published: dict[str, datetime] = {}

    def _events(self) -> list[tuple[int, Envelope]]:
        return [
            (
                sequence,
                {
                    "id": event.id,
                    "type": event.type,
                    "occurred_at": event.occurred_at.isoformat(),
                    "aggregate_id": event.aggregate_id,
                    "version": sequence if event.type.startswith("stock.") else event.version,
                    "sequence": sequence,
                    "data": event.data,
                },
            )
            for sequence, event in enumerate(self.database.state.outbox, start=1)
        ]

    def relay_batch(
        self, publish: Callable[[list[Envelope]], None], now: datetime, limit: int = 500
    ) -> int:
        batch = [e for _, e in self._events() if e["id"] not in self.published][:limit]
        if not batch:
            return 0
        publish(batch)
        for envelope in batch:
            self.published[envelope["id"]] = now
        return len(batch)

    def backlog(self, now: datetime) -> OutboxBacklog:
        waiting = [e for e in self.database.state.outbox if e.id not in self.published]
        if not waiting:
            return OutboxBacklog(0, 0.0)
        oldest = min(e.occurred_at for e in waiting)
        return OutboxBacklog(len(waiting), (now - oldest).total_seconds())

    def position(self) -> int:
        return len(self.database.state.outbox)

    def totals(self) -> dict[str, int]:
        events = self.database.state.outbox
        return {"events": len(events), "published": sum(e.id in self.published for e in events)}


# -- deliveries -----------------------------------------------------------------------------------


class FakeDeliveryQueue(DeliveryQueue):
    def __init__(self, state: FakeIntegrationState) -> None:
        self.state = state

    def enqueue(self, items: Sequence[NewDelivery], now: datetime) -> int:
        return self.state.insert(items, now)

    def claim_due(self, now: datetime, limit: int) -> list[Delivery]:
        due = sorted(
            (
                d
                for d in self.state.deliveries.values()
                if d.status == PENDING and d.next_attempt_at <= now
            ),
            key=lambda d: (d.next_attempt_at, d.id),
        )[:limit]
        for d in due:
            self.state.deliveries[d.id] = replace(d, next_attempt_at=now + CLAIM_LEASE)
        return due

    def record(self, outcomes: Sequence[Outcome]) -> None:
        for o in sorted(outcomes, key=lambda o: o.delivery_id):
            d = self.state.deliveries[o.delivery_id]
            if o.postpone_until is not None:
                d = replace(d, next_attempt_at=o.postpone_until)
            elif o.error is None:
                d = replace(
                    d, status=DELIVERED, attempts=d.attempts + 1, last_status=o.status,
                    finished_at=o.at, last_error=None,
                )  # fmt: skip
            else:
                d = replace(
                    d, attempts=d.attempts + 1, last_error=o.error[:2000], last_status=o.status
                )
                if o.retry_at is None:
                    d = replace(d, status=DEAD, finished_at=o.at)
                else:
                    d = replace(d, next_attempt_at=o.retry_at)
            self.state.deliveries[o.delivery_id] = d
        delivered = {
            o.delivery_id: o.at for o in outcomes if o.postpone_until is None and o.error is None
        }
        pushes = [
            self.state.deliveries[i]
            for i in delivered
            if self.state.deliveries[i].event_type == STOCK_PUSH
        ]
        for push in sorted(pushes, key=lambda d: (d.payload["channel"], d.payload["sku"])):
            p = push.payload
            self.state.ack(
                p["channel"], p["sku"], int(p["quantity"]), int(p["version"]), delivered[push.id]
            )

    def recent(
        self, *, status: str | None = None, endpoint: str | None = None, limit: int = 100
    ) -> list[Delivery]:
        found = [
            d
            for d in self.state.deliveries.values()
            if (not status or d.status == status) and (not endpoint or d.endpoint == endpoint)
        ]
        return sorted(found, key=lambda d: d.id, reverse=True)[:limit]

    def get(self, delivery_id: int) -> Delivery | None:
        return self.state.deliveries.get(delivery_id)

    def status_of(self, endpoint: str, event_id: str) -> str | None:
        return next(
            (
                d.status
                for d in self.state.deliveries.values()
                if d.endpoint == endpoint and d.event_id == event_id
            ),
            None,
        )

    def replay(
        self, now: datetime, *, delivery_id: int | None = None, endpoint: str | None = None
    ) -> int:
        replayed = 0
        for d in list(self.state.deliveries.values()):
            if d.status != DEAD:
                continue
            if delivery_id is not None and d.id != delivery_id:
                continue
            if endpoint is not None and d.endpoint != endpoint:
                continue
            self.state.deliveries[d.id] = replace(
                d, status=PENDING, attempts=0, next_attempt_at=now, finished_at=None
            )
            replayed += 1
        return replayed

    def discard(self, delivery_id: int, now: datetime) -> bool:
        d = self.state.deliveries.get(delivery_id)
        if d is None or d.status != DEAD:
            return False
        self.state.deliveries[delivery_id] = replace(d, status=DISCARDED, finished_at=now)
        return True

    def counts(self) -> list[DeliveryCount]:
        counts: dict[tuple[str, str], tuple[int, int]] = {}
        for d in self.state.deliveries.values():
            n, tries = counts.get((d.endpoint, d.status), (0, 0))
            counts[(d.endpoint, d.status)] = (n + 1, tries + d.attempts)
        return [DeliveryCount(e, s, n, a) for (e, s), (n, a) in counts.items()]


# -- stock sync -----------------------------------------------------------------------------------


class FakeStockSync(StockSync):
    def __init__(self, state: FakeIntegrationState, database: FakeDatabase) -> None:
        self.state = state
        self.database = database

    def _channel_skus(self, channel: str, sku: str) -> list[str]:
        return sorted(
            m.channel_sku
            for m in self.database.state.mappings.values()
            if m.channel == channel and m.sku == sku
        )

    def want_many(self, wants: Sequence[StockWant], at: datetime) -> None:
        for channel, sku, qty, version in sorted(wants, key=lambda w: (w[0], w[1], w[3])):
            row = self.state.stock.get((channel, sku))
            if row is None:
                self.state.stock[(channel, sku)] = StockSyncRow(
                    channel, sku, qty, version, at, NEVER, None, NEVER, None, None, 0
                )
            elif row.wanted_version < version:
                waiting = row.wanted_version > row.queued_version
                self.state.stock[(channel, sku)] = replace(
                    row,
                    wanted=qty,
                    wanted_version=version,
                    wanted_at=row.wanted_at if waiting else at,
                )

    def _waiting_rows(self) -> list[StockSyncRow]:
        pushing = self.state.in_flight()
        rows = [r for r in self.state.stock.values() if r.wanted_version > r.queued_version]
        return [
            r for r in sorted(rows, key=lambda r: r.wanted_at) if (r.channel, r.sku) not in pushing
        ]

    def waiting(self, limit: int = 2000) -> list[WaitingValue]:
        return [WaitingValue(r.channel, r.sku, r.wanted_at) for r in self._waiting_rows()[:limit]]

    def to_push(self, limit: int) -> list[StockSyncRow]:
        return self._waiting_rows()[:limit]

    def queue_pushes(
        self,
        build: PushBuilder,
        now: datetime,
        *,
        waiting_since: datetime | None = None,
        pairs: Sequence[tuple[str, str]] | None = None,
        limit: int = 2000,
    ) -> int:
        if pairs is not None and not pairs:
            return 0
        rows = [
            r
            for r in sorted(self.state.stock.values(), key=lambda r: r.wanted_at)
            if r.wanted_version > r.queued_version
            and (waiting_since is None or r.wanted_at <= waiting_since)
            and (pairs is None or (r.channel, r.sku) in set(pairs))
        ][:limit]
        pushing = self.state.in_flight()
        items = []
        for row in rows:
            if (row.channel, row.sku) in pushing:
                continue
            push = build(row, self._channel_skus)
            if push is None:
                continue
            self.state.stock[(row.channel, row.sku)] = replace(
                row, queued_version=row.wanted_version
            )
            if push.item is not None:
                items.append(push.item)
        if items:
            self.state.insert(items, now)
        return len(items)

    def acked(
        self, channel: str, sku: str, qty: int, version: int, at: datetime
    ) -> datetime | None:
        return self.state.ack(channel, sku, qty, version, at)

    def waiting_since(self, channel: str, sku: str) -> datetime | None:
        row = self.state.stock.get((channel, sku))
        if row is None or row.wanted_version <= row.queued_version:
            return None
        return row.wanted_at

    def requeue_drift(self) -> int:
        pushing = self.state.in_flight()
        requeued = 0
        for key, r in list(self.state.stock.items()):
            drifted = (
                r.acked is None or r.acked != r.wanted or r.acked_version < r.wanted_version
            ) and r.queued_version >= r.wanted_version
            if drifted and key not in pushing:
                self.state.stock[key] = replace(r, queued_version=NEVER, repushes=r.repushes + 1)
                requeued += 1
        return requeued

    def status(self, channel: str) -> SyncStatus:
        rows = [r for r in self.state.stock.values() if r.channel == channel]
        lags = sorted(r.lag_ms for r in rows if r.lag_ms is not None)

        def pct(q: float) -> float | None:
            return round(lags[min(len(lags) - 1, math.floor(q * len(lags)))], 1) if lags else None

        in_sync = sum(
            1 for r in rows if r.acked == r.wanted and r.acked_version >= r.wanted_version
        )
        last = max((r.acked_at for r in rows if r.acked_at is not None), default=None)
        return SyncStatus(
            channel, len(rows), in_sync, len(rows) - in_sync, pct(0.5), pct(0.99), last
        )

    def values(self, channel: str) -> dict[str, tuple[int, int | None]]:
        return {
            r.sku: (r.wanted, r.acked) for r in self.state.stock.values() if r.channel == channel
        }


# -- channels, subscriptions, message ids, cursors -----------------------------------------------


class FakeChannelDirectory(ChannelDirectory):
    def __init__(self, database: FakeDatabase) -> None:
        self.database = database
        self.channels: dict[str, ChannelRecord] = {}

    def add(self, channel: ChannelRecord) -> None:
        if channel.code in self.channels:
            raise AlreadyExists(f"channel {channel.code} already exists")
        self.channels[channel.code] = channel

    def get(self, code: str) -> ChannelRecord | None:
        return self.channels.get(code)

    def all(self) -> list[ChannelRecord]:
        return [self.channels[code] for code in sorted(self.channels)]

    def channel_skus(self, channel: str, sku: str) -> list[str]:
        return sorted(
            m.channel_sku
            for m in self.database.state.mappings.values()
            if m.channel == channel and m.sku == sku
        )

    def shipments(self, order_id: str) -> list[tuple[str | None, str | None]]:
        parts = [f for f in self.database.state.fulfilments.values() if f.order_id == order_id]
        return [
            (f.carrier, f.tracking_number)
            for f in sorted(parts, key=lambda f: (f.created_at, f.id))
        ]


class FakeWebhookSubscriptions(WebhookSubscriptions):
    def __init__(self) -> None:
        self.subscriptions: dict[str, Subscription] = {}

    def add(self, subscription: Subscription) -> None:
        if subscription.id in self.subscriptions:
            raise AlreadyExists(f"subscription {subscription.id} already exists")
        self.subscriptions[subscription.id] = subscription

    def active(self) -> list[Subscription]:
        return [s for _, s in sorted(self.subscriptions.items()) if s.active]

    def deactivate(self, sub_id: str) -> bool:
        found = self.subscriptions.get(sub_id)
        if found is None:
            return False
        self.subscriptions[sub_id] = replace(found, active=False)
        return True


class FakeMessageLog(MessageLog):
    def __init__(self) -> None:
        self.received: dict[tuple[str, str], datetime] = {}

    def seen(self, channel: str, message_id: str) -> bool:
        return (channel, message_id) in self.received

    def remember(self, channel: str, message_id: str, at: datetime) -> bool:
        key = (channel, message_id[:128])
        if key in self.received:
            return False
        self.received[key] = at
        return True

    def forget(self, before: datetime) -> int:
        old = [key for key, at in self.received.items() if at < before]
        for key in old:
            del self.received[key]
        return len(old)


class FakePullCursors(PullCursors):
    def __init__(self) -> None:
        self.cursors: dict[str, PullCursor] = {}

    def get(self, key: str) -> PullCursor | None:
        return self.cursors.get(key)

    def lease(
        self, key: str, owner: str, start_at: datetime, now: datetime, lease: timedelta
    ) -> datetime | None:
        cursor = self.cursors.setdefault(
            key, PullCursor(key, start_at, None, None, 0, 0, None, None)
        )
        free = cursor.lease_until is None or cursor.lease_until < now
        if not free and cursor.lease_owner != owner:
            return None
        self.cursors[key] = replace(cursor, lease_owner=owner, lease_until=now + lease)
        return cursor.cursor_at

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
        cursor = self.cursors.get(key)
        if cursor is None or cursor.lease_owner != owner:
            return
        if to is not None and cursor.cursor_at < to:
            cursor = replace(cursor, cursor_at=to)
        self.cursors[key] = replace(
            cursor,
            pulled=cursor.pulled + pulled,
            rejected=cursor.rejected + rejected,
            last_error=error,
            last_pull_at=now,
            lease_until=None,
            lease_owner=None,
        )


class FakeIntegrationStores(IntegrationStores):
    @classmethod
    def on(cls, database: FakeDatabase | None = None) -> FakeIntegrationStores:
        database = database if database is not None else FakeDatabase()
        state = FakeIntegrationState()
        return cls(
            outbox=FakeOutboxRelay(database),
            deliveries=FakeDeliveryQueue(state),
            stock_sync=FakeStockSync(state, database),
            directory=FakeChannelDirectory(database),
            webhooks=FakeWebhookSubscriptions(),
            messages=FakeMessageLog(),
            cursors=FakePullCursors(),
        )
