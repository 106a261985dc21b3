"""Stock use cases: movements from the ERP/WMS, reservations, their release and expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from retailer import HZ_WH, MUG, RECEIVED, SH_WH, TEE, level, tmall_order

from fakes import FakeUnitOfWork, FrozenClock
from omnihub.domain import events as ev
from omnihub.domain.errors import Conflict, ErrorCode, InvalidInput, NotFound
from omnihub.domain.inventory import (
    InsufficientStock,
    MovementKind,
    Reservation,
    ReservationState,
)
from omnihub.services import invariants
from omnihub.services.inventory import (
    MovementResult,
    RecordMovement,
    ReserveStock,
    record_movement,
    release_reservation,
    reserve_stock,
    set_safety_stock,
    stock_of,
)
from omnihub.services.orders import ingest_order
from omnihub.services.routing import expire_reservations

pytestmark = pytest.mark.service

K = MovementKind
ON_HAND = RECEIVED[(SH_WH, TEE)]


def move(
    uow: FakeUnitOfWork, clock: FrozenClock, kind: K, qty: int, reference: str
) -> MovementResult:
    return record_movement(uow, RecordMovement(SH_WH, TEE, kind, qty, reference), clock)


# -- movements --------------------------------------------------------------------------------


def test_a_receipt_raises_on_hand_and_writes_a_ledger_row(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    result = move(uow, clock, K.RECEIPT, 24, "GRN-20261111-07")

    assert (result.delta, result.duplicate) == (24, False)
    assert result.level.on_hand == ON_HAND + 24
    assert level(uow, SH_WH, TEE).on_hand == ON_HAND + 24
    with uow:
        newest = uow.stock.ledger(TEE, limit=1)[0]
    assert (newest.kind, newest.qty, newest.reference) == (K.RECEIPT, 24, "GRN-20261111-07")
    assert newest.at == clock.now()
    assert uow.committed.outbox[-1].type == ev.STOCK_CHANGED


def test_the_same_movement_sent_twice_is_recorded_once(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    move(uow, clock, K.RECEIPT, 24, "GRN-20261111-07")

    again = move(uow, clock, K.RECEIPT, 24, "GRN-20261111-07")

    assert (again.delta, again.duplicate) == (0, True)
    assert level(uow, SH_WH, TEE).on_hand == ON_HAND + 24
    with uow:
        references = [e.reference for e in uow.stock.ledger(TEE)]
    assert references.count("GRN-20261111-07") == 1


def test_the_same_reference_for_another_kind_of_movement_is_another_movement(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    move(uow, clock, K.RECEIPT, 5, "DOC-1")

    other = move(uow, clock, K.RETURN, 1, "DOC-1")

    assert not other.duplicate
    assert level(uow, SH_WH, TEE).on_hand == ON_HAND + 6


def test_a_stock_take_sets_on_hand_to_the_counted_quantity_and_is_audited(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    result = move(uow, clock, K.STOCKTAKE, 7, "COUNT-2026-11")

    assert result.delta == 7 - ON_HAND
    assert level(uow, SH_WH, TEE).on_hand == 7
    (entry,) = [a for a in uow.committed.audit if a["action"] == "stock.stocktake"]
    assert entry["details"]["delta"] == 7 - ON_HAND
    assert invariants.check_books(uow).balanced


def test_moving_out_stock_that_is_reserved_for_orders_is_refused(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    ingest_order(lambda: uow, tmall_order(lines=[("TM-TEE-M", 8)]), clock)

    with pytest.raises(Conflict) as refused:
        move(uow, clock, K.TRANSFER_OUT, 3, "TO-SZ-0001")

    assert refused.value.code is ErrorCode.STOCK_RESERVED
    assert level(uow, SH_WH, TEE).on_hand == ON_HAND
    moved = move(uow, clock, K.TRANSFER_OUT, 2, "TO-SZ-0002")
    assert moved.level.on_hand == ON_HAND - 2


@pytest.mark.parametrize("kind", [K.SALE, K.REPAIR])
def test_movements_the_hub_writes_itself_cannot_be_posted(
    uow: FakeUnitOfWork, clock: FrozenClock, kind: K
) -> None:
    with pytest.raises(InvalidInput, match="written by the hub itself"):
        move(uow, clock, kind, 1, "X-1")


def test_a_movement_needs_a_reference(uow: FakeUnitOfWork, clock: FrozenClock) -> None:
    with pytest.raises(InvalidInput, match="needs a reference"):
        move(uow, clock, K.RECEIPT, 1, "   ")


def test_a_movement_of_an_unknown_sku_or_location_is_not_found(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    with pytest.raises(NotFound) as unknown_sku:
        record_movement(uow, RecordMovement(SH_WH, "NO-SUCH", K.RECEIPT, 1, "R"), clock)
    with pytest.raises(NotFound) as unknown_location:
        record_movement(uow, RecordMovement("NOWHERE", TEE, K.RECEIPT, 1, "R"), clock)

    assert unknown_sku.value.code is ErrorCode.UNKNOWN_SKU
    assert unknown_location.value.code is ErrorCode.UNKNOWN_LOCATION


# -- reservations -----------------------------------------------------------------------------


def reserve(uow: FakeUnitOfWork, clock: FrozenClock, qty: int, ttl: int = 900) -> Reservation:
    return reserve_stock(uow, ReserveStock(TEE, qty, SH_WH, ttl), clock)


def test_a_reservation_takes_stock_until_its_time_runs_out(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    reservation = reserve(uow, clock, 4, ttl=600)

    assert reservation.state is ReservationState.ACTIVE
    assert reservation.expires_at == clock.now() + timedelta(minutes=10)
    assert level(uow, SH_WH, TEE).reserved == 4
    assert stock_of(uow, TEE).available == ON_HAND - 4 + RECEIVED[("SH-PEOPLES-SQ", TEE)]


def test_a_reservation_beyond_what_is_available_is_refused(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    reserve(uow, clock, ON_HAND - 1)

    with pytest.raises(InsufficientStock) as refused:
        reserve(uow, clock, 2)

    assert refused.value.details["shortfalls"] == [{"sku": TEE, "location": SH_WH, "requested": 2}]
    assert level(uow, SH_WH, TEE).reserved == ON_HAND - 1


def test_safety_stock_is_not_offered_for_reservation(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    set_safety_stock(uow, SH_WH, TEE, 3, clock)

    with pytest.raises(InsufficientStock):
        reserve(uow, clock, ON_HAND - 2)
    assert reserve(uow, clock, ON_HAND - 3).qty == ON_HAND - 3


@pytest.mark.parametrize(("qty", "ttl"), [(0, 900), (-1, 900), (1, 0), (1, 8 * 24 * 3600)])
def test_a_reservation_needs_a_quantity_and_a_sensible_lifetime(
    uow: FakeUnitOfWork, clock: FrozenClock, qty: int, ttl: int
) -> None:
    with pytest.raises(InvalidInput):
        reserve(uow, clock, qty, ttl)


def test_releasing_a_reservation_gives_its_stock_back_and_twice_is_harmless(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    reservation = reserve(uow, clock, 4)

    released = release_reservation(uow, reservation.id, clock)
    again = release_reservation(uow, reservation.id, clock)

    assert released.state is ReservationState.RELEASED
    assert again.state is ReservationState.RELEASED
    assert level(uow, SH_WH, TEE).reserved == 0
    assert invariants.check_books(uow).balanced


def test_a_reservation_that_belongs_to_an_order_cannot_be_released_on_its_own(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    order = ingest_order(lambda: uow, tmall_order(), clock).order
    with uow:
        (reservation,) = uow.reservations.for_order(order.id)

    with pytest.raises(Conflict, match="belongs to order"):
        release_reservation(uow, reservation.id, clock)
    assert level(uow, SH_WH, TEE).reserved == 2


def test_releasing_a_reservation_that_does_not_exist_is_not_found(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    with pytest.raises(NotFound):
        release_reservation(uow, "01JNOSUCHRESERVATION000000", clock)


def test_the_sweeper_expires_only_reservations_whose_time_has_come(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    short = reserve(uow, clock, 2, ttl=300)
    long = reserve(uow, clock, 3, ttl=3600)
    assert expire_reservations(uow, clock) == 0

    clock.advance(timedelta(minutes=5))
    expired = expire_reservations(uow, clock)

    assert expired == 1
    with uow:
        states = [uow.reservations.get(r.id) for r in (short, long)]
    assert [r.state if r else None for r in states] == [
        ReservationState.EXPIRED,
        ReservationState.ACTIVE,
    ]
    assert level(uow, SH_WH, TEE).reserved == 3
    assert ev.RESERVATION_EXPIRED in [e.type for e in uow.committed.outbox]
    assert expire_reservations(uow, clock) == 0
    clock.advance(timedelta(hours=1))
    assert expire_reservations(uow, clock) == 1
    assert level(uow, SH_WH, TEE).reserved == 0
    assert invariants.check_books(uow).balanced


def test_releasing_a_reservation_after_it_expired_changes_nothing(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    reservation = reserve(uow, clock, 2, ttl=60)
    clock.advance(timedelta(minutes=1))
    expire_reservations(uow, clock)

    after = release_reservation(uow, reservation.id, clock)

    assert after.state is ReservationState.EXPIRED
    assert level(uow, SH_WH, TEE).reserved == 0


def test_reservations_of_allocated_orders_do_not_expire(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    ingest_order(lambda: uow, tmall_order(lines=[("TM-MUG", 1)]), clock)
    clock.advance(timedelta(days=30))

    assert expire_reservations(uow, clock) == 0
    assert level(uow, HZ_WH, MUG).reserved == 1
