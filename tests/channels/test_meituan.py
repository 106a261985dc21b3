"""美团 adapter: pushed form callbacks verified and read into canonical orders, the status and
refund tables, the platform's API calls and answers, and the simulator speaking the
platform's protocol.

Our own fixtures (tests/channels/fixtures/meituan) are callbacks and API answers written in
the platform's format with the demo SKUs. No Meituan sample is among ../shared/fixtures, so
there is no conformance test against published payloads for this channel.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest

from omnihub.adapters.channels import adapter_for
from omnihub.adapters.channels.meituan import mapper
from omnihub.adapters.channels.meituan.client import MeituanAdapter
from omnihub.adapters.channels.meituan.signature import sig
from omnihub.domain.errors import ErrorCode
from omnihub.domain.locations import DeliveryMode
from omnihub.domain.orders import OrderStatus
from omnihub.domain.values import Money
from omnihub.platforms.local_time import SHANGHAI
from omnihub.ports import (
    CallRefused,
    ChannelConfig,
    ChannelRefused,
    InboundRequest,
    InvalidChannelConfig,
    ShipmentUpdate,
    StockUpdate,
    UnknownChannelStatus,
    UnreadablePayload,
)
from omnihub.simulators.channels.meituan import MeituanSimulator

HERE = Path(__file__).parent / "fixtures" / "meituan"
S = OrderStatus
SECRET = "fixture-app-secret"
STORE = "ST-SH-JINGAN"
CALLBACK = "https://hub.example.com/api/v1/channels/mt-jingan/orders"
CONFIG = ChannelConfig(
    code="mt-jingan",
    adapter="meituan",
    secret=SECRET,
    credentials={
        "app_id": "6001",
        "callback_url": CALLBACK,
        "shops": {"mt-poi-jingan": STORE},
        "foods": {"TEE-WHITE-M": "SPU-TEE"},
    },
    endpoint="https://waimaiopen.meituan.com/api/v1",
)
ADAPTER = MeituanAdapter()
FORM = {"content-type": "application/x-www-form-urlencoded"}


def body(name: str) -> bytes:
    return (HERE / name).read_bytes()


def params(name: str) -> dict[str, str]:
    return dict(parse_qsl(body(name).decode(), keep_blank_values=True))


def request(raw: bytes | dict[str, str], query: dict[str, str] | None = None) -> InboundRequest:
    data = raw if isinstance(raw, bytes) else urlencode(raw).encode()
    return InboundRequest(body=data, headers=FORM, query=query or {})


def resigned(values: dict[str, str], secret: str = SECRET, **changes: str) -> dict[str, str]:
    changed = {k: v for k, v in dict(values, **changes).items() if k != "sig"}
    changed["sig"] = sig(CALLBACK, changed, secret)
    return changed


def answer(name: str) -> dict[str, Any]:
    return dict(json.loads(body(name)))


# -- the signature ---------------------------------------------------------------------------


@pytest.mark.unit
def test_sig_is_the_md5_of_url_question_mark_sorted_pairs_and_the_secret() -> None:
    values = {"timestamp": "1779076691", "app_id": "6001", "order_id": "27", "caution": ""}
    base = f"{CALLBACK}?app_id=6001&caution=&order_id=27&timestamp=1779076691{SECRET}"
    assert sig(CALLBACK, values, SECRET) == hashlib.md5(base.encode()).hexdigest()
    assert sig(CALLBACK, dict(values, sig="whatever"), SECRET) == sig(CALLBACK, values, SECRET)


@pytest.mark.unit
def test_a_correctly_signed_callback_gives_its_sig_as_message_id_and_its_send_time() -> None:
    verified = ADAPTER.verify(CONFIG, request(body("order_paid_callback.txt")))
    assert verified.message_id == "sig:" + params("order_paid_callback.txt")["sig"]
    assert verified.sent_at == datetime.fromtimestamp(1779076691, tz=UTC)


@pytest.mark.unit
def test_a_callback_whose_values_were_url_encoded_twice_verifies_and_reads_the_same() -> None:
    twice = request(body("order_paid_callback_double_encoded.txt"))
    once = request(body("order_paid_callback.txt"))
    assert ADAPTER.verify(CONFIG, twice) == ADAPTER.verify(CONFIG, once)
    (a,) = ADAPTER.parse(CONFIG, twice).orders
    (b,) = ADAPTER.parse(CONFIG, once).orders
    assert (a.lines, a.ship_to, a.total) == (b.lines, b.ship_to, b.total)


@pytest.mark.unit
def test_parameters_may_come_in_the_query_as_well_as_the_form() -> None:
    values = params("cancel_callback.txt")
    system = {k: values.pop(k) for k in ("app_id", "timestamp", "sig")}
    assert (
        ADAPTER.verify(CONFIG, request(values, query=system)).message_id == "sig:" + system["sig"]
    )


@pytest.mark.unit
@pytest.mark.parametrize(
    ("tamper", "why"),
    [
        (lambda v: resigned(v, secret="someone-else"), "does not match"),
        (lambda v: dict(v, total="1.00"), "does not match"),
        (lambda v: {k: x for k, x in v.items() if k != "sig"}, "has no sig"),
        (lambda v: resigned(v, app_id="7007"), "not this channel's app_id"),
        (lambda v: resigned(v, timestamp="yesterday"), "not Unix seconds"),
    ],
    ids=["other-secret", "value-changed", "unsigned", "other-app", "bad-timestamp"],
)
def test_a_forged_or_changed_callback_is_refused(tamper: Any, why: str) -> None:
    values = tamper(params("order_paid_callback.txt"))
    with pytest.raises(ChannelRefused, match=why) as refused:
        ADAPTER.verify(CONFIG, request(values))
    assert refused.value.code is ErrorCode.BAD_SIGNATURE


@pytest.mark.unit
def test_the_sig_covers_the_callback_url_so_another_url_is_refused() -> None:
    values = params("order_paid_callback.txt")
    values["sig"] = sig(CALLBACK.replace("hub.example.com", "evil.example.com"), values, SECRET)
    with pytest.raises(ChannelRefused, match="does not match"):
        ADAPTER.verify(CONFIG, request(values))
    no_url = ChannelConfig(
        code="mt", adapter="meituan", secret=SECRET, credentials={"shops": {"mt-poi-jingan": STORE}}
    )
    with pytest.raises(ChannelRefused, match="callback_url"):
        ADAPTER.verify(no_url, request(body("order_paid_callback.txt")))


# -- order callbacks: the whole order --------------------------------------------------------


@pytest.mark.unit
def test_a_paid_order_callback_becomes_a_same_day_order_at_the_shops_store() -> None:
    parsed = ADAPTER.parse(CONFIG, request(body("order_paid_callback.txt")))
    assert parsed.fetch is None
    assert parsed.ignored is None
    (order,) = parsed.orders
    assert order.channel == "mt-jingan"
    assert order.external_id == "27000000101"
    assert order.status is S.PAID
    assert not order.refund_requested
    assert order.delivery is DeliveryMode.SAME_DAY
    assert order.pickup_location == STORE
    assert order.created_at == datetime(2026, 5, 18, 11, 58, 9, tzinfo=SHANGHAI)
    assert order.updated_at == datetime(2026, 5, 18, 11, 58, 10, tzinfo=SHANGHAI)  # utime
    assert [(ln.channel_sku, ln.qty, ln.unit_price, ln.discount) for ln in order.lines] == [
        ("TEE-WHITE-M", 2, Money.of("59.00"), Money.of("0")),
        ("SPU-MUG", 1, Money.of("39.00"), Money.of("7.80")),  # no sku_id; food_discount 0.8
    ]
    assert order.shipping_fee == Money.of("5.50")  # shipping 5 + one box at 0.5
    assert order.total == Money.of("154.70")
    lines = sum(
        (ln.unit_price.amount * ln.qty - ln.discount.amount for ln in order.lines), Decimal("0")
    )
    assert lines + order.shipping_fee.amount == order.total.amount
    assert order.payment is not None
    assert order.payment.provider == "meituan"
    assert not order.cod
    assert (order.buyer.name, order.buyer.phone) == ("王(先生)", "1**********7")
    assert order.buyer.masked == ("phone",)
    address = order.ship_to
    assert (address.province, address.city, address.district) == ("上海市", "上海市", "静安区")
    assert (address.lat, address.lon) == (31.2281, 121.454)
    assert address.masked == ("phone",)
    assert json.loads(order.raw)["order_id"] == "27000000101"


@pytest.mark.unit
def test_cash_on_delivery_records_no_payment() -> None:
    native = dict(params("order_paid_callback.txt"), pay_type="1")
    order = mapper.to_order("mt", {"mt-poi-jingan": STORE}, native, "")
    assert order.cod
    assert order.payment is None
    assert order.status is S.PAID


@pytest.mark.unit
def test_an_order_of_another_shop_or_without_foods_is_unreadable_with_the_reason() -> None:
    native = dict(params("order_paid_callback.txt"), app_poi_code="mt-poi-other")
    with pytest.raises(UnreadablePayload, match="mt-poi-other.*credentials.shops"):
        mapper.to_order("mt", {"mt-poi-jingan": STORE}, native, "")
    for detail, why in (
        ("[]", "no detail"),
        ("[{", "not valid JSON"),
        ('[{"quantity":1}]', "neither sku_id"),
    ):
        native = dict(params("order_paid_callback.txt"), detail=detail)
        with pytest.raises(UnreadablePayload, match=why):
            mapper.to_order("mt", {"mt-poi-jingan": STORE}, native, "")


@pytest.mark.unit
def test_a_signed_callback_with_an_unreadable_detail_is_unreadable_not_refused() -> None:
    values = resigned(params("order_paid_callback.txt"), detail='[{"sku_id":')
    ADAPTER.verify(CONFIG, request(values))
    with pytest.raises(UnreadablePayload, match="not valid JSON"):
        ADAPTER.parse(CONFIG, request(values))


# -- notices: the order is fetched -----------------------------------------------------------


@pytest.mark.unit
def test_a_cancel_callback_names_the_order_which_is_fetched_in_full() -> None:
    parsed = ADAPTER.parse(CONFIG, request(body("cancel_callback.txt")))
    assert parsed.orders == []
    assert parsed.fetch == ["27000000101"]
    call = ADAPTER.fetch_request(CONFIG, "27000000101")
    assert (call.method, call.url) == (
        "GET",
        "https://waimaiopen.meituan.com/api/v1/order/getOrderDetail",
    )
    assert call.params is not None
    query = dict(call.params)
    assert (query["order_id"], query["app_id"]) == ("27000000101", "6001")
    assert query["sig"] == sig(call.url, query, SECRET)


@pytest.mark.unit
def test_the_fetched_order_detail_reads_like_the_callback() -> None:
    native = ADAPTER.read_fetched(CONFIG, 200, body("order_detail_answer.json"))
    order = ADAPTER.to_order(CONFIG, native, json.dumps(native))
    (pushed,) = ADAPTER.parse(CONFIG, request(body("order_paid_callback.txt"))).orders
    assert order.status is S.PAID  # 4: accepted by the shop
    assert (order.lines, order.total, order.shipping_fee) == (
        pushed.lines,
        pushed.total,
        pushed.shipping_fee,
    )
    assert order.updated_at == datetime.fromtimestamp(1779076800, tz=UTC)


@pytest.mark.unit
def test_a_refund_callback_fetches_the_order_and_adds_what_the_order_does_not_show() -> None:
    parsed = ADAPTER.parse(CONFIG, request(body("refund_apply_callback.txt")))
    (key,) = parsed.fetch or []
    assert key == "27000000101#refund=apply@1779077000"
    assert dict(ADAPTER.fetch_request(CONFIG, key).params or {})["order_id"] == "27000000101"
    native = ADAPTER.read_fetched(CONFIG, 200, body("order_detail_answer.json"))
    fetched = ADAPTER.to_order(CONFIG, native, "")
    order = ADAPTER.after_fetch(CONFIG, key, fetched)
    assert order.refund_requested
    assert order.status is S.PAID
    assert order.updated_at == datetime.fromtimestamp(1779077000, tz=UTC)  # after its utime
    assert ADAPTER.after_fetch(CONFIG, "27000000101", fetched) is fetched


@pytest.mark.unit
@pytest.mark.parametrize(
    ("notify_type", "status", "expected"),
    [
        ("apply", 4, (S.PAID, True)),
        ("reject", 4, (S.PAID, False)),
        ("cancelRefund", 4, (S.PAID, False)),
        ("cancelRefundComplaint", 4, (S.PAID, False)),
        ("agree", 9, (S.CANCELLED, False)),  # refunded before delivery: cancelled
        ("agree", 8, (S.REFUNDED, False)),  # after completion: refunded
        ("apply", 8, (S.COMPLETED, False)),  # after completion: an after-sale, not a hold
    ],
)
def test_every_refund_notice_leaves_the_fetched_order_at_its_state(
    notify_type: str, status: int, expected: tuple[OrderStatus, bool]
) -> None:
    native = dict(answer("order_detail_answer.json")["data"], status=status)
    fetched = mapper.to_order("mt", {"mt-poi-jingan": STORE}, native, "")
    order = mapper.with_notice(mapper.notice_key("27000000101", notify_type, "1779077000"), fetched)
    assert (order.status, order.refund_requested) == expected


@pytest.mark.unit
def test_an_unknown_refund_notice_is_a_clear_error() -> None:
    values = resigned(params("refund_apply_callback.txt"), notify_type="partial-ish")
    with pytest.raises(UnknownChannelStatus, match="partial-ish"):
        ADAPTER.parse(CONFIG, request(values))


@pytest.mark.unit
def test_delivery_callbacks_are_answered_and_ignored_and_status_ones_fetch() -> None:
    delivery = {"order_id": "27000000101", "logistics_status": "20", "time": "1779077000"}
    parsed = ADAPTER.parse(CONFIG, request(delivery))
    assert parsed.orders == []
    assert not parsed.fetch
    assert "rider" in (parsed.ignored or "")
    status_only = {"order_id": "27000000101", "status": "8"}
    assert ADAPTER.parse(CONFIG, request(status_only)).fetch == ["27000000101"]
    with pytest.raises(UnreadablePayload, match="no order_id"):
        ADAPTER.parse(CONFIG, request({"status": "8"}))
    assert ADAPTER.acknowledge([]) == {"data": "ok"}


# -- the status table ------------------------------------------------------------------------


@pytest.mark.unit
def test_the_status_table_covers_every_documented_status_and_leads_back() -> None:
    assert set(mapper.ORDER_STATUS) == {1, 2, 3, 4, 6, 7, 8, 9}
    assert set(mapper.REFUND_NOTICES) == {
        "apply",
        "agree",
        "reject",
        "cancelRefund",
        "cancelRefundComplaint",
    }
    for native, canonical in mapper.TO_CANONICAL.items():
        assert mapper.TO_CANONICAL[mapper.TO_NATIVE[canonical]] is canonical, native
    assert set(mapper.TO_NATIVE) == set(S) - {S.HELD}  # held is the hub's own


@pytest.mark.unit
@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("1", S.CREATED),
        ("2", S.PAID),
        (3, S.PAID),
        ("4", S.PAID),
        ("6", S.SHIPPED),
        ("7", S.DELIVERED),
        ("8", S.COMPLETED),
        ("9", S.CANCELLED),
    ],
)
def test_each_status_maps_to_the_hubs(status: Any, expected: OrderStatus) -> None:
    assert mapper.canonical_status(status) is expected


@pytest.mark.unit
@pytest.mark.parametrize("status", ["5", "10", "paid", None])
def test_an_unknown_status_is_a_clear_error_that_keeps_the_order(status: Any) -> None:
    native = dict(params("order_paid_callback.txt"), status=status)
    with pytest.raises(UnknownChannelStatus) as unknown:
        mapper.to_order("mt", {"mt-poi-jingan": STORE}, native, "")
    assert unknown.value.code is ErrorCode.UNKNOWN_CHANNEL_STATUS


# -- calls to the platform -------------------------------------------------------------------


@pytest.mark.unit
def test_stock_is_set_with_a_signed_retail_sku_stock_call() -> None:
    call = ADAPTER.stock_request(CONFIG, StockUpdate("TEE-WHITE-M", 6, "TEE-WHITE-M", 2))
    assert (call.method, call.url) == (
        "POST",
        "https://waimaiopen.meituan.com/api/v1/retail/sku/stock",
    )
    form = dict(parse_qsl(call.body.decode()))
    assert form["app_poi_code"] == "mt-poi-jingan"
    assert json.loads(form["food_data"]) == [
        {"app_food_code": "SPU-TEE", "skus": [{"sku_id": "TEE-WHITE-M", "stock": "6"}]}
    ]
    system = dict(call.params or {})
    assert system["sig"] == sig(call.url, {**form, **system}, SECRET)
    plain = ADAPTER.stock_request(CONFIG, StockUpdate("CAP-NAVY", -1, "CAP-NAVY", 1))
    food = json.loads(dict(parse_qsl(plain.body.decode()))["food_data"])
    assert food == [{"app_food_code": "CAP-NAVY", "skus": [{"sku_id": "CAP-NAVY", "stock": "0"}]}]


@pytest.mark.unit
def test_a_channel_of_several_shops_must_say_which_shop_its_stock_is() -> None:
    many = ChannelConfig(
        code="mt",
        adapter="meituan",
        secret=SECRET,
        endpoint="http://x",
        credentials={"app_id": "6001", "shops": {"a": STORE, "b": "ST-2"}},
    )
    with pytest.raises(InvalidChannelConfig, match="stock_poi"):
        ADAPTER.stock_request(many, StockUpdate("TEE-WHITE-M", 1, "T", 1))
    chosen = ChannelConfig(
        code="mt",
        adapter="meituan",
        secret=SECRET,
        endpoint="http://x",
        credentials={**(many.credentials or {}), "stock_poi": "b"},
    )
    form = dict(parse_qsl(ADAPTER.stock_request(chosen, StockUpdate("T", 1, "T", 1)).body.decode()))
    assert form["app_poi_code"] == "b"


@pytest.mark.unit
def test_the_store_reserving_confirms_the_order_and_packing_readies_it() -> None:
    confirm = ADAPTER.shipment_request(CONFIG, ShipmentUpdate("27", None, None, "allocated"))
    assert confirm is not None
    assert (confirm.method, confirm.url.rsplit("/api/v1", 1)[-1]) == ("POST", "/order/confirm")
    assert dict(parse_qsl(confirm.body.decode())) == {"order_id": "27"}
    # 商家确认已完成拣货 is a GET (open-shangou docDetail 217): every parameter in the query
    ready = ADAPTER.shipment_request(CONFIG, ShipmentUpdate("27", None, None, "picked"))
    assert ready is not None
    assert ready.method == "GET"
    assert ready.url.endswith("/order/preparationMealComplete")
    assert ready.params is not None
    assert ready.params["order_id"] == "27"
    assert not ready.body
    assert ADAPTER.shipment_request(CONFIG, ShipmentUpdate("27", "SF", "1", "shipped")) is None


@pytest.mark.unit
@pytest.mark.parametrize(
    ("status", "raw", "retry"),
    [
        (200, json.dumps(answer("answer_rate_limited.json")), True),
        (200, '{"data":"ng","error":{"code":700,"msg":"busy"}}', True),
        (200, '{"data":"ng","error":{"code":703,"msg":"sig"}}', False),
        (200, '{"data":"ng","error":{"code":808,"msg":"no order"}}', False),
        (200, '{"error":{"code":"x","msg":"odd"}}', False),
        (502, "", True),
        (429, "", True),
        (404, "", False),
        (200, "not json", True),
    ],
)
def test_platform_errors_are_refusals_retried_only_when_a_retry_may_work(
    status: int, raw: str, retry: bool
) -> None:
    with pytest.raises(CallRefused) as refused:
        ADAPTER.check_response(status, raw.encode())
    assert refused.value.retry is retry


@pytest.mark.unit
def test_successful_answers_pass_and_the_registry_names_the_adapter() -> None:
    ADAPTER.check_response(200, b'{"data":"ok"}')
    ADAPTER.check_response(200, body("order_detail_answer.json"))
    assert isinstance(adapter_for("meituan"), MeituanAdapter)
    assert "sku_id" in MeituanAdapter.line_identity


# -- the simulator speaks the platform's protocol --------------------------------------------


@pytest.fixture
def platform() -> Any:
    with MeituanSimulator(secret=SECRET, seed=3) as sim:
        sim.hub_url = sim.url + "/no-hub"  # callbacks answered 404: the orders stay
        yield sim


def sim_config(sim: MeituanSimulator) -> ChannelConfig:
    return ChannelConfig(
        code="mt",
        adapter="meituan",
        secret=sim.secret,
        credentials=sim.credentials(STORE, sim.callback_url),
        endpoint=sim.api_url,
    )


def send(call: Any) -> httpx.Response:
    return httpx.request(
        call.method,
        call.url,
        content=call.body or None,
        headers=call.headers,
        params=call.params,
        timeout=5,
    )


@pytest.mark.integration
def test_the_simulator_takes_signed_stock_calls_and_refuses_forged_ones(
    platform: MeituanSimulator,
) -> None:
    config = sim_config(platform)
    response = send(ADAPTER.stock_request(config, StockUpdate("MUG-CERAMIC-350", 4, "M", 1)))
    ADAPTER.check_response(response.status_code, response.content)
    assert platform.stock == {"MUG-CERAMIC-350": 4}
    forged = ChannelConfig(
        code="mt",
        adapter="meituan",
        secret="wrong",
        credentials=config.credentials,
        endpoint=config.endpoint,
    )
    response = send(ADAPTER.stock_request(forged, StockUpdate("MUG-CERAMIC-350", 9, "M", 2)))
    with pytest.raises(CallRefused, match="703") as refused:
        ADAPTER.check_response(response.status_code, response.content)
    assert not refused.value.retry
    assert platform.stock == {"MUG-CERAMIC-350": 4}
    assert platform.refused
    assert "703" in platform.refused[0][1]


@pytest.mark.integration
def test_the_simulators_rate_limit_and_errors_are_the_platforms_own_and_retried(
    platform: MeituanSimulator,
) -> None:
    config = sim_config(platform)
    platform.faults.rate_limited = 1
    response = send(ADAPTER.stock_request(config, StockUpdate("CAP-NAVY", 2, "C", 1)))
    with pytest.raises(CallRefused, match="711") as limited:
        ADAPTER.check_response(response.status_code, response.content)
    assert limited.value.retry
    platform.faults.error_rate = 1.0
    response = send(ADAPTER.stock_request(config, StockUpdate("CAP-NAVY", 2, "C", 1)))
    with pytest.raises(CallRefused, match="700") as failed:
        ADAPTER.check_response(response.status_code, response.content)
    assert failed.value.retry
    platform.faults.error_rate = 0.0
    response = send(ADAPTER.stock_request(config, StockUpdate("CAP-NAVY", 2, "C", 1)))
    ADAPTER.check_response(response.status_code, response.content)
    assert platform.stock == {"CAP-NAVY": 2}


@pytest.mark.integration
def test_an_order_fetched_from_the_simulator_reads_at_its_current_state(
    platform: MeituanSimulator,
) -> None:
    config = sim_config(platform)
    order_id = platform.place_order([("TEE-WHITE-M", 1)], phone="13800000000_1234")
    platform.cancel(order_id)
    response = send(ADAPTER.fetch_request(config, order_id))
    native = ADAPTER.read_fetched(config, response.status_code, response.content)
    order = ADAPTER.to_order(config, native, "")
    assert order.external_id == order_id
    assert order.status is S.CANCELLED
    assert order.buyer.phone == "13800000000_1234"
    assert order.buyer.masked == ()
    assert order.updated_at > order.created_at  # every change moves utime on
    pushed = [p for p in platform.calls if p.path == "/no-hub/orders"]
    assert len(pushed) == 2  # the paid order, then the cancellation
    first = dict(parse_qsl(pushed[0].body.decode()))
    verify = ChannelConfig(
        code="mt", adapter="meituan", secret=SECRET, credentials=sim_config(platform).credentials
    )
    assert ADAPTER.verify(verify, InboundRequest(pushed[0].body, FORM, {})).message_id == (
        "sig:" + first["sig"]
    )


@pytest.mark.integration
def test_the_simulator_takes_the_acceptance_and_the_packing_by_their_documented_methods(
    platform: MeituanSimulator,
) -> None:
    config = sim_config(platform)
    order_id = platform.place_order([("TEE-WHITE-M", 1)])
    for status in ("allocated", "picked"):
        call = ADAPTER.shipment_request(config, ShipmentUpdate(order_id, None, None, status))
        assert call is not None
        response = send(call)
        ADAPTER.check_response(response.status_code, response.content)
    assert (platform.confirmed, platform.prepared) == ([order_id], [order_id])
    assert platform.refused == []
