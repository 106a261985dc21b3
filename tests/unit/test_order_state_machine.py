"""The order aggregate's state machine: the one table of transitions, holds and payment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from omnihub.domain import events as ev
from omnihub.domain.errors import DomainError, ErrorCode, InvalidInput
from omnihub.domain.locations import DeliveryMode
from omnihub.domain.orders import (
    TERMINAL,
    TRANSITIONS,
    HoldReason,
    IllegalTransition,
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    Transition,
)
from omnihub.domain.values import Money

pytestmark = pytest.mark.unit

S = OrderStatus
AT = datetime(2026, 11, 11, 0, 0, 1, tzinfo=UTC)
LATER = AT + timedelta(minutes=5)


def a_line(line_no: int = 1, qty: int = 2) -> OrderLine:
    return OrderLine(line_no, f"TM-{line_no}", qty, Money.of("59.00"), Money.of("5.00"), "TEE-M")


def an_order(status: OrderStatus = S.CREATED) -> Order:
    return Order(
        id="01JORDER00000000000000000A",
        channel="tmall",
        external_id="TB-20261111-0001",
        status=status,
        delivery=DeliveryMode.EXPRESS,
        lines=[a_line()],
        channel_created_at=AT,
        channel_updated_at=AT,
    )


def received(channel_status: OrderStatus = S.CREATED, **fields: object) -> Order:
    arguments: dict[str, object] = {
        "id": "01JORDER00000000000000000B",
        "channel": "tmall",
        "external_id": "TB-20261111-0002",
        "channel_status": channel_status,
        "delivery": DeliveryMode.EXPRESS,
        "lines": [a_line()],
        "channel_created_at": datetime(2026, 11, 11, 8, 0, 1, tzinfo=UTC) + timedelta(hours=-8),
        "channel_updated_at": AT,
        "at": AT,
    }
    arguments.update(fields)
    return Order.receive(**arguments)  # type: ignore[arg-type]


ALLOWED = [(current, target) for current in S for target in sorted(TRANSITIONS[current])]


@pytest.mark.parametrize(("current", "target"), ALLOWED, ids=[f"{c}->{t}" for c, t in ALLOWED])
def test_every_allowed_transition_moves_the_order_and_is_recorded(
    current: OrderStatus, target: OrderStatus
) -> None:
    order = an_order(current)

    order.transition(target, "by the test", AT)

    assert order.status is target
    assert order.transitions == [Transition(current, target, "by the test", AT)]
    (event,) = order.events
    assert event.type == ev.ORDER_STATUS_CHANGED
    assert event.data["from"] == current
    assert event.data["to"] == target


ILLEGAL = [
    (S.CREATED, S.ALLOCATED),
    (S.CREATED, S.SHIPPED),
    (S.PAID, S.CREATED),
    (S.PAID, S.SHIPPED),
    (S.PAID, S.PAID),
    (S.ALLOCATED, S.PICKED),
    (S.ALLOCATED, S.SHIPPED),
    (S.RELEASED, S.PAID),
    (S.PICKED, S.ALLOCATED),
    (S.SHIPPED, S.CANCELLED),
    (S.DELIVERED, S.SHIPPED),
    (S.COMPLETED, S.CANCELLED),
    (S.CANCELLED, S.PAID),
    (S.REFUNDED, S.COMPLETED),
]


@pytest.mark.parametrize(("current", "target"), ILLEGAL, ids=[f"{c}->{t}" for c, t in ILLEGAL])
def test_an_illegal_transition_is_refused_with_a_message_naming_the_allowed_ones(
    current: OrderStatus, target: OrderStatus
) -> None:
    order = an_order(current)

    with pytest.raises(IllegalTransition) as refused:
        order.transition(target, "by the test", AT)

    allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (it is final)"
    assert refused.value.message.endswith(f"from {current} it can become: {allowed}")
    assert f"is {current} and cannot become {target}" in refused.value.message
    assert refused.value.code is ErrorCode.ILLEGAL_TRANSITION
    assert order.status is current
    assert order.transitions == []
    assert order.events == []


def test_every_status_has_a_row_in_the_table_and_final_ones_lead_nowhere_but_a_refund() -> None:
    assert set(TRANSITIONS) == set(S)
    assert TRANSITIONS[S.CANCELLED] == frozenset()
    assert TRANSITIONS[S.REFUNDED] == frozenset()
    assert TRANSITIONS[S.COMPLETED] == frozenset({S.REFUNDED})
    assert {S.CANCELLED, S.REFUNDED, S.COMPLETED} == TERMINAL


def test_a_received_paid_order_is_created_then_paid_with_utc_channel_times() -> None:
    order = received(S.PAID)

    assert order.status is S.PAID
    assert [(t.from_status, t.to_status) for t in order.transitions] == [
        (None, S.CREATED),
        (S.CREATED, S.PAID),
    ]
    assert order.events[0].type == ev.ORDER_INGESTED
    assert order.channel_created_at.tzinfo is UTC


def test_a_new_order_cannot_arrive_mid_fulfilment() -> None:
    for status in (S.HELD, S.ALLOCATED, S.RELEASED, S.PICKED):
        with pytest.raises(InvalidInput, match="must arrive as created, paid, cancelled"):
            received(status)


def test_an_order_first_seen_after_the_channel_shipped_it_is_kept_as_it_is() -> None:
    order = received(S.SHIPPED)
    assert order.status is S.SHIPPED
    assert "already shipped on the channel" in order.transitions[-1].cause
    assert order.events[-1].data["to"] == "shipped"


def test_an_order_with_a_naive_channel_time_is_refused() -> None:
    with pytest.raises(InvalidInput, match="UTC offset"):
        received(channel_created_at=datetime(2026, 11, 11, 8, 0, 1))  # noqa: DTZ001


def test_a_pickup_order_must_name_its_store() -> None:
    with pytest.raises(InvalidInput, match="pickup_location"):
        received(delivery=DeliveryMode.PICKUP)


def test_an_order_needs_lines_with_unique_numbers() -> None:
    with pytest.raises(InvalidInput, match="at least one line"):
        received(lines=[])
    with pytest.raises(InvalidInput, match="unique"):
        received(lines=[a_line(1), a_line(1)])


@pytest.mark.parametrize("before", [S.CREATED, S.PAID])
def test_lifting_a_hold_returns_the_order_to_where_it_was(before: OrderStatus) -> None:
    order = an_order(before)

    order.hold(HoldReason.MANUAL, AT, "buyer asked to wait")
    assert order.status is S.HELD
    assert order.held_from is before
    assert order.hold_reason == "manual"
    order.resume("buyer confirmed", LATER)

    assert order.status is before
    assert order.held_from is None
    assert order.hold_reason is None
    assert [(t.from_status, t.to_status) for t in order.transitions] == [
        (before, S.HELD),
        (S.HELD, before),
    ]
    assert [e.type for e in order.events] == [
        ev.ORDER_STATUS_CHANGED,
        ev.ORDER_HELD,
        ev.ORDER_STATUS_CHANGED,
    ]


def test_a_held_allocated_order_resumes_as_paid_to_be_allocated_again() -> None:
    order = an_order(S.ALLOCATED)

    order.hold(HoldReason.MANUAL, AT)
    order.resume("go on", LATER)

    assert order.status is S.PAID


def test_holding_a_held_order_again_only_changes_the_reason() -> None:
    order = an_order(S.PAID)
    order.hold(HoldReason.NO_STOCK, AT)

    order.hold(HoldReason.MANUAL, LATER)

    assert order.status is S.HELD
    assert order.held_from is S.PAID
    assert order.hold_reason == "manual"
    assert len(order.transitions) == 1


def test_resuming_an_order_that_is_not_held_is_refused() -> None:
    order = an_order(S.PAID)

    with pytest.raises(IllegalTransition):
        order.resume("nothing to lift", AT)
    assert order.status is S.PAID


def test_paying_an_order_held_before_payment_keeps_it_held_and_resumes_it_as_paid() -> None:
    order = an_order(S.CREATED)
    order.hold(HoldReason.UNMAPPED_SKU, AT)
    payment = Payment("alipay", "2026111122001", Money.of("113.00"), LATER)

    order.pay(payment, "paid on tmall", LATER)

    assert order.status is S.HELD
    assert order.hold_reason == "unmapped_sku"
    assert order.held_from is S.PAID
    assert order.is_paid
    assert order.payment == payment
    assert order.transitions[-1] == Transition(S.HELD, S.HELD, "paid on tmall (still held)", LATER)
    order.resume("mapping added", LATER)
    assert order.transitions[-1].to_status is S.PAID
    assert not order.hold_reason


@pytest.mark.parametrize("before", [S.PAID, S.ALLOCATED])
def test_paying_an_order_that_was_paid_before_its_hold_is_refused_and_keeps_the_hold(
    before: OrderStatus,
) -> None:
    order = an_order(before)
    order.hold(HoldReason.UNMAPPED_SKU, AT)

    with pytest.raises(DomainError) as refused:
        order.pay(None, "pay again", LATER)

    assert refused.value.code is ErrorCode.ILLEGAL_TRANSITION
    assert order.status is S.HELD
    assert order.hold_reason == "unmapped_sku"


def test_paying_a_paid_order_is_an_illegal_transition() -> None:
    order = an_order(S.PAID)

    with pytest.raises(IllegalTransition):
        order.pay(None, "again", AT)


def test_line_amounts_and_the_lines_total_are_exact_money() -> None:
    order = an_order()
    order.lines.append(OrderLine(2, "TM-2", 3, Money.of("19.90"), Money.of("0.70"), "MUG-CLASSIC"))

    assert order.lines[0].amount == Money.of("113.00")
    assert order.lines_total == Money.of("172.00")


@pytest.mark.parametrize(
    ("qty", "unit_price", "discount", "complaint"),
    [
        (0, "10.00", "0", "greater than zero"),
        (1, "-1.00", "0", "cannot be negative"),
        (2, "10.00", "20.01", "larger than the line amount"),
    ],
)
def test_an_order_line_refuses_impossible_amounts(
    qty: int, unit_price: str, discount: str, complaint: str
) -> None:
    with pytest.raises(InvalidInput, match=complaint):
        OrderLine(1, "TM-1", qty, Money.of(unit_price), Money.of(discount))
