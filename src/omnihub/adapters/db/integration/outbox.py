"""The outbox relay in SQL: several relays share the backlog on PostgreSQL (SKIP LOCKED); on
SQLite one relay reads, publishes, then takes the write lock once for the batch."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from omnihub.adapters.db.integration.transactions import IntegrationDb, Work, aware
from omnihub.adapters.db.tables import outbox
from omnihub.ports import Envelope
from omnihub.ports.integration import OutboxBacklog, OutboxRelay


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


class SqlOutboxRelay(OutboxRelay):
    def __init__(self, db: IntegrationDb) -> None:
        self.db = db

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
        if self.db.postgres:
            with self.db.begin() as conn:
                rows = list(conn.execute(query.with_for_update(skip_locked=True)))
                if rows:
                    publish([envelope(r) for r in rows])
                    conn.execute(
                        sa.update(outbox)
                        .where(outbox.c.id.in_([r.id for r in rows]))
                        .values(delivered_at=now)
                    )
                return len(rows)
        with self.db.read() as conn, conn.begin():  # idle: no write lock taken
            rows = list(conn.execute(query))
        if not rows:
            return 0
        writes: list[Work] = []
        with self.db.collecting(writes):
            publish([envelope(r) for r in rows])
        with self.db.begin() as conn:
            for work in writes:
                work(conn)
            conn.execute(
                sa.update(outbox)
                .where(outbox.c.id.in_([r.id for r in rows]))
                .values(delivered_at=now)
            )
        return len(rows)

    def backlog(self, now: datetime) -> OutboxBacklog:
        with self.db.read() as conn, conn.begin():
            count, oldest = conn.execute(
                sa.select(sa.func.count(), sa.func.min(outbox.c.occurred_at)).where(
                    outbox.c.delivered_at.is_(None)
                )
            ).one()
        if oldest is not None:
            oldest = aware(oldest)
        return OutboxBacklog(int(count), (now - oldest).total_seconds() if oldest else 0.0)

    def position(self) -> int:
        with self.db.read() as conn, conn.begin():
            return int(conn.execute(sa.select(sa.func.max(outbox.c.id))).scalar() or 0)

    def totals(self) -> dict[str, int]:
        with self.db.read() as conn, conn.begin():
            total, done = conn.execute(
                sa.select(sa.func.count(), sa.func.count(outbox.c.delivered_at))
            ).one()
        return {"events": int(total), "published": int(done)}
