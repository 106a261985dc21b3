"""饿了么 adapter: pushed envelopes verified and read into canonical orders, the status and
message-type tables, the platform's API calls and answers, and the simulator speaking the
platform's protocol.

Our own fixtures (tests/channels/fixtures/eleme) are envelopes and API answers written in the
platform's format with the demo SKUs; the conformance tests run the samples others published
(in ../shared/fixtures, when that folder exists) through the same mapper.
"""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.shared_samples import SHARED_FIXTURES, needs_shared

from omnihub.adapters.channels import adapter_for
from omnihub.adapters.channels.eleme import mapper
from omnihub.adapters.channels.eleme.client import ElemeAdapter
from omnihub.adapters.channels.eleme.signature import PUSH_FIELDS, api_signature, push_signature
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
from omnihub.simulators.channels.eleme import ElemeSimulator

HERE = Path(__file__).parent / "fixtures" / "eleme"
FIXTURES = SHARED_FIXTURES
SHARED = FIXTURES / "eleme"

S = OrderStatus
SECRET = "fixture-app-secret"
STORE = "ST-SH-JINGAN"
CONFIG = ChannelConfig(
    code="ele-jingan",
    adapter="eleme",
    secret=SECRET,
    credentials={
        "shops": {"160001": STORE},
        "app_key": "eleme-app-key",
        "token": "eleme-shop-token",
        "app_id": 30001,
        "specs": {"TEE-WHITE-M": 7100001},
    },
    endpoint="https://open-api.shop.ele.me/api/v1/",
)
ADAPTER = ElemeAdapter()


def fixture(name: str) -> dict[str, Any]:
    return dict(json.loads((HERE / name).read_text()))


def request(body: bytes | dict[str, Any]) -> InboundRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return InboundRequest(body=raw, headers={"content-type": "application/json"}, query={})


def resigned(envelope: dict[str, Any], secret: str = SECRET, **changes: Any) -> dict[str, Any]:
    changed = dict(envelope, **changes)
    changed.pop("signature", None)
    changed["signature"] = push_signature(changed, secret)
    return changed


def effective_order() -> dict[str, Any]:
    return dict(json.loads(fixture("type10_order_effective.json")["message"]))


# -- the push signature ----------------------------------------------------------------------


@pytest.mark.unit
def test_the_push_signature_is_the_upper_hex_md5_of_the_sorted_fields_and_the_secret() -> None:
    envelope = fixture("type10_order_effective.json")
    base = (
        f"appId=30001message={envelope['message']}requestId={envelope['requestId']}"
        f"shopId=160001timestamp={envelope['timestamp']}type=10"
        f"userId=98587250597500001{SECRET}"
    )
    expected = hashlib.md5(base.encode()).hexdigest().upper()
    assert push_signature(envelope, SECRET) == expected == envelope["signature"]


@pytest.mark.unit
def test_a_correctly_signed_envelope_gives_its_request_id_and_send_time() -> None:
    verified = ADAPTER.verify(CONFIG, request(fixture("type10_order_effective.json")))
    assert verified.message_id == "9f1c2a7d5e0b4c3aa1d2e3f405060708"
    assert verified.sent_at == datetime(2026, 5, 18, 11, 58, 9, tzinfo=SHANGHAI)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("tamper", "why"),
    [
        (lambda e: resigned(e, secret="someone-else"), "does not match"),
        (
            lambda e: dict(e, message=e["message"].replace('"quantity":2', '"quantity":20')),
            "does not match",
        ),
        (lambda e: dict(e, shopId=160002), "does not match"),
        (lambda e: {k: v for k, v in e.items() if k != "signature"}, "has no signature"),
        (lambda e: resigned(e, appId=30002), "not this channel's app_id"),
    ],
    ids=["other-secret", "message-changed", "shop-changed", "unsigned", "other-app"],
)
def test_a_forged_or_changed_envelope_is_refused(tamper: Any, why: str) -> None:
    envelope = tamper(fixture("type10_order_effective.json"))
    with pytest.raises(ChannelRefused, match=why) as refused:
        ADAPTER.verify(CONFIG, request(envelope))
    assert refused.value.code is ErrorCode.BAD_SIGNATURE


