"""The 抖店 adapter without a hub: the order-detail mapper and its status tables, pushed message
batches, push and call signatures, the calls the hub makes and the answers it reads, and the
simulator's order book and open-platform calls spoken to by the adapter over HTTP."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.shared_samples import SHARED_FIXTURES

from omnihub.adapters.channels import adapter_for
from omnihub.adapters.channels.douyin import mapper, signature
from omnihub.adapters.channels.douyin.client import DouyinAdapter
from omnihub.adapters.channels.transport import call, fetcher
from omnihub.domain.errors import ErrorCode, InvalidInput
from omnihub.domain.locations import DeliveryMode
from omnihub.domain.orders import OrderStatus
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
from omnihub.simulators.channels.douyin import DouyinSimulator, Item

OWN = Path(__file__).parent / "fixtures" / "douyin"
FIXTURES = SHARED_FIXTURES
REAL = FIXTURES / "douyin"
APP_KEY, SECRET, TOKEN = "7152000000000000001", "douyin-app-secret-0001", "douyin-shop-token"
CONFIG = ChannelConfig(
    code="dy-shop",
    adapter="douyin",
    secret=SECRET,
    credentials={"app_key": APP_KEY, "access_token": TOKEN},
    endpoint="https://openapi.example.test",
)
S = OrderStatus
pytestmark = pytest.mark.unit


def own(name: str) -> Any:
    return json.loads((OWN / name).read_text(encoding="utf-8"))


def detail(name: str = "order_detail_paid.json") -> dict[str, Any]:
    return dict(own(name)["data"]["shop_order_detail"])


def pushed(body: bytes, headers: dict[str, str]) -> InboundRequest:
    return InboundRequest(body=body, headers={k.lower(): v for k, v in headers.items()}, query={})


def signed_query_matches(request: Any, secret: str = SECRET) -> bool:
    q = request.params
    expected = signature.request_signature(
        q["app_key"],
        secret,
        q["method"],
        request.body.decode(),
        q["timestamp"],
        q["sign_method"],
        q["v"],
    )
    return hmac.compare_digest(expected, q["sign"])


# -- the order-detail mapper -----------------------------------------------------------------


def test_a_paid_order_detail_becomes_a_paid_order_with_its_lines_amounts_and_times() -> None:
    order = mapper.to_order("dy-shop", detail(), "raw")
    assert (order.channel, order.external_id, order.status) == (
        "dy-shop",
        "6921843722911400001",
        S.PAID,
    )
    assert order.delivery is DeliveryMode.EXPRESS
    assert [(ln.channel_sku, ln.qty) for ln in order.lines] == [
        ("DY-TEE-WHITE-M", 2),
        ("1781234500002", 1),
    ]
    tee, mug = order.lines
    assert (tee.unit_price.amount, tee.discount.amount) == (Decimal("59.00"), Decimal("10.00"))
    assert (mug.unit_price.amount, mug.discount.amount) == (Decimal("39.00"), Decimal("0.00"))
    assert order.shipping_fee.amount == Decimal("10.00")
    assert order.total.amount == Decimal("157.00")
    assert order.created_at == datetime(2026, 11, 11, 8, 2, 1, tzinfo=SHANGHAI)
    assert order.updated_at == datetime(2026, 11, 11, 8, 2, 10, tzinfo=SHANGHAI)
    assert order.payment is not None
    assert (order.payment.provider, order.payment.transaction_id) == (
        "wechat",
        "4200002611202611110000000001",
    )
    assert order.payment.paid_at == datetime(2026, 11, 11, 8, 2, 5, tzinfo=SHANGHAI)
    assert order.buyer.channel_buyer_id == "1@#p9zX3kYb4mT2cQ=="
    assert order.remark == "请用纸箱包装"
    assert not order.refund_requested
    assert not order.cod
    assert order.raw == "raw"


def test_the_whole_answer_data_is_read_as_well_as_the_shop_order_detail_alone() -> None:
    whole = own("order_detail_paid.json")["data"]
    assert mapper.to_order("dy", whole, "") == mapper.to_order("dy", detail(), "")


def test_encrypted_receiver_fields_are_kept_as_given_and_listed_as_masked() -> None:
    order = mapper.to_order("dy-shop", detail(), "")
    native = detail()
    ship_to = order.ship_to
    assert ship_to.name == native["encrypt_post_receiver"]
    assert ship_to.phone == native["encrypt_post_tel"]
    assert ship_to.address == native["post_addr"]["encrypt_detail"]  # ciphertext kept alone
    assert set(ship_to.masked) == {"name", "phone", "address"}
    assert (ship_to.province, ship_to.city, ship_to.district) == ("上海市", "上海市", "静安区")


def test_a_plain_address_detail_is_joined_to_its_street_and_not_marked_masked() -> None:
    native = detail()
    del native["post_addr"]["encrypt_detail"]
    native["post_addr"]["detail"] = "1266 号"
    native["encrypt_post_receiver"], native["encrypt_post_tel"] = "张*", "138****8000"
    ship_to = mapper.to_order("dy", native, "").ship_to
    assert ship_to.address == "南京西路街道 1266 号"
    assert set(ship_to.masked) == {"name", "phone"}


def test_an_open_refund_request_before_shipment_marks_the_paid_order_refund_requested() -> None:
    order = mapper.to_order("dy", detail("order_detail_refund_requested.json"), "")
    assert order.status is S.PAID
    assert order.refund_requested


def test_a_refused_refund_request_leaves_the_order_to_be_fulfilled() -> None:
    native = detail("order_detail_refund_requested.json")
    for line in native["sku_order_list"]:
        line["after_sale_info"] = {
            "after_sale_status": 27,
            "after_sale_type": 2,
            "refund_status": 0,
        }
    order = mapper.to_order("dy", native, "")
    assert (order.status, order.refund_requested) == (S.PAID, False)


def test_an_exchange_request_is_not_a_refund_request() -> None:
    native = detail()
    native["sku_order_list"][0]["after_sale_info"] = {
        "after_sale_status": 6,
        "after_sale_type": 3,
        "refund_status": 0,
    }
    assert not mapper.to_order("dy", native, "").refund_requested


def test_an_order_closed_after_every_line_was_refunded_is_refunded() -> None:
    order = mapper.to_order("dy", detail("order_detail_refunded.json"), "")
    assert order.status is S.REFUNDED
    assert not order.refund_requested


def test_a_closed_order_with_one_line_kept_is_cancelled_not_refunded() -> None:
    native = detail("order_detail_refunded.json")
    native["sku_order_list"][1]["after_sale_info"] = {
        "after_sale_status": 0,
        "after_sale_type": 0,
        "refund_status": 0,
    }
    assert mapper.to_order("dy", native, "").status is S.CANCELLED


def test_an_unpaid_order_cancelled_is_cancelled_and_has_no_payment() -> None:
    order = mapper.to_order("dy", detail("order_detail_cancelled_unpaid.json"), "")
    assert (order.status, order.payment) == (S.CANCELLED, None)
    assert [ln.channel_sku for ln in order.lines] == ["DY-CAP-NAVY"]


def test_cash_on_delivery_is_marked_and_records_no_payment() -> None:
    native = detail()
    native["pay_type"] = 0
    order = mapper.to_order("dy", native, "")
    assert order.cod
    assert order.payment is None


@pytest.mark.parametrize("code", sorted(mapper.ORDER_STATUS))
def test_every_documented_order_status_maps_to_a_canonical_status(code: int) -> None:
    native = detail()
    native["order_status"] = code
    native["sku_order_list"][0].pop("after_sale_info")
    assert mapper.to_order("dy", native, "").status is mapper.ORDER_STATUS[code][1]
    assert mapper.canonical_status(str(code)) is mapper.ORDER_STATUS[code][1]


@pytest.mark.parametrize("status", [S.CREATED, S.PAID, S.SHIPPED, S.CANCELLED, S.COMPLETED])
def test_a_canonical_status_written_the_platform_way_reads_back_the_same(status: S) -> None:
    assert mapper.canonical_status(mapper.TO_NATIVE[status]) is status


def test_refunded_written_the_platform_way_is_a_closed_order_with_refunded_lines() -> None:
    native = detail("order_detail_refunded.json")
    assert native["order_status"] == mapper.TO_NATIVE[S.REFUNDED]
    assert mapper.to_order("dy", native, "").status is S.REFUNDED


@pytest.mark.parametrize("status", [99, "abc", None])
def test_an_order_status_not_in_the_table_is_a_clear_error(status: Any) -> None:
    native = detail()
    native["order_status"] = status
    with pytest.raises(UnreadablePayload) as caught:
        mapper.to_order("dy", native, "")
    if status is not None:  # a missing status is a missing field, named as such
        assert isinstance(caught.value, UnknownChannelStatus)
        assert caught.value.code is ErrorCode.UNKNOWN_CHANNEL_STATUS
        assert "douyin" in caught.value.message
        assert repr(status) in caught.value.message
    else:
        assert "order_status" in caught.value.message


@pytest.mark.parametrize("code", sorted(mapper.AFTER_SALE_STATUS))
def test_every_documented_after_sale_status_is_read(code: int) -> None:
    line = {
        "after_sale_info": {"after_sale_status": code, "after_sale_type": 2, "refund_status": 0}
    }
    assert mapper.line_after_sale(line).state is mapper.AFTER_SALE_STATUS[code][1]


@pytest.mark.parametrize(
    ("key", "value"), [("after_sale_status", 99), ("after_sale_type", 9), ("refund_status", 7)]
)
def test_an_after_sale_code_not_in_its_table_is_a_clear_error(key: str, value: int) -> None:
    native = detail()
    native["sku_order_list"][0]["after_sale_info"][key] = value
    with pytest.raises(UnknownChannelStatus, match=key):
        mapper.to_order("dy", native, "")


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda d: d.pop("order_id"), "order_id"),
        (lambda d: d.update(sku_order_list=[]), "sku_order_list"),
        (lambda d: d["sku_order_list"][0].update(code="", sku_id=None), "neither code nor sku_id"),
        (lambda d: d["sku_order_list"][0].update(item_num=0), "quantity"),
        (lambda d: d["sku_order_list"][0].update(origin_amount="12.5元"), "cents"),
        (lambda d: d.update(create_time="yesterday"), "time"),
    ],
)
def test_an_order_the_mapper_cannot_read_says_what_is_wrong(change: Any, why: str) -> None:
    native = detail()
    change(native)
    with pytest.raises(UnreadablePayload, match=why):
        mapper.to_order("dy", native, "")


# -- pushed messages -------------------------------------------------------------------------


def test_a_message_batch_names_each_order_once_and_says_what_it_ignored() -> None:
    body = (OWN / "push_batch.json").read_bytes()
    ids, ignored = mapper.orders_to_fetch(mapper.read_messages(body))
    assert ids == ["6921843722911400001", "6921843722911400002"]
    assert ignored == ["tag 400: not an order or after-sale message"]
    parsed = DouyinAdapter().parse(CONFIG, pushed(body, {}))
    assert (parsed.orders, parsed.fetch) == ([], ids)
    assert parsed.ignored is not None
    assert "tag 400" in parsed.ignored


def test_the_platform_url_check_message_is_ignored() -> None:
    body = json.dumps([{"tag": "0", "msg_id": "0", "data": "{}"}]).encode()
    parsed = DouyinAdapter().parse(CONFIG, pushed(body, {}))
    assert parsed.fetch == []
    assert parsed.ignored
    assert "URL check" in parsed.ignored


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"not json", "not valid JSON"),
        (b"[]", "empty"),
        (b'[{"msg_id": "1"}]', "no tag"),
        (b'[{"tag": "101", "msg_id": "1", "data": "{broken"}]', "data is not valid JSON"),
        (b'[{"tag": "101", "msg_id": "1", "data": "[1]"}]', "not an object"),
        (b'[{"tag": "101", "msg_id": "1", "data": "{\\"s_ids\\": [1]}"}]', "p_id"),
    ],
)
def test_a_batch_the_adapter_cannot_read_says_what_is_wrong(body: bytes, why: str) -> None:
    with pytest.raises(UnreadablePayload, match=why):
        DouyinAdapter().parse(CONFIG, pushed(body, {}))


# -- signatures ------------------------------------------------------------------------------


def test_the_push_signature_is_md5_of_app_key_body_and_secret() -> None:
    body = (OWN / "push_batch.json").read_bytes()
    by_hand = hashlib.md5(APP_KEY.encode() + body + SECRET.encode()).hexdigest()
    assert signature.push_signature(APP_KEY, SECRET, body) == by_hand
    by_hand_hmac = hmac.new(
        SECRET.encode(), APP_KEY.encode() + body + SECRET.encode(), hashlib.sha256
    ).hexdigest()
    assert signature.push_signature(APP_KEY, SECRET, body, "hmac-sha256") == by_hand_hmac


@pytest.mark.parametrize("method", ["md5", "hmac-sha256"])
def test_a_correctly_signed_batch_is_accepted_and_named_by_its_msg_id(method: str) -> None:
    body = b'[{"tag":"101","msg_id":"7301:101","data":"{\\"p_id\\":1}"}]'
    headers = {
        "app-id": APP_KEY,
        "event-sign": signature.push_signature(APP_KEY, SECRET, body, method),
    }
    if method != "md5":
        headers["sign-method"] = method
    verified = DouyinAdapter().verify(CONFIG, pushed(body, headers))
    assert verified.message_id == "7301:101"
    assert verified.sent_at is None  # the push carries no signed send time


def test_a_batch_of_several_messages_is_named_by_a_digest_of_all_its_msg_ids() -> None:
    body = (OWN / "push_batch.json").read_bytes()
    headers = {"event-sign": signature.push_signature(APP_KEY, SECRET, body)}
    first = DouyinAdapter().verify(CONFIG, pushed(body, headers)).message_id
    reordered = json.dumps(list(reversed(json.loads(body))), ensure_ascii=False).encode()
    headers = {"event-sign": signature.push_signature(APP_KEY, SECRET, reordered)}
    assert first is not None
    assert first.startswith("batch:")
    assert DouyinAdapter().verify(CONFIG, pushed(reordered, headers)).message_id == first


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({}, "no event-sign"),
        ({"event-sign": "0" * 32}, "does not match"),
        ({"event-sign": "SIGNED-WITH-ANOTHER-SECRET"}, "does not match"),
        ({"event-sign": "x", "sign-method": "sha1"}, "sign method"),
        ({"event-sign": "x", "app-id": "someone-else"}, "not this channel's app_key"),
    ],
)
def test_a_batch_with_a_wrong_or_missing_signature_is_refused(
    headers: dict[str, str], why: str
) -> None:
    body = (OWN / "push_batch.json").read_bytes()
    if headers.get("event-sign") == "SIGNED-WITH-ANOTHER-SECRET":
        headers = {"event-sign": signature.push_signature(APP_KEY, "other-secret", body)}
    with pytest.raises(ChannelRefused, match=why) as caught:
        DouyinAdapter().verify(CONFIG, pushed(body, headers))
    assert caught.value.code is ErrorCode.BAD_SIGNATURE


def test_a_changed_body_no_longer_matches_its_signature() -> None:
    body = (OWN / "push_batch.json").read_bytes()
    headers = {"event-sign": signature.push_signature(APP_KEY, SECRET, body)}
    with pytest.raises(ChannelRefused):
        DouyinAdapter().verify(
            CONFIG, pushed(body.replace(b"6921843722911400002", b"6921843722911400009"), headers)
        )


def test_the_call_signature_wraps_the_ordered_parameters_in_the_secret() -> None:
    text = (
        f"{SECRET}app_key{APP_KEY}methodorder.orderDetailparam_json"
        '{"shop_order_id":"1"}timestamp1794355321v2' + SECRET
    )
    assert (
        signature.request_signature(
            APP_KEY, SECRET, "order.orderDetail", '{"shop_order_id":"1"}', "1794355321"
        )
        == hashlib.md5(text.encode()).hexdigest()
    )
    assert (
        signature.request_signature(
            APP_KEY,
            SECRET,
            "order.orderDetail",
            '{"shop_order_id":"1"}',
            "1794355321",
            "hmac-sha256",
        )
        == hmac.new(SECRET.encode(), text.encode(), hashlib.sha256).hexdigest()
    )


def test_param_json_sorts_keys_at_every_level_and_keeps_chinese_text() -> None:
    assert signature.param_json({"b": 1, "a": {"d": "顺丰", "c": [2]}}) == (
        '{"a":{"c":[2],"d":"顺丰"},"b":1}'
    )


# -- the calls the hub makes -----------------------------------------------------------------


def test_the_order_fetch_is_a_signed_order_detail_call() -> None:
    request = DouyinAdapter().fetch_request(CONFIG, "6921843722911400001")
    assert (request.method, request.url) == (
        "POST",
        "https://openapi.example.test/order/orderDetail",
    )
    assert request.params is not None
    assert request.params["method"] == "order.orderDetail"
    assert request.params["access_token"] == TOKEN
    assert request.params["v"] == "2"
    assert json.loads(request.body) == {"shop_order_id": "6921843722911400001"}
    assert signed_query_matches(request)


def test_a_stock_push_sets_the_quantity_of_a_merchant_code_or_a_platform_sku_id() -> None:
    adapter = DouyinAdapter()
    by_code = adapter.stock_request(CONFIG, StockUpdate("DY-TEE-WHITE-M", 7, "TEE-WHITE-M", 3))
    assert json.loads(by_code.body) == {
        "code": "DY-TEE-WHITE-M",
        "incremental": False,
        "stock_num": 7,
    }
    by_id = adapter.stock_request(CONFIG, StockUpdate("1781234500002", -2, "MUG", 4))
    assert json.loads(by_id.body) == {"sku_id": 1781234500002, "incremental": False, "stock_num": 0}
    assert by_code.url.endswith("/sku/syncStock")
    assert signed_query_matches(by_code)
    assert by_code.body.decode() == signature.param_json(json.loads(by_code.body))


def test_hmac_signed_calls_say_so_and_verify() -> None:
    config = ChannelConfig(
        code="dy",
        adapter="douyin",
        secret=SECRET,
        endpoint="http://x",
        credentials={"app_key": APP_KEY, "access_token": TOKEN, "sign_method": "hmac-sha256"},
    )
    request = DouyinAdapter().stock_request(config, StockUpdate("A-1", 1, "A", 1))
    assert request.params is not None
    assert request.params["sign_method"] == "hmac-sha256"
    assert signed_query_matches(request)


def test_a_channel_without_its_credentials_is_a_configuration_error() -> None:
    missing_token = ChannelConfig(
        code="dy",
        adapter="douyin",
        secret=SECRET,
        credentials={"app_key": APP_KEY},
        endpoint="http://x",
    )
    with pytest.raises(InvalidChannelConfig, match="access_token"):
        DouyinAdapter().stock_request(missing_token, StockUpdate("A", 1, "A", 1))
    bad_method = ChannelConfig(
        code="dy",
        adapter="douyin",
        secret=SECRET,
        endpoint="http://x",
        credentials={"app_key": APP_KEY, "access_token": TOKEN, "sign_method": "sha1"},
    )
    with pytest.raises(InvalidChannelConfig, match="sign_method"):
        DouyinAdapter().stock_request(bad_method, StockUpdate("A", 1, "A", 1))


def test_a_shipment_push_maps_the_carrier_to_the_platform_company_code() -> None:
    request = DouyinAdapter().shipment_request(
        CONFIG, ShipmentUpdate("6921843722911400001", "SF", "SF1234567890", "shipped")
    )
    assert request is not None
    assert request.url.endswith("/order/logisticsAdd")
    assert json.loads(request.body) == {
        "order_id": "6921843722911400001",
        "company_code": "shunfeng",
        "logistics_code": "SF1234567890",
    }
    assert signed_query_matches(request)
    assert mapper.company_code("zhongtong") == "zhongtong"  # already the platform's code
    assert mapper.company_code("J&T") == "jtexpress"


@pytest.mark.parametrize("status", ["delivered", "cancelled", "refunded"])
def test_statuses_the_platform_has_no_seller_call_for_are_not_pushed(status: str) -> None:
    assert (
        DouyinAdapter().shipment_request(CONFIG, ShipmentUpdate("1", "SF", "SF1", status)) is None
    )
    assert status not in DouyinAdapter.pushes


def test_a_shipment_without_carrier_or_tracking_number_cannot_be_sent() -> None:
    with pytest.raises(InvalidInput, match="tracking number"):
        DouyinAdapter().shipment_request(CONFIG, ShipmentUpdate("1", "SF", None, "shipped"))
    with pytest.raises(InvalidInput, match="carrier"):
        DouyinAdapter().shipment_request(CONFIG, ShipmentUpdate("1", None, "T1", "shipped"))


# -- the platform's answers ------------------------------------------------------------------


def test_success_in_either_envelope_is_accepted() -> None:
    adapter = DouyinAdapter()
    adapter.check_response(200, (OWN / "order_detail_paid.json").read_bytes())
    adapter.check_response(200, (OWN / "answer_legacy_success.json").read_bytes())


@pytest.mark.parametrize(
    ("status", "body", "retry", "code"),
    [
        (200, (OWN / "answer_rate_limited.json").read_bytes(), True, "30001"),
        (200, b'{"code": 20000, "msg": "service unavailable"}', True, "20000"),
        (200, (OWN / "answer_bad_sign.json").read_bytes(), False, "40004"),
        (200, b'{"code": 50002, "msg": "order closed"}', False, "50002"),
        (200, b'{"err_no": 30002, "message": "token expired"}', False, "30002"),
        (200, b"<html>gateway</html>", True, None),
        (503, b"", True, "503"),
        (429, b"", True, "429"),
        (403, b"forbidden", False, "403"),
    ],
)
def test_errors_are_refused_and_only_rate_limits_and_outages_are_retried(
    status: int, body: bytes, retry: bool, code: str | None
) -> None:
    with pytest.raises(CallRefused) as caught:
        DouyinAdapter().check_response(status, body)
    assert caught.value.retry is retry
    assert caught.value.code == code


def test_a_fetched_answer_without_the_order_is_unreadable() -> None:
    adapter = DouyinAdapter()
    assert (
        adapter.read_fetched(CONFIG, 200, (OWN / "order_detail_paid.json").read_bytes())["order_id"]
        == "6921843722911400001"
    )
    with pytest.raises(UnreadablePayload, match="shop_order_detail"):
        adapter.read_fetched(CONFIG, 200, b'{"code": 10000, "msg": "success", "data": {}}')


def test_the_registry_speaks_douyin_through_this_adapter() -> None:
    adapter = adapter_for("douyin")
    assert isinstance(adapter, DouyinAdapter)
    assert "code" in adapter.line_identity
    assert "sku_id" in adapter.line_identity
    assert not adapter.pulls


# -- the simulator, spoken to by the adapter -------------------------------------------------

TEE = Item(sku_id=1781234500001, product_id=3612345600001, price_fen=5900, code="DY-TEE-WHITE-M")
MUG = Item(sku_id=1781234500002, product_id=3612345600002, price_fen=3900)


@pytest.fixture
def simulator() -> Any:
    with DouyinSimulator(app_key=APP_KEY, secret=SECRET, access_token=TOKEN) as running:
        yield running


def sim_config(sim: DouyinSimulator, **credentials: str) -> ChannelConfig:
    return ChannelConfig(
        code="dy-shop",
        adapter="douyin",
        secret=sim.secret,
        credentials={**sim.credentials, **credentials},
        endpoint=sim.url,
    )


def test_the_simulator_order_book_moves_through_the_platform_statuses(
    simulator: DouyinSimulator,
) -> None:
    def platform(order_id: str) -> tuple[int, list[int]]:
        """order_status and each line's after_sale_status, as the platform holds them"""
        detail = simulator.orders[order_id]
        lines = [line["after_sale_info"]["after_sale_status"] for line in detail["sku_order_list"]]
        return detail["order_status"], lines

    def read(order_id: str) -> Any:
        """the same order read by the adapter, as the hub will read it once fetched"""
        native = copy.deepcopy(simulator.orders[order_id])
        return DouyinAdapter().to_order(sim_config(simulator), native, "")

    order_id = simulator.create_order([(TEE, 2), (MUG, 1)], push=False)
    assert platform(order_id) == (1, [0, 0])
    assert read(order_id).status is S.CREATED
    simulator.pay(order_id, push=False)
    assert platform(order_id) == (2, [0, 0])
    assert read(order_id).status is S.PAID
    simulator.request_refund(order_id, push=False)
    assert platform(order_id) == (2, [6, 6])
    assert read(order_id).refund_requested
    simulator.refuse_refund(order_id, push=False)
    assert platform(order_id) == (2, [27, 27])
    assert not read(order_id).refund_requested
    simulator.request_refund(order_id, push=False)
    simulator.refund(order_id, push=False)
    assert platform(order_id) == (4, [12, 12])
    assert read(order_id).status is S.REFUNDED
    other = simulator.create_order([(MUG, 1)], push=False)
    simulator.cancel(other, push=False)
    assert platform(other) == (4, [0])
    assert read(other).status is S.CANCELLED
    refunded = simulator.orders[order_id]
    assert refunded["update_time"] > refunded["create_time"]  # every change moves it on


