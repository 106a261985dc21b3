"""Value objects: money as exact two-place decimals, and sortable unique ids."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from omnihub.domain.errors import ErrorCode, InvalidInput
from omnihub.domain.values import Money, new_id, positive_quantity, to_decimal

pytestmark = pytest.mark.unit

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@pytest.mark.parametrize("value", [0.1, 59.9, 1.0, float("nan")])
def test_a_float_is_refused_as_money(value: float) -> None:
    with pytest.raises(InvalidInput, match="not a float") as refused:
        to_decimal(value)  # type: ignore[arg-type]
    assert refused.value.code is ErrorCode.VALIDATION
    with pytest.raises(InvalidInput):
        Money.of(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("59.9", "59.90"),
        ("59", "59.00"),
        (19, "19.00"),
        (Decimal("1.234"), "1.23"),
        ("0.005", "0.01"),
        ("0.004", "0.00"),
        ("2.675", "2.68"),
        ("-0.005", "-0.01"),
        (" 12.345 ", "12.35"),
        ("1e-30", "0.00"),
    ],
)
def test_amounts_are_rounded_half_up_to_the_fen(given: str | int | Decimal, expected: str) -> None:
    amount = to_decimal(given)

    assert amount == Decimal(expected)
    assert amount.as_tuple().exponent == -2


@pytest.mark.parametrize("given", ["", "abc", "12,50", "NaN", "Infinity", "-inf", "1e30", "9" * 29])
def test_what_is_not_an_amount_of_money_is_refused_as_invalid_input(given: str) -> None:
    with pytest.raises(InvalidInput, match="not an amount of money"):
        to_decimal(given)


def test_money_adds_and_subtracts_only_the_same_currency() -> None:
    price = Money.of("59.00")

    assert price + Money.of("0.10") == Money.of("59.10")
    assert price - Money.of("9.00") == Money.of("50.00")
    assert price.times(3) == Money.of("177.00")
    with pytest.raises(InvalidInput, match="cannot combine CNY and USD"):
        price + Money.of("1.00", "USD")


@pytest.mark.parametrize(("amount", "cents"), [("59.90", 5990), ("0.01", 1), ("0", 0)])
def test_money_round_trips_through_integer_fen(amount: str, cents: int) -> None:
    money = Money.of(amount)

    assert money.cents == cents
    assert Money.from_cents(cents) == money
    assert str(Money.from_cents(cents)) == f"{Decimal(amount):.2f}"


@pytest.mark.parametrize("qty", [0, -1, 1.5, True, "3"])
def test_a_quantity_must_be_a_whole_number_above_zero(qty: object) -> None:
    with pytest.raises(InvalidInput):
        positive_quantity(qty)  # type: ignore[arg-type]


def _millis(ulid: str) -> int:
    value = 0
    for char in ulid[:10]:
        value = value * 32 + CROCKFORD.index(char)
    return value


def test_a_new_id_is_a_26_character_ulid_carrying_the_current_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    ulid = new_id()
    after = time.time_ns() // 1_000_000

    assert len(ulid) == 26
    assert set(ulid) <= set(CROCKFORD)
    assert before <= _millis(ulid) <= after


def test_new_ids_are_unique() -> None:
    ids = [new_id() for _ in range(20_000)]

    assert len(set(ids)) == len(ids)


def test_an_id_made_in_a_later_millisecond_sorts_after_an_earlier_one() -> None:
    first = new_id()
    later = new_id()
    while _millis(later) == _millis(first):  # at most a millisecond of spinning, no sleep
        later = new_id()

    assert _millis(later) > _millis(first)
    assert later > first
    assert sorted([later, first]) == [first, later]