@pytest.mark.unit
def test_a_body_that_is_no_envelope_cannot_be_verified_and_is_refused() -> None:
    with pytest.raises(ChannelRefused, match="no signed envelope"):
        ADAPTER.verify(CONFIG, request(b"requestId=1&type=10"))


@pytest.mark.unit
def test_a_channel_without_a_secret_cannot_check_and_refuses() -> None:
    unsigned = ChannelConfig(code="ele", adapter="eleme", credentials=CONFIG.credentials)
    with pytest.raises(ChannelRefused, match="no secret"):
        ADAPTER.verify(unsigned, request(fixture("type10_order_effective.json")))


# -- type 10: the whole order ----------------------------------------------------------------


@pytest.mark.unit
def test_an_effective_order_message_becomes_a_same_day_order_at_the_shops_store() -> None:
    parsed = ADAPTER.parse(CONFIG, request(fixture("type10_order_effective.json")))
    assert parsed.fetch is None
    assert parsed.ignored is None
    (order,) = parsed.orders
    assert order.channel == "ele-jingan"
    assert order.external_id == "3000000000000000101"
    assert order.status is S.PAID
    assert not order.refund_requested
    assert order.delivery is DeliveryMode.SAME_DAY
    assert order.pickup_location == STORE
    assert order.created_at == datetime(2026, 5, 18, 11, 58, 2, tzinfo=SHANGHAI)
    assert order.updated_at == datetime(2026, 5, 18, 11, 58, 9, tzinfo=SHANGHAI)  # activeAt
    assert [(ln.channel_sku, ln.qty, ln.unit_price, ln.discount) for ln in order.lines] == [
        ("TEE-WHITE-M", 2, Money.of("59.00"), Money.of("10.00")),  # extendCode; total 108
        ("7100002", 1, Money.of("39.00"), Money.of("0")),  # no extendCode: the spec id
        ("5100003", 1, Money.of("79.00"), Money.of("0")),  # skuId -1: the item id
    ]
    assert order.shipping_fee == Money.of("6.00")  # deliverFee 5 + packageFee 1 (餐盒费)
    assert order.total == Money.of("232.00")
    lines_total = sum(
        (ln.unit_price.amount * ln.qty - ln.discount.amount for ln in order.lines), Decimal("0")
    )
    assert lines_total + order.shipping_fee.amount == order.total.amount
    assert order.payment is not None
    assert order.payment.provider == "eleme"
    assert order.payment.amount == order.total
    assert not order.cod
    assert order.buyer.channel_buyer_id == "98587250597500001"
    assert (order.buyer.name, order.buyer.phone) == ("王*", "138****0001")
    assert order.buyer.masked == ("name", "phone")
    address = order.ship_to
    assert (address.province, address.city, address.district) == ("上海市", "上海市", "静安区")
    assert address.address == "上海市静安区南京西路1601号"
    assert (address.lat, address.lon) == (31.2281, 121.454)


@pytest.mark.unit
def test_the_extra_basket_is_a_fee_when_no_package_fee_is_given() -> None:
    native = effective_order()
    del native["packageFee"]
    order = mapper.to_order("ele", {"160001": STORE}, native, "")
    assert order.shipping_fee == Money.of("6.00")
    assert all(ln.channel_sku != "-70000" for ln in order.lines)


@pytest.mark.unit
def test_an_order_not_paid_online_is_cash_on_delivery_without_a_payment() -> None:
    native = dict(effective_order(), onlinePaid=False)
    order = mapper.to_order("ele", {"160001": STORE}, native, "")
    assert order.status is S.PAID
    assert order.cod
    assert order.payment is None


@pytest.mark.unit
def test_an_order_of_a_shop_the_channel_does_not_serve_is_unreadable_with_the_reason() -> None:
    native = dict(effective_order(), shopId=999)
    with pytest.raises(UnreadablePayload, match="shop 999.*credentials.shops"):
        mapper.to_order("ele", {"160001": STORE}, native, "")


@pytest.mark.unit
def test_a_basket_of_an_unknown_type_is_not_silently_dropped() -> None:
    native = copy.deepcopy(effective_order())
    native["groups"][1]["type"] = "gift"
    with pytest.raises(UnreadablePayload, match="neither normal"):
        mapper.to_order("ele", {"160001": STORE}, native, "")


