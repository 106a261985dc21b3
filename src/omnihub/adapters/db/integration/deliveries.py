"""The delivery queue in SQL: claims leased with SKIP LOCKED on PostgreSQL, one transaction
per batch of outcomes (retried when chosen as a deadlock's victim)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from omnihub.adapters.db.integration.statements import ack_stock, insert_deliveries
from omnihub.adapters.db.integration.transactions import IntegrationDb
from omnihub.adapters.db.tables import deliveries
from omnihub.ports.integration import (
    DEAD,
    DELIVERED,
    DISCARDED,
    PENDING,
    STOCK_PUSH,
    Delivery,
    DeliveryCount,
    DeliveryQueue,
    NewDelivery,
    Outcome,
)

D = deliveries
#: a claimed delivery is invisible to other workers for this long (then it is retried)
CLAIM_LEASE = timedelta(seconds=60)


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


class SqlDeliveryQueue(DeliveryQueue):
    def __init__(self, db: IntegrationDb) -> None:
        self.db = db

    def enqueue(self, items: Sequence[NewDelivery], now: datetime) -> int:
        """Queue deliveries; one per (endpoint, event id) however often an event arrives. The
        number queued (0 when written with the relay's batch, see ``IntegrationDb.write``)."""
        if not items:
            return 0
        return self.db.write(lambda conn: insert_deliveries(conn, items, now, self.db.postgres))

    def claim_due(self, now: datetime, limit: int) -> list[Delivery]:
        """Take due deliveries for this worker: they are leased, so no other worker sends
        them at the same time; a worker that dies lets its lease run out (then they retry)."""
        query = (
            sa.select(D)
            .where(D.c.status == PENDING, D.c.next_attempt_at <= now)
            .order_by(D.c.next_attempt_at, D.c.id)
            .limit(limit)
        )
        with self.db.read() as conn, conn.begin():  # idle: no write lock taken
            if conn.execute(query.with_only_columns(D.c.id)).first() is None:
                return []
        if self.db.postgres:
            query = query.with_for_update(skip_locked=True)
        with self.db.begin() as conn:
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
        delivered is the channel acknowledging its value (``ack_stock``), in the same one."""
        if not outcomes:
            return

        def write(conn: sa.Connection) -> int:
            self._record(conn, outcomes)
            delivered = [o for o in outcomes if o.postpone_until is None and o.error is None]
            if delivered:
                at = {o.delivery_id: o.at for o in delivered}
                pushes = conn.execute(
                    sa.select(D.c.id, D.c.payload).where(
                        D.c.id.in_(list(at)), D.c.event_type == STOCK_PUSH
                    )
                )
                for id_, push in sorted(pushes, key=lambda r: (r[1]["channel"], r[1]["sku"])):
                    ack_stock(
                        conn, push["channel"], push["sku"], int(push["quantity"]),
                        int(push["version"]), at[id_],
                    )  # fmt: skip
            return len(outcomes)

        self.db.retrying(write)

    @staticmethod
    def _record(conn: sa.Connection, outcomes: Sequence[Outcome]) -> None:
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

    def recent(
        self, *, status: str | None = None, endpoint: str | None = None, limit: int = 100
    ) -> list[Delivery]:
        query = sa.select(D).order_by(D.c.id.desc()).limit(limit)
        if status:
            query = query.where(D.c.status == status)
        if endpoint:
            query = query.where(D.c.endpoint == endpoint)
        with self.db.read() as conn, conn.begin():
            return [_delivery(r) for r in conn.execute(query)]

    def get(self, delivery_id: int) -> Delivery | None:
        with self.db.read() as conn, conn.begin():
            row = conn.execute(sa.select(D).where(D.c.id == delivery_id)).first()
            return None if row is None else _delivery(row)

    def status_of(self, endpoint: str, event_id: str) -> str | None:
        with self.db.read() as conn, conn.begin():
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
        with self.db.begin() as conn:
            return int(
                conn.execute(
                    query.values(status=PENDING, attempts=0, next_attempt_at=now, finished_at=None)
                ).rowcount
            )

    def discard(self, delivery_id: int, now: datetime) -> bool:
        with self.db.begin() as conn:
            return (
                conn.execute(
                    sa.update(D)
                    .where(D.c.id == delivery_id, D.c.status == DEAD)
                    .values(status=DISCARDED, finished_at=now)
                ).rowcount
                == 1
            )

    def counts(self) -> list[DeliveryCount]:
        """(endpoint, status, deliveries, attempts) rows."""
        with self.db.read() as conn, conn.begin():
            rows = conn.execute(
                sa.select(
                    D.c.endpoint, D.c.status, sa.func.count(), sa.func.sum(D.c.attempts)
                ).group_by(D.c.endpoint, D.c.status)
            )
            return [DeliveryCount(e, s, int(n), int(a or 0)) for e, s, n, a in rows]
