"""Value objects shared by every context: money, quantities, time and identifiers."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from omnihub.domain.errors import InvalidInput

CENT = Decimal("0.01")


def to_decimal(value: Decimal | str | int) -> Decimal:
    """Parse an amount given as a string or Decimal (never a float) to a two-place Decimal."""
    if isinstance(value, float):
        raise InvalidInput('money must be given as a string such as "59.00", not a float')
    try:
        amount = Decimal(value)
    except (InvalidOperation, ValueError) as exc:
        raise InvalidInput(f"{value!r} is not an amount of money") from exc
    if not amount.is_finite():
        raise InvalidInput(f"{value!r} is not an amount of money")
    try:
        return amount.quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation as exc:  # more digits than the context holds, e.g. "1e30"
        raise InvalidInput(f"{value!r} is not an amount of money (too large)") from exc


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str = "CNY"

    @classmethod
    def of(cls, value: Decimal | str | int, currency: str = "CNY") -> Money:
        return cls(to_decimal(value), currency)

    @classmethod
    def from_cents(cls, cents: int, currency: str = "CNY") -> Money:
        return cls((Decimal(cents) / 100).quantize(CENT), currency)

    @property
    def cents(self) -> int:
        return int((self.amount * 100).to_integral_value(rounding=ROUND_HALF_UP))

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def times(self, qty: int) -> Money:
        return Money(self.amount * qty, self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise InvalidInput(f"cannot combine {self.currency} and {other.currency}")

    def __str__(self) -> str:
        return f"{self.amount:.2f}"


def positive_quantity(qty: int, what: str = "quantity") -> int:
    if isinstance(qty, bool) or not isinstance(qty, int):
        raise InvalidInput(f"{what} must be a whole number")
    if qty <= 0:
        raise InvalidInput(f"{what} must be greater than zero, got {qty}")
    return qty


def utc(moment: datetime) -> datetime:
    """Normalise an aware datetime to UTC; naive ones are refused (edges convert local times)."""
    if moment.tzinfo is None:
        raise InvalidInput("times must carry a UTC offset, e.g. 2026-11-11T00:00:01+08:00")
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:  # e.g. 0001-01-01T00:00:00+08:00 is before year 1 in UTC
        raise InvalidInput(f"time {moment.isoformat()} is out of range") from exc


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id() -> str:
    """A ULID: 48 bits of milliseconds then 80 random bits, 26 characters, sortable by time."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))