@pytest.mark.unit
def test_an_order_with_only_fees_or_a_zero_quantity_is_unreadable() -> None:
    native = copy.deepcopy(effective_order())
    native["groups"] = [native["groups"][-1]]
    with pytest.raises(UnreadablePayload, match="no goods"):
        mapper.to_order("ele", {"160001": STORE}, native, "")
    native = copy.deepcopy(effective_order())
    native["groups"][0]["items"][0]["quantity"] = 0
    with pytest.raises(UnreadablePayload, match="positive"):
        mapper.to_order("ele", {"160001": STORE}, native, "")


@pytest.mark.unit
def test_a_signed_envelope_whose_message_is_not_json_is_unreadable() -> None:
    envelope = resigned(fixture("type10_order_effective.json"), message='{"orderId": "1",')
    ADAPTER.verify(CONFIG, request(envelope))  # the signature is right
    with pytest.raises(UnreadablePayload, match="not valid JSON"):
        ADAPTER.parse(CONFIG, request(envelope))


# -- state messages: fetched in full ---------------------------------------------------------


@pytest.mark.unit
def test_a_cancel_request_names_the_order_which_is_fetched_in_full() -> None:
    parsed = ADAPTER.parse(CONFIG, request(fixture("type20_cancel_requested.json")))
    assert parsed.orders == []
    assert parsed.fetch == ["3000000000000000101"]
    call = ADAPTER.fetch_request(CONFIG, "3000000000000000101")
    body = json.loads(call.body)
    assert body["action"] == "eleme.order.getOrder"
    assert body["params"] == {"orderId": "3000000000000000101"}


@pytest.mark.unit
def test_a_fetched_order_stands_as_of_the_request_time_its_answer_echoes() -> None:
    answer = fixture("getorder_answer_refunding.json")
    native = ADAPTER.read_fetched(CONFIG, 200, json.dumps(answer).encode())
    order = ADAPTER.to_order(CONFIG, native, json.dumps(native))
    assert order.status is S.PAID
    assert order.refund_requested
    assert order.updated_at == datetime.fromtimestamp(1779077001.456, tz=UTC)
    assert order.updated_at > datetime(2026, 5, 18, 11, 58, 9, tzinfo=SHANGHAI)  # > activeAt


@pytest.mark.unit
@pytest.mark.parametrize("kind", sorted(mapper.STATE_MESSAGES))
def test_every_state_and_refund_message_type_fetches_the_order(kind: int) -> None:
    envelope = resigned(fixture("type20_cancel_requested.json"), type=kind)
    assert ADAPTER.parse(CONFIG, request(envelope)).fetch == ["3000000000000000101"]


@pytest.mark.unit
@pytest.mark.parametrize(("kind", "why"), [(45, "reminder"), (52, "rider"), (99, "not an order")])
def test_other_message_types_are_answered_and_ignored_with_the_reason(kind: int, why: str) -> None:
    envelope = resigned(fixture("type20_cancel_requested.json"), type=kind)
    parsed = ADAPTER.parse(CONFIG, request(envelope))
    assert parsed.orders == []
    assert not parsed.fetch
    assert parsed.ignored is not None
    assert why in parsed.ignored
    assert ADAPTER.acknowledge([]) == {"message": "ok"}


# -- the status tables -----------------------------------------------------------------------

DOCUMENTED = {"pending", "unprocessed", "refunding", "valid", "invalid", "settled"}
DOCUMENTED_REFUNDS = {"noRefund", "applied", "rejected", "arbitrating", "failed", "successful"}


@pytest.mark.unit
def test_the_status_tables_cover_every_documented_status_and_lead_back() -> None:
    assert set(mapper.ORDER_STATUS) == DOCUMENTED
    assert set(mapper.REFUND_STATUS) == DOCUMENTED_REFUNDS
    for native, canonical in mapper.TO_CANONICAL.items():
        assert mapper.TO_CANONICAL[mapper.TO_NATIVE[canonical]] is canonical, native
    assert set(mapper.TO_NATIVE) == set(S) - {S.HELD}  # held is the hub's own


