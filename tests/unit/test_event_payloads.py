"""Typed event payloads: each event type's dataclass writes exactly the JSON receivers have
always been given (keys, their order, optional keys left out) and reads it back."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from omnihub.domain import events as ev
from omnihub.domain.events import (
    PAYLOADS,
    Event,
    LocationStock,
    OrderHeld,
    OrderIngested,
    OrderStatusChanged,
    ReservationConsumed,
    ReservationExpired,
    ReservationReleased,
    ReservationTaken,
    StockChanged,
    StockRepaired,
)
from omnihub.domain.integration import EVENT_TYPES
from omnihub.domain.locations import DeliveryMode
from omnihub.domain.orders import HoldReason, Order, OrderLine, OrderStatus
from omnihub.domain.values import Money

pytestmark = pytest.mark.unit

AT = datetime(2026, 11, 11, 0, 0, 1, tzinfo=UTC)
ORDER = "01JORDER00000000000000000B"

EXAMPLES = [
    (
        StockChanged(
            "TEE-M", 7, (LocationStock("SH-WH", 9, 2, 7), LocationStock("ST-01", 0, 0, 0))
        ),
        '{"sku":"TEE-M","available":7,"locations":['
        '{"location":"SH-WH","on_hand":9,"reserved":2,"available":7},'
        '{"location":"ST-01","on_hand":0,"reserved":0,"available":0}]}',
    ),
    (
        StockRepaired("SH-WH", 10, 9, 3, 2),
        '{"location":"SH-WH","on_hand_before":10,"on_hand_after":9,'
        '"reserved_before":3,"reserved_after":2}',
    ),
    (
        ReservationTaken("01JRES", "TEE-M", "SH-WH", 2, ORDER),
        '{"reservation_id":"01JRES","sku":"TEE-M","location":"SH-WH","qty":2,'
        f'"order_id":"{ORDER}"}}',
    ),
    (
        ReservationExpired("01JRES", "TEE-M", "SH-WH", 2, None),
        '{"reservation_id":"01JRES","sku":"TEE-M","location":"SH-WH","qty":2,"order_id":null}',
    ),
    (
        OrderIngested(ORDER, "tmall", "TB-1", "created"),
        f'{{"order_id":"{ORDER}","channel":"tmall","external_id":"TB-1","status":"created"}}',
    ),
    (
        OrderStatusChanged(
            ORDER, "tmall", "TB-1", "paid", "created", "paid", "paid on the channel"
        ),
        f'{{"order_id":"{ORDER}","channel":"tmall","external_id":"TB-1","status":"paid",'
        '"from":"created","to":"paid","cause":"paid on the channel"}',
    ),
    (
        OrderStatusChanged(
            ORDER, "tmall", "TB-1", "cancelled", "paid", "cancelled", "buyer", source="tmall"
        ),
        f'{{"order_id":"{ORDER}","channel":"tmall","external_id":"TB-1","status":"cancelled",'
        '"from":"paid","to":"cancelled","cause":"buyer","source":"tmall"}',
    ),
    (
        OrderHeld(ORDER, "tmall", "TB-1", "held", "no_stock"),
        f'{{"order_id":"{ORDER}","channel":"tmall","external_id":"TB-1","status":"held",'
        '"reason":"no_stock"}',
    ),
]


def wire(data: dict[str, object]) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize(("payload", "expected"), EXAMPLES)
def test_a_payload_is_written_as_the_json_receivers_were_promised_and_read_back(
    payload: object, expected: str
) -> None:
    data = payload.to_dict()  # type: ignore[attr-defined]
    assert wire(data) == expected
    assert type(payload).from_dict(json.loads(expected)) == payload  # type: ignore[attr-defined]


def test_an_event_of_a_payload_takes_the_payload_type_and_its_data() -> None:
    payload = ReservationConsumed("01JRES", "TEE-M", "SH-WH", 2, ORDER)
    event = Event.of(payload, "01JRES", AT, 3)
    assert (event.type, event.aggregate_id, event.occurred_at, event.version) == (
        ev.RESERVATION_CONSUMED,
        "01JRES",
        AT,
        3,
    )
    assert event.data == payload.to_dict()
    released = Event.of(ReservationReleased(*payload.to_dict().values()), "01JRES", AT)
    assert released.type == ev.RESERVATION_RELEASED


def test_every_event_type_the_hub_records_has_its_payload() -> None:
    assert set(PAYLOADS) == set(EVENT_TYPES) - {ev.ORDER_UPDATED}  # no producer records it
    assert all(name == PAYLOADS[name].TYPE for name in PAYLOADS)


def test_the_order_aggregate_records_its_events_with_the_typed_payloads() -> None:
    line = OrderLine(1, "TM-1", 2, Money.of("59.00"), Money.of("5.00"), "TEE-M")
    order = Order.receive(
        id=ORDER,
        channel="tmall",
        external_id="TB-1",
        channel_status=OrderStatus.PAID,
        delivery=DeliveryMode.EXPRESS,
        lines=[line],
        channel_created_at=AT,
        channel_updated_at=AT,
        at=AT,
    )
    order.hold(HoldReason.NO_STOCK, AT)
    assert [e.type for e in order.events] == [
        ev.ORDER_INGESTED,
        ev.ORDER_STATUS_CHANGED,
        ev.ORDER_STATUS_CHANGED,
        ev.ORDER_HELD,
    ]
    ingested, paid, held, reason = order.events
    assert OrderIngested.from_dict(ingested.data) == OrderIngested(
        ORDER, "tmall", "TB-1", "created"
    )
    assert OrderStatusChanged.from_dict(paid.data) == OrderStatusChanged(
        ORDER, "tmall", "TB-1", "paid", "created", "paid", "paid on the channel"
    )
    assert wire(held.data) == (
        f'{{"order_id":"{ORDER}","channel":"tmall","external_id":"TB-1","status":"held",'
        '"from":"paid","to":"held","cause":"held: no_stock"}'
    )
    assert OrderHeld.from_dict(reason.data).reason == "no_stock"
    assert [e.version for e in order.events] == [1, 1, 1, 1]
