"""The books: invariants checked on the data, drifted counters found and repaired."""

from __future__ import annotations

from dataclasses import replace

import pytest
from retailer import HZ_WH, MUG, RECEIVED, SH_WH, TEE, level, tmall_order

from fakes import FakeUnitOfWork, FrozenClock
from omnihub.domain import events as ev
from omnihub.domain.inventory import ReservationState
from omnihub.services import invariants
from omnihub.services.inventory import ReserveStock, reserve_stock
from omnihub.services.orders import ingest_order

pytestmark = pytest.mark.service


def drift(
    uow: FakeUnitOfWork,
    location: str,
    sku: str,
    *,
    on_hand: int | None = None,
    reserved: int | None = None,
) -> None:
    """Corrupt the committed counters directly, as a bad script or a lost write would."""
    level = uow.committed.levels[(location, sku)]
    uow.committed.levels[(location, sku)] = replace(
        level,
        on_hand=level.on_hand if on_hand is None else on_hand,
        reserved=level.reserved if reserved is None else reserved,
    )


@pytest.fixture
def busy(uow: FakeUnitOfWork, clock: FrozenClock) -> FakeUnitOfWork:
    """A few orders and a cart hold on top of the retailer."""
    ingest_order(lambda: uow, tmall_order("TB-1", lines=[("TM-TEE-M", 2), ("TM-MUG", 1)]), clock)
    ingest_order(lambda: uow, tmall_order("TB-2", lines=[("TM-TEE-M", 1)]), clock)
    reserve_stock(uow, ReserveStock(TEE, 3, SH_WH, 900), clock)
    return uow


def test_books_balance_after_orders_and_reservations(busy: FakeUnitOfWork) -> None:
    report = invariants.check_books(busy)

    assert report.balanced, report.violations
    assert report.levels_checked == len(RECEIVED)
    assert report.oversells == 0


def test_an_on_hand_that_drifted_from_the_ledger_is_flagged(busy: FakeUnitOfWork) -> None:
    drift(busy, SH_WH, TEE, on_hand=RECEIVED[(SH_WH, TEE)] + 3)

    report = invariants.check_books(busy)

    (violation,) = report.violations
    assert violation.rule == "on_hand_equals_ledger"
    assert violation.subject == f"{TEE}@{SH_WH}"
    assert violation.details == {"on_hand": 13, "ledger": 10}


def test_a_reserved_counter_that_drifted_from_the_reservations_is_flagged(
    busy: FakeUnitOfWork,
) -> None:
    drift(busy, HZ_WH, MUG, reserved=0)

    (violation,) = invariants.check_books(busy).violations

    assert violation.rule == "reserved_equals_reservations"
    assert violation.details == {"reserved": 0, "reservations": 1}


def test_more_promised_than_on_hand_is_flagged_as_an_oversell(busy: FakeUnitOfWork) -> None:
    drift(busy, HZ_WH, MUG, on_hand=0)

    report = invariants.check_books(busy)

    assert {v.rule for v in report.violations} == {"on_hand_equals_ledger", "no_oversell"}
    assert report.oversells == 1


def test_an_allocated_order_that_lost_its_reservation_is_flagged(busy: FakeUnitOfWork) -> None:
    with busy:
        order = busy.orders.get_by_external("tmall", "TB-2")
    assert order is not None
    (reservation,) = [r for r in busy.committed.reservations.values() if r.order_id == order.id]
    busy.committed.reservations[reservation.id] = replace(
        reservation, state=ReservationState.RELEASED
    )
    drift(busy, SH_WH, TEE, reserved=level(busy, SH_WH, TEE).reserved - reservation.qty)

    (violation,) = invariants.check_books(busy).violations

    assert violation.rule == "order_reservations_match_lines"
    assert violation.subject == f"order:{order.id}"


def test_repair_recomputes_drifted_counters_from_the_ledger_and_the_reservations(
    busy: FakeUnitOfWork, clock: FrozenClock
) -> None:
    expected = level(busy, SH_WH, TEE)
    drift(busy, SH_WH, TEE, on_hand=99, reserved=1)

    repaired = invariants.repair_counters(busy, clock, actor="ops:han.meimei")

    assert [r.subject for r in repaired] == [f"{TEE}@{SH_WH}"]
    assert repaired[0].details == {
        "location": SH_WH,
        "on_hand_before": 99,
        "on_hand_after": expected.on_hand,
        "reserved_before": 1,
        "reserved_after": expected.reserved,
    }
    assert level(busy, SH_WH, TEE) == expected
    assert invariants.check_books(busy).balanced
    (audit,) = [a for a in busy.committed.audit if a["action"] == "stock.repair"]
    assert audit["actor"] == "ops:han.meimei"
    assert busy.committed.outbox[-1].type == ev.STOCK_REPAIRED


def test_repair_of_balanced_books_changes_nothing(busy: FakeUnitOfWork, clock: FrozenClock) -> None:
    before = list(busy.committed.levels.values())

    assert invariants.repair_counters(busy, clock) == []
    assert list(busy.committed.levels.values()) == before
