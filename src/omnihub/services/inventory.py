"""Inventory use cases: movements from the ERP/WMS, reservations and their expiry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from omnihub.domain.catalog import valid_code
from omnihub.domain.errors import Conflict, ErrorCode, InvalidInput, NotFound
from omnihub.domain.events import (
    Event,
    LocationStock,
    ReservationEvent,
    ReservationExpired,
    ReservationReleased,
    ReservationTaken,
    StockChanged,
)
from omnihub.domain.inventory import (
    EXTERNAL_MOVEMENTS,
    InsufficientStock,
    MovementKind,
    Reservation,
    ReservationState,
    StockLevel,
    movement_delta,
)
from omnihub.domain.values import new_id, positive_quantity
from omnihub.ports import Clock, UnitOfWork

MAX_TTL_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class RecordMovement:
    location: str
    sku: str
    kind: MovementKind
    qty: int
    reference: str


@dataclass(frozen=True, slots=True)
class MovementResult:
    level: StockLevel
    delta: int
    duplicate: bool


@dataclass(frozen=True, slots=True)
class ReserveStock:
    sku: str
    qty: int
    location: str
    ttl_seconds: int = 900


@dataclass(frozen=True, slots=True)
class SkuStock:
    sku: str
    levels: list[StockLevel]

    @property
    def available(self) -> int:
        return sum(level.available for level in self.levels)


def _require_location_and_sku(uow: UnitOfWork, location: str, sku: str) -> None:
    if uow.locations.get(location) is None:
        raise NotFound(f"location {location} does not exist", code=ErrorCode.UNKNOWN_LOCATION)
    if uow.catalog.get_sku(sku) is None:
        raise NotFound(f"SKU {sku} does not exist", code=ErrorCode.UNKNOWN_SKU)


def stock_changed_event(
    uow: UnitOfWork, sku: str, now: datetime, levels: Sequence[StockLevel] | None = None
) -> Event:
    """``stock.changed`` with the SKU's levels after the change: read in the same transaction,
    or given by a caller that has them (read before, with the rows it changed as its updates
    returned them), every location of the SKU in location order."""
    if levels is None:
        levels = uow.stock.levels([sku])
    payload = StockChanged(
        sku=sku,
        available=sum(level.available for level in levels),
        locations=tuple(
            LocationStock(level.location, level.on_hand, level.reserved, level.available)
            for level in levels
        ),
    )
    return Event.of(payload, sku, now)


def reservation_event(
    kind: type[ReservationEvent], reservation: Reservation, now: datetime
) -> Event:
    """``kind`` (``ReservationTaken``, ``ReservationReleased``, ...) of one reservation."""
    payload = kind(
        reservation_id=reservation.id,
        sku=reservation.sku,
        location=reservation.location,
        qty=reservation.qty,
        order_id=reservation.order_id,
    )
    return Event.of(payload, reservation.id, now)


def record_movement(
    uow: UnitOfWork, command: RecordMovement, clock: Clock, actor: str = "api"
) -> MovementResult:
    """Apply a receipt, adjustment, stock-take or transfer; once per (location, sku, kind, ref)."""
    if command.kind not in EXTERNAL_MOVEMENTS:
        raise InvalidInput(
            f"{command.kind} movements are written by the hub itself; post one of: "
            + ", ".join(sorted(EXTERNAL_MOVEMENTS))
        )
    reference = command.reference.strip()
    if not reference:
        raise InvalidInput("a movement needs a reference (the ERP/WMS document number)")
    now = clock.now()
    with uow:
        _require_location_and_sku(uow, command.location, command.sku)
        level = uow.stock.level(command.location, command.sku, lock=True)
        if uow.stock.has_movement(command.location, command.sku, command.kind, reference):
            return MovementResult(level, 0, duplicate=True)
        delta = movement_delta(command.kind, command.qty, level)
        uow.stock.move(command.location, command.sku, command.kind, delta, reference, now)
        after = uow.stock.level(command.location, command.sku)
        uow.emit(stock_changed_event(uow, command.sku, now))
        if command.kind in (MovementKind.STOCKTAKE, MovementKind.ADJUSTMENT):
            uow.audit.record(
                actor=actor,
                action=f"stock.{command.kind}",
                subject=f"sku:{command.sku}",
                details={
                    "location": command.location,
                    "qty": command.qty,
                    "delta": delta,
                    "reference": reference,
                },
                at=now,
            )
        uow.commit()
    return MovementResult(after, delta, duplicate=False)


def set_safety_stock(
    uow: UnitOfWork, location: str, sku: str, safety: int, clock: Clock, actor: str = "api"
) -> StockLevel:
    if isinstance(safety, bool) or not isinstance(safety, int) or safety < 0:
        raise InvalidInput("safety stock must be a whole number of 0 or more")
    now = clock.now()
    with uow:
        _require_location_and_sku(uow, location, sku)
        uow.stock.set_safety(location, sku, safety)
        uow.audit.record(
            actor=actor,
            action="stock.safety",
            subject=f"sku:{sku}",
            details={"location": location, "safety": safety},
            at=now,
        )
        uow.emit(stock_changed_event(uow, sku, now))
        level = uow.stock.level(location, sku)
        uow.commit()
    return level


def reserve_stock(uow: UnitOfWork, command: ReserveStock, clock: Clock) -> Reservation:
    """Hold ``qty`` of a SKU at a location for ``ttl_seconds`` (a cart, a BOPIS hold)."""
    positive_quantity(command.qty)
    if not (1 <= command.ttl_seconds <= MAX_TTL_SECONDS):
        raise InvalidInput(f"ttl_seconds must be between 1 and {MAX_TTL_SECONDS}")
    now = clock.now()
    refused = InsufficientStock(
        [{"sku": command.sku, "location": command.location, "requested": command.qty}]
    )
    with uow:
        levels = uow.stock.levels([command.sku])
        here = next((lv for lv in levels if lv.location == command.location), None)
        if here is None:
            # a level exists only for a known location and SKU: without one, say which is not
            _require_location_and_sku(uow, command.location, command.sku)
        if here is None or here.available < command.qty:
            raise refused  # sold out: refused without writing or waiting for the row
        reservation = Reservation(
            id=new_id(),
            location=command.location,
            sku=command.sku,
            qty=command.qty,
            state=ReservationState.ACTIVE,
            created_at=now,
            expires_at=now + timedelta(seconds=command.ttl_seconds),
        )
        uow.reservations.add(reservation)
        # The conditional UPDATE decides, last: a flash sale's one hot row is locked from it to
        # the commit (which writes the outbox). Losing the race rolls the reservation back.
        after = uow.stock.reserve(command.location, command.sku, command.qty)
        if after is None:
            raise refused
        uow.emit(
            reservation_event(ReservationTaken, reservation, now),
            stock_changed_event(
                uow,
                command.sku,
                now,
                [after if lv.location == after.location else lv for lv in levels],
            ),
        )
        uow.commit()
    return reservation


def release_reservation(uow: UnitOfWork, reservation_id: str, clock: Clock) -> Reservation:
    """Give a hold back. Releasing one already released or expired is harmless (idempotent)."""
    now = clock.now()
    with uow:
        reservation = uow.reservations.get(reservation_id)
        if reservation is None:
            raise NotFound(f"reservation {reservation_id} does not exist")
        if reservation.order_id is not None:
            raise Conflict(
                f"reservation {reservation_id} belongs to order {reservation.order_id}; "
                "cancel or hold the order instead",
                code=ErrorCode.RESERVATION_NOT_ACTIVE,
            )
        if reservation.state is ReservationState.CONSUMED:
            reservation.require_active()
        if not uow.reservations.change_state(reservation_id, ReservationState.RELEASED, now):
            return uow.reservations.get(reservation_id) or reservation
        uow.stock.unreserve(reservation.location, reservation.sku, reservation.qty)
        uow.emit(
            reservation_event(ReservationReleased, reservation, now),
            stock_changed_event(uow, reservation.sku, now),
        )
        uow.commit()
        return replace(reservation, state=ReservationState.RELEASED)


def expire_due(uow: UnitOfWork, clock: Clock, batch: int = 500) -> list[Reservation]:
    """The sweeper: release every reservation whose time ran out. Safe to run in many workers.

    Returns the reservations this call expired (another sweeper's are not included).
    """
    now = clock.now()
    expired = []
    with uow:
        for reservation in uow.reservations.expired(now, batch):
            if not uow.reservations.change_state(reservation.id, ReservationState.EXPIRED, now):
                continue  # another sweeper or a release got there first
            uow.stock.unreserve(reservation.location, reservation.sku, reservation.qty)
            uow.emit(reservation_event(ReservationExpired, reservation, now))
            expired.append(reservation)
        for sku in sorted({r.sku for r in expired}):
            uow.emit(stock_changed_event(uow, sku, now))
        uow.commit()
    return expired


def stock_of(uow: UnitOfWork, sku: str) -> SkuStock:
    valid_code(sku, "sku")
    with uow:
        if uow.catalog.get_sku(sku) is None:
            raise NotFound(f"SKU {sku} does not exist", code=ErrorCode.UNKNOWN_SKU)
        return SkuStock(sku, uow.stock.levels([sku]))
