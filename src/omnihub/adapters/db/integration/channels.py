"""The sales channels in SQL (``channels``), their item ids (``external_refs``) and what the
channel is told when an order ships (``fulfilments``)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from omnihub.adapters.db.integration.statements import channel_skus
from omnihub.adapters.db.integration.transactions import IntegrationDb
from omnihub.adapters.db.tables import channels, fulfilments
from omnihub.ports.integration import ChannelDirectory, ChannelRecord


def _channel(row: Any) -> ChannelRecord:
    return ChannelRecord(
        code=row.code,
        adapter=row.adapter,
        endpoint=row.endpoint,
        secret=row.secret,
        allocation_ratio=row.allocation_ratio,
        buffer=row.buffer,
        locations=tuple(row.locations or ()),
        created_at=row.created_at,
        credentials=row.credentials or {},
    )


class SqlChannelDirectory(ChannelDirectory):
    def __init__(self, db: IntegrationDb) -> None:
        self.db = db

    def add(self, channel: ChannelRecord) -> None:
        with self.db.begin() as conn:
            conn.execute(
                sa.insert(channels).values(
                    code=channel.code,
                    adapter=channel.adapter,
                    endpoint=channel.endpoint,
                    secret=channel.secret,
                    allocation_ratio=channel.allocation_ratio,
                    buffer=channel.buffer,
                    locations=list(channel.locations),
                    created_at=channel.created_at,
                    credentials=dict(channel.credentials),
                )
            )

    def all(self) -> list[ChannelRecord]:
        with self.db.read() as conn, conn.begin():
            return [
                _channel(r) for r in conn.execute(sa.select(channels).order_by(channels.c.code))
            ]

    def get(self, code: str) -> ChannelRecord | None:
        with self.db.read() as conn, conn.begin():
            row = conn.execute(sa.select(channels).where(channels.c.code == code)).first()
            return None if row is None else _channel(row)

    def channel_skus(self, channel: str, sku: str) -> list[str]:
        """The channel's own item identities mapped to one of our SKUs (usually one)."""
        with self.db.read() as conn, conn.begin():
            return channel_skus(conn, channel, sku)

    def shipments(self, order_id: str) -> list[tuple[str | None, str | None]]:
        """(carrier, tracking number) of each fulfilment of an order, in creation order."""
        with self.db.read() as conn, conn.begin():
            return [
                (r.carrier, r.tracking_number)
                for r in conn.execute(
                    sa.select(fulfilments.c.carrier, fulfilments.c.tracking_number)
                    .where(fulfilments.c.order_id == order_id)
                    .order_by(fulfilments.c.created_at, fulfilments.c.id)
                )
            ]