@pytest.mark.unit
@pytest.mark.parametrize(
    ("status", "refund", "expected"),
    [
        ("pending", "noRefund", (S.CREATED, False)),
        ("unprocessed", "noRefund", (S.PAID, False)),
        ("valid", "noRefund", (S.PAID, False)),
        ("refunding", "applied", (S.PAID, True)),
        ("valid", "arbitrating", (S.PAID, True)),
        ("valid", "rejected", (S.PAID, False)),
        ("valid", "failed", (S.PAID, False)),
        ("invalid", "successful", (S.CANCELLED, False)),
        ("invalid", "noRefund", (S.CANCELLED, False)),
        ("settled", "noRefund", (S.COMPLETED, False)),
        ("settled", "applied", (S.COMPLETED, False)),
        ("settled", "successful", (S.REFUNDED, False)),
        ("VALID", "NOREFUND", (S.PAID, False)),  # the SDK enums are upper-case
        (None, None, (S.PAID, False)),  # a type-10 body without status: effective
    ],
)
def test_status_and_refund_status_give_the_hubs_status_and_open_requests(
    status: str | None, refund: str | None, expected: tuple[OrderStatus, bool]
) -> None:
    assert mapper.canonical(status, refund) == expected


@pytest.mark.unit
@pytest.mark.parametrize(("status", "refund"), [("paid", "noRefund"), ("valid", "partly")])
def test_an_unknown_status_is_a_clear_error_that_keeps_the_order(status: str, refund: str) -> None:
    native = dict(effective_order(), status=status, refundStatus=refund)
    with pytest.raises(UnknownChannelStatus) as unknown:
        mapper.to_order("ele", {"160001": STORE}, native, "")
    assert unknown.value.code is ErrorCode.UNKNOWN_CHANNEL_STATUS
    assert "kept in the inbound log" in unknown.value.message


# -- calls to the platform -------------------------------------------------------------------


@pytest.mark.unit
def test_stock_is_set_per_spec_with_a_signed_batch_update_stock_call() -> None:
    call = ADAPTER.stock_request(CONFIG, StockUpdate("TEE-WHITE-M", 7, "TEE-WHITE-M", 3))
    body = json.loads(call.body)
    assert (call.method, call.url) == ("POST", "https://open-api.shop.ele.me/api/v1/")
    assert body["action"] == "eleme.product.item.batchUpdateStock"
    assert body["params"] == {"stockMap": {"7100001": 7}}
    assert body["metas"]["app_key"] == "eleme-app-key"
    assert body["token"] == "eleme-shop-token"
    assert body["signature"] == api_signature(
        body["action"], body["token"], body["metas"], body["params"], SECRET
    )
    assert mapper.request_time(body["id"]) is not None  # "<uuid>|<Unix ms>"
    numeric = json.loads(ADAPTER.stock_request(CONFIG, StockUpdate("7100009", -2, "X", 1)).body)
    assert numeric["params"] == {"stockMap": {"7100009": 0}}


@pytest.mark.unit
def test_a_merchant_code_without_a_configured_spec_id_cannot_be_pushed() -> None:
    with pytest.raises(InvalidChannelConfig, match="credentials.specs"):
        ADAPTER.stock_request(CONFIG, StockUpdate("CAP-NAVY", 3, "CAP-NAVY", 1))


@pytest.mark.unit
def test_the_api_signature_is_action_token_sorted_json_pairs_and_secret() -> None:
    metas = {"app_key": "k", "timestamp": 1779076689}
    params = {"orderId": "300", "stockMap": {"7100001": 2}}
    base = (
        'eleme.order.getOrdertokapp_key="k"orderId="300"stockMap={"7100001":2}'
        "timestamp=1779076689" + SECRET
    )
    expected = hashlib.md5(base.encode()).hexdigest().upper()
    assert api_signature("eleme.order.getOrder", "tok", metas, params, SECRET) == expected


@pytest.mark.unit
def test_the_store_reserving_accepts_the_order_and_packing_readies_it() -> None:
    accepted = ADAPTER.shipment_request(CONFIG, ShipmentUpdate("300", None, None, "allocated"))
    assert accepted is not None
    assert json.loads(accepted.body)["action"] == "eleme.order.confirmOrderLite"
    ready = ADAPTER.shipment_request(CONFIG, ShipmentUpdate("300", None, None, "picked"))
    assert ready is not None
    assert json.loads(ready.body)["action"] == "eleme.order.setOrderPrepared"
    assert ADAPTER.shipment_request(CONFIG, ShipmentUpdate("300", "SF", "1", "shipped")) is None
    assert ADAPTER.pushes == {"allocated", "picked"}


