"""Integration state in SQL: the outbox relay, outbound deliveries (with dead letters), webhook
subscriptions, channels and what each channel was told about stock."""

from __future__ import annotations

import contextlib
import logging
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from omnihub.adapters.db.engine import writers_in_line
from omnihub.adapters.db.tables import (
    channel_cursors,
    channel_messages,
    channels,
    deliveries,
    external_refs,
    fulfilments,
    outbox,
    stock_sync,
    webhook_subscriptions,
)
from omnihub.ports import Envelope

log = logging.getLogger(__name__)

D = deliveries
S = stock_sync
PENDING, DELIVERED, DEAD, DISCARDED = "pending", "delivered", "dead", "discarded"
#: stock_sync's queued/acked version of a (channel, SKU) never pushed
NEVER = -1
#: a claimed delivery is invisible to other workers for this long (then it is retried)
CLAIM_LEASE = timedelta(seconds=60)
#: times a write chosen as a deadlock's victim is tried (PostgreSQL undoes it whole)
DEADLOCK_ATTEMPTS = 3


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


def _delivery(row: Any) -> Delivery:
    return Delivery(
        row.id,
        row.endpoint,
        row.url,
        row.event_id,
        row.event_type,
        row.payload,
        row.status,
        row.attempts,
        row.next_attempt_at,
        row.last_error,
        row.last_status,
        row.created_at,
        row.finished_at,
    )


def _deadlock(exc: sa.exc.OperationalError) -> bool:
    """PostgreSQL's deadlock_detected (40P01) or serialization_failure (40001)."""
    return getattr(exc.orig, "sqlstate", None) in ("40P01", "40001")


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def envelope(row: Any) -> Envelope:
    """The event as receivers see it. Stock events carry the outbox sequence as their version:
    it grows with every change of a SKU, so the newest version is the hub's current value."""
    version = row.id if row.type.startswith("stock.") else row.version
    return {
        "id": row.event_id,
        "type": row.type,
        "occurred_at": row.occurred_at.isoformat(),
        "aggregate_id": row.aggregate_id,
        "version": version,
        "sequence": row.id,
        "data": row.data,
    }


@dataclass(frozen=True, slots=True)
class StockPush:
    """The delivery pushing a (channel, SKU)'s wanted value; ``item`` None: nothing to send
    (the SKU is not sold there), the value counts as pushed."""

    item: dict[str, Any] | None


PushBuilder = Callable[[Any, Callable[[str, str], list[str]]], "StockPush | None"]
"""The push of a stock_sync row's wanted value, given a lookup of the channel's own item ids
for a SKU; None leaves the row waiting (the channel has nowhere to push to)."""


class IntegrationStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self._relaying = threading.local()

    def _read(self) -> sa.Connection:
        conn = self.engine.connect()
        if not self.postgres:
            conn = conn.execution_options(sqlite_begin="DEFERRED")
        return conn

    @contextlib.contextmanager
    def _begin(self) -> Iterator[sa.Connection]:
        """A write transaction; on SQLite it waits its turn in the writers' line with the
        units of work (rather than in SQLite's busy handler, which lets it lose round after
        round to them)."""
        with writers_in_line(self.engine), self.engine.begin() as conn:
            yield conn

    def _write(self, work: Callable[[sa.Connection], int]) -> int:
        """Run ``work`` in a write transaction of its own; or, on the thread of an SQLite
        relay batch that is publishing, with that batch's (the in-process bus runs the hub's
        reactions there: their writes and the events marked delivered then take the write lock
        once, and commit together). Returns what ``work`` returns; when it is left to the
        batch, 0 (not known yet)."""
        batch: list[Callable[[sa.Connection], int]] | None = getattr(self._relaying, "writes", None)
        if batch is not None:
            batch.append(work)
            return 0
        return self._retrying(work)

    def _retrying(self, work: Callable[[sa.Connection], int]) -> int:
        """Run ``work`` in a write transaction, again (up to ``DEADLOCK_ATTEMPTS``) when
        PostgreSQL chose it as a deadlock's victim: the transaction was undone whole."""
        for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
            try:
                with self._begin() as conn:
                    return work(conn)
            except sa.exc.OperationalError as exc:
                if attempt == DEADLOCK_ATTEMPTS or not _deadlock(exc):
                    raise
                log.info("write chosen as a deadlock victim; attempt %d again", attempt + 1)
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def _collecting(self, writes: list[Callable[[sa.Connection], int]]) -> Iterator[None]:
        self._relaying.writes = writes
        try:
            yield
        finally:
            self._relaying.writes = None

    # -- the outbox relay -------------------------------------------------------------------
    def relay_batch(
        self, publish: Callable[[list[Envelope]], None], now: datetime, limit: int = 500
    ) -> int:
        """Publish the oldest undelivered events and mark them delivered once acknowledged.

        PostgreSQL: the rows are locked (SKIP LOCKED) while publishing, so several relays share
        the work. SQLite runs one relay; it reads, publishes, then takes the write lock once for
        the batch: the writes of the reactions the in-process bus ran while publishing, and the
        events marked delivered. A failed publish writes nothing.
        """
        undelivered = outbox.c.delivered_at.is_(None)
        query = sa.select(outbox).where(undelivered).order_by(outbox.c.id).limit(limit)
        if self.postgres:
            with self._begin() as conn:
                rows = list(conn.execute(query.with_for_update(skip_locked=True)))
                if rows:
                    publish([envelope(r) for r in rows])
                    conn.execute(
                        sa.update(outbox)
                        .where(outbox.c.id.in_([r.id for r in rows]))
                        .values(delivered_at=now)
                    )
                return len(rows)
        with self._read() as conn, conn.begin():  # idle: no write lock taken
            rows = list(conn.execute(query))
        if not rows:
            return 0
        writes: list[Callable[[sa.Connection], int]] = []
        with self._collecting(writes):
            publish([envelope(r) for r in rows])
        with self._begin() as conn:
            for work in writes:
                work(conn)
            conn.execute(
                sa.update(outbox)
                .where(outbox.c.id.in_([r.id for r in rows]))
                .values(delivered_at=now)
            )
        return len(rows)

    def outbox_backlog(self, now: datetime) -> tuple[int, float]:
        with self._read() as conn, conn.begin():
            count, oldest = conn.execute(
                sa.select(sa.func.count(), sa.func.min(outbox.c.occurred_at)).where(
                    outbox.c.delivered_at.is_(None)
                )
            ).one()
        if oldest is not None:
            oldest = _aware(oldest)
        return int(count), (now - oldest).total_seconds() if oldest else 0.0

    def outbox_position(self) -> int:
        """The sequence of the newest event recorded so far (0 when none)."""
        with self._read() as conn, conn.begin():
            return int(conn.execute(sa.select(sa.func.max(outbox.c.id))).scalar() or 0)

    def outbox_totals(self) -> dict[str, int]:
        with self._read() as conn, conn.begin():
            total, done = conn.execute(
                sa.select(sa.func.count(), sa.func.count(outbox.c.delivered_at))
            ).one()
        return {"events": int(total), "published": int(done)}

    # -- webhook subscriptions --------------------------------------------------------------
    def add_subscription(
        self, sub_id: str, url: str, events: Sequence[str], secret: str, at: datetime
    ) -> None:
        with self._begin() as conn:
            conn.execute(
                sa.insert(webhook_subscriptions).values(
                    id=sub_id,
                    url=url,
                    events=list(events),
                    secret=secret,
                    active=True,
                    created_at=at,
                )
            )

    def subscriptions(self) -> list[dict[str, Any]]:
        with self._read() as conn, conn.begin():
            rows = conn.execute(
                sa.select(webhook_subscriptions)
                .where(webhook_subscriptions.c.active.is_(True))
                .order_by(webhook_subscriptions.c.id)
            )
            return [dict(r._mapping) for r in rows]

    def deactivate_subscription(self, sub_id: str) -> bool:
        with self._begin() as conn:
            return (
                conn.execute(
                    sa.update(webhook_subscriptions)
                    .where(webhook_subscriptions.c.id == sub_id)
                    .values(active=False)
                ).rowcount
                == 1
            )

    # -- channels ---------------------------------------------------------------------------
    def add_channel(self, row: dict[str, Any]) -> None:
        with self._begin() as conn:
            conn.execute(sa.insert(channels).values(**row))

    def channels(self) -> list[dict[str, Any]]:
        with self._read() as conn, conn.begin():
            return [
                dict(r._mapping)
                for r in conn.execute(sa.select(channels).order_by(channels.c.code))
            ]

    def channel(self, code: str) -> dict[str, Any] | None:
        with self._read() as conn, conn.begin():
            row = conn.execute(sa.select(channels).where(channels.c.code == code)).first()
            return None if row is None else dict(row._mapping)

    def channel_skus(self, channel: str, sku: str) -> list[str]:
        """The channel's own item identities mapped to one of our SKUs (usually one)."""
        with self._read() as conn, conn.begin():
            return self._channel_skus(conn, channel, sku)

    @staticmethod
    def _channel_skus(conn: sa.Connection, channel: str, sku: str) -> list[str]:
        return list(
            conn.scalars(
                sa.select(external_refs.c.external_id)
                .where(
                    external_refs.c.channel == channel,
                    external_refs.c.kind == "sku",
                    external_refs.c.internal_id == sku,
                )
                .order_by(external_refs.c.external_id)
            )
        )

    def shipments(self, order_id: str) -> list[tuple[str | None, str | None]]:
        """(carrier, tracking number) of each fulfilment of an order, in creation order."""
        with self._read() as conn, conn.begin():
            return [
                (r.carrier, r.tracking_number)
                for r in conn.execute(
                    sa.select(fulfilments.c.carrier, fulfilments.c.tracking_number)
                    .where(fulfilments.c.order_id == order_id)
                    .order_by(fulfilments.c.created_at, fulfilments.c.id)
                )
            ]

    # -- inbound channel messages and pull cursors -------------------------------------------
    def message_seen(self, channel: str, message_id: str) -> bool:
        with self._read() as conn, conn.begin():
            return (
                conn.execute(
                    sa.select(channel_messages.c.message_id).where(
                        channel_messages.c.channel == channel,
                        channel_messages.c.message_id == message_id,
                    )
                ).first()
                is not None
            )

    def remember_message(self, channel: str, message_id: str, at: datetime) -> bool:
        """False when the id was already there (a concurrent delivery of the same message)."""
        try:
            with self._begin() as conn:
                conn.execute(
                    sa.insert(channel_messages).values(
                        channel=channel, message_id=message_id[:128], received_at=at
                    )
                )
        except sa.exc.IntegrityError:
            return False
        return True

    def forget_messages(self, before: datetime) -> int:
        """Replay protection only needs ids younger than the signed-timestamp window."""
        with self._begin() as conn:
            return int(
                conn.execute(
                    sa.delete(channel_messages).where(channel_messages.c.received_at < before)
                ).rowcount
            )

    def cursor(self, channel: str) -> dict[str, Any] | None:
        with self._read() as conn, conn.begin():
            row = conn.execute(
                sa.select(channel_cursors).where(channel_cursors.c.channel == channel)
            ).first()
            return None if row is None else dict(row._mapping)

    def lease_cursor(
        self, channel: str, owner: str, start_at: datetime, now: datetime, lease: timedelta
    ) -> datetime | None:
        """Take the channel's pull for ``lease`` (one puller per channel at a time); the
        cursor to pull from, or None when another puller holds it. A channel pulled for the
        first time starts at ``start_at``."""
        C = channel_cursors
        with self._begin() as conn:
            exists = conn.execute(sa.select(C.c.channel).where(C.c.channel == channel)).first()
            if exists is None:
                # another puller may have created it a moment ago: then compete for its lease
                with contextlib.suppress(sa.exc.IntegrityError), conn.begin_nested():
                    conn.execute(sa.insert(C).values(channel=channel, cursor_at=start_at))
            taken = conn.execute(
                sa.update(C)
                .where(
                    C.c.channel == channel,
                    sa.or_(
                        C.c.lease_until.is_(None),
                        C.c.lease_until < now,
                        C.c.lease_owner == owner,
                    ),
                )
                .values(lease_owner=owner, lease_until=now + lease)
            ).rowcount
            if taken != 1:
                return None
            return conn.execute(  # type: ignore[no-any-return]
                sa.select(C.c.cursor_at).where(C.c.channel == channel)
            ).scalar_one()

    def advance_cursor(
        self,
        channel: str,
        owner: str,
        *,
        to: datetime | None,
        pulled: int,
        rejected: int,
        error: str | None,
        now: datetime,
    ) -> None:
        """Record a pull: the cursor moves to ``to`` only when the whole window was read."""
        C = channel_cursors
        values: dict[str, Any] = {
            "pulled": C.c.pulled + pulled,
            "rejected": C.c.rejected + rejected,
            "last_error": error,
            "last_pull_at": now,
            "lease_until": None,
            "lease_owner": None,
        }
        held = sa.and_(C.c.channel == channel, C.c.lease_owner == owner)
        with self._begin() as conn:
            if to is not None:  # only forward: a slow puller whose lease ran out moves nothing
                conn.execute(sa.update(C).where(held, C.c.cursor_at < to).values(cursor_at=to))
            conn.execute(sa.update(C).where(held).values(**values))

    # -- deliveries (the connector runtime's queue) -----------------------------------------
    def enqueue(self, items: Sequence[dict[str, Any]], now: datetime) -> int:
        """Queue deliveries; one per (endpoint, event id) however often an event arrives. The
        number queued (0 when written with the relay's batch, see ``_write``)."""
        if not items:
            return 0
        return self._write(lambda conn: self._insert_deliveries(conn, items, now))

    def _insert_deliveries(
        self, conn: sa.Connection, items: Sequence[dict[str, Any]], now: datetime
    ) -> int:
        rows = [
            dict(item, status=PENDING, attempts=0, next_attempt_at=now, created_at=now)
            for item in items
        ]
        if self.postgres:
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            statement: Any = pg_insert(D).on_conflict_do_nothing(
                index_elements=["endpoint", "event_id"]
            )
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            statement = sqlite_insert(D).on_conflict_do_nothing(
                index_elements=["endpoint", "event_id"]
            )
        # rows actually inserted (RETURNING: psycopg's executemany rowcount is -1)
        return len(conn.execute(statement.returning(D.c.id), rows).all())

    def claim_due(self, now: datetime, limit: int) -> list[Delivery]:
        """Take due deliveries for this worker: they are leased, so no other worker sends
        them at the same time; a worker that dies lets its lease run out (then they retry)."""
        query = (
            sa.select(D)
            .where(D.c.status == PENDING, D.c.next_attempt_at <= now)
            .order_by(D.c.next_attempt_at, D.c.id)
            .limit(limit)
        )
        with self._read() as conn, conn.begin():  # idle: no write lock taken
            if conn.execute(query.with_only_columns(D.c.id)).first() is None:
                return []
        if self.postgres:
            query = query.with_for_update(skip_locked=True)
        with self._begin() as conn:
            rows = list(conn.execute(query))
            if rows:
                conn.execute(
                    sa.update(D)
                    .where(D.c.id.in_([r.id for r in rows]))
                    .values(next_attempt_at=now + CLAIM_LEASE)
                )
        return [_delivery(r) for r in rows]

    def record(self, outcomes: Sequence[Outcome]) -> None:
        """Write the results of a batch of attempts in one transaction; a stock push
        delivered is the channel acknowledging its value (``stock_acked``), in the same one."""
        if not outcomes:
            return

        def write(conn: sa.Connection) -> int:
            self._record(conn, outcomes)
            delivered = [o for o in outcomes if o.postpone_until is None and o.error is None]
            if delivered:
                at = {o.delivery_id: o.at for o in delivered}
                pushes = conn.execute(
                    sa.select(D.c.id, D.c.payload).where(
                        D.c.id.in_(list(at)), D.c.event_type == "stock.push"
                    )
                )
                for id_, push in sorted(pushes, key=lambda r: (r[1]["channel"], r[1]["sku"])):
                    self._ack(
                        conn, push["channel"], push["sku"], int(push["quantity"]),
                        int(push["version"]), at[id_],
                    )  # fmt: skip
            return len(outcomes)

        self._retrying(write)

    def _record(self, conn: sa.Connection, outcomes: Sequence[Outcome]) -> None:
        for o in sorted(outcomes, key=lambda o: o.delivery_id):
            values: dict[str, Any]
            if o.postpone_until is not None:
                values = {"next_attempt_at": o.postpone_until}
            elif o.error is None:
                values = {
                    "status": DELIVERED,
                    "attempts": D.c.attempts + 1,
                    "last_status": o.status,
                    "latency_ms": o.latency_ms,
                    "finished_at": o.at,
                    "last_error": None,
                }
            else:
                values = {
                    "attempts": D.c.attempts + 1,
                    "last_error": o.error[:2000],
                    "last_status": o.status,
                    "latency_ms": o.latency_ms,
                }
                if o.retry_at is None:
                    values.update(status=DEAD, finished_at=o.at)
                else:
                    values.update(next_attempt_at=o.retry_at)
            conn.execute(sa.update(D).where(D.c.id == o.delivery_id).values(**values))

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
        self.record(
            [
                Outcome(
                    delivery_id,
                    now,
                    error=error,
                    status=status,
                    latency_ms=latency_ms,
                    retry_at=retry_at,
                )
            ]
        )

    def postpone(self, delivery_id: int, until: datetime) -> None:
        """Not attempted (circuit open, rate limit): try again later, no attempt counted."""
        self.record([Outcome(delivery_id, until, postpone_until=until)])

    def deliveries(
        self, *, status: str | None = None, endpoint: str | None = None, limit: int = 100
    ) -> list[Delivery]:
        query = sa.select(D).order_by(D.c.id.desc()).limit(limit)
        if status:
            query = query.where(D.c.status == status)
        if endpoint:
            query = query.where(D.c.endpoint == endpoint)
        with self._read() as conn, conn.begin():
            return [_delivery(r) for r in conn.execute(query)]

    def get_delivery(self, delivery_id: int) -> Delivery | None:
        with self._read() as conn, conn.begin():
            row = conn.execute(sa.select(D).where(D.c.id == delivery_id)).first()
            return None if row is None else _delivery(row)

    def delivery_status(self, endpoint: str, event_id: str) -> str | None:
        """The status of the delivery of ``event_id`` to ``endpoint``; None when never queued
        (a back end's cancel asks whether the create went out before it)."""
        with self._read() as conn, conn.begin():
            return conn.execute(
                sa.select(D.c.status).where(D.c.endpoint == endpoint, D.c.event_id == event_id)
            ).scalar()

    def replay(
        self, now: datetime, *, delivery_id: int | None = None, endpoint: str | None = None
    ) -> int:
        """Dead letters back in the queue, attempts counted from zero."""
        query = sa.update(D).where(D.c.status == DEAD)
        if delivery_id is not None:
            query = query.where(D.c.id == delivery_id)
        if endpoint is not None:
            query = query.where(D.c.endpoint == endpoint)
        with self._begin() as conn:
            return int(
                conn.execute(
                    query.values(status=PENDING, attempts=0, next_attempt_at=now, finished_at=None)
                ).rowcount
            )

    def discard(self, delivery_id: int, now: datetime) -> bool:
        with self._begin() as conn:
            return (
                conn.execute(
                    sa.update(D)
                    .where(D.c.id == delivery_id, D.c.status == DEAD)
                    .values(status=DISCARDED, finished_at=now)
                ).rowcount
                == 1
            )

    def delivery_counts(self) -> list[tuple[str, str, int, int]]:
        """(endpoint, status, deliveries, attempts) rows."""
        with self._read() as conn, conn.begin():
            rows = conn.execute(
                sa.select(
                    D.c.endpoint, D.c.status, sa.func.count(), sa.func.sum(D.c.attempts)
                ).group_by(D.c.endpoint, D.c.status)
            )
            return [(e, s, int(n), int(a or 0)) for e, s, n, a in rows]

    # -- stock sync -------------------------------------------------------------------------
    # A (channel, SKU) row is waiting when its wanted version is newer than the one queued;
    # ``wanted_at`` is when the hub learned of the first change not queued yet (the changes
    # after it, until the push is queued, ride on the same push).
    def want_stock(self, channel: str, sku: str, qty: int, version: int, at: datetime) -> None:
        """Remember the newest quantity a channel should show; an older version changes
        nothing (events may arrive out of order or twice)."""
        self.want_stock_many([(channel, sku, qty, version)], at)

    def want_stock_many(self, wants: Sequence[tuple[str, str, int, int]], at: datetime) -> None:
        """``want_stock`` for several (channel, sku, qty, version) in one transaction: a stock
        change for every channel at once (a commit per channel made the relay the bottleneck)."""

        def want(conn: sa.Connection) -> int:
            # rows in one order (channel, SKU, version) in every transaction: two workers'
            # batches touching the same rows then wait for each other instead of deadlocking
            for channel, sku, qty, version in sorted(wants, key=lambda w: (w[0], w[1], w[3])):
                self._want(conn, channel, sku, qty, version, at)
            return len(wants)

        self._write(want)

    def _want(
        self, conn: sa.Connection, channel: str, sku: str, qty: int, version: int, at: datetime
    ) -> None:
        waiting = S.c.wanted_version > S.c.queued_version
        learned_at = sa.bindparam("learned_at", at, type_=S.c.wanted_at.type)
        changed = conn.execute(
            sa.update(S)
            .where(S.c.channel == channel, S.c.sku == sku, S.c.wanted_version < version)
            .values(
                wanted=qty,
                wanted_version=version,
                # already waiting: it waits since its first change, not since this one
                wanted_at=sa.case((waiting, S.c.wanted_at), else_=learned_at),
            )
        ).rowcount
        if changed:
            return
        exists = conn.execute(
            sa.select(S.c.sku).where(S.c.channel == channel, S.c.sku == sku)
        ).first()
        if exists is None:
            if self.postgres:
                from sqlalchemy.dialects.postgresql import insert as pg_insert

                statement: Any = pg_insert(S).on_conflict_do_nothing()
            else:
                from sqlalchemy.dialects.sqlite import insert as sqlite_insert

                statement = sqlite_insert(S).on_conflict_do_nothing()
            conn.execute(
                statement.values(
                    channel=channel,
                    sku=sku,
                    wanted=qty,
                    wanted_version=version,
                    wanted_at=at,
                    # never queued, never acknowledged: below every version, the snapshot of
                    # a channel created before the first event (version 0) included
                    queued_version=NEVER,
                    acked_version=NEVER,
                )
            )

    def _pushing(self, conn: sa.Connection) -> set[tuple[str, str]]:
        """(channel, SKU) pairs with a stock push queued and not settled (delivered or dead):
        read from the few pending deliveries, by the push's own channel and SKU."""
        rows = conn.execute(
            sa.select(D.c.payload).where(D.c.status == PENDING, D.c.event_type == "stock.push")
        )
        return {(p["channel"], p["sku"]) for (p,) in rows}

    def stock_waiting(self, limit: int = 2000) -> list[tuple[str, str, datetime]]:
        """(channel, SKU, waiting since) of the rows with a value to push and no push of theirs
        in flight, the longest waiting first: a read, so an idle flusher takes no lock."""
        with self._read() as conn, conn.begin():
            pushing = self._pushing(conn)
            rows = conn.execute(
                sa.select(S.c.channel, S.c.sku, S.c.wanted_at)
                .where(S.c.wanted_version > S.c.queued_version)
                .order_by(S.c.wanted_at)
                .limit(limit + len(pushing))
            )
            return [
                (r.channel, r.sku, _aware(r.wanted_at))
                for r in rows
                if (r.channel, r.sku) not in pushing
            ]

    def stock_to_push(self, limit: int) -> list[Any]:
        """(channel, SKU) rows with a newer value to push and no push of theirs still waiting:
        one push at a time per (channel, SKU), so an older value retried late never lands on
        the channel after a newer one (the channel would keep it while the hub, having the
        newer acknowledgement, believes it in sync)."""
        with self._read() as conn, conn.begin():
            pushing = self._pushing(conn)
            rows = conn.execute(
                sa.select(S)
                .where(S.c.wanted_version > S.c.queued_version)
                .order_by(S.c.wanted_at)
                .limit(limit + len(pushing))
            )
            return [r for r in rows if (r.channel, r.sku) not in pushing][:limit]

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
        with no push of its own in flight. The rows are locked first (PostgreSQL: SKIP LOCKED,
        another flusher takes the others; SQLite: the write lock), then the pushes in flight
        read, so no second push of a (channel, SKU) is ever queued beside one not settled.
        Returns the number of deliveries queued."""
        query = sa.select(S).where(S.c.wanted_version > S.c.queued_version)
        if waiting_since is not None:
            query = query.where(S.c.wanted_at <= waiting_since)
        if pairs is not None:
            if not pairs:
                return 0
            query = query.where(sa.tuple_(S.c.channel, S.c.sku).in_(list(pairs)))
        query = query.order_by(S.c.wanted_at).limit(limit)
        if self.postgres:
            query = query.with_for_update(skip_locked=True)
        with self._begin() as conn:
            rows = list(conn.execute(query))
            if not rows:
                return 0
            pushing = self._pushing(conn)  # after the locks: a statement of its own

            def channel_skus(channel: str, sku: str) -> list[str]:
                return self._channel_skus(conn, channel, sku)

            items = []
            for row in rows:
                if (row.channel, row.sku) in pushing:
                    continue
                push = build(row, channel_skus)
                if push is None:
                    continue
                taken = conn.execute(
                    sa.update(S)
                    .where(
                        S.c.channel == row.channel,
                        S.c.sku == row.sku,
                        S.c.queued_version == row.queued_version,
                    )
                    .values(queued_version=row.wanted_version)
                ).rowcount
                if taken == 1 and push.item is not None:
                    items.append(push.item)
            if items:
                self._insert_deliveries(conn, items, now)
        return len(items)

    def stock_acked(
        self, channel: str, sku: str, qty: int, version: int, at: datetime
    ) -> datetime | None:
        """Record what the channel acknowledged. Returns since when a newer value has been
        waiting for this push to settle (None when none waits)."""
        with self._begin() as conn:
            return self._ack(conn, channel, sku, qty, version, at)

    def _ack(
        self, conn: sa.Connection, channel: str, sku: str, qty: int, version: int, at: datetime
    ) -> datetime | None:
        row = conn.execute(
            sa.select(S.c.wanted_at, S.c.wanted_version, S.c.queued_version).where(
                S.c.channel == channel, S.c.sku == sku
            )
        ).first()
        if row is None:
            return None
        wanted_at = _aware(row.wanted_at)
        lag = (
            max(0.0, (at - wanted_at).total_seconds() * 1000)
            if (version == row.wanted_version)
            else None
        )
        values: dict[str, Any] = {"acked": qty, "acked_version": version, "acked_at": at}
        if lag is not None:
            values["lag_ms"] = lag
        conn.execute(
            sa.update(S)
            # equal: a re-push of the same version corrects what the channel kept
            .where(S.c.channel == channel, S.c.sku == sku, S.c.acked_version <= version)
            .values(**values)
        )
        return wanted_at if row.wanted_version > row.queued_version else None

    def stock_waiting_since(self, channel: str, sku: str) -> datetime | None:
        """Since when a newer value of (channel, SKU) than the one queued has been waiting
        (None when none waits): a read."""
        with self._read() as conn, conn.begin():
            row = conn.execute(
                sa.select(S.c.wanted_at).where(
                    S.c.channel == channel,
                    S.c.sku == sku,
                    S.c.wanted_version > S.c.queued_version,
                )
            ).first()
        return None if row is None else _aware(row.wanted_at)

    def requeue_drift(self) -> int:
        """The full compare: every SKU whose acknowledged value differs from what it should
        be is pushed again (as a new delivery: ``repushes`` names it). A (channel, SKU) whose
        push is still in flight is left to that push's acknowledgement."""
        drifted = sa.and_(
            sa.or_(
                S.c.acked.is_(None),
                S.c.acked != S.c.wanted,
                S.c.acked_version < S.c.wanted_version,
            ),
            S.c.queued_version >= S.c.wanted_version,
        )
        query = sa.select(S.c.channel, S.c.sku).where(drifted)
        if self.postgres:
            query = query.with_for_update(skip_locked=True)
        with self._begin() as conn:
            rows = list(conn.execute(query))
            if not rows:
                return 0
            pushing = self._pushing(conn)  # after the locks: a statement of its own
            requeued = 0
            for row in rows:
                if (row.channel, row.sku) in pushing:
                    continue
                requeued += conn.execute(
                    sa.update(S)
                    .where(S.c.channel == row.channel, S.c.sku == row.sku, drifted)
                    .values(queued_version=NEVER, repushes=S.c.repushes + 1)
                ).rowcount
            return requeued

    def sync_status(self, channel: str) -> dict[str, Any]:
        with self._read() as conn, conn.begin():
            rows = list(conn.execute(sa.select(S).where(S.c.channel == channel)))
        lags = sorted(r.lag_ms for r in rows if r.lag_ms is not None)

        def pct(q: float) -> float | None:
            return round(lags[min(len(lags) - 1, math.floor(q * len(lags)))], 1) if lags else None

        in_sync = sum(
            1 for r in rows if r.acked == r.wanted and r.acked_version >= r.wanted_version
        )
        last = max((r.acked_at for r in rows if r.acked_at is not None), default=None)
        return {
            "channel": channel,
            "skus": len(rows),
            "in_sync": in_sync,
            "behind": len(rows) - in_sync,
            "lag_ms_p50": pct(0.5),
            "lag_ms_p99": pct(0.99),
            "last_ack_at": last.isoformat() if last else None,
        }

    def stock_rows(self, channel: str) -> dict[str, tuple[int, int | None]]:
        with self._read() as conn, conn.begin():
            return {
                r.sku: (r.wanted, r.acked)
                for r in conn.execute(sa.select(S).where(S.c.channel == channel))
            }