def test_the_adapter_fetches_an_order_from_the_simulator_as_the_hub_would(
    simulator: DouyinSimulator,
) -> None:
    order_id = simulator.create_order([(TEE, 2), (MUG, 1)], push=False)
    simulator.pay(order_id, push=False)
    adapter = DouyinAdapter()
    with httpx.Client(timeout=5) as client:
        native = fetcher(client, adapter, sim_config(simulator))(order_id)
    order = adapter.to_order(sim_config(simulator), native, "")
    assert (order.external_id, order.status) == (order_id, S.PAID)
    assert [ln.channel_sku for ln in order.lines] == ["DY-TEE-WHITE-M", "1781234500002"]


@pytest.mark.parametrize("sign_method", ["md5", "hmac-sha256"])
def test_the_simulator_takes_signed_stock_and_shipment_calls(
    simulator: DouyinSimulator, sign_method: str
) -> None:
    order_id = simulator.create_order([(TEE, 1)], push=False)
    simulator.pay(order_id, push=False)
    config = sim_config(simulator, sign_method=sign_method)
    adapter = DouyinAdapter()
    with httpx.Client(timeout=5) as client:
        call(
            client,
            adapter,
            adapter.stock_request(config, StockUpdate("DY-TEE-WHITE-M", 9, "TEE-WHITE-M", 1)),
        )
        call(
            client,
            adapter,
            adapter.stock_request(config, StockUpdate("1781234500001", 4, "TEE-WHITE-M", 2)),
        )
        shipment = adapter.shipment_request(
            config, ShipmentUpdate(order_id, "SF", "SF001", "shipped")
        )
        assert shipment is not None
        call(client, adapter, shipment)
        with pytest.raises(CallRefused) as twice:  # shipped already: a business refusal
            call(client, adapter, shipment)
    assert simulator.stock == {"DY-TEE-WHITE-M": 9, "1781234500001": 4}
    assert simulator.shipments == [
        {"order_id": order_id, "company_code": "shunfeng", "logistics_code": "SF001"}
    ]
    assert simulator.orders[order_id]["order_status"] == 3  # 已发货
    assert (twice.value.code, twice.value.retry) == ("50002", False)


