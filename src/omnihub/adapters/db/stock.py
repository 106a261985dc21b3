"""Stock counters, the ledger and reservations: every change to on_hand and reserved is here.

A reservation is one conditional UPDATE (no read-then-write): the row is changed only if the
stock it wants is still available at the moment the database applies it. PostgreSQL re-checks
the WHERE clause after waiting for a concurrent writer of the same row; SQLite writers are
serialised by BEGIN IMMEDIATE. Either way two reservations can never both take the last unit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from omnihub.adapters.db.tables import reservations, stock_ledger, stock_levels
from omnihub.domain.inventory import MovementKind, Reservation, ReservationState, StockLevel
from omnihub.ports import LedgerEntry, ReservationRepository, StockRepository

L = stock_levels
_AVAILABLE = L.c.on_hand - L.c.reserved - L.c.safety
# Statements built once (see repositories.py); b_* parameters name the row, the others are values.
_ROW = sa.and_(L.c.location == sa.bindparam("b_location"), L.c.sku == sa.bindparam("b_sku"))
_QTY = sa.bindparam("qty", type_=sa.BigInteger)

_LEVEL = sa.select(L).where(_ROW)
_LEVEL_FOR_UPDATE = _LEVEL.with_for_update()
_LEVELS_OF = (
    sa.select(L)
    .where(L.c.sku.in_(sa.bindparam("skus", expanding=True)))
    .order_by(L.c.sku, L.c.location)
)
_HAS_ROW = sa.select(L.c.sku).where(_ROW)
_ADD_ROW = {
    "postgresql": postgresql.insert(L).on_conflict_do_nothing(),
    "sqlite": sqlite.insert(L).on_conflict_do_nothing(),
}
_MOVE = sa.update(L).where(_ROW, L.c.on_hand + _QTY >= 0).values(on_hand=L.c.on_hand + _QTY)
_RESERVE = sa.update(L).where(_ROW, _AVAILABLE >= _QTY).values(reserved=L.c.reserved + _QTY)
_RESERVE_RETURNING = _RESERVE.returning(
    L.c.location, L.c.sku, L.c.on_hand, L.c.reserved, L.c.safety
)
_UNRESERVE = sa.update(L).where(_ROW, L.c.reserved >= _QTY).values(reserved=L.c.reserved - _QTY)
_INSERT_LEDGER = sa.insert(stock_ledger)
_MOVEMENT = sa.and_(
    stock_ledger.c.location == sa.bindparam("location"),
    stock_ledger.c.sku == sa.bindparam("sku"),
    stock_ledger.c.kind == sa.bindparam("kind"),
    stock_ledger.c.reference == sa.bindparam("reference"),
)
_MOVEMENT_QTY = sa.select(sa.func.coalesce(sa.func.sum(stock_ledger.c.qty), 0)).where(_MOVEMENT)
_HAS_MOVEMENT = sa.select(stock_ledger.c.id).where(_MOVEMENT)


def _level(row: sa.Row[tuple[str, str, int, int, int]]) -> StockLevel:
    return StockLevel(row.location, row.sku, row.on_hand, row.reserved, row.safety)


class SqlStockRepository(StockRepository):
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def _ensure_row(self, location: str, sku: str) -> None:
        exists = self.conn.execute(_HAS_ROW, {"b_location": location, "b_sku": sku}).first()
        if exists is None:
            self.conn.execute(
                _ADD_ROW[self.conn.dialect.name],
                {"location": location, "sku": sku, "on_hand": 0, "reserved": 0, "safety": 0},
            )

    def level(self, location: str, sku: str, *, lock: bool = False) -> StockLevel:
        query = _LEVEL
        if lock:
            self._ensure_row(location, sku)
            query = _LEVEL_FOR_UPDATE
        row = self.conn.execute(query, {"b_location": location, "b_sku": sku}).first()
        if row is None:
            return StockLevel(location, sku, 0, 0, 0)
        return _level(row)

    def levels(self, skus: Iterable[str]) -> list[StockLevel]:
        wanted = sorted(set(skus))
        if not wanted:
            return []
        rows = self.conn.execute(_LEVELS_OF, {"skus": wanted})
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
            _MOVE, {"b_location": location, "b_sku": sku, "qty": delta}
        ).rowcount
        if changed != 1:
            raise ValueError(f"movement would make on-hand of {sku} at {location} negative")
        self.conn.execute(
            _INSERT_LEDGER,
            {
                "location": location,
                "sku": sku,
                "kind": str(kind),
                "qty": delta,
                "reference": reference,
                "created_at": at,
            },
        )

    def movement_qty(self, location: str, sku: str, kind: MovementKind, reference: str) -> int:
        movement = {"location": location, "sku": sku, "kind": str(kind), "reference": reference}
        return int(self.conn.execute(_MOVEMENT_QTY, movement).scalar_one())

    def has_movement(self, location: str, sku: str, kind: MovementKind, reference: str) -> bool:
        movement = {"location": location, "sku": sku, "kind": str(kind), "reference": reference}
        return self.conn.execute(_HAS_MOVEMENT, movement).first() is not None

    def try_reserve(self, location: str, sku: str, qty: int) -> bool:
        result = self.conn.execute(_RESERVE, {"b_location": location, "b_sku": sku, "qty": qty})
        return result.rowcount == 1

    def reserve(self, location: str, sku: str, qty: int) -> StockLevel | None:
        row = self.conn.execute(
            _RESERVE_RETURNING, {"b_location": location, "b_sku": sku, "qty": qty}
        ).first()
        return None if row is None else _level(row)

    def unreserve(self, location: str, sku: str, qty: int) -> None:
        changed = self.conn.execute(
            _UNRESERVE, {"b_location": location, "b_sku": sku, "qty": qty}
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
            sa.select(
                stock_ledger.c.location, stock_ledger.c.sku, sa.func.sum(stock_ledger.c.qty)
            ).group_by(stock_ledger.c.location, stock_ledger.c.sku)
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
            LedgerEntry(
                r.id, r.location, r.sku, MovementKind(r.kind), r.qty, r.reference, r.created_at
            )
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
_INSERT_RESERVATION = sa.insert(R)
_RESERVATION = sa.select(R).where(R.c.id == sa.bindparam("b_id"))
_ACTIVE = R.c.state == str(ReservationState.ACTIVE)
_END_RESERVATION = (
    sa.update(R)
    .where(R.c.id == sa.bindparam("b_id"), _ACTIVE)
    .values(state=sa.bindparam("state"), ended_at=sa.bindparam("ended_at"))
)
_OF_ORDER = R.c.order_id == sa.bindparam("b_order_id")
_SET_EXPIRY = sa.update(R).where(_OF_ORDER, _ACTIVE).values(expires_at=sa.bindparam("expires_at"))
_RESERVATIONS_OF = sa.select(R).where(_OF_ORDER).order_by(R.c.id)
_ACTIVE_RESERVATIONS_OF = sa.select(R).where(_OF_ORDER, _ACTIVE).order_by(R.c.id)


def _reservation(row: sa.Row[tuple[object, ...]]) -> Reservation:
    return Reservation(
        id=row.id,
        location=row.location,
        sku=row.sku,
        qty=row.qty,
        state=ReservationState(row.state),
        created_at=row.created_at,
        expires_at=row.expires_at,
        order_id=row.order_id,
    )


class SqlReservationRepository(ReservationRepository):
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, reservation: Reservation) -> None:
        self.add_all([reservation])

    def add_all(self, reservations: Sequence[Reservation]) -> None:
        if not reservations:
            return
        self.conn.execute(
            _INSERT_RESERVATION,
            [
                {
                    "id": r.id,
                    "location": r.location,
                    "sku": r.sku,
                    "qty": r.qty,
                    "state": str(r.state),
                    "order_id": r.order_id,
                    "created_at": r.created_at,
                    "expires_at": r.expires_at,
                }
                for r in reservations
            ],
        )

    def get(self, reservation_id: str) -> Reservation | None:
        row = self.conn.execute(_RESERVATION, {"b_id": reservation_id}).first()
        return None if row is None else _reservation(row)

    def change_state(self, reservation_id: str, to: ReservationState, at: datetime) -> bool:
        result = self.conn.execute(
            _END_RESERVATION, {"b_id": reservation_id, "state": str(to), "ended_at": at}
        )
        return result.rowcount == 1

    def set_expiry(self, order_id: str, expires_at: datetime | None) -> None:
        self.conn.execute(_SET_EXPIRY, {"b_order_id": order_id, "expires_at": expires_at})

    def expired(self, now: datetime, limit: int) -> list[Reservation]:
        rows = self.conn.execute(
            sa.select(R)
            .where(R.c.state == str(ReservationState.ACTIVE), R.c.expires_at <= now)
            .order_by(R.c.expires_at, R.c.id)
            .limit(limit)
        )
        return [_reservation(row) for row in rows]

    def for_order(self, order_id: str, active_only: bool = True) -> list[Reservation]:
        query = _ACTIVE_RESERVATIONS_OF if active_only else _RESERVATIONS_OF
        return [_reservation(row) for row in self.conn.execute(query, {"b_order_id": order_id})]

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
