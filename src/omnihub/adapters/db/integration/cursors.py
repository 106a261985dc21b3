"""Pull cursors in SQL (``channel_cursors``): one row per pulled channel or periodic job, with
the lease of whoever pulls it now."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from omnihub.adapters.db.integration.transactions import IntegrationDb
from omnihub.adapters.db.tables import channel_cursors
from omnihub.ports.integration import PullCursor, PullCursors

C = channel_cursors


def _cursor(row: Any) -> PullCursor:
    return PullCursor(
        key=row.channel,
        cursor_at=row.cursor_at,
        lease_owner=row.lease_owner,
        lease_until=row.lease_until,
        pulled=row.pulled,
        rejected=row.rejected,
        last_error=row.last_error,
        last_pull_at=row.last_pull_at,
    )


class SqlPullCursors(PullCursors):
    def __init__(self, db: IntegrationDb) -> None:
        self.db = db

    def get(self, key: str) -> PullCursor | None:
        with self.db.read() as conn, conn.begin():
            row = conn.execute(sa.select(C).where(C.c.channel == key)).first()
            return None if row is None else _cursor(row)

    def lease(
        self, key: str, owner: str, start_at: datetime, now: datetime, lease: timedelta
    ) -> datetime | None:
        """Take the key's pull for ``lease`` (one puller per key at a time); the cursor to
        pull from, or None when another puller holds it. A key pulled for the first time
        starts at ``start_at``."""
        with self.db.begin() as conn:
            exists = conn.execute(sa.select(C.c.channel).where(C.c.channel == key)).first()
            if exists is None:
                # another puller may have created it a moment ago: then compete for its lease
                with contextlib.suppress(sa.exc.IntegrityError), conn.begin_nested():
                    conn.execute(sa.insert(C).values(channel=key, cursor_at=start_at))
            taken = conn.execute(
                sa.update(C)
                .where(
                    C.c.channel == key,
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
                sa.select(C.c.cursor_at).where(C.c.channel == key)
            ).scalar_one()

    def advance(
        self,
        key: str,
        owner: str,
        *,
        to: datetime | None,
        pulled: int,
        rejected: int,
        error: str | None,
        now: datetime,
    ) -> None:
        """Record a pull: the cursor moves to ``to`` only when the whole window was read."""
        values: dict[str, Any] = {
            "pulled": C.c.pulled + pulled,
            "rejected": C.c.rejected + rejected,
            "last_error": error,
            "last_pull_at": now,
            "lease_until": None,
            "lease_owner": None,
        }
        held = sa.and_(C.c.channel == key, C.c.lease_owner == owner)
        with self.db.begin() as conn:
            if to is not None:  # only forward: a slow puller whose lease ran out moves nothing
                conn.execute(sa.update(C).where(held, C.c.cursor_at < to).values(cursor_at=to))
            conn.execute(sa.update(C).where(held).values(**values))