def test_the_simulator_refuses_a_call_signed_with_the_wrong_secret(
    simulator: DouyinSimulator,
) -> None:
    simulator.add_item(TEE)
    config = ChannelConfig(
        code="dy",
        adapter="douyin",
        secret="not-the-app-secret",
        credentials=simulator.credentials,
        endpoint=simulator.url,
    )
    adapter = DouyinAdapter()
    with httpx.Client(timeout=5) as client, pytest.raises(CallRefused) as caught:
        call(
            client,
            adapter,
            adapter.stock_request(config, StockUpdate("DY-TEE-WHITE-M", 1, "TEE", 1)),
        )
    assert (caught.value.code, caught.value.retry) == ("40004", False)
    assert simulator.stock == {}
    assert simulator.refused[-1][1] == "sign does not match"


def test_the_simulator_rate_limits_and_fails_in_the_platform_envelope(
    simulator: DouyinSimulator,
) -> None:
    simulator.add_item(TEE)
    adapter = DouyinAdapter()
    request = adapter.stock_request(
        sim_config(simulator), StockUpdate("DY-TEE-WHITE-M", 3, "TEE", 1)
    )
    simulator.faults.rate_limited = 1
    with httpx.Client(timeout=5) as client:
        with pytest.raises(CallRefused) as limited:
            call(client, adapter, request)
        simulator.faults.error_rate = 1.0
        with pytest.raises(CallRefused) as failing:
            call(client, adapter, request)
        simulator.faults.error_rate = 0.0
        simulator.faults.down = True
        with pytest.raises(CallRefused) as down:
            call(client, adapter, request)
        simulator.faults.down = False
        call(client, adapter, request)
    assert (limited.value.code, limited.value.retry) == ("30001", True)
    assert (failing.value.code, failing.value.retry) == ("20000", True)
    assert (down.value.code, down.value.retry) == ("503", True)
    assert simulator.stock == {"DY-TEE-WHITE-M": 3}


