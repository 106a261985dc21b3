"""Webhook subscriptions in SQL; a deleted one is kept, inactive."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from omnihub.adapters.db.integration.transactions import IntegrationDb
from omnihub.adapters.db.tables import webhook_subscriptions
from omnihub.ports.integration import Subscription, WebhookSubscriptions

W = webhook_subscriptions


def _subscription(row: Any) -> Subscription:
    return Subscription(
        id=row.id,
        url=row.url,
        events=tuple(row.events),
        secret=row.secret,
        created_at=row.created_at,
        active=row.active,
    )


class SqlWebhookSubscriptions(WebhookSubscriptions):
    def __init__(self, db: IntegrationDb) -> None:
        self.db = db

    def add(self, subscription: Subscription) -> None:
        with self.db.begin() as conn:
            conn.execute(
                sa.insert(W).values(
                    id=subscription.id,
                    url=subscription.url,
                    events=list(subscription.events),
                    secret=subscription.secret,
                    active=subscription.active,
                    created_at=subscription.created_at,
                )
            )

    def active(self) -> list[Subscription]:
        with self.db.read() as conn, conn.begin():
            rows = conn.execute(sa.select(W).where(W.c.active.is_(True)).order_by(W.c.id))
            return [_subscription(r) for r in rows]

    def deactivate(self, sub_id: str) -> bool:
        with self.db.begin() as conn:
            return (
                conn.execute(sa.update(W).where(W.c.id == sub_id).values(active=False)).rowcount
                == 1
            )
