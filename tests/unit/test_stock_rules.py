"""Stock rules: what each movement does to on-hand, what is available, reservations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from omnihub.domain.errors import Conflict, ErrorCode, InvalidInput
from omnihub.domain.inventory import (
    EXTERNAL_MOVEMENTS,
    InsufficientStock,
    MovementKind,
    Reservation,
    ReservationState,
    StockLevel,
    movement_delta,
)

pytestmark = pytest.mark.unit

K = MovementKind
AT = datetime(2026, 11, 11, tzinfo=UTC)


def level(on_hand: int = 10, reserved: int = 0, safety: int = 0) -> StockLevel:
    return StockLevel("SH-WH", "TEE-WHITE-M", on_hand, reserved, safety)


@pytest.mark.parametrize(
    ("kind", "qty", "delta"),
    [
        (K.RECEIPT, 5, 5),
        (K.TRANSFER_IN, 4, 4),
        (K.RETURN, 1, 1),
        (K.TRANSFER_OUT, 3, -3),
        (K.SALE, 2, -2),
        (K.ADJUSTMENT, 7, 7),
        (K.ADJUSTMENT, -4, -4),
        (K.STOCKTAKE, 12, 2),
        (K.STOCKTAKE, 6, -4),
        (K.STOCKTAKE, 10, 0),
        (K.STOCKTAKE, 0, -10),
    ],
)
def test_a_movement_changes_on_hand_by_its_signed_delta(kind: K, qty: int, delta: int) -> None:
    assert movement_delta(kind, qty, level(on_hand=10)) == delta


def test_every_movement_kind_is_either_posted_from_outside_or_written_by_the_hub() -> None:
    assert set(K) - EXTERNAL_MOVEMENTS == {K.SALE, K.REPAIR}


def test_a_repair_is_not_a_movement_anyone_may_post() -> None:
    with pytest.raises(InvalidInput, match="written by the hub itself"):
        movement_delta(K.REPAIR, 1, level())


@pytest.mark.parametrize(
    ("kind", "qty"),
    [
        (K.RECEIPT, 0),
        (K.RECEIPT, -1),
        (K.TRANSFER_IN, 0),
        (K.RETURN, -2),
        (K.TRANSFER_OUT, 0),
        (K.SALE, -1),
        (K.ADJUSTMENT, 0),
        (K.STOCKTAKE, -1),
    ],
)
def test_a_movement_of_a_meaningless_quantity_is_refused(kind: K, qty: int) -> None:
    with pytest.raises(InvalidInput):
        movement_delta(kind, qty, level())


@pytest.mark.parametrize("qty", [1.5, True, "3", None])
def test_a_movement_quantity_must_be_a_whole_number(qty: object) -> None:
    with pytest.raises(InvalidInput, match="whole number"):
        movement_delta(K.RECEIPT, qty, level())  # type: ignore[arg-type]


@pytest.mark.parametrize(("kind", "qty"), [(K.TRANSFER_OUT, 5), (K.SALE, 5), (K.ADJUSTMENT, -5)])
def test_stock_promised_to_orders_cannot_be_moved_away(kind: K, qty: int) -> None:
    promised = level(on_hand=10, reserved=6)

    with pytest.raises(Conflict) as refused:
        movement_delta(kind, qty, promised)

    assert refused.value.code is ErrorCode.STOCK_RESERVED
    assert refused.value.details == {"on_hand": 10, "reserved": 6, "requested": 5}
    assert "only 4 of 10 units" in refused.value.message


@pytest.mark.parametrize(("kind", "qty"), [(K.TRANSFER_OUT, 4), (K.ADJUSTMENT, -4)])
def test_the_free_part_of_partly_promised_stock_can_be_moved(kind: K, qty: int) -> None:
    assert movement_delta(kind, qty, level(on_hand=10, reserved=6)) == -4


def test_a_stock_take_that_counts_fewer_than_are_promised_is_refused() -> None:
    promised = level(on_hand=10, reserved=6)

    with pytest.raises(Conflict) as refused:
        movement_delta(K.STOCKTAKE, 5, promised)

    assert refused.value.code is ErrorCode.STOCK_RESERVED
    assert movement_delta(K.STOCKTAKE, 6, promised) == -4


def test_more_promised_than_on_hand_shows_as_over_reserved_and_nothing_available() -> None:
    drifted = level(on_hand=3, reserved=6)

    assert drifted.over_reserved == 3
    assert drifted.available == 0
    assert level(on_hand=6, reserved=6).over_reserved == 0


@pytest.mark.parametrize(
    ("on_hand", "reserved", "safety", "available"),
    [
        (10, 0, 0, 10),
        (10, 3, 2, 5),
        (10, 8, 2, 0),
        (10, 9, 2, 0),
        (3, 0, 5, 0),
        (2, 5, 0, 0),
        (0, 0, 0, 0),
    ],
)
def test_available_to_sell_is_on_hand_less_promised_and_safety_never_below_zero(
    on_hand: int, reserved: int, safety: int, available: int
) -> None:
    assert level(on_hand, reserved, safety).available == available


def a_reservation(state: ReservationState = ReservationState.ACTIVE) -> Reservation:
    return Reservation(
        "01JRES0000000000000000000A",
        "SH-WH",
        "TEE-WHITE-M",
        2,
        state,
        AT,
        expires_at=AT + timedelta(minutes=15),
    )


def test_a_reservation_expires_when_its_time_is_reached() -> None:
    reservation = a_reservation()

    assert not reservation.is_expired(AT + timedelta(minutes=14, seconds=59))
    assert reservation.is_expired(AT + timedelta(minutes=15))
    no_deadline = Reservation("R", "SH-WH", "TEE-WHITE-M", 1, ReservationState.ACTIVE, AT)
    assert not no_deadline.is_expired(AT + timedelta(days=365))


@pytest.mark.parametrize(
    "state", [ReservationState.RELEASED, ReservationState.EXPIRED, ReservationState.CONSUMED]
)
def test_a_reservation_that_ended_is_not_active(state: ReservationState) -> None:
    with pytest.raises(Conflict, match=f"already {state}") as refused:
        a_reservation(state).require_active()
    assert refused.value.code is ErrorCode.RESERVATION_NOT_ACTIVE


def test_insufficient_stock_names_every_shortfall_at_once() -> None:
    shortfalls: list[dict[str, object]] = [
        {"sku": "TEE-WHITE-M", "location": "SH-WH", "requested": 5},
        {"sku": "MUG-CLASSIC", "requested": 2},
    ]

    error = InsufficientStock(shortfalls)

    assert error.code is ErrorCode.INSUFFICIENT_STOCK
    assert error.details == {"shortfalls": shortfalls}
    assert "TEE-WHITE-M at SH-WH (wanted 5)" in error.message
    assert "MUG-CLASSIC at any location (wanted 2)" in error.message
