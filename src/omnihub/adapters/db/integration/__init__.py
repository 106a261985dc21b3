"""Integration state in SQL, one store per port of ``omnihub.ports.integration``: the outbox
relay, outbound deliveries (with dead letters), stock sync, channels, webhook subscriptions,
inbound message ids and pull cursors.

The stores of one database share an :class:`~omnihub.adapters.db.integration.transactions.
IntegrationDb`: on SQLite the writes the hub's reactions make while the relay publishes join the
relay's batch (one write lock for both), which works only when the relay and the reactions'
stores share it. Build them together with :meth:`SqlIntegrationStores.on`.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from omnihub.adapters.db.integration.channels import SqlChannelDirectory
from omnihub.adapters.db.integration.cursors import SqlPullCursors
from omnihub.adapters.db.integration.deliveries import CLAIM_LEASE, SqlDeliveryQueue
from omnihub.adapters.db.integration.messages import SqlMessageLog
from omnihub.adapters.db.integration.outbox import SqlOutboxRelay, envelope
from omnihub.adapters.db.integration.stock_sync import SqlStockSync
from omnihub.adapters.db.integration.transactions import DEADLOCK_ATTEMPTS, IntegrationDb
from omnihub.adapters.db.integration.webhooks import SqlWebhookSubscriptions
from omnihub.ports.integration import IntegrationStores

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
