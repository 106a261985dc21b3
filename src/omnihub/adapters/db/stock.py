"""Stock counters, the ledger and reservations: every change to on_hand and reserved is here.

A reservation is one conditional UPDATE (no read-then-write): the row is changed only if the
stock it wants is still available at the moment the database applies it. PostgreSQL re-checks
the WHERE clause after waiting for a concurrent writer of the same row; SQLite writers are
serialised by BEGIN IMMEDIATE. Either way two reservations can never both take the last unit.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa

from omnihub.adapters.db.tables import reservations, stock_ledger, stock_levels
from omnihub.domain.inventory import MovementKind, Reservation, ReservationState, StockLevel
from omnihub.ports import LedgerEntry, ReservationRepository, StockRepository

L = stock_levels
_AVAILABLE = L.c.on_hand - L.c.reserved - L.c.safety


def _level(row: sa.Row[tuple[str, str, int, int, int]]) -> StockLevel:
    return StockLevel(row.location, row.sku, row.on_hand, row.reserved, row.safety)


class SqlStockRepository(StockRepository):
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def _ensure_row(self, location: str, sku: str) -> None:
        exists = self.conn.execute(
            sa.select(L.c.sku).where(L.c.location == location, L.c.sku == sku)
        ).first()
        if exists is None:
            dialect = self.conn.dialect.name
            insert: sa.Insert
            if dialect == "postgresql":
                from sqlalchemy.dialects.postgresql import insert as pg_insert

                insert = pg_insert(L).on_conflict_do_nothing()
            else:
                from sqlalchemy.dialects.sqlite import insert as sqlite_insert

                insert = sqlite_insert(L).on_conflict_do_nothing()
            self.conn.execute(
                insert.values(location=location, sku=sku, on_hand=0, reserved=0, safety=0)
            )

    def level(self, location: str, sku: str, *, lock: bool = False) -> StockLevel:
        query = sa.select(L).where(L.c.location == location, L.c.sku == sku)
        if lock:
            self._ensure_row(location, sku)
            query = query.with_for_update()
        row = self.conn.execute(query).first()
        if row is None:
            return StockLevel(location, sku, 0, 0, 0)
        return _level(row)

    def levels(self, skus: Iterable[str]) -> list[StockLevel]:
        wanted = sorted(set(skus))
        if not wanted:
            return []
        rows = self.conn.execute(
            sa.select(L).where(L.c.sku.in_(wanted)).order_by(L.c.sku, L.c.location)
        )
        return [_level(row) for row in rows]

    def all_levels(self) -> list[StockLevel]:
        rows = self.conn.execute(sa.select(L).order_by(L.c.location, L.c.sku))
        return [_level(row) for row in rows]

    def move(
        self, location: str, sku: str, kind: MovementKind, delta: int, reference: str, at: datetime
    ) -> None:
        self._ensure_row(location, sku)
        # Counter first: a refused movement must not leave its ledger row in the transaction.
        changed = self.conn.execute(
            sa.update(L)
            .where(L.c.location == location, L.c.sku == sku, L.c.on_hand + delta >= 0)
            .values(on_hand=L.c.on_hand + delta)
        ).rowcount
        if changed != 1:
            raise ValueError(f"movement would make on-hand of {sku} at {location} negative")
        self.conn.execute(
            sa.insert(stock_ledger).values(
                location=location, sku=sku, kind=str(kind), qty=delta, reference=reference,
                created_at=at,
            )
        )

    def movement_qty(self, location: str, sku: str, kind: MovementKind, reference: str) -> int:
        return int(
            self.conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(stock_ledger.c.qty), 0)).where(
                    stock_ledger.c.location == location, stock_ledger.c.sku == sku,
                    stock_ledger.c.kind == str(kind), stock_ledger.c.reference == reference,
                )
            ).scalar_one()
        )

    def has_movement(self, location: str, sku: str, kind: MovementKind, reference: str) -> bool:
        row = self.conn.execute(
            sa.select(stock_ledger.c.id).where(
                stock_ledger.c.location == location, stock_ledger.c.sku == sku,
                stock_ledger.c.kind == str(kind), stock_ledger.c.reference == reference,
            )
        ).first()
        return row is not None

    def try_reserve(self, location: str, sku: str, qty: int) -> bool:
        result = self.conn.execute(
            sa.update(L)
            .where(L.c.location == location, L.c.sku == sku, qty <= _AVAILABLE)
            .values(reserved=L.c.reserved + qty)
        )
        return result.rowcount == 1

    def unreserve(self, location: str, sku: str, qty: int) -> None:
        changed = self.conn.execute(
            sa.update(L)
            .where(L.c.location == location, L.c.sku == sku, L.c.reserved >= qty)
            .values(reserved=L.c.reserved - qty)
        ).rowcount
        if changed != 1:
            raise ValueError(f"cannot give back {qty} of {sku} at {location}: not reserved")

    def set_safety(self, location: str, sku: str, safety: int) -> None:
        self._ensure_row(location, sku)
        self.conn.execute(
            sa.update(L).where(L.c.location == location, L.c.sku == sku).values(safety=safety)
        )

    def ledger_sums(self) -> dict[tuple[str, str], int]:
        rows = self.conn.execute(
            sa.select(stock_ledger.c.location, stock_ledger.c.sku, sa.func.sum(stock_ledger.c.qty))
            .group_by(stock_ledger.c.location, stock_ledger.c.sku)
        )
        return {(loc, sku): int(total) for loc, sku, total in rows}

    def ledger(self, sku: str, limit: int = 100) -> list[LedgerEntry]:
        rows = self.conn.execute(
            sa.select(stock_ledger)
            .where(stock_ledger.c.sku == sku)
            .order_by(stock_ledger.c.id.desc())
            .limit(limit)
        )
        return [
            LedgerEntry(r.id, r.location, r.sku, MovementKind(r.kind), r.qty, r.reference,
                        r.created_at)
            for r in rows
        ]

    def set_counters(self, location: str, sku: str, *, on_hand: int, reserved: int) -> None:
        self._ensure_row(location, sku)
        self.conn.execute(
            sa.update(L)
            .where(L.c.location == location, L.c.sku == sku)
            .values(on_hand=on_hand, reserved=reserved)
        )


R = reservations


def _reservation(row: sa.Row[tuple[object, ...]]) -> Reservation:
    return Reservation(
        id=row.id, location=row.location, sku=row.sku, qty=row.qty,
        state=ReservationState(row.state), created_at=row.created_at,
        expires_at=row.expires_at, order_id=row.order_id,
    )


class SqlReservationRepository(ReservationRepository):
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, reservation: Reservation) -> None:
        self.conn.execute(
            sa.insert(R).values(
                id=reservation.id, location=reservation.location, sku=reservation.sku,
                qty=reservation.qty, state=str(reservation.state), order_id=reservation.order_id,
                created_at=reservation.created_at, expires_at=reservation.expires_at,
            )
        )

    def get(self, reservation_id: str) -> Reservation | None:
        row = self.conn.execute(sa.select(R).where(R.c.id == reservation_id)).first()
        return None if row is None else _reservation(row)

    def change_state(self, reservation_id: str, to: ReservationState, at: datetime) -> bool:
        result = self.conn.execute(
            sa.update(R)
            .where(R.c.id == reservation_id, R.c.state == str(ReservationState.ACTIVE))
            .values(state=str(to), ended_at=at)
        )
        return result.rowcount == 1

    def set_expiry(self, order_id: str, expires_at: datetime | None) -> None:
        self.conn.execute(
            sa.update(R)
            .where(R.c.order_id == order_id, R.c.state == str(ReservationState.ACTIVE))
            .values(expires_at=expires_at)
        )

    def expired(self, now: datetime, limit: int) -> list[Reservation]:
        rows = self.conn.execute(
            sa.select(R)
            .where(R.c.state == str(ReservationState.ACTIVE), R.c.expires_at <= now)
            .order_by(R.c.expires_at, R.c.id)
            .limit(limit)
        )
        return [_reservation(row) for row in rows]

    def for_order(self, order_id: str, active_only: bool = True) -> list[Reservation]:
        query = sa.select(R).where(R.c.order_id == order_id)
        if active_only:
            query = query.where(R.c.state == str(ReservationState.ACTIVE))
        return [_reservation(row) for row in self.conn.execute(query.order_by(R.c.id))]

    def active_sums(self) -> dict[tuple[str, str], int]:
        rows = self.conn.execute(
            sa.select(R.c.location, R.c.sku, sa.func.sum(R.c.qty))
            .where(R.c.state == str(ReservationState.ACTIVE))
            .group_by(R.c.location, R.c.sku)
        )
        return {(loc, sku): int(total) for loc, sku, total in rows}

    def count_by_state(self) -> dict[str, int]:
        rows = self.conn.execute(sa.select(R.c.state, sa.func.count()).group_by(R.c.state))
        return {state: int(n) for state, n in rows}
