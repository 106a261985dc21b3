"""What channel adapters report beyond created/paid/cancelled: an open refund request before
shipment, an order first seen already shipped, and a store's counter sales and returns."""

from __future__ import annotations

from datetime import timedelta

import pytest
from retailer import PLACED_AT, SH_STORE, SH_WH, TEE, level, tmall_order

from fakes import FakeUnitOfWork, FrozenClock
from omnihub.domain.locations import DeliveryMode
from omnihub.domain.orders import HoldReason, OrderStatus
from omnihub.domain.values import Money
from omnihub.services.orders import Outcome, ingest_order

pytestmark = pytest.mark.service

S = OrderStatus


def test_a_refund_request_before_shipment_holds_the_order_and_gives_its_stock_back(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    placed = ingest_order(lambda: uow, tmall_order(), clock)
    assert placed.order.status is S.ALLOCATED
    assert level(uow, SH_WH, TEE).reserved == 2

    asked = ingest_order(
        lambda: uow,
        tmall_order(updated_at=PLACED_AT + timedelta(minutes=5), refund_requested=True),
        clock,
    )

    assert asked.outcome is Outcome.UPDATED
    assert (asked.order.status, asked.order.hold_reason) == (S.HELD, HoldReason.REFUND_REQUESTED)
    assert level(uow, SH_WH, TEE).reserved == 0


def test_a_refund_request_that_is_withdrawn_lets_the_order_be_fulfilled_again(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    ingest_order(lambda: uow, tmall_order(), clock)
    ingest_order(
        lambda: uow,
        tmall_order(updated_at=PLACED_AT + timedelta(minutes=5), refund_requested=True),
        clock,
    )

    withdrawn = ingest_order(
        lambda: uow, tmall_order(updated_at=PLACED_AT + timedelta(minutes=9)), clock
    )

    assert withdrawn.order.status is S.ALLOCATED
    assert withdrawn.order.hold_reason is None
    assert level(uow, SH_WH, TEE).reserved == 2


def test_a_refund_agreed_after_the_request_ends_the_order_as_refunded(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    ingest_order(lambda: uow, tmall_order(), clock)
    ingest_order(
        lambda: uow,
        tmall_order(updated_at=PLACED_AT + timedelta(minutes=5), refund_requested=True),
        clock,
    )

    refunded = ingest_order(
        lambda: uow,
        tmall_order(status=S.REFUNDED, updated_at=PLACED_AT + timedelta(minutes=30)),
        clock,
    )

    assert refunded.order.status is S.REFUNDED
    assert level(uow, SH_WH, TEE).reserved == 0


def test_an_order_first_seen_after_the_channel_shipped_it_takes_no_stock(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    result = ingest_order(lambda: uow, tmall_order(status=S.SHIPPED), clock)

    assert result.order.status is S.SHIPPED
    assert level(uow, SH_WH, TEE).reserved == 0
    assert level(uow, SH_WH, TEE).on_hand == 10


def counter(status: OrderStatus, **fields: object) -> object:
    return tmall_order(
        "POS-0001", status, delivery=DeliveryMode.PICKUP, pickup_location=SH_STORE,
        counter_sale=True, payment=None, **fields,
    )  # fmt: skip


def test_a_counter_sale_takes_its_units_off_that_store_at_once(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    sold = ingest_order(lambda: uow, counter(S.COMPLETED), clock)  # type: ignore[arg-type]

    assert (sold.outcome, sold.order.status) == (Outcome.CREATED, S.COMPLETED)
    assert level(uow, SH_STORE, TEE).on_hand == 1  # 3 on the shelf, 2 sold
    assert level(uow, SH_WH, TEE).on_hand == 10


def test_a_counter_return_puts_the_units_back_once(uow: FakeUnitOfWork, clock: FrozenClock) -> None:
    ingest_order(lambda: uow, counter(S.COMPLETED), clock)  # type: ignore[arg-type]
    later = PLACED_AT + timedelta(hours=2)

    returned = ingest_order(lambda: uow, counter(S.REFUNDED, updated_at=later), clock)  # type: ignore[arg-type]
    again = ingest_order(lambda: uow, counter(S.REFUNDED, updated_at=later), clock)  # type: ignore[arg-type]

    assert returned.order.status is S.REFUNDED
    assert again.outcome is Outcome.DUPLICATE
    assert level(uow, SH_STORE, TEE).on_hand == 3


def test_a_counter_sale_beyond_the_hubs_count_takes_what_there_is_and_says_so(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    sold = ingest_order(
        lambda: uow,
        counter(S.COMPLETED, lines=[("TM-TEE-M", 5)], total=Money.of("295.00")),  # type: ignore[arg-type]
        clock,
    )

    assert level(uow, SH_STORE, TEE).on_hand == 0
    assert any("count the shelf" in t.cause for t in sold.order.transitions)


def test_a_refund_reported_for_an_order_never_paid_in_the_hub_cancels_it(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    ingest_order(lambda: uow, tmall_order(status=S.CREATED), clock)

    closed = ingest_order(
        lambda: uow,
        tmall_order(status=S.REFUNDED, updated_at=PLACED_AT + timedelta(hours=1)),
        clock,
    )

    assert closed.order.status is S.CANCELLED
