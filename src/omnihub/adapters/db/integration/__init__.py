"""Integration state in SQL, one store per port of ``omnihub.ports.integration``: the outbox
relay, outbound deliveries (with dead letters), stock sync, channels, webhook subscriptions,
inbound message ids and pull cursors.

The stores of one database share an :class:`~omnihub.adapters.db.integration.transactions.
IntegrationDb`: on SQLite the writes the hub's reactions make while the relay publishes join the
relay's batch (one write lock for both), which works only when the relay and the reactions'
stores share it. Build them together with :meth:`SqlIntegrationStores.on`.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from omnihub.adapters.db.integration.channels import SqlChannelDirectory
from omnihub.adapters.db.integration.cursors import SqlPullCursors
from omnihub.adapters.db.integration.deliveries import CLAIM_LEASE, SqlDeliveryQueue
from omnihub.adapters.db.integration.messages import SqlMessageLog
from omnihub.adapters.db.integration.outbox import SqlOutboxRelay, envelope
from omnihub.adapters.db.integration.stock_sync import SqlStockSync
from omnihub.adapters.db.integration.transactions import DEADLOCK_ATTEMPTS, IntegrationDb
from omnihub.adapters.db.integration.webhooks import SqlWebhookSubscriptions
from omnihub.ports.integration import (
    DeliveryCount,
    IntegrationStores,
    OutboxBacklog,
    StockSyncRow,
)

__all__ = [
    "CLAIM_LEASE",
    "DEADLOCK_ATTEMPTS",
    "IntegrationDb",
    "SqlChannelDirectory",
    "SqlDeliveryQueue",
    "SqlIntegrationStores",
    "SqlMessageLog",
    "SqlOutboxRelay",
    "SqlPullCursors",
    "SqlStockSync",
    "SqlWebhookSubscriptions",
    "envelope",
]


class SqlIntegrationStores(IntegrationStores):
    """The SQL stores of one database, sharing its ``IntegrationDb``."""

    @classmethod
    def on(cls, engine: Engine) -> SqlIntegrationStores:
        db = IntegrationDb(engine)
        return cls(
            outbox=SqlOutboxRelay(db),
            deliveries=SqlDeliveryQueue(db),
            stock_sync=SqlStockSync(db),
            directory=SqlChannelDirectory(db),
            webhooks=SqlWebhookSubscriptions(db),
            messages=SqlMessageLog(db),
            cursors=SqlPullCursors(db),
        )

    # -- the reads of the demo's summary, in the shapes it reads ---------------------------
    # ``entrypoints/demo/runner.py`` reads these from ``hub.integration`` (the demo is being
    # moved beside the channel simulators at the same time); once it reads the stores
    # above, these go.
    def outbox_backlog(self, now: datetime) -> OutboxBacklog:
        return self.outbox.backlog(now)

    def outbox_totals(self) -> dict[str, int]:
        return self.outbox.totals()

    def delivery_counts(self) -> list[DeliveryCount]:
        return self.deliveries.counts()

    def subscriptions(self) -> list[dict[str, Any]]:
        return [dict(asdict(s), events=list(s.events)) for s in self.webhooks.active()]

    def channels(self) -> list[dict[str, Any]]:
        return [
            dict(asdict(c), locations=list(c.locations), credentials=dict(c.credentials))
            for c in self.directory.all()
        ]

    def channel_skus(self, channel: str, sku: str) -> list[str]:
        return self.directory.channel_skus(channel, sku)

    def sync_status(self, channel: str) -> dict[str, Any]:
        return self.stock_sync.status(channel).to_dict()

    def stock_rows(self, channel: str) -> dict[str, tuple[int, int | None]]:
        return self.stock_sync.values(channel)

    def stock_to_push(self, limit: int) -> list[StockSyncRow]:
        return self.stock_sync.to_push(limit)

    def cursor(self, key: str) -> dict[str, Any] | None:
        cursor = self.cursors.get(key)
        if cursor is None:
            return None
        row = asdict(cursor)
        return {"channel": row.pop("key"), **row}