def test_simulator_pushes_verify_with_the_adapter(simulator: DouyinSimulator) -> None:
    order_id = simulator.create_order([(TEE, 1)], push=False)
    message = simulator.message(order_id, "100")
    body = json.dumps([message]).encode()
    request = pushed(body, simulator.signed_headers(body))
    verified = DouyinAdapter().verify(sim_config(simulator), request)
    assert verified.message_id == message["msg_id"]
    assert DouyinAdapter().parse(sim_config(simulator), request).fetch == [order_id]


# -- conformance on published payloads -------------------------------------------------------


@pytest.mark.skipif(not REAL.exists(), reason="no published 抖店 payloads in ../shared/fixtures")
def test_published_douyin_payloads_map_with_their_key_fields() -> None:  # pragma: no cover
    checked = 0
    for path in sorted(REAL.glob("*.json")):
        native = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(native, list):
            ids, _ = mapper.orders_to_fetch(mapper.read_messages(path.read_bytes()))
            assert ids, path.name
            checked += 1
            continue
        data = native.get("data", native) if isinstance(native, dict) else None
        found = data.get("shop_order_detail") if isinstance(data, dict) else None
        if not isinstance(found, dict):
            continue
        order = mapper.to_order("douyin", copy.deepcopy(found), "")
        assert order.external_id == str(found["order_id"]), path.name
        assert [(ln.channel_sku, ln.qty) for ln in order.lines] == [
            (mapper.line_identity(item), int(item["item_num"])) for item in found["sku_order_list"]
        ], path.name
        assert order.shipping_fee.cents == int(found.get("post_amount") or 0), path.name
        assert order.created_at.tzinfo is not None, path.name
        checked += 1
    assert checked, "no 抖店 message batch or order detail among the published payloads"
