"""The Pinduoduo adapter without a hub: the order_info mapper on our own fixtures (and, when
present, the real published doc examples in ../shared/fixtures), the order_status x
refund_status table, PDD signing, the router calls the adapter builds and how it reads PDD's
answers, and the simulator that speaks PDD's protocol over real HTTP."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from tests.shared_samples import SHARED_FIXTURES

from omnihub.adapters.channels import adapter_for
from omnihub.adapters.channels.pdd import client, mapper
from omnihub.adapters.channels.pdd.client import PddAdapter, order_infos
from omnihub.adapters.channels.pdd.signature import sign, signed
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
from omnihub.simulators.channels.pdd import PddSimulator

S = OrderStatus
HERE = Path(__file__).parent
OURS = HERE / "fixtures" / "pdd"
FIXTURES = SHARED_FIXTURES
REAL = FIXTURES / "pinduoduo"

SECRET = "pdd-test-secret"
CONFIG = ChannelConfig(
    code="pdd-shop",
    adapter="pdd",
    secret=SECRET,
    endpoint="http://pdd.invalid",
    credentials={
        "client_id": "CLIENT1",
        "access_token": "TOKEN1",
        "skus": {"TEE-WHITE-M": {"goods_id": "300000101", "sku_id": "400000101"}},
    },
)
ADAPTER = PddAdapter()


def ours(name: str) -> dict[str, Any]:
    return json.loads((OURS / name).read_text(encoding="utf-8"))


def paid_order() -> dict[str, Any]:
    return copy.deepcopy(ours("order_info_paid.json")["order_info_get_response"]["order_info"])


def form(body: bytes) -> dict[str, str]:
    return dict(parse_qsl(body.decode(), keep_blank_values=True))


# -- the mapper --------------------------------------------------------------------------------


@pytest.mark.unit
def test_a_paid_order_maps_lines_yuan_amounts_and_beijing_times() -> None:
    order = mapper.to_order(paid_order(), channel="pdd-shop", raw="{}")
    assert order.external_id == "260618-000000000000101"
    assert order.status is S.PAID
    assert not order.refund_requested
    assert [(line.channel_sku, line.qty, line.unit_price) for line in order.lines] == [
        ("TEE-WHITE-M", 2, Money.of("59.00")),
        ("400000202", 1, Money.of("39.00")),
    ]
    # the seller's 5.00 is shared over the lines; the platform's 3.00 is PDD's to pay
    assert [line.discount for line in order.lines] == [Money.of("3.75"), Money.of("1.25")]
    # the total is the shop's: goods less its own discount plus postage, i.e. lines + shipping
    assert order.total == Money.of("152.00")
    assert order.shipping_fee == Money.of("0.00")
    assert order.created_at == datetime(2026, 6, 17, 16, 0, 5, tzinfo=UTC)
    assert order.updated_at == datetime(2026, 6, 17, 16, 0, 20, tzinfo=UTC)
    assert order.payment is not None
    assert (order.payment.provider, order.payment.transaction_id) == (
        "weixin",
        "4200000000202606180000000101",
    )
    assert order.payment.amount == Money.of("149.00")
    assert order.remark == "周末送货"
    assert order.raw == "{}"
    assert order.buyer.channel_buyer_id is None  # PDD's order answer names no buyer


@pytest.mark.unit
def test_encrypted_and_masked_receiver_fields_are_kept_and_named_in_masked() -> None:
    native = paid_order()
    ship_to = mapper.to_order(native, channel="pdd").ship_to
    assert ship_to.name == native["receiver_name"]
    assert ship_to.name.startswith("~")
    assert ship_to.masked == ("name", "phone", "address")
    assert (ship_to.province, ship_to.city, ship_to.district) == ("上海市", "上海市", "静安区")
    plain = {
        **native,
        "receiver_name": "王小明",
        "receiver_phone": "13800000001",
        "address": "上海市静安区1号",
    }
    for companion in ("receiver_name_mask", "receiver_phone_mask", "receiver_address_mask"):
        plain.pop(companion)
    assert mapper.to_order(plain, channel="pdd").ship_to.masked == ()
    masked = {**plain, "receiver_phone": "1381234****"}
    assert mapper.to_order(masked, channel="pdd").ship_to.masked == ("phone",)


@pytest.mark.unit
def test_the_line_identity_is_the_outer_id_else_the_pdd_sku_id() -> None:
    assert mapper.line_identity({"outer_id": "TEE-WHITE-M", "sku_id": 1}) == "TEE-WHITE-M"
    assert mapper.line_identity({"outer_id": "", "sku_id": 400000202}) == "400000202"
    with pytest.raises(UnreadablePayload, match="neither outer_id nor sku_id"):
        mapper.line_identity({"outer_id": ""})
    assert "outer_id" in ADAPTER.line_identity


@pytest.mark.unit
def test_a_refund_in_progress_before_shipment_stops_fulfilment_and_receipt_completes() -> None:
    entries = ours("increment_page.json")["order_sn_increment_get_response"]["order_sn_list"]
    refunding = mapper.to_order(entries[0], channel="pdd")
    assert refunding.status is S.PAID
    assert refunding.refund_requested
    assert refunding.ship_to.masked == ("name", "phone", "address")
    received = mapper.to_order(entries[1], channel="pdd")
    assert received.status is S.COMPLETED
    assert not received.refund_requested


@pytest.mark.unit
@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"item_list": []}, "no item_list"),
        ({"order_sn": ""}, "empty order_sn"),
        ({"created_time": "someday"}, "not a time"),
        ({"seller_discount": 500}, "larger than the goods"),
        ({"pay_amount": "abc"}, "not an amount"),
    ],
)
def test_an_order_the_mapper_cannot_read_is_refused_with_the_reason(
    change: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(UnreadablePayload, match=complaint):
        mapper.to_order({**paid_order(), **change}, channel="pdd")


# -- the status table --------------------------------------------------------------------------


@pytest.mark.unit
def test_the_table_covers_every_documented_order_and_refund_status_pair() -> None:
    assert set(mapper.STATUSES) == {(o, r) for o in (1, 2, 3) for r in (1, 2, 3, 4)}
    expected = {
        (1, 1): (S.PAID, False),
        (1, 2): (S.PAID, True),
        (1, 3): (S.PAID, True),
        (1, 4): (S.CANCELLED, False),
        (2, 1): (S.SHIPPED, False),
        (2, 2): (S.SHIPPED, True),
        (2, 3): (S.SHIPPED, True),
        (2, 4): (S.REFUNDED, False),
        (3, 1): (S.DELIVERED, False),
        (3, 2): (S.DELIVERED, True),
        (3, 3): (S.DELIVERED, True),
        (3, 4): (S.REFUNDED, False),
    }
    assert {pair: tuple(mapper.reading(*pair)) for pair in mapper.STATUSES} == expected


@pytest.mark.unit
def test_confirm_status_and_receipt_refine_the_reading() -> None:
    assert mapper.reading(1, 1, confirm_status=0) == (S.CREATED, False)  # group not formed
    assert mapper.reading(1, 1, confirm_status=2) == (S.CANCELLED, False)
    assert mapper.reading(1, 1, confirm_status=None) == (S.PAID, False)  # field absent
    assert mapper.reading(3, 1, receive_time="2026-06-18 09:45:00") == (S.COMPLETED, False)
    assert mapper.reading("2", "1", "1") == (S.SHIPPED, False)  # codes as text too


@pytest.mark.unit
@pytest.mark.parametrize("status", list(mapper.STATUS_OF))
def test_the_way_back_gives_codes_that_read_as_the_same_status(status: OrderStatus) -> None:
    assert mapper.reading(*mapper.STATUS_OF[status]).status is status


@pytest.mark.unit
@pytest.mark.parametrize(
    ("order_status", "refund_status", "confirm", "named"),
    [
        (4, 1, 1, "order_status=4"),
        (1, 5, 1, "refund_status=5"),
        (1, 1, 7, "confirm_status=7"),
        ("x", 1, 1, "order_status=x"),
    ],
)
def test_an_unknown_code_is_a_clear_exception_naming_it(
    order_status: Any, refund_status: Any, confirm: Any, named: str
) -> None:
    native = {
        **paid_order(),
        "order_status": order_status,
        "refund_status": refund_status,
        "confirm_status": confirm,
    }
    with pytest.raises(UnknownChannelStatus, match=named):
        mapper.to_order(native, channel="pdd")


# -- signing -----------------------------------------------------------------------------------


@pytest.mark.unit
def test_the_signature_is_md5_of_secret_sorted_pairs_secret_in_upper_hex() -> None:
    params = {
        "type": "pdd.order.information.get",
        "client_id": "C",
        "timestamp": "1750000000",
        "order_sn": "1",
        "access_token": "",
        "sign": "ignored",
    }
    text = (
        "S"
        + "client_idC"
        + "order_sn1"
        + "timestamp1750000000"
        + "typepdd.order.information.get"
        + "S"
    )
    assert sign("S", params) == hashlib.md5(text.encode()).hexdigest().upper()
    assert signed("S", {"a": "1", "b": ""}) == {"a": "1", "sign": sign("S", {"a": "1"})}


def push(
    native: dict[str, Any],
    *,
    secret: str = SECRET,
    at: datetime | None = None,
    msg_id: str | None = "m-1",
    **query: str,
) -> InboundRequest:
    body = json.dumps(native, ensure_ascii=False).encode()
    params = {"client_id": "CLIENT1", "timestamp": str(int((at or datetime.now(UTC)).timestamp()))}
    if msg_id:
        params["msg_id"] = msg_id
    params.update(query)
    params["sign"] = sign(secret, params, body)
    return InboundRequest(body=body, headers={"content-type": "application/json"}, query=params)


@pytest.mark.unit
def test_a_correctly_signed_push_gives_its_message_id_and_when_it_was_sent() -> None:
    sent = datetime(2026, 6, 18, 2, 0, 0, tzinfo=UTC)
    verified = ADAPTER.verify(CONFIG, push(paid_order(), at=sent))
    assert verified.message_id == "m-1"
    assert verified.sent_at == sent


@pytest.mark.unit
def test_a_push_signed_with_another_secret_or_changed_on_the_way_is_refused() -> None:
    with pytest.raises(ChannelRefused, match="does not match"):
        ADAPTER.verify(CONFIG, push(paid_order(), secret="wrong"))
    good = push(paid_order())
    tampered = InboundRequest(
        body=good.body.replace(b"149.0", b"1.0"), headers=good.headers, query=good.query
    )
    with pytest.raises(ChannelRefused, match="does not match"):
        ADAPTER.verify(CONFIG, tampered)
    with pytest.raises(ChannelRefused, match="another client_id"):
        ADAPTER.verify(CONFIG, push(paid_order(), client_id="OTHER"))
    no_time = InboundRequest(
        body=good.body, headers={}, query={k: v for k, v in good.query.items() if k != "timestamp"}
    )
    with pytest.raises(ChannelRefused, match="no timestamp"):
        ADAPTER.verify(CONFIG, no_time)


@pytest.mark.unit
def test_a_pushed_order_is_parsed_and_an_order_sn_alone_is_fetched() -> None:
    parsed = ADAPTER.parse(CONFIG, push(ours("order_info_paid.json")))
    assert [o.external_id for o in parsed.orders] == ["260618-000000000000101"]
    parsed = ADAPTER.parse(CONFIG, push(ours("increment_page.json")))
    assert [o.external_id for o in parsed.orders] == [
        "260618-000000000000102",
        "260618-000000000000103",
    ]
    assert parsed.fetch == ["260618-000000000000104"]


@pytest.mark.unit
@pytest.mark.parametrize("body", [b"\xff\xfe", b"null", b'{"order_info_get_response": {}}'])
def test_a_push_that_holds_no_order_is_unreadable(body: bytes) -> None:
    with pytest.raises(UnreadablePayload):
        ADAPTER.parse(CONFIG, InboundRequest(body=body, headers={}, query={}))


# -- the calls the adapter builds --------------------------------------------------------------


@pytest.mark.unit
def test_the_pull_asks_for_every_status_by_updated_at_in_unix_seconds() -> None:
    start = datetime(2026, 6, 17, 16, 0, 0, 700_000, tzinfo=UTC)
    request = ADAPTER.pull_request(CONFIG, start, start + timedelta(minutes=30), 2)
    assert request.method == "POST"
    assert request.url == "http://pdd.invalid/api/router"
    params = form(request.body)
    assert params["type"] == "pdd.order.number.list.increment.get"
    assert params["sign"] == sign(SECRET, params)
    assert (params["client_id"], params["access_token"]) == ("CLIENT1", "TOKEN1")
    assert params["start_updated_at"] == str(int(start.timestamp()))
    assert int(params["end_updated_at"]) - int(params["start_updated_at"]) == 1800
    assert (params["order_status"], params["refund_status"], params["is_lucky_flag"]) == (
        "5",
        "5",
        "0",
    )
    assert (params["page"], params["page_size"], params["use_has_next"]) == ("2", "100", "false")


@pytest.mark.unit
def test_a_window_with_its_overlap_stays_within_pdds_thirty_minutes() -> None:
    assert ADAPTER.max_window + ADAPTER.overlap <= timedelta(minutes=30)


@pytest.mark.unit
def test_a_page_keeps_each_order_as_pdd_gave_it_and_an_order_sn_alone_is_incomplete() -> None:
    page = ADAPTER.read_page(CONFIG, 200, (OURS / "increment_page.json").read_bytes())
    assert [p.external_id for p in page.orders] == [
        "260618-000000000000102",
        "260618-000000000000103",
        "260618-000000000000104",
    ]
    assert not page.has_more
    assert [ADAPTER.complete(p.native) for p in page.orders] == [True, True, False]
    with pytest.raises(UnreadablePayload, match="order_status"):
        ADAPTER.to_order(CONFIG, page.orders[2].native, "")
    listing = {"order_sn_increment_get_response": {"order_sn_list": [{"order_sn": "1"}] * 100}}
    assert ADAPTER.read_page(CONFIG, 200, json.dumps(listing).encode()).has_more


@pytest.mark.unit
def test_stock_sets_the_full_quantity_of_the_goods_and_sku_from_the_credentials() -> None:
    params = form(ADAPTER.stock_request(CONFIG, StockUpdate("TEE-WHITE-M", 42, "T", 1)).body)
    assert params["type"] == "pdd.goods.quantity.update"
    assert (params["goods_id"], params["sku_id"], params["quantity"], params["update_type"]) == (
        "300000101",
        "400000101",
        "42",
        "1",
    )
    with pytest.raises(InvalidChannelConfig, match="credentials.skus"):
        ADAPTER.stock_request(CONFIG, StockUpdate("400000202", 1, "M", 1))


@pytest.mark.unit
def test_a_shipment_names_pdds_logistics_id_and_needs_a_tracking_number() -> None:
    request = ADAPTER.shipment_request(CONFIG, ShipmentUpdate("260618-1", "sf", "SF1", "shipped"))
    assert request is not None
    params = form(request.body)
    assert (
        params["type"],
        params["order_sn"],
        params["logistics_id"],
        params["tracking_number"],
    ) == ("pdd.logistics.online.send", "260618-1", "44", "SF1")
    with pytest.raises(InvalidChannelConfig, match="tracking number"):
        ADAPTER.shipment_request(CONFIG, ShipmentUpdate("260618-1", "SF", None, "shipped"))
    with pytest.raises(InvalidChannelConfig, match="no PDD logistics_id"):
        ADAPTER.shipment_request(CONFIG, ShipmentUpdate("260618-1", "PIGEON", "P", "shipped"))
    for status in ("delivered", "cancelled", "refunded"):
        assert ADAPTER.shipment_request(CONFIG, ShipmentUpdate("1", "SF", "S", status)) is None


# -- reading PDD's answers ---------------------------------------------------------------------


@pytest.mark.unit
def test_pdd_rate_limit_and_outages_may_be_retried_other_errors_may_not() -> None:
    with pytest.raises(CallRefused) as caught:
        ADAPTER.check_response(200, (OURS / "error_rate_limited.json").read_bytes())
    assert caught.value.retry
    assert caught.value.code == "70031"
    for status in (429, 502, 503):
        with pytest.raises(CallRefused) as caught:
            ADAPTER.check_response(status, b"<html>busy</html>")
        assert caught.value.retry
    for body in (
        b'{"error_response": {"error_code": 10019, "error_msg": "sign"}}',
        (OURS / "quantity_answer_refused.json").read_bytes(),
        b"[]",
    ):
        with pytest.raises(CallRefused) as caught:
            ADAPTER.check_response(200, body)
        assert not caught.value.retry, body
    ADAPTER.check_response(200, (OURS / "send_answer_ok.json").read_bytes())
    ADAPTER.check_response(200, (OURS / "increment_page.json").read_bytes())


@pytest.mark.unit
def test_the_registry_gives_the_pdd_adapter() -> None:
    adapter = adapter_for("pdd")
    assert isinstance(adapter, PddAdapter)
    assert adapter.pulls
    assert adapter.name == "pdd"


# -- conformance on the real published examples ------------------------------------------------


@pytest.mark.unit
@pytest.mark.skipif(not REAL.exists(), reason="../shared/fixtures is not here")
def test_the_real_order_information_example_maps_its_key_fields() -> None:
    body = json.loads((REAL / "pdd_order_information_get_doc_example.json").read_text("utf-8"))
    [native] = order_infos(body)
    order = mapper.to_order(native, channel="pdd")
    assert order.external_id == "180831-481803633911509"
    assert order.status is S.PAID
    assert not order.refund_requested
    assert [(line.channel_sku, line.qty) for line in order.lines] == [("51972265894", 1)]
    assert order.lines[0].unit_price == Money.of("11.01")
    assert (order.total, order.shipping_fee) == (Money.of("11.01"), Money.of("0"))
    assert order.created_at.isoformat() == "2018-08-31T10:42:33+08:00"
    assert order.updated_at.isoformat() == "2018-08-31T10:42:33+08:00"
    assert order.payment is not None
    assert order.payment.transaction_id == "4200000189201808312824969961"
    assert order.ship_to.masked == ()  # the doc sample's receiver is plain


@pytest.mark.unit
@pytest.mark.skipif(not REAL.exists(), reason="../shared/fixtures is not here")
@pytest.mark.parametrize(
    "name",
    ["pdd_order_list_get_doc_example.json", "pdd_order_number_list_increment_get_doc_example.json"],
)
def test_the_real_shipped_order_examples_map_their_key_fields(name: str) -> None:
    body = json.loads((REAL / name).read_text("utf-8"))
    [native] = order_infos(body)
    order = mapper.to_order(native, channel="pdd")
    assert order.external_id == "180810-364770100011509"
    assert order.status is S.SHIPPED
    assert [(line.channel_sku, line.qty) for line in order.lines] == [("52494558847", 1)]
    assert order.total == Money.of("4.50")
    assert order.updated_at.isoformat() == "2018-08-10T19:43:34+08:00"
    assert order.ship_to.phone == "1866716****"
    assert order.ship_to.masked == ("phone",)


@pytest.mark.unit
@pytest.mark.skipif(not REAL.exists(), reason="../shared/fixtures is not here")
def test_the_real_increment_example_reads_as_a_pulled_page() -> None:
    raw = (REAL / "pdd_order_number_list_increment_get_doc_example.json").read_bytes()
    page = ADAPTER.read_page(CONFIG, 200, raw)
    assert [p.external_id for p in page.orders] == ["180810-364770100011509"]
    assert not page.has_more  # no has_next in the example: fewer than a page


# -- the simulator over HTTP -------------------------------------------------------------------


@pytest.fixture
def pdd_sim() -> Any:
    with PddSimulator(secret=SECRET, client_id="CLIENT1", access_token="TOKEN1") as sim:
        sim.add_item("TEE-WHITE-M", "300000101", "400000101", "59.00")
        sim.add_item(None, "300000202", "400000202", "39.00")
        yield sim


def sim_config(sim: PddSimulator) -> ChannelConfig:
    return ChannelConfig(
        code="pdd-sim",
        adapter="pdd",
        secret=sim.secret,
        endpoint=sim.url,
        credentials=sim.credentials,
    )


@pytest.mark.integration
def test_the_simulator_serves_an_updated_at_window_page_by_page(pdd_sim: PddSimulator) -> None:
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=50)
    made = [
        pdd_sim.create_order([("TEE-WHITE-M", 1)], at=base + timedelta(seconds=i))
        for i in range(230)
    ]
    pdd_sim.create_order([("TEE-WHITE-M", 1)], at=base + timedelta(minutes=40))  # after
    config = sim_config(pdd_sim)
    with httpx.Client(timeout=10) as http:
        got = [
            p
            for page in pages(http, ADAPTER, config, base, base + timedelta(minutes=28))
            for p in page.orders
        ]
        # read from the last page back, then page 1 again: every order, none missed
        assert sorted({p.external_id for p in got}) == sorted(made)
        assert len(got) == len(made) + 100
        with pytest.raises(CallRefused, match="10000") as caught:  # over PDD's 30 minutes
            call(http, ADAPTER, ADAPTER.pull_request(config, base, base + timedelta(hours=1), 1))
        assert not caught.value.retry


@pytest.mark.integration
def test_the_simulator_applies_stock_and_shipments_and_refuses_a_wrong_signature(
    pdd_sim: PddSimulator,
) -> None:
    config = sim_config(pdd_sim)
    order_sn = pdd_sim.create_order([("400000202", 2)])
    with httpx.Client(timeout=10) as http:
        call(http, ADAPTER, ADAPTER.stock_request(config, StockUpdate("TEE-WHITE-M", 5, "T", 1)))
        call(http, ADAPTER, ADAPTER.stock_request(config, StockUpdate("400000202", 9, "M", 1)))
        assert pdd_sim.stock == {"TEE-WHITE-M": 5, "400000202": 9}
        call(
            http,
            ADAPTER,
            ADAPTER.shipment_request(config, ShipmentUpdate(order_sn, "ZTO", "ZT100", "shipped")),
        )
        assert pdd_sim.shipments == [
            {"order_sn": order_sn, "logistics_id": "115", "tracking_number": "ZT100"}
        ]
        assert pdd_sim.orders[order_sn]["order_status"] == 2
        forged = ChannelConfig(
            code="pdd",
            adapter="pdd",
            secret="not-the-secret",
            endpoint=pdd_sim.url,
            credentials=pdd_sim.credentials,
        )
        with pytest.raises(CallRefused, match="PDD error 10019") as caught:
            call(
                http, ADAPTER, ADAPTER.stock_request(forged, StockUpdate("TEE-WHITE-M", 1, "T", 2))
            )
        assert not caught.value.retry
        assert pdd_sim.stock["TEE-WHITE-M"] == 5


@pytest.mark.integration
def test_the_simulator_rate_limits_with_70031_which_is_retried(pdd_sim: PddSimulator) -> None:
    config = sim_config(pdd_sim)
    pdd_sim.faults.rate_limited = 1
    with httpx.Client(timeout=10) as http:
        with pytest.raises(CallRefused) as caught:
            call(http, ADAPTER, ADAPTER.fetch_request(config, "1"))
        assert caught.value.retry
        assert caught.value.code == str(client.RATE_LIMITED)
        pdd_sim.ids_only = True
        order_sn = pdd_sim.create_order([("TEE-WHITE-M", 3)], order_status=1, refund_status=2)
        now = datetime.now(UTC)
        _, body = call(
            http,
            ADAPTER,
            ADAPTER.pull_request(config, now - timedelta(minutes=5), now + timedelta(seconds=5), 1),
        )
        [entry] = ADAPTER.read_page(config, 200, body).orders
        assert not ADAPTER.complete(entry.native)
        _, body = call(http, ADAPTER, ADAPTER.fetch_request(config, entry.external_id))
        order = ADAPTER.to_order(config, ADAPTER.read_fetched(config, 200, body), "")
        assert order.external_id == order_sn
        assert order.refund_requested
