"""The Taobao/Tmall adapter without a hub: the TOP trade mapper and its status tables, pushed
TMC and comet messages, TOP signatures, the calls the hub makes and the answers it reads,
conformance on published TOP payloads, and the TOP simulator speaking to the adapter."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from tests.shared_samples import SHARED_FIXTURES

from omnihub.adapters.channels import adapter_for
from omnihub.adapters.channels.taobao import mapper, signature
from omnihub.adapters.channels.taobao.client import TaobaoAdapter, TmallAdapter
from omnihub.adapters.channels.transport import call, fetcher, pages
from omnihub.domain.errors import ErrorCode
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
from omnihub.simulators.channels.taobao import TopSimulator

OWN = Path(__file__).parent / "fixtures" / "taobao"
FIXTURES = SHARED_FIXTURES
REAL = FIXTURES / "taobao"
SECRET = "demo-secret"
CONFIG = ChannelConfig(
    code="tb-flagship",
    adapter="taobao",
    secret=SECRET,
    credentials={
        "app_key": "23000001",
        "session": "6100e2a1f0c9d7b3",
        "listings": {"TB-TEE-WHITE-M": "600000000001:5000000000001", "TB-MUG-350": "600000000002"},
    },
    endpoint="https://gw.example.test",
)
S = OrderStatus
unit = pytest.mark.unit
needs_real_fixtures = pytest.mark.skipif(
    not FIXTURES.exists(), reason="the published payloads (../shared/fixtures) are not here"
)


def own(name: str) -> dict[str, Any]:
    return json.loads((OWN / name).read_text(encoding="utf-8"))


def trade(name: str = "trade_fullinfo_paid.json") -> dict[str, Any]:
    return mapper.trade_of(own(name))


def signed_push(
    body: bytes, *, secret: str = SECRET, stamp: datetime | None = None, method: str = "md5"
) -> InboundRequest:
    query = {
        "app_key": "23000001",
        "sign_method": method,
        "timestamp": mapper.top_time(stamp or datetime.now(SHANGHAI)),
    }
    query["sign"] = signature.top_sign(query, secret, method, body)
    return InboundRequest(body=body, headers={"content-type": "application/json"}, query=query)


def amount(line: Any) -> Decimal:
    return Decimal(line.unit_price.amount * line.qty - line.discount.amount)


def form_of(request: Any) -> dict[str, str]:
    return dict(parse_qsl(request.body.decode("utf-8")))


# -- the trade mapper -----------------------------------------------------------------------------


@unit
def test_a_paid_trade_becomes_a_paid_order_with_its_lines_amounts_and_local_times() -> None:
    order = mapper.to_ingest(own("trade_fullinfo_paid.json"), channel="tb-flagship")

    assert (order.channel, order.external_id, order.status) == (
        "tb-flagship",
        "3100000000000100",
        S.PAID,
    )
    assert order.created_at == datetime(2026, 11, 11, 0, 3, 12, tzinfo=SHANGHAI)
    assert order.updated_at.isoformat() == "2026-11-11T00:04:41+08:00"
    tee, mug = order.lines
    assert (tee.channel_sku, tee.qty, str(tee.unit_price), str(tee.discount)) == (
        "TB-TEE-WHITE-M",
        2,
        "59.00",
        "10.00",
    )
    assert (mug.channel_sku, mug.qty, str(mug.unit_price), str(mug.discount)) == (
        "TB-MUG-350",
        1,
        "39.00",
        "0.00",
    )
    assert (str(order.total), str(order.shipping_fee)) == ("155.00", "8.00")
    assert order.payment is not None
    assert (order.payment.provider, order.payment.transaction_id, str(order.payment.amount)) == (
        "alipay",
        "2026111122001100100000000001",
        "155.00",
    )
    assert order.payment.paid_at.isoformat() == "2026-11-11T00:04:40+08:00"
    assert order.remark == "请周末送货"
    assert not order.refund_requested
    assert not order.cod


@unit
def test_masked_buyer_and_receiver_fields_are_kept_as_given_and_listed() -> None:
    order = mapper.to_ingest(own("trade_fullinfo_paid.json"), channel="tb-flagship")

    assert order.buyer.channel_buyer_id == "AAHk5d-EAAeGwJedwSbqdnfd"  # the open uid, not the nick
    assert order.buyer.name == "t**8"
    assert order.buyer.masked == ("name",)
    ship_to = order.ship_to
    assert (ship_to.name, ship_to.phone, ship_to.address) == (
        "王**",
        "138****0021",
        "南京西路街道南京西路****号",
    )
    assert (ship_to.province, ship_to.city, ship_to.district, ship_to.postcode) == (
        "上海",
        "上海市",
        "静安区",
        "200040",
    )
    assert set(ship_to.masked) == {"name", "phone", "address"}


@unit
@pytest.mark.parametrize(
    ("line", "identity"),
    [
        (
            {"outer_sku_id": "TB-TEE-WHITE-M", "outer_iid": "TB-TEE", "sku_id": "5", "num_iid": 6},
            "TB-TEE-WHITE-M",
        ),
        (
            {"outer_sku_id": "", "outer_iid": "TB-MUG-350", "sku_id": "5", "num_iid": 6},
            "TB-MUG-350",
        ),
        ({"sku_id": "5000000000003", "num_iid": 600000000003}, "5000000000003"),
        ({"num_iid": 600000000004}, "600000000004"),
    ],
    ids=["outer_sku_id", "outer_iid", "sku_id", "num_iid"],
)
def test_the_line_identity_is_the_merchant_code_first_then_the_platform_ids(
    line: dict[str, Any], identity: str
) -> None:
    assert mapper.line_identity(line) == identity


@unit
def test_a_line_without_any_identity_is_unreadable() -> None:
    with pytest.raises(UnreadablePayload, match="order line 7 has no outer_sku_id"):
        mapper.line_identity({"oid": 7, "outer_sku_id": " "})


#: every trade status the TOP trade API documents, with the hub status it must become
DOCUMENTED_STATUSES = {
    "TRADE_NO_CREATE_PAY": S.CREATED,
    "WAIT_BUYER_PAY": S.CREATED,
    "PAY_PENDING": S.CREATED,
    "WAIT_PRE_AUTH_CONFIRM": S.CREATED,
    "PAID_FORBID_CONSIGN": S.CREATED,
    "WAIT_SELLER_SEND_GOODS": S.PAID,
    "SELLER_CONSIGNED_PART": S.SHIPPED,
    "WAIT_BUYER_CONFIRM_GOODS": S.SHIPPED,
    "TRADE_BUYER_SIGNED": S.DELIVERED,
    "TRADE_FINISHED": S.COMPLETED,
    "TRADE_CLOSED": S.REFUNDED,
    "TRADE_CLOSED_BY_TAOBAO": S.CANCELLED,
}


@unit
@pytest.mark.parametrize(("native", "expected"), sorted(DOCUMENTED_STATUSES.items()))
def test_every_documented_trade_status_maps_to_a_hub_status(
    native: str, expected: OrderStatus
) -> None:
    paid = trade()
    paid["status"] = native
    assert mapper.canonical_status(paid) is expected


@unit
def test_the_status_table_holds_exactly_the_documented_statuses_and_reads_back_both_ways() -> None:
    assert mapper.TRADE_STATUS == DOCUMENTED_STATUSES
    for status, native in mapper.NATIVE_STATUS.items():
        assert mapper.TRADE_STATUS[native] is status


@unit
def test_a_trade_closed_before_it_was_paid_is_cancelled_not_refunded() -> None:
    closed = trade()
    closed["status"] = "TRADE_CLOSED"
    assert mapper.canonical_status(closed) is S.REFUNDED
    del closed["pay_time"]
    assert mapper.canonical_status(closed) is S.CANCELLED


@unit
def test_an_unknown_trade_status_is_refused_with_a_clear_error() -> None:
    odd = trade()
    odd["status"] = "WAIT_SELLER_TELEPORT"
    with pytest.raises(UnknownChannelStatus) as refused:
        mapper.to_ingest(odd, channel="tb-flagship", platform="tmall")
    assert refused.value.code == ErrorCode.UNKNOWN_CHANNEL_STATUS
    assert "tmall status 'WAIT_SELLER_TELEPORT' is not in the tmall status table" in str(
        refused.value
    )


@unit
def test_an_unknown_refund_status_on_a_line_is_refused() -> None:
    odd = trade()
    odd["orders"]["order"][1]["refund_status"] = "WAIT_ARBITRATION_2099"
    with pytest.raises(UnknownChannelStatus, match="refund_status WAIT_ARBITRATION_2099"):
        mapper.to_ingest(odd, channel="tb-flagship")


@unit
@pytest.mark.parametrize(
    ("trade_status", "refund_status", "held"),
    [
        ("WAIT_SELLER_SEND_GOODS", "WAIT_SELLER_AGREE", True),
        ("WAIT_SELLER_SEND_GOODS", "WAIT_BUYER_RETURN_GOODS", True),
        ("WAIT_BUYER_CONFIRM_GOODS", "WAIT_SELLER_CONFIRM_GOODS", True),
        ("WAIT_SELLER_SEND_GOODS", "SELLER_REFUSE_BUYER", False),
        ("WAIT_SELLER_SEND_GOODS", "CLOSED", False),
        ("WAIT_SELLER_SEND_GOODS", "NO_REFUND", False),
        # one line refunded while the rest waits to ship: it must not ship as it stands
        ("WAIT_SELLER_SEND_GOODS", "SUCCESS", True),
        ("WAIT_BUYER_CONFIRM_GOODS", "SUCCESS", False),
    ],
)
def test_a_refund_request_still_open_on_a_line_holds_the_order(
    trade_status: str, refund_status: str, held: bool
) -> None:
    native = trade()
    native["status"] = trade_status
    native["orders"]["order"][0]["refund_status"] = refund_status
    assert mapper.to_ingest(native, channel="tb-flagship").refund_requested is held


@unit
def test_the_refund_fixture_is_a_paid_order_with_a_refund_requested_on_its_sku_id_line() -> None:
    order = mapper.to_ingest(own("trade_fullinfo_refund_requested.json"), channel="tb")
    assert (order.status, order.refund_requested) == (S.PAID, True)
    assert [(line.channel_sku, line.qty) for line in order.lines] == [("5000000000003", 1)]


@unit
def test_a_line_amount_is_what_was_paid_for_it_never_below_zero_discount() -> None:
    native = trade()
    tee, mug = native["orders"]["order"]
    tee["divide_order_fee"] = "100.50"  # the share of a shop coupon is taken off too
    mug["payment"] = "45.00"  # the seller raised the price by hand (adjust_fee)
    first, second = mapper.to_ingest(native, channel="tb").lines
    assert (str(first.discount), amount(first)) == ("17.50", Decimal("100.50"))
    assert (str(second.discount), amount(second)) == ("0.00", Decimal("39.00"))


@unit
@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda t: t.pop("tid") and t.pop("tid_str"), "has no tid"),
        (lambda t: t.update(orders={"order": []}), "has no orders.order lines"),
        (lambda t: t.pop("created"), "has no created"),
        (lambda t: t["orders"]["order"][0].update(num="two"), "'two' is not a quantity"),
        (lambda t: t["orders"]["order"][0].update(price="5 yuan"), "is not an amount"),
        (lambda t: t.update(created="11/11 noon"), "not a time"),
    ],
)
def test_a_trade_missing_what_an_order_needs_is_unreadable(change: Any, why: str) -> None:
    native = trade()
    change(native)
    with pytest.raises(UnreadablePayload, match=why):
        mapper.to_ingest(native, channel="tb")


@unit
def test_a_cash_on_delivery_trade_is_marked_cod_and_signed_for_is_delivered() -> None:
    native = trade()
    native.update(type="cod", status="TRADE_BUYER_SIGNED")
    order = mapper.to_ingest(native, channel="tb")
    assert (order.cod, order.status) == (True, S.DELIVERED)


# -- pushed messages ------------------------------------------------------------------------------


@unit
def test_a_tmc_trade_message_asks_the_hub_to_fetch_the_trade_in_full() -> None:
    body = (OWN / "tmc_trade_buyer_pay.json").read_bytes()
    parsed = TaobaoAdapter().parse(CONFIG, signed_push(body))
    assert (parsed.orders, parsed.fetch, parsed.ignored) == ([], ["3100000000000100"], None)


@unit
def test_a_tmc_message_about_items_is_ignored_with_its_topic_as_the_reason() -> None:
    body = (OWN / "tmc_item_update.json").read_bytes()
    parsed = TaobaoAdapter().parse(CONFIG, signed_push(body))
    assert (parsed.orders, parsed.fetch) == ([], None)
    assert parsed.ignored == "not a trade message: taobao_item_ItemUpdate"


@unit
def test_a_batch_of_tmc_messages_fetches_each_trade_once_including_refund_topics() -> None:
    body = (OWN / "tmc_batch.json").read_bytes()
    parsed = TaobaoAdapter().parse(CONFIG, signed_push(body))
    assert parsed.fetch == ["3100000000000100", "3100000000000200"]


@unit
def test_an_old_comet_notify_trade_message_asks_for_its_trade() -> None:
    body = (OWN / "notify_trade_comet.json").read_bytes()
    adapter = TaobaoAdapter()
    assert adapter.parse(CONFIG, signed_push(body)).fetch == ["3100000000000100"]
    assert adapter.verify(CONFIG, signed_push(body)).message_id == (
        "notify_trade:3100000000000100:TradeBuyerPay:2026-11-11 00:04:41"
    )


@unit
def test_a_whole_trade_pushed_becomes_the_order_at_once_with_the_raw_body() -> None:
    body = (OWN / "trade_fullinfo_paid.json").read_bytes()
    parsed = TmallAdapter().parse(CONFIG, signed_push(body))
    (order,) = parsed.orders
    assert (order.external_id, order.status, parsed.fetch) == ("3100000000000100", S.PAID, None)
    assert order.raw == body.decode()


@unit
@pytest.mark.parametrize(
    ("body", "why"),
    [
        ((OWN / "tmc_not_strict_json.txt").read_bytes(), "the TOP message is not valid JSON"),
        (b'["taobao_trade_TradeCreate"]', "must be a JSON object, not list"),
        (b'{"hello": "world"}', "neither a TMC message, a comet notification nor a TOP trade"),
        (b'{"topic": "taobao_trade_TradeCreate", "content": "{\\"oid\\": 1}"}', "names no tid"),
        (
            b'{"topic": "taobao_trade_TradeCreate", "content": "{tid: 1}"}',
            "content is not valid JSON",
        ),
    ],
    ids=["not-json", "not-an-object", "not-top", "no-tid", "content-not-json"],
)
def test_a_body_the_adapter_cannot_read_is_unreadable_with_the_reason(
    body: bytes, why: str
) -> None:
    with pytest.raises(UnreadablePayload, match=why):
        TaobaoAdapter().parse(CONFIG, signed_push(body))


# -- signatures -----------------------------------------------------------------------------------

VECTORS = own("top_sign_vectors.json")


@unit
@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["name"])
def test_top_signatures_match_vectors_computed_with_openssl(vector: dict[str, Any]) -> None:
    params, body = vector["params"], vector["body"].encode()
    assert signature.string_to_sign(params) == vector["string_to_sign"]
    assert (
        signature.top_sign(params, VECTORS["secret"], params["sign_method"], body)
        == (vector["expected_sign"])
    )


@unit
def test_the_string_to_sign_leaves_out_sign_and_empty_values() -> None:
    assert signature.string_to_sign({"b": "2", "sign": "X", "a": "1", "c": "", "d": None}) == (
        "a1b2"
    )


@unit
def test_a_push_signed_with_the_channel_secret_passes_with_its_message_id_and_time() -> None:
    body = (OWN / "tmc_trade_buyer_pay.json").read_bytes()
    stamp = datetime(2026, 11, 11, 0, 4, 42, tzinfo=SHANGHAI)
    for method in signature.SIGN_METHODS:
        verified = TaobaoAdapter().verify(CONFIG, signed_push(body, stamp=stamp, method=method))
        assert verified.message_id == "4100000000000000001"
        assert verified.sent_at == datetime(2026, 11, 10, 16, 4, 42, tzinfo=UTC)


@unit
def test_a_batch_has_one_message_id_made_of_all_its_ids() -> None:
    body = (OWN / "tmc_batch.json").read_bytes()
    first = TaobaoAdapter().verify(CONFIG, signed_push(body)).message_id
    reordered = json.loads(body)
    reordered["tmc_message"].reverse()
    second = TaobaoAdapter().verify(CONFIG, signed_push(json.dumps(reordered).encode())).message_id
    assert first
    assert first.startswith("tmc-batch:")
    assert second != first


@unit
@pytest.mark.parametrize(
    ("tamper", "why"),
    [
        (lambda r: InboundRequest(r.body + b" ", r.headers, r.query), "does not match"),
        (lambda r: InboundRequest(r.body, r.headers, {**r.query, "sign": ""}), "has no TOP sign"),
        (
            lambda r: InboundRequest(r.body, r.headers, {**r.query, "sign_method": "sha1"}),
            "sign_method 'sha1'",
        ),
        (
            lambda r: InboundRequest(
                r.body, r.headers, {**r.query, "timestamp": "2026-11-12 00:00:00"}
            ),
            "does not match",
        ),
        (
            lambda r: InboundRequest(
                r.body, r.headers, {k: v for k, v in r.query.items() if k != "timestamp"}
            ),
            "no timestamp",
        ),
    ],
    ids=["body-changed", "no-sign", "unknown-method", "timestamp-changed", "no-timestamp"],
)
def test_a_push_whose_signature_does_not_hold_is_refused(tamper: Any, why: str) -> None:
    request = tamper(signed_push((OWN / "tmc_trade_buyer_pay.json").read_bytes()))
    with pytest.raises(ChannelRefused, match=why):
        TaobaoAdapter().verify(CONFIG, request)


@unit
def test_a_push_signed_with_another_secret_or_for_another_app_is_refused() -> None:
    body = (OWN / "tmc_trade_buyer_pay.json").read_bytes()
    with pytest.raises(ChannelRefused, match="does not match"):
        TaobaoAdapter().verify(CONFIG, signed_push(body, secret="someone-else"))
    other_app = signed_push(body)
    other_app = InboundRequest(body, other_app.headers, {**other_app.query, "app_key": "99"})
    with pytest.raises(ChannelRefused, match="app_key '99' is not this channel's"):
        TaobaoAdapter().verify(CONFIG, other_app)


@unit
def test_a_channel_without_a_secret_refuses_every_push() -> None:
    config = ChannelConfig(code="tb", adapter="taobao", secret=None)
    with pytest.raises(ChannelRefused, match="no secret configured"):
        TaobaoAdapter().verify(config, signed_push(b"{}"))


# -- the calls the hub makes ----------------------------------------------------------------------

FROZEN = datetime(2026, 11, 11, 8, 0, 1, tzinfo=SHANGHAI)


def adapter(cls: type[TaobaoAdapter] = TaobaoAdapter) -> TaobaoAdapter:
    return cls(clock=lambda: FROZEN)


@unit
@pytest.mark.parametrize("method", signature.SIGN_METHODS)
def test_a_call_is_a_signed_top_form_post_to_the_router(method: str) -> None:
    config = ChannelConfig(
        code="tb",
        adapter="taobao",
        secret=SECRET,
        credentials={**(CONFIG.credentials or {}), "sign_method": method},
        endpoint="https://gw.example.test/router/rest",
    )
    request = adapter().fetch_request(config, "3100000000000100")
    form = form_of(request)
    assert (request.method, request.url) == ("POST", "https://gw.example.test/router/rest")
    assert request.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert {
        k: form[k]
        for k in ("method", "app_key", "session", "timestamp", "format", "v", "sign_method", "tid")
    } == {
        "method": "taobao.trade.fullinfo.get",
        "app_key": "23000001",
        "session": "6100e2a1f0c9d7b3",
        "timestamp": "2026-11-11 08:00:01",
        "format": "json",
        "v": "2.0",
        "sign_method": method,
        "tid": "3100000000000100",
    }
    assert "orders.outer_sku_id" in form["fields"]
    assert "orders.refund_status" in form["fields"]
    assert form["sign"] == signature.top_sign(form, SECRET, method)


@unit
def test_a_channel_without_app_key_or_session_or_with_an_odd_sign_method_cannot_call() -> None:
    with pytest.raises(InvalidChannelConfig, match="needs credentials.session"):
        adapter().fetch_request(
            ChannelConfig(
                code="tb",
                adapter="taobao",
                secret=SECRET,
                credentials={"app_key": "1"},
                endpoint="http://x",
            ),
            "1",
        )
    with pytest.raises(InvalidChannelConfig, match="sign_method must be one of"):
        adapter().fetch_request(
            ChannelConfig(
                code="tb",
                adapter="taobao",
                secret=SECRET,
                endpoint="http://x",
                credentials={"app_key": "1", "session": "s", "sign_method": "rsa"},
            ),
            "1",
        )


@unit
def test_a_pull_asks_for_one_modified_window_in_shanghai_time_a_hundred_a_page() -> None:
    start = datetime(2026, 11, 10, 16, 0, 0, 250000, tzinfo=UTC)
    end = start + timedelta(minutes=30)
    form = form_of(adapter().pull_request(CONFIG, start, end, 3))
    assert (form["method"], form["start_modified"], form["end_modified"]) == (
        "taobao.trades.sold.increment.get",
        "2026-11-11 00:00:00",
        "2026-11-11 00:30:00",
    )
    assert (form["page_no"], form["page_size"], form["use_has_next"]) == ("3", "100", "false")


@unit
def test_a_page_of_trades_is_read_one_trade_each_and_says_whether_more_follow() -> None:
    body = (OWN / "trades_sold_increment_page.json").read_bytes()
    page = adapter().read_page(CONFIG, 200, body)
    assert [p.external_id for p in page.orders] == ["3100000000000400", "3100000000000300"]
    assert page.has_more is True
    statuses = [adapter().to_order(CONFIG, p.native, "").status for p in page.orders]
    assert statuses == [S.CREATED, S.CANCELLED]
    empty = adapter().read_page(
        CONFIG, 200, b'{"trades_sold_increment_get_response":{"has_next":false}}'
    )
    assert (empty.orders, empty.has_more) == ([], False)


@unit
def test_a_page_with_a_broken_trade_still_lists_it_for_the_hub_to_reject_on_its_own() -> None:
    body = json.dumps(
        {
            "trades_sold_increment_get_response": {
                "has_next": False,
                "trades": {"trade": [trade(), {"status": "WAIT_BUYER_PAY"}, "junk"]},
            }
        }
    ).encode()
    page = adapter().read_page(CONFIG, 200, body)
    assert [p.external_id for p in page.orders] == ["3100000000000100", "unknown", "unknown"]
    for broken in page.orders[1:]:
        with pytest.raises(UnreadablePayload):
            adapter().to_order(CONFIG, broken.native, "")


@unit
def test_a_fetched_trade_is_the_trade_object_of_the_fullinfo_answer() -> None:
    body = (OWN / "trade_fullinfo_paid.json").read_bytes()
    assert adapter().read_fetched(CONFIG, 200, body)["tid"] == 3100000000000100
    with pytest.raises(CallRefused, match="isv.trade-not-exist") as refused:
        adapter().read_fetched(CONFIG, 200, (OWN / "error_trade_not_exist.json").read_bytes())
    assert refused.value.retry is False


@unit
def test_stock_is_set_in_full_on_the_item_or_its_sku_from_the_listings() -> None:
    form = form_of(adapter().stock_request(CONFIG, StockUpdate("TB-TEE-WHITE-M", 42, "TEE", 3)))
    assert (form["method"], form["num_iid"], form["sku_id"], form["quantity"], form["type"]) == (
        "taobao.item.quantity.update",
        "600000000001",
        "5000000000001",
        "42",
        "1",
    )
    mug = form_of(adapter().stock_request(CONFIG, StockUpdate("TB-MUG-350", 0, "MUG", 1)))
    assert (mug["num_iid"], "sku_id" in mug, mug["quantity"]) == ("600000000002", False, "0")
    direct = form_of(
        adapter().stock_request(CONFIG, StockUpdate("600000000003:5000000000003", 7, "CAP", 1))
    )
    assert (direct["num_iid"], direct["sku_id"]) == ("600000000003", "5000000000003")
    with pytest.raises(InvalidChannelConfig, match="add it to credentials.listings"):
        adapter().stock_request(CONFIG, StockUpdate("TB-UNLISTED", 1, "X", 1))


@unit
@pytest.mark.parametrize(
    ("carrier", "company"),
    [
        ("SF", "SF"),
        ("sf-express", "SF"),
        ("顺丰", "SF"),
        ("ZTO", "ZTO"),
        ("中通", "ZTO"),
        ("YTO", "YTO"),
        ("STO", "STO"),
        ("yunda", "YUNDA"),
        ("EMS", "EMS"),
        ("JD", "JD"),
        ("京东物流", "JD"),
        ("DEPPON", "DBKD"),
    ],
)
def test_a_shipment_goes_out_with_the_carriers_top_company_code(carrier: str, company: str) -> None:
    request = adapter().shipment_request(
        CONFIG, ShipmentUpdate("3100000000000100", carrier, "SF1234567890", "shipped")
    )
    assert request is not None
    form = form_of(request)
    assert (form["method"], form["tid"], form["out_sid"], form["company_code"]) == (
        "taobao.logistics.offline.send",
        "3100000000000100",
        "SF1234567890",
        company,
    )


@unit
def test_shipments_without_a_carrier_are_dummy_sends_and_other_statuses_have_no_call() -> None:
    request = adapter().shipment_request(CONFIG, ShipmentUpdate("31", None, None, "shipped"))
    assert request is not None
    assert form_of(request)["method"] == "taobao.logistics.dummy.send"
    for status in ("cancelled", "refunded", "delivered"):
        assert adapter().shipment_request(CONFIG, ShipmentUpdate("31", "SF", "1", status)) is None
    assert adapter_for("tmall").pushes == frozenset({"shipped"})


@unit
def test_a_shipment_with_an_unknown_carrier_or_no_tracking_number_is_refused_for_good() -> None:
    with pytest.raises(CallRefused, match="carrier 'Pigeon Post' has no TOP company code") as e:
        adapter().shipment_request(CONFIG, ShipmentUpdate("31", "Pigeon Post", "P1", "shipped"))
    assert (e.value.retry, e.value.code) == (False, "unknown_carrier")
    with pytest.raises(CallRefused, match="needs both a carrier and a tracking number"):
        adapter().shipment_request(CONFIG, ShipmentUpdate("31", "SF", None, "shipped"))


@unit
@pytest.mark.parametrize(
    ("status", "body", "retry", "code"),
    [
        (
            200,
            (OWN / "error_app_call_limited.json").read_bytes(),
            True,
            "accesscontrol.limited-by-app-access-count",
        ),
        (
            200,
            b'{"error_response":{"code":15,"msg":"Remote service error",'
            b'"sub_code":"isp.top-remote-connection-timeout"}}',
            True,
            "isp.top-remote-connection-timeout",
        ),
        (200, b'{"error_response":{"code":10,"msg":"Service Currently Unavailable"}}', True, "10"),
        (200, (OWN / "error_trade_not_exist.json").read_bytes(), False, "isv.trade-not-exist"),
        (200, b'{"error_response":{"code":25,"msg":"Invalid Signature"}}', False, "25"),
        (200, b'{"error_response":{"code":27,"msg":"Invalid session"}}', False, "27"),
        (
            200,
            b'{"logistics_offline_send_response":{"shipping":{"is_success":false}}}',
            False,
            "shipping_failed",
        ),
        (503, b"<html>busy</html>", True, "503"),
        (429, b"", True, "429"),
        (200, b"<html>gateway hiccup</html>", True, None),
        (404, b"{}", False, "404"),
    ],
    ids=[
        "app-call-limited",
        "isp-failure",
        "unavailable",
        "trade-not-exist",
        "bad-signature",
        "bad-session",
        "shipping-refused",
        "http-503",
        "http-429",
        "not-json",
        "http-404",
    ],
)
def test_top_errors_are_retried_only_when_a_later_call_can_succeed(
    status: int, body: bytes, retry: bool, code: str | None
) -> None:
    with pytest.raises(CallRefused) as refused:
        adapter().check_response(status, body)
    assert (refused.value.retry, refused.value.code) == (retry, code)


@unit
def test_a_successful_answer_passes() -> None:
    adapter().check_response(200, b'{"item_quantity_update_response":{"item":{"num":5}}}')
    adapter().check_response(
        200, b'{"logistics_offline_send_response":{"shipping":{"is_success":true}}}'
    )


@unit
def test_tmall_and_taobao_are_registered_with_their_own_names_and_the_same_protocol() -> None:
    taobao, tmall = adapter_for("taobao"), adapter_for("tmall")
    assert (type(taobao), type(tmall)) == (TaobaoAdapter, TmallAdapter)
    assert (taobao.name, tmall.name, tmall.pulls, tmall.page_size) == ("taobao", "tmall", True, 100)
    assert "outer_sku_id" in tmall.line_identity


# -- conformance on published TOP payloads --------------------------------------------------------


@unit
@needs_real_fixtures
def test_conformance_a_real_fullinfo_trade_closed_by_taobao_maps_field_by_field() -> None:
    raw = (REAL / "lenvon2012_tm__jdp_trade_452790065331038.json").read_text(encoding="utf-8")
    order = TmallAdapter().to_order(CONFIG, json.loads(raw), raw)

    assert (order.external_id, order.status) == ("452790065331038", S.CANCELLED)
    (line,) = order.lines
    assert (line.channel_sku, line.qty, str(line.unit_price), str(line.discount)) == (
        "TX324A0212",
        1,
        "88.00",
        "74.20",
    )
    assert amount(line) == order.total.amount
    assert (str(order.total), str(order.shipping_fee), order.payment) == ("13.80", "0.00", None)
    assert order.buyer.channel_buyer_id == "ququ617"
    assert "email" in order.buyer.masked
    assert (order.ship_to.name, order.ship_to.phone, order.ship_to.address) == (
        "屈**",
        "1389289****",
        "丈**路吉的堡绿地**园",
    )
    assert set(order.ship_to.masked) == {"name", "phone", "address"}
    assert (order.ship_to.province, order.ship_to.city, order.ship_to.postcode) == (
        "陕西省",
        "西安市",
        "710065",
    )
    assert order.created_at.isoformat() == "2013-11-10T14:22:38+08:00"
    assert order.updated_at.isoformat() == "2014-01-31T00:18:01+08:00"
    assert order.raw == raw


@unit
@needs_real_fixtures
def test_conformance_the_published_tmc_dump_that_is_not_json_is_unreadable_not_a_crash() -> None:
    body = (REAL / "lenvon2012_tm__tmcmessages_not_strict_json.txt").read_bytes()
    request = signed_push(body)
    assert TaobaoAdapter().verify(CONFIG, request).message_id is None
    with pytest.raises(UnreadablePayload, match="the TOP message is not valid JSON"):
        TaobaoAdapter().parse(CONFIG, request)


@unit
@needs_real_fixtures
def test_conformance_the_published_comet_notify_trade_asks_for_its_trade() -> None:
    body = (REAL / "lenvon2012_tm__notify_trade.json").read_bytes()
    parsed = TaobaoAdapter().parse(CONFIG, signed_push(body))
    assert (parsed.fetch, parsed.orders) == (["397923532219514"], [])


@unit
@needs_real_fixtures
def test_conformance_the_documented_md5_worked_example_signs_the_same() -> None:
    example = json.loads((REAL / "top_sign_md5_worked_example.json").read_text(encoding="utf-8"))
    secret = example["secret"]
    assert (
        secret + signature.string_to_sign(example["params"]) + secret == (example["string_to_sign"])
    )
    assert signature.top_sign(example["params"], secret, "md5") == example["expected_sign"]


# -- the simulator speaking to the adapter ---------------------------------------------------------


@pytest.fixture
def top() -> Iterator[TopSimulator]:
    sim = TopSimulator(secret=SECRET, sign_method="hmac-sha256")
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


def sim_config(sim: TopSimulator) -> ChannelConfig:
    return ChannelConfig(
        code="tb", adapter="taobao", secret=SECRET, credentials=sim.credentials(), endpoint=sim.url
    )


@pytest.mark.integration
def test_the_simulators_trades_read_back_as_the_lines_they_were_made_of(top: TopSimulator) -> None:
    tee = top.list_item(outer_sku_id="TB-TEE-WHITE-M", price="59.00")
    mug = top.list_item(outer_iid="TB-MUG-350", with_sku=False, price="39.00")
    cap = top.list_item(price="79.00")
    tid = top.new_trade(
        [(tee.channel_sku, 2), (mug.channel_sku, 1), (cap.channel_sku, 1)],
        paid=True,
        discount="8.00",
        post_fee="10.00",
    )
    order = TaobaoAdapter().to_order(sim_config(top), top.trade(tid), "")
    assert [(line.channel_sku, line.qty) for line in order.lines] == [
        ("TB-TEE-WHITE-M", 2),
        ("TB-MUG-350", 1),
        (str(cap.sku_id), 1),
    ]
    assert order.status is S.PAID
    assert order.total.amount == Decimal("59") * 2 + 39 + 79 - 8 + 10
    assert sum((amount(line) for line in order.lines), Decimal(0)) == (
        order.total.amount - order.shipping_fee.amount
    )


@pytest.mark.integration
def test_pulling_from_the_simulator_reads_every_trade_of_the_window_across_pages(
    top: TopSimulator,
) -> None:
    tee = top.list_item(outer_sku_id="TB-TEE-WHITE-M")
    start = datetime.now(SHANGHAI).replace(microsecond=0) - timedelta(minutes=50)
    tids = {
        top.new_trade([(tee.channel_sku, 1)], at=start + timedelta(seconds=11 * i))
        for i in range(230)
    }
    outside = top.new_trade([(tee.channel_sku, 1)], at=start - timedelta(minutes=5))
    adapter = TaobaoAdapter()
    with httpx.Client(timeout=5) as client:
        read = [
            p
            for page in pages(
                client, adapter, sim_config(top), start, start + timedelta(minutes=45)
            )
            for p in page.orders
        ]
    # the window's 3 pages are read last to first, then page 1 once more (see pages())
    assert len(read) == 230 + 100
    assert {p.external_id for p in read} == tids
    assert [n for *_, n in top.pages_served][-4:] == [100, 30, 100, 100]
    assert outside not in {p.external_id for p in read}


@pytest.mark.integration
def test_the_simulator_checks_each_calls_signature_and_answers_in_top_errors(
    top: TopSimulator,
) -> None:
    tee = top.list_item(outer_sku_id="TB-TEE-WHITE-M")
    tid = top.new_trade([(tee.channel_sku, 1)], paid=True)
    adapter = TaobaoAdapter()
    config = sim_config(top)
    with httpx.Client(timeout=5) as client:
        assert fetcher(client, adapter, config)(tid)["tid"] == int(tid)

        wrong = ChannelConfig(
            code="tb",
            adapter="taobao",
            secret="not-the-secret",
            credentials=top.credentials(),
            endpoint=top.url,
        )
        with pytest.raises(CallRefused, match="Invalid Signature") as bad:
            call(client, adapter, adapter.fetch_request(wrong, tid))
        assert bad.value.retry is False
        assert top.refused

        top.faults.rate_limited = 1
        with pytest.raises(CallRefused, match="App Call Limited") as limited:
            call(
                client,
                adapter,
                adapter.stock_request(config, StockUpdate("TB-TEE-WHITE-M", 5, "TEE", 1)),
            )
        assert limited.value.retry is True

        call(
            client,
            adapter,
            adapter.stock_request(config, StockUpdate("TB-TEE-WHITE-M", 5, "TEE", 1)),
        )
        assert top.stock == {"TB-TEE-WHITE-M": 5}

        call(
            client,
            adapter,
            adapter.shipment_request(config, ShipmentUpdate(tid, "顺丰", "SF100200300", "shipped")),
        )
        assert top.shipments == [{"tid": tid, "out_sid": "SF100200300", "company_code": "SF"}]
        assert top.trade(tid)["status"] == "WAIT_BUYER_CONFIRM_GOODS"
        with pytest.raises(CallRefused, match="cannot be shipped") as twice:
            call(
                client,
                adapter,
                adapter.shipment_request(
                    config, ShipmentUpdate(tid, "SF", "SF100200300", "shipped")
                ),
            )
        assert twice.value.retry is False


@pytest.mark.integration
def test_a_simulated_trade_keeps_every_state_and_modified_only_moves_forward(
    top: TopSimulator,
) -> None:
    tee = top.list_item(outer_sku_id="TB-TEE-WHITE-M")
    at = datetime(2026, 11, 11, 0, 0, 0, tzinfo=SHANGHAI)
    tid = top.new_trade([(tee.channel_sku, 1)], at=at)
    top.pay(tid, at=at)
    top.request_refund(tid, at=at)
    top.close(tid, at=at)
    states = [
        (t["status"], t["modified"], t["orders"]["order"][0]["refund_status"])
        for t in top.history[tid]
    ]
    assert states == [
        ("WAIT_BUYER_PAY", "2026-11-11 00:00:00", "NO_REFUND"),
        ("WAIT_SELLER_SEND_GOODS", "2026-11-11 00:00:01", "NO_REFUND"),
        ("WAIT_SELLER_SEND_GOODS", "2026-11-11 00:00:02", "WAIT_SELLER_AGREE"),
        ("TRADE_CLOSED", "2026-11-11 00:00:03", "SUCCESS"),
    ]
    final = mapper.to_ingest(copy.deepcopy(top.trade(tid)), channel="tb")
    assert (final.status, final.refund_requested) == (S.REFUNDED, False)