@pytest.mark.unit
@pytest.mark.parametrize(
    ("status", "body", "retry"),
    [
        (200, json.dumps(fixture("answer_exceed_limit.json")), True),
        (200, '{"id":"1","result":null,"error":{"code":"SERVER_ERROR","message":"x"}}', True),
        (200, '{"id":"1","result":null,"error":{"code":"INVALID_SIGNATURE","message":"x"}}', False),
        (200, '{"id":"1","result":null,"error":{"code":"BIZ_ORDER_CLOSED","message":"x"}}', False),
        (503, "", True),
        (429, "", True),
        (403, "denied", False),
        (200, "<html>", True),
    ],
)
def test_platform_errors_are_refusals_retried_only_when_a_retry_may_work(
    status: int, body: str, retry: bool
) -> None:
    with pytest.raises(CallRefused) as refused:
        ADAPTER.check_response(status, body.encode())
    assert refused.value.retry is retry


@pytest.mark.unit
def test_a_successful_answer_passes_and_the_registry_names_the_adapter() -> None:
    ADAPTER.check_response(200, b'{"id":"1","result":null,"error":null}')
    assert isinstance(adapter_for("eleme"), ElemeAdapter)
    assert "extendCode" in ElemeAdapter.line_identity


# -- conformance: samples others published ---------------------------------------------------


@pytest.mark.unit
@needs_shared
def test_the_2016_order_message_sample_reads_with_the_extra_basket_as_a_fee() -> None:
    native = json.loads((SHARED / "yikao__eleme_order_message_doc_example_2016.json").read_text())
    order = mapper.to_order("ele", {"968861": STORE}, native, "")
    assert order.external_id == "100027475225737816"
    assert order.status is S.PAID  # status null in an order-effective message
    assert [(ln.channel_sku, ln.qty, ln.unit_price) for ln in order.lines] == [
        ("260", 2, Money.of("5.00"))
    ]
    assert order.shipping_fee == Money.of("4.00")  # deliverFee 2 + packageFee 2
    assert order.total == Money.of("5.00")
    assert order.buyer.channel_buyer_id == "13524069"
    assert order.buyer.phone == "13456789012"
    assert order.buyer.name == "老好人 先生"
    assert order.created_at == datetime(2016, 12, 6, 15, 8, 41, tzinfo=SHANGHAI)
    assert (order.ship_to.lon, order.ship_to.lat) == (121.83317, 31.514559)
    assert order.pickup_location == STORE


@pytest.mark.unit
@needs_shared
def test_the_2017_type_10_sample_reads_three_baskets_and_item_ids_for_sku_id_minus_one() -> None:
    native = json.loads(
        (SHARED / "hiylo_components__eleme_order_message_type10_doc_example_2017.json").read_text()
    )
    order = mapper.to_order("ele", {"720032": STORE}, native, "")
    assert order.external_id == "1200897812792015983"
    assert order.status is S.PAID
    assert not order.refund_requested
    assert [(ln.channel_sku, ln.qty) for ln in order.lines] == [("260", 1), ("262", 1), ("261", 2)]
    assert order.total == Money.of("20.00")
    assert order.shipping_fee == Money.of("0.00")
    assert order.remark == "爱吃辣多点辣"
    assert order.created_at == datetime(2017, 3, 6, 12, 28, 50, tzinfo=SHANGHAI)


def envelope_from_doc() -> dict[str, Any]:
    lines = (SHARED / "hiylo_components__eleme_push_envelope_doc_comment.txt").read_text()
    fields = {}
    for line in lines.splitlines():
        name, _, value = line.partition(" : ")
        fields[name.strip()] = value
    numbers = ("type", "appId", "shopId", "timestamp", "userId")
    return {k: int(v) if k in numbers else v for k, v in fields.items()}


