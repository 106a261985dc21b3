"""Back-end persistence: bindings of their document ids, their message ids, rider tasks and
their track, full stock compares. Bindings, message ids and cursors share the channels' tables
under the ``backend:<code>`` prefix."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from omnihub.adapters.db.tables import (
    channel_messages,
    external_refs,
    fulfilments,
    reservations,
    rider_tasks,
    rider_track,
    stock_compares,
    stock_ledger,
)
from omnihub.domain.backends import RIDER_FINAL_STATES
from omnihub.domain.inventory import MovementKind
from omnihub.ports import (
    BackendRepository,
    CompareReport,
    LedgerEntry,
    RiderTaskRecord,
    TrackPoint,
)

R = rider_tasks
T = rider_track
C = stock_compares


def prefixed(backend: str) -> str:
    """The key a back end's rows carry in the tables it shares with the channels."""
    return f"backend:{backend}"


def _task(row: Any) -> RiderTaskRecord:
    return RiderTaskRecord(
        reference=row.reference,
        backend=row.backend,
        order_id=row.order_id,
        location=row.location,
        state=row.state,
        created_at=row.created_at,
        updated_at=row.updated_at,
        native_status=row.native_status,
        state_at=row.state_at,
        external_id=row.external_id,
        rider=dict(row.rider) if row.rider else None,
        fee_cents=row.fee_cents,
        distance_m=row.distance_m,
        cancel_reason=row.cancel_reason,
        cancelled_by=row.cancelled_by,
    )


def _report(row: Any) -> CompareReport:
    return CompareReport(
        backend=row.backend,
        taken_at=row.taken_at,
        mode=row.mode,
        compared=row.compared,
        differences=list(row.differences),
        skipped=list(row.skipped),
        unmapped=list(row.unmapped),
        corrected=row.corrected,
        error=row.error,
        id=row.id,
    )


class SqlBackendRepository(BackendRepository):
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"

    def _insert_ignoring_duplicates(self, table: sa.Table, values: dict[str, Any]) -> int:
        """Rows inserted (0 for a duplicate), counted by RETURNING: psycopg's rowcount of an
        ``ON CONFLICT DO NOTHING`` is not to be trusted."""
        if self.postgres:
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            statement: Any = pg_insert(table).on_conflict_do_nothing()
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            statement = sqlite_insert(table).on_conflict_do_nothing()
        key = list(table.primary_key.columns)[0]
        return len(self.conn.execute(statement.values(**values).returning(key)).all())

    # -- bindings and messages ----------------------------------------------------------------
    def bind(
        self, backend: str, kind: str, external_id: str, internal_id: str, at: datetime
    ) -> None:
        self._insert_ignoring_duplicates(
            external_refs,
            {
                "channel": prefixed(backend),
                "kind": kind[:16],
                "external_id": external_id[:128],
                "internal_id": internal_id,
                "created_at": at,
            },
        )

    def bound(self, backend: str, kind: str, internal_id: str) -> str | None:
        return self.conn.execute(
            sa.select(external_refs.c.external_id)
            .where(
                external_refs.c.channel == prefixed(backend),
                external_refs.c.kind == kind[:16],
                external_refs.c.internal_id == internal_id,
            )
            .order_by(external_refs.c.id)
        ).scalar()

    def remember_message(self, backend: str, message_id: str, at: datetime) -> bool:
        return (
            self._insert_ignoring_duplicates(
                channel_messages,
                {"channel": prefixed(backend), "message_id": message_id[:128], "received_at": at},
            )
            == 1
        )

    # -- rider tasks ------------------------------------------------------------------------------
    def rider_task(self, reference: str, *, lock: bool = False) -> RiderTaskRecord | None:
        query = sa.select(R).where(R.c.reference == reference)
        if lock:
            query = query.with_for_update()
        row = self.conn.execute(query).first()
        return None if row is None else _task(row)

    def add_rider_task(self, task: RiderTaskRecord) -> bool:
        return self._insert_ignoring_duplicates(R, asdict(task)) == 1

    def save_rider_task(self, task: RiderTaskRecord) -> None:
        values = asdict(task)
        changed = self.conn.execute(
            sa.update(R).where(R.c.reference == task.reference).values(**values)
        ).rowcount
        if not changed:
            self.conn.execute(sa.insert(R).values(**values))

    def rider_tasks(self, order_id: str) -> list[RiderTaskRecord]:
        rows = self.conn.execute(
            sa.select(R).where(R.c.order_id == order_id).order_by(R.c.created_at, R.c.reference)
        )
        return [_task(r) for r in rows]

    def live_rider_tasks(self, backend: str, limit: int) -> list[RiderTaskRecord]:
        rows = self.conn.execute(
            sa.select(R)
            .where(R.c.backend == backend, R.c.state.not_in(sorted(RIDER_FINAL_STATES)))
            .order_by(R.c.updated_at, R.c.reference)
            .limit(limit)
        )
        return [_task(r) for r in rows]

    def add_track_point(self, order_id: str, point: TrackPoint) -> None:
        self.conn.execute(
            sa.insert(T).values(
                reference=point.reference,
                order_id=order_id,
                at=point.at,
                lat=point.lat,
                lon=point.lon,
                state=point.state,
            )
        )

    def track(self, order_id: str) -> list[TrackPoint]:
        rows = self.conn.execute(
            sa.select(T).where(T.c.order_id == order_id).order_by(T.c.at, T.c.id)
        )
        return [TrackPoint(r.reference, r.at, r.lat, r.lon, r.state) for r in rows]

    # -- stock compares ----------------------------------------------------------------------------
    def in_flight(self, locations: Sequence[str]) -> set[tuple[str, str]]:
        if not locations:
            return set()
        F, V = fulfilments, reservations
        rows = self.conn.execute(
            sa.select(V.c.location, V.c.sku)
            .join(F, sa.and_(F.c.order_id == V.c.order_id, F.c.location == V.c.location))
            .where(
                V.c.state == "active",
                V.c.location.in_(list(locations)),
                F.c.status == "released",
            )
            .distinct()
        )
        return {(r.location, r.sku) for r in rows}

    def add_compare(self, report: CompareReport) -> int:
        values = asdict(report)
        values.pop("id")
        row = self.conn.execute(sa.insert(C).values(**values).returning(C.c.id)).one()
        return int(row.id)

    def compares(self, backend: str, limit: int) -> list[CompareReport]:
        rows = self.conn.execute(
            sa.select(C).where(C.c.backend == backend).order_by(C.c.id.desc()).limit(limit)
        )
        return [_report(r) for r in rows]

    def returns_since(
        self, locations: Sequence[str], since: datetime, limit: int
    ) -> list[LedgerEntry]:
        L = stock_ledger
        rows = self.conn.execute(
            sa.select(L)
            .where(
                L.c.kind == str(MovementKind.RETURN),
                L.c.location.in_(list(locations)),
                L.c.created_at >= since,
            )
            .order_by(L.c.id)
            .limit(limit)
        )
        return [
            LedgerEntry(
                r.id, r.location, r.sku, MovementKind(r.kind), r.qty, r.reference, r.created_at
            )
            for r in rows
        ]
