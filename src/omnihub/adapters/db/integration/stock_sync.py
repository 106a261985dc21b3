"""Stock sync in SQL: what each channel should show per SKU, the pushes queued and what the
channel acknowledged.

A (channel, SKU) row is waiting when its wanted version is newer than the one queued;
``wanted_at`` is when the hub learned of the first change not queued yet (the changes after it,
until the push is queued, ride on the same push). Rows are always touched in (channel, SKU)
order, so two workers' batches wait for each other instead of deadlocking.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from omnihub.adapters.db.integration.statements import (
    ack_stock,
    channel_skus,
    insert_deliveries,
    pushes_in_flight,
)
from omnihub.adapters.db.integration.transactions import IntegrationDb, aware
from omnihub.adapters.db.tables import stock_sync
from omnihub.ports.integration import (
    NEVER,
    NewDelivery,
    PushBuilder,
    StockSync,
    StockSyncRow,
    StockWant,
    SyncStatus,
    WaitingValue,
)

S = stock_sync


def _row(row: Any) -> StockSyncRow:
    return StockSyncRow(
        channel=row.channel,
        sku=row.sku,
        wanted=row.wanted,
        wanted_version=row.wanted_version,
        wanted_at=aware(row.wanted_at),
        queued_version=row.queued_version,
        acked=row.acked,
        acked_version=row.acked_version,
        acked_at=None if row.acked_at is None else aware(row.acked_at),
        lag_ms=row.lag_ms,
        repushes=row.repushes,
    )


class SqlStockSync(StockSync):
    def __init__(self, db: IntegrationDb) -> None:
        self.db = db

    def want_many(self, wants: Sequence[StockWant], at: datetime) -> None:
        """``want`` for several (channel, sku, qty, version) in one transaction: a stock
        change for every channel at once (a commit per channel made the relay the bottleneck)."""

        def want(conn: sa.Connection) -> int:
            # rows in one order (channel, SKU, version) in every transaction: two workers'
            # batches touching the same rows then wait for each other instead of deadlocking
            for channel, sku, qty, version in sorted(wants, key=lambda w: (w[0], w[1], w[3])):
                self._want(conn, channel, sku, qty, version, at)
            return len(wants)

        self.db.write(want)

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
            if self.db.postgres:
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

    def waiting(self, limit: int = 2000) -> list[WaitingValue]:
        """(channel, SKU, waiting since) of the rows with a value to push and no push of theirs
        in flight, the longest waiting first: a read, so an idle flusher takes no lock."""
        with self.db.read() as conn, conn.begin():
            pushing = pushes_in_flight(conn)
            rows = conn.execute(
                sa.select(S.c.channel, S.c.sku, S.c.wanted_at)
                .where(S.c.wanted_version > S.c.queued_version)
                .order_by(S.c.wanted_at)
                .limit(limit + len(pushing))
            )
            return [
                WaitingValue(r.channel, r.sku, aware(r.wanted_at))
                for r in rows
                if (r.channel, r.sku) not in pushing
            ]

    def to_push(self, limit: int) -> list[StockSyncRow]:
        """(channel, SKU) rows with a newer value to push and no push of theirs still waiting:
        one push at a time per (channel, SKU), so an older value retried late never lands on
        the channel after a newer one (the channel would keep it while the hub, having the
        newer acknowledgement, believes it in sync)."""
        with self.db.read() as conn, conn.begin():
            pushing = pushes_in_flight(conn)
            rows = conn.execute(
                sa.select(S)
                .where(S.c.wanted_version > S.c.queued_version)
                .order_by(S.c.wanted_at)
                .limit(limit + len(pushing))
            )
            return [_row(r) for r in rows if (r.channel, r.sku) not in pushing][:limit]

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
        if self.db.postgres:
            query = query.with_for_update(skip_locked=True)
        with self.db.begin() as conn:
            rows = list(conn.execute(query))
            if not rows:
                return 0
            pushing = pushes_in_flight(conn)  # after the locks: a statement of its own

            def skus_of(channel: str, sku: str) -> list[str]:
                return channel_skus(conn, channel, sku)

            items: list[NewDelivery] = []
            for row in rows:
                if (row.channel, row.sku) in pushing:
                    continue
                push = build(_row(row), skus_of)
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
                insert_deliveries(conn, items, now, self.db.postgres)
        return len(items)

    def acked(
        self, channel: str, sku: str, qty: int, version: int, at: datetime
    ) -> datetime | None:
        """Record what the channel acknowledged. Returns since when a newer value has been
        waiting for this push to settle (None when none waits)."""
        with self.db.begin() as conn:
            return ack_stock(conn, channel, sku, qty, version, at)

    def waiting_since(self, channel: str, sku: str) -> datetime | None:
        """Since when a newer value of (channel, SKU) than the one queued has been waiting
        (None when none waits): a read."""
        with self.db.read() as conn, conn.begin():
            row = conn.execute(
                sa.select(S.c.wanted_at).where(
                    S.c.channel == channel,
                    S.c.sku == sku,
                    S.c.wanted_version > S.c.queued_version,
                )
            ).first()
        return None if row is None else aware(row.wanted_at)

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
        if self.db.postgres:
            query = query.with_for_update(skip_locked=True)
        with self.db.begin() as conn:
            rows = list(conn.execute(query))
            if not rows:
                return 0
            pushing = pushes_in_flight(conn)  # after the locks: a statement of its own
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

    def status(self, channel: str) -> SyncStatus:
        with self.db.read() as conn, conn.begin():
            rows = list(conn.execute(sa.select(S).where(S.c.channel == channel)))
        lags = sorted(r.lag_ms for r in rows if r.lag_ms is not None)

        def pct(q: float) -> float | None:
            return round(lags[min(len(lags) - 1, math.floor(q * len(lags)))], 1) if lags else None

        in_sync = sum(
            1 for r in rows if r.acked == r.wanted and r.acked_version >= r.wanted_version
        )
        last = max((r.acked_at for r in rows if r.acked_at is not None), default=None)
        return SyncStatus(
            channel=channel,
            skus=len(rows),
            in_sync=in_sync,
            behind=len(rows) - in_sync,
            lag_ms_p50=pct(0.5),
            lag_ms_p99=pct(0.99),
            last_ack_at=last,
        )

    def values(self, channel: str) -> dict[str, tuple[int, int | None]]:
        with self.db.read() as conn, conn.begin():
            return {
                r.sku: (r.wanted, r.acked)
                for r in conn.execute(sa.select(S).where(S.c.channel == channel))
            }
