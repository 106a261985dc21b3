"""The SQL that one integration store runs inside another's transaction: queuing deliveries
(the stock flusher queues its pushes with the rows it takes), acknowledging a stock push (a
delivered push is recorded with its acknowledgement), the pushes in flight and a channel's item
ids for a SKU."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from omnihub.adapters.db.integration.transactions import aware
from omnihub.adapters.db.tables import deliveries, external_refs, stock_sync
from omnihub.ports.integration import PENDING, STOCK_PUSH, NewDelivery

D = deliveries
S = stock_sync


def insert_deliveries(
    conn: sa.Connection, items: Sequence[NewDelivery], now: datetime, postgres: bool
) -> int:
    """Queue deliveries; one per (endpoint, event id). Returns how many were new."""
    rows = [
        {
            "endpoint": item.endpoint,
            "url": item.url,
            "event_id": item.event_id,
            "event_type": item.event_type,
            "payload": item.payload,
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for item in items
    ]
    if postgres:
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement: Any = pg_insert(D).on_conflict_do_nothing(
            index_elements=["endpoint", "event_id"]
        )
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(D).on_conflict_do_nothing(index_elements=["endpoint", "event_id"])
    # rows actually inserted (RETURNING: psycopg's executemany rowcount is -1)
    return len(conn.execute(statement.returning(D.c.id), rows).all())


def pushes_in_flight(conn: sa.Connection) -> set[tuple[str, str]]:
    """(channel, SKU) pairs with a stock push queued and not settled (delivered or dead):
    read from the few pending deliveries, by the push's own channel and SKU."""
    rows = conn.execute(
        sa.select(D.c.payload).where(D.c.status == PENDING, D.c.event_type == STOCK_PUSH)
    )
    return {(p["channel"], p["sku"]) for (p,) in rows}


def ack_stock(
    conn: sa.Connection, channel: str, sku: str, qty: int, version: int, at: datetime
) -> datetime | None:
    """Record what the channel acknowledged; since when a newer value waits (None: none)."""
    row = conn.execute(
        sa.select(S.c.wanted_at, S.c.wanted_version, S.c.queued_version).where(
            S.c.channel == channel, S.c.sku == sku
        )
    ).first()
    if row is None:
        return None
    wanted_at = aware(row.wanted_at)
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


def channel_skus(conn: sa.Connection, channel: str, sku: str) -> list[str]:
    """The channel's own item identities mapped to one of our SKUs."""
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