@pytest.mark.unit
@needs_shared
def test_the_documented_envelope_reads_and_its_local_times_are_shanghai_time() -> None:
    raw = envelope_from_doc()
    assert set(raw) == {*PUSH_FIELDS, "signature"}
    envelope = mapper.envelope(raw)
    assert (envelope.request_id, envelope.type, envelope.shop_id) == (
        "100000021764401594",
        10,
        "720032",
    )
    order = mapper.to_order("ele", {"720032": STORE}, envelope.message, "")
    # sent 4.4 s after the order became effective: the local times read as Asia/Shanghai
    assert timedelta(0) < envelope.timestamp - order.updated_at < timedelta(minutes=1)
    signature = raw["signature"]
    assert len(signature) == 32
    assert signature == signature.upper()
    assert push_signature(raw, "not-the-app-secret") != signature


# -- the simulator speaks the platform's protocol --------------------------------------------


@pytest.fixture
def platform() -> Any:
    with ElemeSimulator(secret=SECRET, seed=3) as sim:
        yield sim


def sim_config(sim: ElemeSimulator) -> ChannelConfig:
    return ChannelConfig(
        code="ele",
        adapter="eleme",
        secret=sim.secret,
        credentials=sim.credentials(STORE),
        endpoint=sim.api_url,
    )


def send(call: Any) -> httpx.Response:
    return httpx.request(
        call.method,
        call.url,
        content=call.body,
        headers=call.headers,
        params=call.params,
        timeout=5,
    )


@pytest.mark.integration
def test_the_simulator_takes_signed_stock_calls_and_refuses_forged_ones(
    platform: ElemeSimulator,
) -> None:
    config = sim_config(platform)
    response = send(ADAPTER.stock_request(config, StockUpdate("MUG-CERAMIC-350", 4, "M", 1)))
    ADAPTER.check_response(response.status_code, response.content)
    assert platform.stock == {"MUG-CERAMIC-350": 4}
    forged = ChannelConfig(
        code="ele",
        adapter="eleme",
        secret="wrong",
        credentials=config.credentials,
        endpoint=config.endpoint,
    )
    response = send(ADAPTER.stock_request(forged, StockUpdate("MUG-CERAMIC-350", 9, "M", 2)))
    with pytest.raises(CallRefused, match="INVALID_SIGNATURE") as refused:
        ADAPTER.check_response(response.status_code, response.content)
    assert not refused.value.retry
    assert platform.stock == {"MUG-CERAMIC-350": 4}
    assert platform.refused
    assert "INVALID_SIGNATURE" in platform.refused[0][1]


@pytest.mark.integration
def test_the_simulators_rate_limit_and_errors_are_the_platforms_own_and_retried(
    platform: ElemeSimulator,
) -> None:
    config = sim_config(platform)
    platform.faults.rate_limited = 1
    response = send(ADAPTER.stock_request(config, StockUpdate("CAP-NAVY", 2, "C", 1)))
    with pytest.raises(CallRefused, match="EXCEED_LIMIT") as limited:
        ADAPTER.check_response(response.status_code, response.content)
    assert limited.value.retry
    assert response.status_code == 200
    platform.faults.error_rate = 1.0
    response = send(ADAPTER.stock_request(config, StockUpdate("CAP-NAVY", 2, "C", 1)))
    with pytest.raises(CallRefused, match="SERVER_ERROR") as failed:
        ADAPTER.check_response(response.status_code, response.content)
    assert failed.value.retry
    platform.faults.error_rate = 0.0
    response = send(ADAPTER.stock_request(config, StockUpdate("CAP-NAVY", 2, "C", 1)))
    ADAPTER.check_response(response.status_code, response.content)
    assert platform.stock == {"CAP-NAVY": 2}


@pytest.mark.integration
def test_an_order_fetched_from_the_simulator_reads_at_its_current_state(
    platform: ElemeSimulator,
) -> None:
    config = sim_config(platform)
    platform.hub_url = platform.url + "/no-hub"  # pushes answered 404: the order stays
    order_id = platform.place_order([("TEE-WHITE-M", 1)], phone="13800000000,1234")
    platform.request_cancel(order_id)
    response = send(ADAPTER.fetch_request(config, order_id))
    native = ADAPTER.read_fetched(config, response.status_code, response.content)
    order = ADAPTER.to_order(config, native, "")
    assert order.external_id == order_id
    assert order.refund_requested
    assert order.buyer.phone == "13800000000,1234"
    assert order.buyer.masked == ()
    assert order.pickup_location == STORE
    assert [(ln.channel_sku, ln.qty) for ln in order.lines] == [("TEE-WHITE-M", 1)]
