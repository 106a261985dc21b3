"""The JD adapter without a hub: the orderInfo mapper on our own fixtures (and, when present,
the real published sample in ../shared/fixtures), the orderState table, JOS signing, the
router calls the adapter builds and how it reads JD's answers, and the simulator that speaks
JD's protocol over real HTTP."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from tests.shared_samples import SHARED_FIXTURES

from omnihub.adapters.channels import adapter_for
from omnihub.adapters.channels.jd import client, mapper
from omnihub.adapters.channels.jd.client import JdAdapter
from omnihub.adapters.channels.jd.signature import jd_time, sign, signed
from omnihub.adapters.channels.transport import call, pages
from omnihub.domain.orders import OrderStatus
from omnihub.domain.values import Money
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
from omnihub.simulators.channels.jd import JdSimulator

HERE = Path(__file__).parent
OURS = HERE / "fixtures" / "jd"
FIXTURES = SHARED_FIXTURES
REAL_SAMPLE = FIXTURES / "jd" / "jd_pop_orderInfo_test_order_249786309732_from_go_snippet.json"

SECRET = "jd-test-secret"
CONFIG = ChannelConfig(
    code="jd-flagship",
    adapter="jd",
    secret=SECRET,
    endpoint="http://jd.invalid",
    credentials={
        "app_key": "APPKEY1",
        "access_token": "TOKEN1",
        "skus": {"TEE-WHITE-M": "100000000101"},
    },
)
ADAPTER = JdAdapter()


def ours(name: str) -> dict[str, Any]:
    return json.loads((OURS / name).read_text(encoding="utf-8"))


def form(body: bytes) -> dict[str, str]:
    return dict(parse_qsl(body.decode(), keep_blank_values=True))


# -- the mapper --------------------------------------------------------------------------------


@pytest.mark.unit
def test_a_paid_order_maps_lines_amounts_buyer_and_beijing_times() -> None:
    order = mapper.to_order(ours("order_paid_two_lines.json"), channel="jd-flagship", raw="{}")
    assert order.external_id == "300000000101"
    assert order.status is OrderStatus.PAID
    assert not order.refund_requested
    assert [(line.channel_sku, line.qty, line.unit_price) for line in order.lines] == [
        ("TEE-WHITE-M", 2, Money.of("59.00")),
        ("100000000202", 1, Money.of("39.00")),
    ]
    # the seller's 10.00 off is shared over 118.00 and 39.00 to the cent
    assert [line.discount for line in order.lines] == [Money.of("7.51"), Money.of("2.49")]
    # the total is the shop's: goods less its own discount plus freight, i.e. lines + shipping
    assert order.total == Money.of("153.00")
    assert order.shipping_fee == Money.of("6.00")
    lines = sum((ln.unit_price.times(ln.qty) - ln.discount for ln in order.lines), Money.of(0))
    assert lines + order.shipping_fee == order.total
    assert order.created_at == datetime(2026, 6, 17, 16, 0, 5, tzinfo=UTC)
    assert order.updated_at == datetime(2026, 6, 17, 16, 0, 41, tzinfo=UTC)
    assert order.payment is not None
    assert order.payment.paid_at == order.updated_at
    assert order.payment.amount == Money.of("148.00")  # the buyer's, after JD's 5.00 coupon
    assert order.buyer.channel_buyer_id == "jd_demo_buyer_0001"
    assert order.remark == "请用纸箱包装"
    assert order.raw == "{}"
    assert not order.cod


@pytest.mark.unit
def test_the_encrypted_consignee_is_kept_as_given_and_named_in_masked() -> None:
    native = ours("order_paid_two_lines.json")
    ship_to = mapper.to_order(native, channel="jd").ship_to
    assert ship_to.name == native["consigneeInfo"]["fullname"]
    assert ship_to.address == native["consigneeInfo"]["fullAddress"]
    assert ship_to.phone == "138*******1"
    assert ship_to.masked == ("name", "phone", "address")
    assert (ship_to.province, ship_to.city, ship_to.district) == ("上海", "上海市", "静安区")


@pytest.mark.unit
def test_a_plain_consignee_is_not_marked_masked_but_a_desen_companion_marks_its_field() -> None:
    consignee = {"fullname": "王小明", "mobile": "13800000001", "fullAddress": "上海市静安区1号"}
    assert mapper.address(consignee).masked == ()
    assert mapper.address({**consignee, "desen_mobile": "ab12"}).masked == ("phone",)


@pytest.mark.unit
def test_an_unpaid_cash_on_delivery_order_is_created_without_a_payment() -> None:
    order = mapper.to_order(ours("order_not_paid.json"), channel="jd")
    assert order.status is OrderStatus.CREATED
    assert order.payment is None
    assert order.cod


@pytest.mark.unit
def test_a_locked_order_is_paid_with_the_buyers_cancellation_request_open() -> None:
    page = ours("search_answer_page.json")
    locked, cancelled = page["jingdong_pop_order_search_responce"]["searchorderinfo_result"][
        "orderInfoList"
    ]
    order = mapper.to_order(locked, channel="jd")
    assert order.status is OrderStatus.PAID
    assert order.refund_requested
    assert order.ship_to.masked == ("name", "phone", "address")
    assert mapper.to_order(cancelled, channel="jd").status is OrderStatus.CANCELLED


@pytest.mark.unit
def test_the_line_identity_is_the_outer_sku_id_else_the_jd_sku_id() -> None:
    assert mapper.line_identity({"outerSkuId": "TEE-WHITE-M", "skuId": "1"}) == "TEE-WHITE-M"
    assert mapper.line_identity({"outerSkuId": " ", "skuId": 100000000202}) == "100000000202"
    with pytest.raises(UnreadablePayload, match="neither outerSkuId nor skuId"):
        mapper.line_identity({"outerSkuId": ""})
    assert "outerSkuId" in ADAPTER.line_identity


@pytest.mark.unit
@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"itemInfoList": []}, "no itemInfoList"),
        ({"orderId": ""}, "empty orderId"),
        ({"modified": "yesterday"}, "not a time"),
        ({"sellerDiscount": "999.00"}, "larger than the goods"),
        ({"orderPayment": "abc"}, "not an amount"),
    ],
)
def test_an_order_the_mapper_cannot_read_is_refused_with_the_reason(
    change: dict[str, Any], complaint: str
) -> None:
    native = {**ours("order_paid_two_lines.json"), **change}
    with pytest.raises(UnreadablePayload, match=complaint):
        mapper.to_order(native, channel="jd")


@pytest.mark.unit
def test_a_line_quantity_that_is_not_a_positive_number_is_refused() -> None:
    native = copy.deepcopy(ours("order_paid_two_lines.json"))
    native["itemInfoList"][0]["itemTotal"] = "0"
    with pytest.raises(UnreadablePayload, match="must be positive"):
        mapper.to_order(native, channel="jd")


@pytest.mark.unit
def test_a_discount_is_spread_to_the_cent_and_never_exceeds_a_line() -> None:
    amounts = [Money.of("0.01"), Money.of("33.33"), Money.of("66.66")]
    shares = mapper.spread(Money.of("100.00"), amounts)
    assert shares == amounts
    shares = mapper.spread(Money.of("1.00"), [Money.of("1.00")] * 3)
    assert sum((s.amount for s in shares), Decimal(0)) == Decimal("1.00")
    assert all(s.amount <= Decimal("1.00") for s in shares)


# -- the status table --------------------------------------------------------------------------

DOCUMENTED_STATES = {
    "NOT_PAY",
    "WAIT_SELLER_STOCK_OUT",
    "WAIT_SELLER_DELIVERY",
    "WAIT_SEND_CODE",
    "LOCKED",
    "POP_ORDER_PAUSE",
    "PAUSE",
    "WAIT_GOODS_RECEIVE_CONFIRM",
    "FINISHED_L",
    "TRADE_CANCELED",
}


@pytest.mark.unit
def test_the_state_table_covers_every_documented_jd_order_state() -> None:
    assert set(mapper.STATES) == DOCUMENTED_STATES
    assert set(mapper.ALL_STATES.split(",")) == DOCUMENTED_STATES
    expected = {
        "NOT_PAY": (OrderStatus.CREATED, False),
        "WAIT_SELLER_STOCK_OUT": (OrderStatus.PAID, False),
        "WAIT_SELLER_DELIVERY": (OrderStatus.PAID, False),
        "WAIT_SEND_CODE": (OrderStatus.PAID, False),
        "LOCKED": (OrderStatus.PAID, True),
        "POP_ORDER_PAUSE": (OrderStatus.PAID, True),
        "PAUSE": (OrderStatus.PAID, True),
        "WAIT_GOODS_RECEIVE_CONFIRM": (OrderStatus.SHIPPED, False),
        "FINISHED_L": (OrderStatus.COMPLETED, False),
        "TRADE_CANCELED": (OrderStatus.CANCELLED, False),
    }
    assert {state: tuple(mapper.reading(state)) for state in DOCUMENTED_STATES} == expected


@pytest.mark.unit
@pytest.mark.parametrize("status", list(mapper.STATE_OF))
def test_the_way_back_gives_a_state_that_reads_as_the_same_status(status: OrderStatus) -> None:
    assert mapper.reading(mapper.STATE_OF[status]).status is status


@pytest.mark.unit
def test_an_unknown_state_is_a_clear_exception_naming_it() -> None:
    native = {**ours("order_paid_two_lines.json"), "orderState": "WAIT_SOMETHING_NEW"}
    with pytest.raises(UnknownChannelStatus, match="WAIT_SOMETHING_NEW") as caught:
        mapper.to_order(native, channel="jd")
    assert caught.value.details == {"status": "WAIT_SOMETHING_NEW"}
    assert isinstance(caught.value, UnreadablePayload)  # the order waits in the inbound log


# -- signing -----------------------------------------------------------------------------------


@pytest.mark.unit
def test_the_signature_is_md5_of_secret_sorted_pairs_secret_in_upper_hex() -> None:
    params = {
        "v": "2.0",
        "method": "jingdong.pop.order.get",
        "app_key": "K",
        "timestamp": "2026-06-18 10:00:00",
        "access_token": "",
        "sign": "ignored",
    }
    text = (
        "S"
        + "app_keyK"
        + "methodjingdong.pop.order.get"
        + "timestamp2026-06-18 10:00:00"
        + "v2.0"
        + "S"
    )
    assert sign("S", params) == hashlib.md5(text.encode()).hexdigest().upper()
    assert signed("S", {"a": "1", "b": ""}) == {"a": "1", "sign": sign("S", {"a": "1"})}


@pytest.mark.unit
def test_jd_times_are_beijing_local_time_to_the_second() -> None:
    assert jd_time(datetime(2026, 6, 17, 16, 0, 5, 900_000, tzinfo=UTC)) == "2026-06-18 00:00:05"


def push(
    native: dict[str, Any],
    *,
    secret: str = SECRET,
    at: datetime | None = None,
    msg_id: str | None = "m-1",
    **query: str,
) -> InboundRequest:
    body = json.dumps(native, ensure_ascii=False).encode()
    params = {"app_key": "APPKEY1", "timestamp": jd_time(at or datetime.now(UTC))}
    if msg_id:
        params["msg_id"] = msg_id
    params.update(query)
    params["sign"] = sign(secret, params, body)
    return InboundRequest(body=body, headers={"content-type": "application/json"}, query=params)


@pytest.mark.unit
def test_a_correctly_signed_push_gives_its_message_id_and_when_it_was_sent() -> None:
    sent = datetime(2026, 6, 18, 2, 0, 0, tzinfo=UTC)
    verified = ADAPTER.verify(CONFIG, push(ours("order_paid_two_lines.json"), at=sent))
    assert verified.message_id == "m-1"
    assert verified.sent_at == sent


@pytest.mark.unit
def test_a_push_signed_with_another_secret_or_changed_on_the_way_is_refused() -> None:
    with pytest.raises(ChannelRefused, match="does not match"):
        ADAPTER.verify(CONFIG, push(ours("order_paid_two_lines.json"), secret="wrong"))
    good = push(ours("order_paid_two_lines.json"))
    tampered = InboundRequest(
        body=good.body.replace(b"148.00", b"1.00"), headers=good.headers, query=good.query
    )
    with pytest.raises(ChannelRefused, match="does not match"):
        ADAPTER.verify(CONFIG, tampered)
    unsigned = InboundRequest(
        body=good.body, headers={}, query={k: v for k, v in good.query.items() if k != "sign"}
    )
    with pytest.raises(ChannelRefused, match="no JD sign"):
        ADAPTER.verify(CONFIG, unsigned)
    with pytest.raises(ChannelRefused, match="another app_key"):
        ADAPTER.verify(CONFIG, push(ours("order_paid_two_lines.json"), app_key="OTHER"))


@pytest.mark.unit
def test_a_pushed_order_info_is_parsed_and_an_id_alone_is_fetched() -> None:
    parsed = ADAPTER.parse(CONFIG, push(ours("order_paid_two_lines.json")))
    assert [o.external_id for o in parsed.orders] == ["300000000101"]
    assert not parsed.fetch
    parsed = ADAPTER.parse(CONFIG, push(ours("search_answer_page.json")))
    assert [o.external_id for o in parsed.orders] == ["300000000102", "300000000103"]
    parsed = ADAPTER.parse(CONFIG, push({"orderId": "300000000999"}))
    assert parsed.orders == []
    assert parsed.fetch == ["300000000999"]


@pytest.mark.unit
@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"hello": "world"}'])
def test_a_push_that_holds_no_order_is_unreadable(body: bytes) -> None:
    with pytest.raises(UnreadablePayload):
        ADAPTER.parse(CONFIG, InboundRequest(body=body, headers={}, query={}))


# -- the calls the adapter builds --------------------------------------------------------------


@pytest.mark.unit
def test_the_pull_asks_for_every_state_by_modified_time_in_beijing_time() -> None:
    start = datetime(2026, 6, 17, 16, 0, 0, tzinfo=UTC)
    request = ADAPTER.pull_request(CONFIG, start, start + timedelta(hours=1), 3)
    assert request.method == "POST"
    assert request.url == "http://jd.invalid/routerjson"
    params = form(request.body)
    assert params["method"] == "jingdong.pop.order.search"
    assert params["v"] == "2.0"
    assert params["app_key"] == "APPKEY1"
    assert params["access_token"] == "TOKEN1"
    assert params["sign"] == sign(SECRET, params)
    business = json.loads(params["360buy_param_json"])
    assert business["start_date"] == "2026-06-18 00:00:00"
    assert business["end_date"] == "2026-06-18 01:00:00"
    assert (business["dateType"], business["page"], business["page_size"]) == ("0", "3", "100")
    assert set(business["order_state"].split(",")) == DOCUMENTED_STATES
    assert "modified" in business["optional_fields"].split(",")


@pytest.mark.unit
def test_a_page_keeps_each_order_as_jd_gave_it_and_an_entry_that_is_no_object_on_its_own() -> None:
    answer = ours("search_answer_page.json")
    answer["jingdong_pop_order_search_responce"]["searchorderinfo_result"]["orderInfoList"].append(
        "garbage"
    )
    page = ADAPTER.read_page(CONFIG, 200, json.dumps(answer).encode())
    assert [p.external_id for p in page.orders] == ["300000000102", "300000000103", "?"]
    assert page.orders[2].native == {"unreadable": "garbage"}
    assert not page.has_more
    with pytest.raises(UnreadablePayload):
        ADAPTER.to_order(CONFIG, page.orders[2].native, "garbage")


@pytest.mark.unit
def test_stock_goes_by_jd_sku_id_from_the_credentials_or_a_numeric_channel_sku() -> None:
    request = ADAPTER.stock_request(CONFIG, StockUpdate("TEE-WHITE-M", 42, "TEE-WHITE-M", 7))
    params = form(request.body)
    assert params["method"] == "jingdong.stock.write.updateSkuStock"
    assert json.loads(params["360buy_param_json"]) == {"skuId": 100000000101, "stockNum": 42}
    request = ADAPTER.stock_request(CONFIG, StockUpdate("100000000202", -3, "MUG", 8))
    assert json.loads(form(request.body)["360buy_param_json"]) == {
        "skuId": 100000000202,
        "stockNum": 0,
    }
    with pytest.raises(InvalidChannelConfig, match="credentials.skus"):
        ADAPTER.stock_request(CONFIG, StockUpdate("CAP-NAVY", 1, "CAP-NAVY", 1))


@pytest.mark.unit
def test_a_shipment_names_jd_logistics_company_and_tracking_number() -> None:
    request = ADAPTER.shipment_request(
        CONFIG, ShipmentUpdate("300000000101", "sf", "SF123", "shipped")
    )
    assert request is not None
    assert json.loads(form(request.body)["360buy_param_json"]) == {
        "orderId": "300000000101",
        "logiCoprId": "467",
        "logiNo": "SF123",
    }
    own = ChannelConfig(
        code="jd",
        adapter="jd",
        secret=SECRET,
        endpoint="http://jd.invalid",
        credentials={"app_key": "K", "carriers": {"DEMO": "9999"}},
    )
    request = ADAPTER.shipment_request(own, ShipmentUpdate("1", "DEMO", "D1", "shipped"))
    assert request is not None
    assert '"logiCoprId":"9999"' in form(request.body)["360buy_param_json"]
    request = ADAPTER.shipment_request(CONFIG, ShipmentUpdate("1", None, None, "shipped"))
    assert request is not None
    assert '"logiCoprId":"1274"' in form(request.body)["360buy_param_json"]
    with pytest.raises(InvalidChannelConfig, match="no JD logiCoprId"):
        ADAPTER.shipment_request(CONFIG, ShipmentUpdate("1", "PIGEON", "P1", "shipped"))
    for status in ("delivered", "cancelled", "refunded"):
        assert ADAPTER.shipment_request(CONFIG, ShipmentUpdate("1", "SF", "S", status)) is None
    assert ADAPTER.pushes == frozenset({"shipped"})


@pytest.mark.unit
def test_a_call_without_the_app_secret_or_app_key_is_a_configuration_error() -> None:
    bare = ChannelConfig(
        code="jd", adapter="jd", endpoint="http://jd.invalid", credentials={"app_key": "K"}
    )
    with pytest.raises(InvalidChannelConfig, match="app secret"):
        ADAPTER.fetch_request(bare, "1")
    keyless = ChannelConfig(code="jd", adapter="jd", secret="s", endpoint="http://jd.invalid")
    with pytest.raises(InvalidChannelConfig, match="app_key"):
        ADAPTER.fetch_request(keyless, "1")


# -- reading JD's answers ----------------------------------------------------------------------


@pytest.mark.unit
def test_jd_rate_limit_and_outages_may_be_retried_other_errors_may_not() -> None:
    with pytest.raises(CallRefused) as caught:
        ADAPTER.check_response(200, (OURS / "error_rate_limited.json").read_bytes())
    assert caught.value.retry
    assert caught.value.code == "2"
    for status in (429, 500, 503):
        with pytest.raises(CallRefused) as caught:
            ADAPTER.check_response(status, b'{"error": "down"}')
        assert caught.value.retry
    refusals = [
        b'{"error_response": {"code": "12", "zh_desc": "\\u65e0\\u6548\\u7b7e\\u540d"}}',
        (OURS / "shipment_answer_refused.json").read_bytes(),
        b'{"jingdong_stock_write_updateSkuStock_responce": {"code": "0", "success": false}}',
        b'{"jingdong_pop_order_search_responce": {"code": "0", "searchorderinfo_result": '
        b'{"apiResult": {"success": false, "chineseErrCode": "x"}}}}',
        b'{"jingdong_pop_order_get_responce": {"code": "1001"}}',
    ]
    for body in refusals:
        with pytest.raises(CallRefused) as caught:
            ADAPTER.check_response(200, body)
        assert not caught.value.retry, body
    ADAPTER.check_response(200, (OURS / "stock_answer_ok.json").read_bytes())
    ADAPTER.check_response(200, json.dumps(ours("search_answer_page.json")).encode())


@pytest.mark.unit
def test_the_registry_gives_the_jd_adapter() -> None:
    adapter = adapter_for("jd")
    assert isinstance(adapter, JdAdapter)
    assert adapter.pulls
    assert adapter.name == "jd"


# -- conformance on the real published sample --------------------------------------------------


@pytest.mark.unit
@pytest.mark.skipif(not REAL_SAMPLE.exists(), reason="../shared/fixtures is not here")
def test_the_real_jd_order_info_sample_maps_its_key_fields() -> None:
    native = json.loads(REAL_SAMPLE.read_text(encoding="utf-8"))
    order = mapper.to_order(native, channel="jd", raw=REAL_SAMPLE.read_text(encoding="utf-8"))
    assert order.external_id == "249786309732"
    assert order.status is OrderStatus.PAID
    assert not order.refund_requested
    assert [(line.channel_sku, line.qty) for line in order.lines] == [("testjd4206151136003", 1)]
    assert order.lines[0].unit_price == Money.of("1.00")
    assert (order.total, order.shipping_fee) == (Money.of("1.00"), Money.of("0.00"))
    assert order.buyer.channel_buyer_id == "jd_ituyy715jh7pssw"
    assert order.created_at.isoformat() == "2022-07-16T16:37:38+08:00"
    assert order.updated_at.isoformat() == "2022-07-16T16:38:32+08:00"
    assert order.payment is not None
    assert order.payment.paid_at.isoformat() == "2022-07-16T16:38:32+08:00"
    assert set(order.ship_to.masked) == {"name", "phone", "address"}
    assert order.ship_to.name == native["consigneeInfo"]["fullname"]  # kept, not decrypted
    # JSON-in-string fields stay strings in the raw order; nothing depends on them
    assert isinstance(native["sendpayMap"], str)
    assert isinstance(native["itemInfoList"][0]["itemExt"], str)


# -- the simulator over HTTP -------------------------------------------------------------------


@pytest.fixture
def jd_sim() -> Any:
    with JdSimulator(secret=SECRET, app_key="APPKEY1", access_token="TOKEN1") as sim:
        sim.add_item("TEE-WHITE-M", "100000000101", "59.00")
        sim.add_item(None, "100000000202", "39.00")
        yield sim


def sim_config(sim: JdSimulator) -> ChannelConfig:
    return ChannelConfig(
        code="jd-sim",
        adapter="jd",
        secret=sim.secret,
        endpoint=sim.url,
        credentials=sim.credentials,
    )


@pytest.mark.integration
def test_the_simulator_serves_a_modified_window_page_by_page(jd_sim: JdSimulator) -> None:
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=50)
    made = [
        jd_sim.create_order([("TEE-WHITE-M", 1)], at=base + timedelta(seconds=i))
        for i in range(250)
    ]
    jd_sim.create_order([("TEE-WHITE-M", 1)], at=base - timedelta(minutes=5))  # before
    config = sim_config(jd_sim)
    with httpx.Client(timeout=10) as http:
        got = [
            p
            for page in pages(http, ADAPTER, config, base, base + timedelta(minutes=30))
            for p in page.orders
        ]
    # read from the last page back, then page 1 again: every order, none missed
    assert sorted({p.external_id for p in got}) == sorted(made)
    assert len(got) == len(made) + 100
    orders = [ADAPTER.to_order(config, p.native, "") for p in got]
    assert {o.status for o in orders} == {OrderStatus.PAID}


@pytest.mark.integration
def test_the_simulator_applies_stock_and_shipments_and_refuses_a_wrong_signature(
    jd_sim: JdSimulator,
) -> None:
    config = sim_config(jd_sim)
    order_id = jd_sim.create_order([("100000000202", 2)])
    with httpx.Client(timeout=10) as http:
        call(http, ADAPTER, ADAPTER.stock_request(config, StockUpdate("TEE-WHITE-M", 5, "T", 1)))
        call(http, ADAPTER, ADAPTER.stock_request(config, StockUpdate("100000000202", 9, "M", 1)))
        assert jd_sim.stock == {"TEE-WHITE-M": 5, "100000000202": 9}
        call(
            http,
            ADAPTER,
            ADAPTER.shipment_request(config, ShipmentUpdate(order_id, "SF", "SF100", "shipped")),
        )
        assert jd_sim.shipments == [{"orderId": order_id, "logiCoprId": "467", "logiNo": "SF100"}]
        assert jd_sim.orders[order_id]["orderState"] == "WAIT_GOODS_RECEIVE_CONFIRM"
        with pytest.raises(CallRefused, match="订单状态不正确") as caught:  # shipped already
            call(
                http,
                ADAPTER,
                ADAPTER.shipment_request(
                    config, ShipmentUpdate(order_id, "SF", "SF100", "shipped")
                ),
            )
        assert not caught.value.retry
        forged = ChannelConfig(**{**_fields(config), "secret": "not-the-secret"})
        with pytest.raises(CallRefused, match="JD error 12") as caught:
            call(
                http, ADAPTER, ADAPTER.stock_request(forged, StockUpdate("TEE-WHITE-M", 1, "T", 2))
            )
        assert not caught.value.retry
        assert jd_sim.stock["TEE-WHITE-M"] == 5
        assert any("12 Invalid Signature" in why for _, why in jd_sim.refused)


@pytest.mark.integration
def test_the_simulator_rate_limits_and_fails_in_jd_error_codes_which_are_retried(
    jd_sim: JdSimulator,
) -> None:
    config = sim_config(jd_sim)
    jd_sim.faults.rate_limited = 1
    with httpx.Client(timeout=10) as http:
        with pytest.raises(CallRefused, match="App Call Limited") as caught:
            call(http, ADAPTER, ADAPTER.fetch_request(config, "1"))
        assert caught.value.retry
        assert caught.value.code == "2"
        jd_sim.faults.error_rate = 1.0
        with pytest.raises(CallRefused) as caught:
            call(http, ADAPTER, ADAPTER.fetch_request(config, "1"))
        assert caught.value.retry
        assert caught.value.code == "67"
        jd_sim.faults.error_rate = 0.0
        order_id = jd_sim.create_order([("TEE-WHITE-M", 3)])
        _, body = call(http, ADAPTER, ADAPTER.fetch_request(config, order_id))
        fetched = ADAPTER.read_fetched(config, 200, body)
        assert ADAPTER.to_order(config, fetched, "").lines[0].qty == 3


@pytest.mark.integration
def test_the_simulator_refuses_a_stale_timestamp(jd_sim: JdSimulator) -> None:
    params = signed(
        jd_sim.secret,
        {
            "method": client.GET,
            "app_key": jd_sim.app_key,
            "access_token": jd_sim.access_token,
            "timestamp": jd_time(datetime.now(UTC) - timedelta(minutes=7)),
            "v": "2.0",
            "360buy_param_json": json.dumps({"order_id": "1"}),
        },
    )
    answer = httpx.post(jd_sim.url + "/routerjson", data=params, timeout=10).json()
    assert answer["error_response"]["code"] == "8"


def _fields(config: ChannelConfig) -> dict[str, Any]:
    return {
        "code": config.code,
        "adapter": config.adapter,
        "secret": config.secret,
        "credentials": config.credentials,
        "endpoint": config.endpoint,
    }
