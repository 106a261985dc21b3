"""Message ids a channel signed and the hub accepted, in SQL (``channel_messages``)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from omnihub.adapters.db.integration.transactions import IntegrationDb
from omnihub.adapters.db.tables import channel_messages
from omnihub.ports.integration import MessageLog

M = channel_messages


class SqlMessageLog(MessageLog):
    def __init__(self, db: IntegrationDb) -> None:
        self.db = db

    def seen(self, channel: str, message_id: str) -> bool:
        with self.db.read() as conn, conn.begin():
            return (
                conn.execute(
                    sa.select(M.c.message_id).where(
                        M.c.channel == channel, M.c.message_id == message_id
                    )
                ).first()
                is not None
            )

    def remember(self, channel: str, message_id: str, at: datetime) -> bool:
        """False when the id was already there (a concurrent delivery of the same message)."""
        try:
            with self.db.begin() as conn:
                conn.execute(
                    sa.insert(M).values(
                        channel=channel, message_id=message_id[:128], received_at=at
                    )
                )
        except sa.exc.IntegrityError:
            return False
        return True

    def forget(self, before: datetime) -> int:
        """Replay protection only needs ids younger than the signed-timestamp window."""
        with self.db.begin() as conn:
            return int(conn.execute(sa.delete(M).where(M.c.received_at < before)).rowcount)
