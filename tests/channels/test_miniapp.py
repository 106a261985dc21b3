"""The mini-program adapter without a hub: its canonical orders with a WeChat buyer, the status
table, the signature both ways, the stock and status calls, and agreement with the canonical
API (``POST /api/v1/orders``) on the same bodies."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from omnihub.adapters.channels import adapter_for
from omnihub.adapters.channels.miniapp import mapper
from omnihub.adapters.channels.miniapp.client import MiniappAdapter
from omnihub.adapters.channels.miniapp.signature import signature, signed_headers, verify
from omnihub.adapters.channels.transport import call
from omnihub.domain.errors import ErrorCode
from omnihub.domain.locations import DeliveryMode
from omnihub.domain.orders import OrderStatus
from omnihub.entrypoints.api.routers.orders import to_command
from omnihub.entrypoints.api.schemas import OrderIn
from omnihub.platforms.local_time import SHANGHAI
from omnihub.ports import (
    CallRefused,
    ChannelConfig,
    ChannelRefused,
    InboundRequest,
    ShipmentUpdate,
    StockUpdate,
    UnknownChannelStatus,
    UnreadablePayload,
)
from omnihub.simulators.channels.miniapp import MiniappSimulator

OWN = Path(__file__).parent / "fixtures" / "miniapp"
SECRET = "miniapp-secret-0001"
CONFIG = ChannelConfig(
    code="wx-mini", adapter="miniapp", secret=SECRET, endpoint="https://mp.example.test/hub"
)
S = OrderStatus
pytestmark = pytest.mark.unit


def own(name: str) -> dict[str, Any]:
    return dict(json.loads((OWN / name).read_text(encoding="utf-8")))


def inbound(body: bytes, headers: dict[str, str]) -> InboundRequest:
    return InboundRequest(body=body, headers={k.lower(): v for k, v in headers.items()}, query={})


# -- the mapper ------------------------------------------------------------------------------


def test_a_paid_express_order_keeps_its_lines_amounts_buyer_and_payment() -> None:
    order = mapper.to_order("wx-mini", own("order_paid_express.json"), "raw")
    assert (order.channel, order.external_id, order.status) == (
        "wx-mini",
        "MP20261111000101",
        S.PAID,
    )
    assert order.delivery is DeliveryMode.EXPRESS
    assert [(ln.channel_sku, ln.sku, ln.qty) for ln in order.lines] == [
        ("TEE-WHITE-M", None, 2),
        ("MUG-CERAMIC-350", "MUG-CERAMIC-350", 1),
    ]
    assert order.lines[0].discount.amount == Decimal("10.00")
    assert order.shipping_fee.amount == Decimal("8.00")
    assert order.total.amount == Decimal("155.00")  # lines 147.00 + shipping 8.00
    assert order.buyer.channel_buyer_id == "oX3mK5aB1cD2eF3gH4iJ5kL6mN7o"  # the openid
    assert (order.buyer.name, order.buyer.tier, order.buyer.masked) == ("李雷", "vip", ())
    assert order.payment is not None
    assert (order.payment.provider, order.payment.amount.amount) == ("wechat", Decimal("155.00"))
    assert order.created_at == datetime(2026, 11, 11, 8, 15, 2, 120000, tzinfo=SHANGHAI)
    assert order.updated_at > order.created_at
    assert order.ship_to.lat == pytest.approx(31.1905)
    assert order.remark == "周末送货"
    assert order.raw == "raw"


def test_the_unionid_is_kept_with_the_raw_payload() -> None:
    raw = (OWN / "order_paid_express.json").read_text(encoding="utf-8")
    order = MiniappAdapter().to_order(CONFIG, json.loads(raw), raw)
    assert "o6_bmasdasdsad6_2sgVt7hMZOPfL" in order.raw


def test_a_pickup_order_names_its_store_and_is_created_unpaid() -> None:
    order = mapper.to_order("wx-mini", own("order_pickup_created.json"), "")
    assert (order.status, order.delivery, order.pickup_location) == (
        S.CREATED,
        DeliveryMode.PICKUP,
        "ST-SH-JINGAN",
    )
    assert order.updated_at == order.created_at
    assert order.total.amount == Decimal("79.00")
    assert order.payment is None


def test_a_same_day_order_with_an_open_refund_request_says_so() -> None:
    order = mapper.to_order("wx-mini", own("order_same_day_refund_requested.json"), "")
    assert order.delivery is DeliveryMode.SAME_DAY
    assert order.refund_requested
    assert order.ship_to.masked == ("phone",)


def test_a_time_without_an_offset_is_shanghai_time() -> None:
    native = own("order_pickup_created.json")
    native["created_at"] = "2026-11-11 09:30:00"
    order = mapper.to_order("wx-mini", native, "")
    assert order.created_at == datetime(2026, 11, 11, 1, 30, tzinfo=UTC)


def test_the_channel_is_the_one_the_message_came_in_on() -> None:
    native = own("order_pickup_created.json")
    native["channel"] = "someone-else"
    assert MiniappAdapter().to_order(CONFIG, native, "").channel == "wx-mini"


@pytest.mark.parametrize("status", sorted(mapper.STATUS))
def test_every_status_the_mini_program_reports_maps_to_the_hub(status: str) -> None:
    native = own("order_paid_express.json")
    native["status"] = status
    assert mapper.to_order("wx-mini", native, "").status is mapper.STATUS[status]


@pytest.mark.parametrize("status", sorted(s.value for s in mapper.TO_NATIVE))
def test_every_status_pushed_back_reads_back_the_same(status: str) -> None:
    assert mapper.canonical_status(mapper.TO_NATIVE[S(status)]) is S(status)


@pytest.mark.parametrize("status", ["held", "allocated", "released", "picked", "shipping", 3])
def test_a_status_the_mini_program_cannot_report_is_a_clear_error(status: Any) -> None:
    native = own("order_paid_express.json")
    native["status"] = status
    with pytest.raises(UnknownChannelStatus) as caught:
        mapper.to_order("wx-mini", native, "")
    assert caught.value.code is ErrorCode.UNKNOWN_CHANNEL_STATUS
    assert repr(status) in caught.value.message


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda o: o.pop("external_id"), "external_id"),
        (lambda o: o.update(lines=[]), "no lines"),
        (lambda o: o["lines"][0].update(unit_price=59.0), "not 59.0"),
        (lambda o: o["lines"][0].update(unit_price="-1.00"), "in cents"),
        (lambda o: o["lines"][0].update(unit_price="1.001"), "in cents"),
        (lambda o: o["lines"][0].update(discount="500.00"), "larger than the line"),
        (lambda o: o["lines"][0].pop("channel_sku"), "channel_sku or sku"),
        (lambda o: o["lines"][0].update(qty=0), "positive"),
        (lambda o: o.update(delivery="drone"), "drone"),
        (lambda o: o.update(delivery="pickup", pickup_location=None), "pickup_location"),
        (lambda o: o.update(created_at="soon"), "time"),
        (lambda o: o.update(buyer="me"), "buyer"),
        (lambda o: o["payment"].pop("transaction_id"), "transaction_id"),
    ],
)
def test_an_order_the_mapper_cannot_read_says_what_is_wrong(change: Any, why: str) -> None:
    native = own("order_paid_express.json")
    change(native)
    with pytest.raises(UnreadablePayload, match=why):
        mapper.to_order("wx-mini", native, "")


@pytest.mark.parametrize("name", sorted(p.name for p in OWN.glob("*.json")))
def test_the_canonical_api_reads_the_same_body_the_same_way(name: str) -> None:
    """The mini-program speaks the canonical contract: ``POST /api/v1/orders`` accepts its
    bodies, and both readings agree on everything the contract has."""
    raw = (OWN / name).read_text(encoding="utf-8")
    ours = mapper.to_order("miniapp", json.loads(raw), raw)
    theirs = to_command(OrderIn.model_validate_json(raw), raw)
    for key in (
        "external_id",
        "status",
        "created_at",
        "updated_at",
        "delivery",
        "lines",
        "pickup_location",
        "shipping_fee",
        "total",
        "payment",
        "remark",
        "cod",
    ):
        assert getattr(ours, key) == getattr(theirs, key), key
    # the canonical API does not look for masked values; the adapter lists them
    assert replace(ours.ship_to, masked=()) == theirs.ship_to
    assert (ours.buyer.name, ours.buyer.phone, ours.buyer.tier) == (
        theirs.buyer.name,
        theirs.buyer.phone,
        theirs.buyer.tier,
    )


# -- the signature ---------------------------------------------------------------------------


def test_the_signature_is_hex_hmac_sha256_of_timestamp_dot_body() -> None:
    by_hand = hmac.new(SECRET.encode(), b"1794355321." + b'{"a":1}', hashlib.sha256).hexdigest()
    assert signature(SECRET, "1794355321", b'{"a":1}') == "sha256=" + by_hand


def test_a_correctly_signed_order_gives_its_request_id_and_send_time() -> None:
    body = (OWN / "order_paid_express.json").read_bytes()
    now = int(time.time())
    verified = MiniappAdapter().verify(
        CONFIG, inbound(body, signed_headers(SECRET, body, "req-0001", now))
    )
    assert verified.message_id == "req-0001"
    assert verified.sent_at == datetime.fromtimestamp(now, UTC)


def _tamper(headers: dict[str, str], what: str) -> dict[str, str]:
    changed = dict(headers)
    if what == "no signature":
        del changed["X-Omnihub-Signature"]
    elif what == "other secret":
        changed["X-Omnihub-Signature"] = signature("other", changed["X-Omnihub-Timestamp"], b"")
    elif what == "timestamp changed":
        changed["X-Omnihub-Timestamp"] = str(int(changed["X-Omnihub-Timestamp"]) + 1)
    elif what == "no timestamp":
        del changed["X-Omnihub-Timestamp"]
    elif what == "timestamp not seconds":
        changed["X-Omnihub-Timestamp"] = "2026-11-11T08:00:00Z"
    elif what == "no request id":
        del changed["X-Request-Id"]
    return changed


@pytest.mark.parametrize(
    ("what", "why"),
    [
        ("no signature", "no X-Omnihub-Signature"),
        ("other secret", "does not match"),
        ("timestamp changed", "does not match"),
        ("no timestamp", "no X-Omnihub-Timestamp"),
        ("timestamp not seconds", "Unix seconds"),
        ("no request id", "no X-Request-Id"),
    ],
)
def test_a_request_with_a_wrong_or_missing_signature_part_is_refused(what: str, why: str) -> None:
    body = (OWN / "order_paid_express.json").read_bytes()
    headers = _tamper(signed_headers(SECRET, body, "req-0002"), what)
    with pytest.raises(ChannelRefused, match=why) as caught:
        MiniappAdapter().verify(CONFIG, inbound(body, headers))
    assert caught.value.code is ErrorCode.BAD_SIGNATURE


def test_a_changed_body_no_longer_matches_its_signature() -> None:
    body = (OWN / "order_paid_express.json").read_bytes()
    headers = signed_headers(SECRET, body, "req-0003")
    with pytest.raises(ChannelRefused):
        MiniappAdapter().verify(CONFIG, inbound(body.replace(b'"qty": 2', b'"qty": 20'), headers))


def test_a_channel_without_a_secret_refuses_everything() -> None:
    body = b"{}"
    config = ChannelConfig(code="wx-mini", adapter="miniapp")
    with pytest.raises(ChannelRefused, match="no secret"):
        MiniappAdapter().verify(config, inbound(body, signed_headers(SECRET, body, "r")))


# -- the calls back --------------------------------------------------------------------------


def test_a_stock_push_is_signed_canonical_json_to_the_stock_path() -> None:
    request = MiniappAdapter().stock_request(CONFIG, StockUpdate("TEE-WHITE-M", 12, "TEE", 7))
    assert (request.method, request.url) == ("POST", "https://mp.example.test/hub/stock")
    assert json.loads(request.body) == {
        "channel_sku": "TEE-WHITE-M",
        "sku": "TEE",
        "quantity": 12,
        "version": 7,
    }
    verified = verify(SECRET, inbound(request.body, request.headers))
    assert verified.message_id == "stock:TEE-WHITE-M:7"


@pytest.mark.parametrize("status", ["shipped", "delivered", "cancelled", "refunded"])
def test_each_pushed_status_goes_to_the_status_path_signed(status: str) -> None:
    request = MiniappAdapter().shipment_request(
        CONFIG, ShipmentUpdate("MP1", "SF", "SF0001", status)
    )
    assert request is not None
    assert request.url == "https://mp.example.test/hub/orders/status"
    assert json.loads(request.body) == {
        "external_id": "MP1",
        "status": status,
        "carrier": "SF",
        "tracking_number": "SF0001",
    }
    assert verify(SECRET, inbound(request.body, request.headers)).message_id == (
        f"status:MP1:{status}"
    )


def test_a_status_the_mini_program_does_not_take_is_not_pushed() -> None:
    assert MiniappAdapter().shipment_request(CONFIG, ShipmentUpdate("MP1", None, None, "held")) is (
        None
    )
    with pytest.raises(UnknownChannelStatus):
        mapper.status_body("MP1", "held", None, None)


@pytest.mark.parametrize(
    ("status", "retry"), [(429, True), (500, True), (503, True), (400, False), (401, False)]
)
def test_errors_are_refused_and_only_rate_limits_and_outages_are_retried(
    status: int, retry: bool
) -> None:
    MiniappAdapter().check_response(200, b'{"ok": true}')
    with pytest.raises(CallRefused) as caught:
        MiniappAdapter().check_response(status, b"{}")
    assert caught.value.retry is retry


def test_the_registry_speaks_miniapp_through_this_adapter() -> None:
    adapter = adapter_for("miniapp")
    assert isinstance(adapter, MiniappAdapter)
    assert adapter.line_identity.startswith("lines[].channel_sku")
    assert adapter.pushes == {"shipped", "delivered", "cancelled", "refunded"}


# -- the simulator ---------------------------------------------------------------------------


@pytest.fixture
def simulator() -> Any:
    with MiniappSimulator(secret=SECRET) as running:
        yield running


def sim_config(sim: MiniappSimulator, secret: str = SECRET) -> ChannelConfig:
    return ChannelConfig(code="wx-mini", adapter="miniapp", secret=secret, endpoint=sim.url)


def test_the_simulator_orders_move_forward_and_map_as_the_hub_will_read_them(
    simulator: MiniappSimulator,
) -> None:
    def held(external_id: str) -> dict[str, Any]:
        """the order as the back end holds it (and sends it)"""
        return copy.deepcopy(json.loads(simulator.body(external_id)))

    external_id = simulator.place_order([("TEE-WHITE-M", 2, "59.00")], push=False)
    created = held(external_id)
    simulator.pay(external_id, push=False)
    simulator.request_refund(external_id, push=False)
    refunding = held(external_id)
    simulator.refund(external_id, push=False)
    refunded = held(external_id)
    assert [o["status"] for o in (created, refunding, refunded)] == ["created", "paid", "refunded"]
    assert (refunding["refund_requested"], refunded["refund_requested"]) == (True, False)
    assert refunding["payment"]["amount"] == "118.00"
    stamps = [datetime.fromisoformat(o["updated_at"]) for o in (created, refunding, refunded)]
    assert stamps[0] < stamps[1] < stamps[2]
    # the adapter reads what the back end holds as the hub will
    read = [MiniappAdapter().to_order(sim_config(simulator), o, "") for o in (created, refunding)]
    assert (read[0].status, read[1].status, read[1].refund_requested) == (S.CREATED, S.PAID, True)
    assert read[1].payment is not None
    assert read[1].payment.amount.amount == Decimal("118.00")
    assert read[0].updated_at < read[1].updated_at
    assert OrderIn.model_validate(refunded).external_id == external_id


def test_the_simulator_takes_signed_stock_and_status_calls(simulator: MiniappSimulator) -> None:
    external_id = simulator.place_order([("MUG-CERAMIC-350", 1, "39.00")], push=False)
    adapter = MiniappAdapter()
    config = sim_config(simulator)
    shipped = adapter.shipment_request(config, ShipmentUpdate(external_id, "SF", "SF9", "shipped"))
    unknown = adapter.shipment_request(config, ShipmentUpdate("MP-NONE", None, None, "cancelled"))
    assert shipped is not None
    assert unknown is not None
    with httpx.Client(timeout=5) as client:
        call(
            client,
            adapter,
            adapter.stock_request(config, StockUpdate("MUG-CERAMIC-350", 4, "MUG", 1)),
        )
        call(client, adapter, shipped)
        with pytest.raises(CallRefused) as missing:
            call(client, adapter, unknown)
    assert simulator.stock == {"MUG-CERAMIC-350": 4}
    assert [s["status"] for s in simulator.statuses[external_id]] == ["shipped"]
    assert missing.value.code == "404"
    assert not missing.value.retry


def test_the_simulator_refuses_calls_signed_with_another_secret(
    simulator: MiniappSimulator,
) -> None:
    adapter = MiniappAdapter()
    request = adapter.stock_request(sim_config(simulator, "not-ours"), StockUpdate("T", 1, "T", 1))
    with httpx.Client(timeout=5) as client, pytest.raises(CallRefused) as caught:
        call(client, adapter, request)
    assert (caught.value.code, caught.value.retry) == ("401", False)
    assert simulator.stock == {}
    assert "does not match" in simulator.refused[-1][1]


def test_the_simulator_rate_limits_and_fails_as_our_back_end_does(
    simulator: MiniappSimulator,
) -> None:
    adapter = MiniappAdapter()
    request = adapter.stock_request(sim_config(simulator), StockUpdate("T", 2, "T", 1))
    simulator.faults.rate_limited = 1
    with httpx.Client(timeout=5) as client:
        with pytest.raises(CallRefused) as limited:
            call(client, adapter, request)
        simulator.faults.error_rate = 1.0
        with pytest.raises(CallRefused) as failing:
            call(client, adapter, request)
        simulator.faults.error_rate = 0.0
        call(client, adapter, request)
    assert (limited.value.code, limited.value.retry) == ("429", True)
    assert (failing.value.code, failing.value.retry) == ("500", True)
    assert simulator.stock == {"T": 2}
