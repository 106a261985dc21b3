"""Ingesting channel orders: exactly once, newest wins, holds for what cannot be served yet."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta, timezone

import pytest
from retailer import CAP, HZ_WH, MUG, PLACED_AT, SH_STORE, SH_WH, TEE, level, tmall_order

from fakes import FakeUnitOfWork, FrozenClock
from omnihub.domain import events as ev
from omnihub.domain.catalog import ChannelMapping
from omnihub.domain.errors import AlreadyExists, ErrorCode, InvalidInput
from omnihub.domain.inventory import MovementKind, ReservationState
from omnihub.domain.locations import DeliveryMode
from omnihub.domain.orders import IncomingLine, Order, OrderStatus
from omnihub.domain.values import Money
from omnihub.services import catalog
from omnihub.services.inventory import RecordMovement, record_movement
from omnihub.services.orders import Outcome, ingest_order

pytestmark = pytest.mark.service

S = OrderStatus


def orders_in(uow: FakeUnitOfWork) -> list[Order]:
    with uow:
        return uow.orders.list(limit=1000).items


def test_a_new_paid_order_is_created_and_allocated_at_the_node_that_has_the_stock(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    result = ingest_order(lambda: uow, tmall_order(), clock)

    assert result.outcome is Outcome.CREATED
    assert result.order.status is S.ALLOCATED
    assert result.order.lines[0].sku == TEE
    with uow:
        (reservation,) = uow.reservations.for_order(result.order.id)
    assert (reservation.location, reservation.sku, reservation.qty) == (SH_WH, TEE, 2)
    assert level(uow, SH_WH, TEE).reserved == 2
    types = [e.type for e in uow.committed.outbox]
    assert ev.ORDER_INGESTED in types
    assert ev.RESERVATION_TAKEN in types


def test_a_second_delivery_of_the_same_order_changes_nothing(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    first = ingest_order(lambda: uow, tmall_order(), clock)
    events_before = len(uow.committed.outbox)

    again = ingest_order(lambda: uow, tmall_order(), clock)

    assert again.outcome is Outcome.DUPLICATE
    assert again.order.id == first.order.id
    assert [o.id for o in orders_in(uow)] == [first.order.id]
    assert level(uow, SH_WH, TEE).reserved == 2
    assert len(uow.committed.outbox) == events_before
    assert [e["result"] for e in uow.committed.inbound] == ["created", "duplicate"]


def test_an_update_older_than_the_stored_one_is_stale_and_changes_nothing(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    newer = PLACED_AT + timedelta(minutes=5)
    created = ingest_order(
        lambda: uow, tmall_order(status=S.CREATED, updated_at=newer, remark="newest"), clock
    )

    stale = ingest_order(
        lambda: uow, tmall_order(status=S.PAID, updated_at=PLACED_AT, remark="old"), clock
    )

    assert stale.outcome is Outcome.STALE
    with uow:
        stored = uow.orders.get(created.order.id)
    assert stored is not None
    assert stored.status is S.CREATED
    assert stored.remark == "newest"
    assert stored.channel_updated_at == newer
    assert stored.version == created.order.version
    assert level(uow, SH_WH, TEE).reserved == 0


def test_a_newer_update_that_pays_a_created_order_allocates_it(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    created = ingest_order(lambda: uow, tmall_order(status=S.CREATED), clock)
    assert created.outcome is Outcome.CREATED
    assert created.order.status is S.CREATED
    assert level(uow, SH_WH, TEE).reserved == 0
    clock.advance(timedelta(minutes=2))

    paid = ingest_order(
        lambda: uow,
        tmall_order(status=S.PAID, updated_at=PLACED_AT + timedelta(minutes=2)),
        clock,
    )

    assert paid.outcome is Outcome.UPDATED
    assert paid.order.status is S.ALLOCATED
    assert paid.order.payment is not None
    assert level(uow, SH_WH, TEE).reserved == 2
    assert [(t.from_status, t.to_status) for t in paid.order.transitions] == [
        (None, S.CREATED),
        (S.CREATED, S.PAID),
        (S.PAID, S.ALLOCATED),
    ]


def test_a_cancellation_from_the_channel_releases_the_orders_reservations(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    order = ingest_order(lambda: uow, tmall_order(), clock).order
    assert level(uow, SH_WH, TEE).reserved == 2

    cancelled = ingest_order(
        lambda: uow,
        tmall_order(status=S.CANCELLED, updated_at=PLACED_AT + timedelta(minutes=3)),
        clock,
    )

    assert cancelled.outcome is Outcome.UPDATED
    assert cancelled.order.status is S.CANCELLED
    assert level(uow, SH_WH, TEE).reserved == 0
    assert level(uow, SH_WH, TEE).on_hand == 10
    with uow:
        assert uow.reservations.for_order(order.id) == []
        (ended,) = uow.reservations.for_order(order.id, active_only=False)
    assert ended.state is ReservationState.RELEASED


def test_an_order_with_an_unmapped_channel_sku_is_held_and_reserves_nothing(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    result = ingest_order(
        lambda: uow, tmall_order(lines=[("TM-TEE-M", 1), ("TM-CAP-RED", 1)]), clock
    )

    assert result.outcome is Outcome.HELD
    assert result.order.status is S.HELD
    assert result.order.hold_reason == "unmapped_sku"
    assert result.order.held_from is S.PAID
    assert "TM-CAP-RED" in result.order.transitions[-1].cause
    assert level(uow, SH_WH, TEE).reserved == 0
    with uow:
        assert uow.orders.waiting_for_mapping("tmall", "TM-CAP-RED") == [result.order.id]


def test_adding_the_missing_mapping_releases_the_held_order_and_allocates_it(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    held = ingest_order(
        lambda: uow, tmall_order(lines=[("TM-TEE-M", 1), ("TM-CAP-RED", 1)]), clock
    ).order
    record_movement(uow, RecordMovement(SH_WH, CAP, MovementKind.RECEIPT, 5, "GRN-CAP"), clock)

    mapping, released = catalog.add_mapping(uow, ChannelMapping("tmall", "TM-CAP-RED", CAP), clock)

    assert mapping.sku == CAP
    assert released == [held.id]
    with uow:
        order = uow.orders.get(held.id)
        assert order is not None
        assert uow.orders.waiting_for_mapping("tmall", "TM-CAP-RED") == []
    assert order.status is S.ALLOCATED
    assert order.hold_reason is None
    assert [line.sku for line in order.lines] == [TEE, CAP]
    assert level(uow, SH_WH, CAP).reserved == 1
    assert level(uow, SH_WH, TEE).reserved == 1


def test_mapping_a_listing_that_is_mapped_to_another_sku_is_refused(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    with pytest.raises(AlreadyExists) as refused:
        catalog.add_mapping(uow, ChannelMapping("tmall", "TM-TEE-M", MUG), clock)

    assert refused.value.code is ErrorCode.MAPPING_CONFLICT
    mapping, released = catalog.add_mapping(uow, ChannelMapping("tmall", "TM-TEE-M", TEE), clock)
    assert (mapping.sku, released) == (TEE, [])


def test_a_paid_order_that_no_node_can_fill_is_held_for_stock(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    result = ingest_order(lambda: uow, tmall_order(lines=[("TM-MUG", 5)]), clock)

    assert result.outcome is Outcome.HELD
    assert result.order.hold_reason == "no_stock"
    assert level(uow, HZ_WH, MUG).reserved == 0


def test_a_paid_order_is_split_over_the_warehouses_that_hold_its_lines(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    result = ingest_order(lambda: uow, tmall_order(lines=[("TM-TEE-M", 2), ("TM-MUG", 1)]), clock)

    assert result.order.status is S.ALLOCATED
    assert level(uow, SH_WH, TEE).reserved == 2
    assert level(uow, HZ_WH, MUG).reserved == 1


def test_a_paid_pickup_order_is_handed_to_its_store_with_a_pickup_code(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    result = ingest_order(
        lambda: uow,
        tmall_order(delivery=DeliveryMode.PICKUP, pickup_location=SH_STORE),
        clock,
    )

    assert result.order.status is S.RELEASED
    assert result.pickup_code is not None
    assert result.pickup_code.isdigit()
    assert level(uow, SH_STORE, TEE).reserved == 2
    assert level(uow, SH_WH, TEE).reserved == 0


def test_a_pickup_order_at_a_store_that_does_not_exist_is_held_for_a_person(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    result = ingest_order(
        lambda: uow,
        tmall_order(delivery=DeliveryMode.PICKUP, pickup_location="BJ-WANGFUJING"),
        clock,
    )

    assert result.outcome is Outcome.HELD
    assert result.order.hold_reason == "unknown_pickup_store"
    assert level(uow, SH_STORE, TEE).reserved == 0


def test_the_same_external_id_on_another_channel_is_another_order(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    tmall = ingest_order(lambda: uow, tmall_order("10001"), clock)
    jd = ingest_order(
        lambda: uow,
        tmall_order("10001", channel="jd", lines=[("TM-TEE-M", 1)]),
        clock,
    )

    assert jd.outcome is Outcome.HELD  # jd has no mapping for the listing
    assert jd.order.id != tmall.order.id
    assert len(orders_in(uow)) == 2


def test_an_order_the_domain_refuses_is_kept_in_the_inbound_log_as_rejected(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    command = tmall_order(
        "TB-BROKEN",
        lines=[("TM-TEE-M", 1)],
        delivery=DeliveryMode.PICKUP,  # but no pickup_location
    )

    with pytest.raises(InvalidInput, match="pickup_location"):
        ingest_order(lambda: uow, command, clock)

    assert orders_in(uow) == []
    (entry,) = uow.committed.inbound
    assert entry["result"] == "rejected"
    assert "pickup_location" in entry["error"]
    assert entry["body"] == command.raw


def test_an_update_in_local_time_without_an_offset_is_refused_as_invalid_input(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    ingest_order(lambda: uow, tmall_order(status=S.CREATED), clock)
    naive_beijing_time = (PLACED_AT + timedelta(hours=8, minutes=5)).replace(tzinfo=None)

    with pytest.raises(InvalidInput, match="UTC offset"):
        ingest_order(lambda: uow, tmall_order(updated_at=naive_beijing_time), clock)

    (order,) = orders_in(uow)
    assert order.status is S.CREATED


def test_an_update_given_in_beijing_time_is_kept_in_utc(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    ingest_order(lambda: uow, tmall_order(status=S.CREATED), clock)
    beijing = timezone(timedelta(hours=8))
    paid_at_beijing = (PLACED_AT + timedelta(minutes=5)).astimezone(beijing)

    paid = ingest_order(lambda: uow, tmall_order(updated_at=paid_at_beijing), clock)

    assert paid.outcome is Outcome.UPDATED
    assert paid.order.channel_updated_at == paid_at_beijing
    assert paid.order.channel_updated_at.utcoffset() == timedelta(0)


def test_a_line_given_with_an_unknown_master_sku_is_held_as_unmapped(
    uow: FakeUnitOfWork, clock: FrozenClock
) -> None:
    command = replace(
        tmall_order(),
        lines=[IncomingLine("TM-NEW", 1, Money.of("9.90"), Money.of("0"), sku="NO-SUCH-SKU")],
    )

    result = ingest_order(lambda: uow, command, clock)

    assert result.order.hold_reason == "unmapped_sku"
    assert result.order.lines[0].sku is None
