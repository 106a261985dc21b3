"""WooCommerce adapter: order webhooks read into canonical orders, the status table, the
webhook signature and ping, the REST calls the hub makes, and the simulator speaking
WooCommerce's protocol.

Our own fixtures (tests/channels/fixtures/woocommerce) are WooCommerce REST v3 orders written
with the demo SKUs; the conformance tests run the samples WooCommerce and others published (in
../shared/fixtures, when that folder exists) through the same mapper.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.shared_samples import SHARED_FIXTURES, needs_shared

from omnihub.adapters.channels import adapter_for
from omnihub.adapters.channels.woocommerce import mapper, signature
from omnihub.adapters.channels.woocommerce.client import (
    WooCommerceAdapter,
    message_id,
    product_of,
)
from omnihub.domain.errors import ErrorCode
from omnihub.domain.orders import IncomingLine, OrderStatus
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
from omnihub.simulators.channels.woocommerce import WooCommerceSimulator, wc_json

HERE = Path(__file__).parent / "fixtures" / "woocommerce"
FIXTURES = SHARED_FIXTURES
SHARED = FIXTURES / "woocommerce"

S = OrderStatus
SECRET = "omnihub-wc-test-secret"
CONFIG = ChannelConfig(
    code="woo-cn",
    adapter="woocommerce",
    secret=SECRET,
    credentials={
        "consumer_key": "ck_test",
        "consumer_secret": "cs_test",
        "products": {"TEE-WHITE-M": "501/503", "512": "510/512", "CAP-NAVY": 520},
    },
    endpoint="https://shop.example.com",
)


def fixture(name: str) -> dict[str, Any]:
    return dict(json.loads((HERE / name).read_text()))


def shared(name: str) -> Any:
    return json.loads((SHARED / name).read_text())


def webhook(
    body: bytes,
    topic: str | None = "order.created",
    *,
    secret: str = SECRET,
    delivery: str = "3f1c9a0e5b7d2c4a8e6f1b3d5c7a9e0f",
) -> InboundRequest:
    headers = {
        "content-type": "application/json",
        "x-wc-webhook-delivery-id": delivery,
        "x-wc-webhook-signature": signature.sign(secret, body),
    }
    if topic is not None:
        headers["x-wc-webhook-topic"] = topic
    return InboundRequest(body=body, headers=headers, query={})


def money(value: str) -> Money:
    return Money.of(value, "CNY")


def paid_for_line(line: IncomingLine) -> Money:
    return line.unit_price.times(line.qty) - line.discount


# -- mapper: native -> canonical --------------------------------------------------------------


@pytest.mark.unit
def test_a_processing_order_becomes_one_canonical_order_with_every_key_field() -> None:
    order = mapper.to_order(fixture("order_processing_paid.json"), channel="woo-cn", raw="{}")

    assert (order.channel, order.external_id, order.status) == ("woo-cn", "4242", S.PAID)
    # the *_gmt fields are UTC; date_created (10:15:02) is the same moment in Shanghai
    assert order.created_at == datetime(2026, 6, 18, 2, 15, 2, tzinfo=UTC)
    assert order.updated_at == datetime(2026, 6, 18, 2, 15, 9, tzinfo=UTC)
    tee, mug = order.lines
    # amounts as the buyer pays them: WooCommerce's ex-tax subtotal/total plus their tax
    assert (tee.channel_sku, tee.qty, tee.unit_price, tee.discount) == (
        "TEE-WHITE-M",
        2,
        money("59.00"),
        money("10.00"),
    )
    # no SKU on the mug's variation: it is matched by its variation id
    assert (mug.channel_sku, mug.qty, mug.unit_price, mug.discount) == (
        "512",
        1,
        money("39.00"),
        money("0.00"),
    )
    assert order.shipping_fee == money("8.00")
    assert order.total == money("155.00")
    assert paid_for_line(tee) + paid_for_line(mug) + order.shipping_fee == order.total
    assert (
        order.buyer.channel_buyer_id,
        order.buyer.name,
        order.buyer.email,
        order.buyer.phone,
    ) == ("57", "Meimei Han", "han.meimei@example.com", "13900139000")
    assert (
        order.ship_to.province,
        order.ship_to.city,
        order.ship_to.address,
        order.ship_to.postcode,
    ) == ("CN2", "Shanghai", "No. 8 Huaihai Middle Road Unit 5", "200020")
    assert order.payment is not None
    assert order.payment.provider == "woocommerce:alipay"
    assert order.payment.transaction_id == "2026061822001400000000004242"
    assert order.payment.paid_at == datetime(2026, 6, 18, 2, 15, 9, tzinfo=UTC)
    assert (order.cod, order.refund_requested, order.remark, order.raw) == (False, False, "", "{}")


@pytest.mark.unit
@pytest.mark.parametrize("name", sorted(p.name for p in HERE.glob("order_*.json")))
def test_every_fixture_survives_a_round_trip_through_the_woocommerce_format(name: str) -> None:
    first = mapper.to_order(fixture(name), channel="woo-cn")
    native = mapper.to_native(
        first,
        order_id=int(first.external_id),
        products={"TEE-WHITE-M": (501, 503), "512": (510, 512)},
    )
    second = mapper.to_order(json.loads(json.dumps(native)), channel="woo-cn")
    assert second == first


@pytest.mark.unit
def test_cash_on_delivery_processing_is_ready_to_ship_without_a_payment_record() -> None:
    order = mapper.to_order(fixture("order_cod_processing.json"), channel="c")
    assert (order.status, order.cod, order.payment) == (S.PAID, True, None)
    assert order.buyer.channel_buyer_id is None  # a guest checkout (customer_id 0)
    assert order.remark == "Leave it with the concierge"
    assert paid_for_line(order.lines[0]) + order.shipping_fee == order.total


@pytest.mark.unit
def test_a_refund_recorded_before_shipment_is_an_open_refund_request() -> None:
    order = mapper.to_order(fixture("order_processing_refund_recorded.json"), channel="c")
    assert (order.status, order.refund_requested) == (S.PAID, True)
    native = fixture("order_processing_refund_recorded.json")
    native["status"] = "completed"
    assert mapper.order_status(native) == (S.COMPLETED, False)


@pytest.mark.unit
def test_a_cancellation_after_payment_is_newer_than_the_payment() -> None:
    paid = mapper.to_order(fixture("order_processing_paid.json"), channel="c")
    cancelled = mapper.to_order(fixture("order_cancelled.json"), channel="c")
    assert cancelled.status is S.CANCELLED
    assert cancelled.updated_at > paid.updated_at


@pytest.mark.unit
def test_times_without_their_gmt_twin_are_the_shops_local_time() -> None:
    native = fixture("order_on_hold_local_times_only.json")
    order = mapper.to_order(native, channel="c")
    assert order.status is S.CREATED  # on-hold: waiting for the bank transfer
    assert order.created_at == datetime(2026, 6, 18, 2, 15, 2, tzinfo=UTC)  # Asia/Shanghai
    config = ChannelConfig("w", "woocommerce", SECRET, {"timezone": "Europe/Berlin"})
    berlin = WooCommerceAdapter().to_order(config, native, "")
    assert berlin.created_at == datetime(2026, 6, 18, 8, 15, 2, tzinfo=UTC)
    with pytest.raises(InvalidChannelConfig, match="time zone"):
        WooCommerceAdapter().to_order(
            ChannelConfig("w", "woocommerce", SECRET, {"timezone": "Mars/Olympus"}), native, ""
        )


STATUSES = {
    "pending": S.CREATED,
    "processing": S.PAID,
    "on-hold": S.CREATED,
    "completed": S.COMPLETED,
    "cancelled": S.CANCELLED,
    "refunded": S.REFUNDED,
    "failed": S.CREATED,
    "trash": S.CANCELLED,
    "checkout-draft": S.CREATED,
}


@pytest.mark.unit
def test_the_status_table_covers_every_documented_status() -> None:
    assert mapper.STATUS == STATUSES


@pytest.mark.unit
@pytest.mark.parametrize(("status", "expected"), sorted(STATUSES.items()))
def test_each_status_maps_to_its_hub_status(status: str, expected: OrderStatus) -> None:
    native = fixture("order_processing_paid.json")
    native["status"] = status
    assert mapper.to_order(native, channel="c").status is expected


@pytest.mark.unit
@pytest.mark.parametrize("status", ["wc-shipped", "Processing", None, 3])
def test_an_unknown_status_is_refused_with_a_clear_error(status: Any) -> None:
    native = fixture("order_processing_paid.json")
    native["status"] = status
    with pytest.raises(UnknownChannelStatus) as caught:
        mapper.to_order(native, channel="c")
    assert caught.value.code is ErrorCode.UNKNOWN_CHANNEL_STATUS
    assert "woocommerce status" in caught.value.message
    assert str(status) in caught.value.message


@pytest.mark.unit
def test_a_plugins_status_is_read_when_the_channel_names_it() -> None:
    native = fixture("order_processing_paid.json")
    native["status"] = "shipped"
    config = ChannelConfig("w", "woocommerce", SECRET, {"statuses": {"shipped": "shipped"}})
    assert WooCommerceAdapter().to_order(config, native, "").status is S.SHIPPED


@pytest.mark.unit
@pytest.mark.parametrize(
    ("line", "identity"),
    [
        ({"sku": "TEE-WHITE-M", "product_id": 501, "variation_id": 503}, "TEE-WHITE-M"),
        ({"sku": "", "product_id": 510, "variation_id": 512}, "512"),
        ({"sku": "", "product_id": 93, "variation_id": 0}, "93"),
    ],
)
def test_the_line_identity_is_the_sku_else_the_variation_else_the_product(
    line: dict[str, Any], identity: str
) -> None:
    assert mapper.line_identity(line) == identity


@pytest.mark.unit
def test_an_amount_that_does_not_divide_by_the_quantity_keeps_the_line_exact() -> None:
    native = fixture("order_processing_paid.json")
    native["line_items"][0].update(
        quantity=3, subtotal="10.00", subtotal_tax="0.00", total="10.00", total_tax="0.00"
    )
    line = mapper.to_order(native, channel="c").lines[0]
    assert paid_for_line(line) == money("10.00")
    assert line.discount.amount >= 0


@pytest.mark.unit
@pytest.mark.parametrize(
    "change",
    [
        {"line_items": []},
        {"id": None},
        {"id": 0},
        {"date_created_gmt": "06/18/2026 noon"},
        {"date_created_gmt": None, "date_created": None},
        {"total": "lots"},
    ],
)
def test_an_order_the_mapper_cannot_read_is_unreadable_with_the_reason(
    change: dict[str, Any],
) -> None:
    native = fixture("order_processing_paid.json")
    native.update(change)
    with pytest.raises(UnreadablePayload):
        mapper.to_order(native, channel="c")


# -- signature, ping and webhook reading --------------------------------------------------------


@pytest.mark.unit
def test_our_own_delivery_vector_computed_with_openssl_verifies() -> None:
    vector = json.loads((HERE / "webhook_order_created_delivery.json").read_text())
    body = (HERE / vector["body_file"]).read_bytes()
    headers = {k.lower(): v for k, v in vector["headers"].items()}
    config = ChannelConfig("w", "woocommerce", vector["secret"])
    verified = WooCommerceAdapter().verify(config, InboundRequest(body, headers, {}))
    assert verified.message_id is not None
    assert verified.message_id.startswith("3f1c9a0e5b7d2c4a8e6f1b3d5c7a9e0f:")
    assert verified.sent_at is None
    parsed = WooCommerceAdapter().parse(config, InboundRequest(body, headers, {}))
    assert [o.external_id for o in parsed.orders] == ["4242"]
    assert b"\\/" in body  # WooCommerce escapes slashes; the bytes are signed as sent


@pytest.mark.unit
@pytest.mark.parametrize("tamper", ["body", "secret", "missing", "hex"])
def test_a_delivery_whose_signature_does_not_match_is_refused(tamper: str) -> None:
    body = (HERE / "webhook_order_created.body").read_bytes()
    request = webhook(body, secret="another-secret" if tamper == "secret" else SECRET)
    headers = dict(request.headers)
    if tamper == "body":
        body = body.replace(b'"155.00"', b'"1.00"')
    elif tamper == "missing":
        del headers["x-wc-webhook-signature"]
    elif tamper == "hex":
        headers["x-wc-webhook-signature"] = base64.b64decode(signature.sign(SECRET, body)).hex()
    with pytest.raises(ChannelRefused) as caught:
        WooCommerceAdapter().verify(CONFIG, InboundRequest(body, headers, {}))
    assert caught.value.code is ErrorCode.BAD_SIGNATURE


@pytest.mark.unit
def test_the_ping_sent_when_a_webhook_is_saved_is_acknowledged_and_ignored() -> None:
    ping = InboundRequest(
        b"webhook_id=12",
        {
            "content-type": "application/x-www-form-urlencoded",
            "user-agent": "WooCommerce/8.5.2 Hookshot (WordPress/6.4.3)",
        },
        {},
    )
    adapter = WooCommerceAdapter()
    assert adapter.verify(CONFIG, ping).message_id is None
    parsed = adapter.parse(CONFIG, ping)
    assert parsed.orders == []
    assert parsed.fetch is None
    assert "ping" in (parsed.ignored or "")
    assert "webhook_id=12" in (parsed.ignored or "")


@pytest.mark.unit
def test_a_ping_shaped_body_with_an_order_topic_still_needs_its_signature() -> None:
    forged = InboundRequest(b"webhook_id=12", {"x-wc-webhook-topic": "order.created"}, {})
    with pytest.raises(ChannelRefused):
        WooCommerceAdapter().verify(CONFIG, forged)


@pytest.mark.unit
def test_two_deliveries_sharing_a_delivery_id_in_one_second_get_different_message_ids() -> None:
    paid = (HERE / "order_processing_paid.json").read_bytes()
    cod = (HERE / "order_cod_processing.json").read_bytes()
    same = "5d41402abc4b2a76b9719d911017c592"
    assert message_id(webhook(paid, delivery=same)) != message_id(webhook(cod, delivery=same))
    assert message_id(webhook(paid, delivery=same)) == message_id(webhook(paid, delivery=same))


@pytest.mark.unit
@pytest.mark.parametrize("topic", ["order.created", "order.updated", "order.restored"])
def test_each_order_topic_carries_one_whole_order(topic: str) -> None:
    body = (HERE / "webhook_order_created.body").read_bytes()
    parsed = WooCommerceAdapter().parse(CONFIG, webhook(body, topic))
    assert [o.external_id for o in parsed.orders] == ["4242"]
    assert parsed.orders[0].raw == body.decode()


@pytest.mark.unit
def test_a_deleted_order_is_fetched_in_full_and_a_trashed_one_is_cancelled() -> None:
    adapter = WooCommerceAdapter()
    parsed = adapter.parse(CONFIG, webhook(b'{"id":4242}', "order.deleted"))
    assert (parsed.orders, parsed.fetch) == ([], ["4242"])
    request = adapter.fetch_request(CONFIG, "4242")
    assert (request.method, request.url) == (
        "GET",
        "https://shop.example.com/wp-json/wc/v3/orders/4242",
    )
    trashed = fixture("order_processing_paid.json")
    trashed["status"] = "trash"
    native = adapter.read_fetched(CONFIG, 200, json.dumps(trashed).encode())
    assert adapter.to_order(CONFIG, native, "").status is S.CANCELLED
    with pytest.raises(UnreadablePayload):
        adapter.parse(CONFIG, webhook(b'{"id":"x; DROP"}', "order.deleted"))


@pytest.mark.unit
def test_other_topics_are_acknowledged_and_ignored() -> None:
    parsed = WooCommerceAdapter().parse(CONFIG, webhook(b'{"id": 5}', "product.updated"))
    assert parsed.orders == []
    assert "product.updated" in (parsed.ignored or "")


@pytest.mark.unit
@pytest.mark.parametrize("body", [b"{not json", b"[]", b'"order"', b"webhook_id=oops"])
def test_a_body_that_is_not_an_order_object_is_unreadable(body: bytes) -> None:
    with pytest.raises(UnreadablePayload):
        WooCommerceAdapter().parse(CONFIG, webhook(body))


@pytest.mark.unit
def test_a_signed_delivery_without_a_topic_is_unreadable() -> None:
    with pytest.raises(UnreadablePayload, match="X-WC-Webhook-Topic"):
        WooCommerceAdapter().parse(CONFIG, webhook(b'{"id": 1}', None))


@pytest.mark.unit
def test_the_registry_gives_the_woocommerce_adapter() -> None:
    adapter = adapter_for("woocommerce")
    assert isinstance(adapter, WooCommerceAdapter)
    assert "sku" in adapter.line_identity
    assert "variation_id" in adapter.line_identity
    assert adapter.pushes == {"shipped", "cancelled"}
    assert not adapter.pulls


# -- outbound calls -----------------------------------------------------------------------------


def basic(key: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()


@pytest.mark.unit
@pytest.mark.parametrize(
    ("channel_sku", "path"),
    [
        ("TEE-WHITE-M", "/wp-json/wc/v3/products/501/variations/503"),
        ("512", "/wp-json/wc/v3/products/510/variations/512"),
        ("CAP-NAVY", "/wp-json/wc/v3/products/520"),
        ("93", "/wp-json/wc/v3/products/93"),
    ],
)
def test_a_stock_push_sets_the_stock_quantity_of_the_product_or_variation(
    channel_sku: str, path: str
) -> None:
    request = WooCommerceAdapter().stock_request(CONFIG, StockUpdate(channel_sku, 12, "X", 1))
    assert (request.method, request.url) == ("PUT", "https://shop.example.com" + path)
    assert request.headers["Authorization"] == basic("ck_test", "cs_test")
    assert json.loads(request.body) == {"stock_quantity": 12, "manage_stock": True}


@pytest.mark.unit
def test_a_channel_sku_without_a_product_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(CallRefused, match="credentials.products") as caught:
        product_of(CONFIG, "MUG-CERAMIC-350")
    assert caught.value.retry is False


@pytest.mark.unit
def test_a_shipment_completes_the_order_with_carrier_and_tracking_in_its_meta_data() -> None:
    request = WooCommerceAdapter().shipment_request(
        CONFIG, ShipmentUpdate("4242", "SF", "SF1400000000042", "shipped")
    )
    assert request is not None
    assert (request.method, request.url) == (
        "PUT",
        "https://shop.example.com/wp-json/wc/v3/orders/4242",
    )
    assert json.loads(request.body) == {
        "status": "completed",
        "meta_data": [
            {"key": "omnihub_carrier", "value": "SF"},
            {"key": "omnihub_tracking_number", "value": "SF1400000000042"},
        ],
    }


@pytest.mark.unit
def test_a_cancellation_sets_the_cancelled_status_and_others_are_not_pushed() -> None:
    adapter = WooCommerceAdapter()
    request = adapter.shipment_request(CONFIG, ShipmentUpdate("4242", None, None, "cancelled"))
    assert request is not None
    assert json.loads(request.body) == {"status": "cancelled"}
    for status in ("refunded", "delivered", "completed"):
        assert adapter.shipment_request(CONFIG, ShipmentUpdate("4242", None, None, status)) is None


@pytest.mark.unit
@pytest.mark.parametrize(
    ("status", "code", "retry"),
    [
        (429, "rest_too_many_requests", True),
        (500, "internal_server_error", True),
        (502, "", True),
        (400, "rest_invalid_param", False),
        (401, "woocommerce_rest_cannot_edit", False),
        (404, "woocommerce_rest_product_invalid_id", False),
    ],
)
def test_woocommerce_errors_are_retried_only_when_a_later_attempt_can_work(
    status: int, code: str, retry: bool
) -> None:
    body = json.dumps({"code": code, "message": "the reason", "data": {"status": status}})
    with pytest.raises(CallRefused) as caught:
        WooCommerceAdapter().check_response(status, body.encode() if code else b"<html>")
    assert caught.value.retry is retry
    assert caught.value.code == (code or str(status))


# -- the simulator speaks WooCommerce's protocol ------------------------------------------------


@pytest.fixture
def site() -> Any:
    with WooCommerceSimulator(seed=3) as sim:
        assert isinstance(sim, WooCommerceSimulator)
        sim.add_product("TEE-WHITE-M", product_id=501, variation_id=503)
        sim.add_product(None, product_id=510, variation_id=512)
        sim.add_product("CAP-NAVY", product_id=520)
        yield sim


def config_for(sim: WooCommerceSimulator, **credentials: Any) -> ChannelConfig:
    return ChannelConfig(
        "woo-cn", "woocommerce", sim.secret, {**sim.credentials(), **credentials}, sim.url
    )


def send(request: Any) -> httpx.Response:
    return httpx.request(
        request.method, request.url, content=request.body or None, headers=request.headers
    )


@pytest.mark.integration
def test_the_simulator_applies_the_adapters_stock_calls_to_products_and_variations(
    site: WooCommerceSimulator,
) -> None:
    adapter, config = WooCommerceAdapter(), config_for(site)
    for channel_sku, qty in (("TEE-WHITE-M", 40), ("512", 7), ("CAP-NAVY", 0)):
        response = send(adapter.stock_request(config, StockUpdate(channel_sku, qty, "X", 1)))
        adapter.check_response(response.status_code, response.content)
    assert site.stock == {"TEE-WHITE-M": 40, "512": 7, "CAP-NAVY": 0}
    assert site.stock_quantity[(510, 512)] == 7
    assert site.refused == []


@pytest.mark.integration
def test_the_simulator_refuses_wrong_keys_and_unknown_products_in_woocommerces_words(
    site: WooCommerceSimulator,
) -> None:
    adapter = WooCommerceAdapter()
    wrong = send(
        adapter.stock_request(
            config_for(site, consumer_secret="cs_wrong"), StockUpdate("CAP-NAVY", 1, "X", 1)
        )
    )
    assert (wrong.status_code, wrong.json()["code"]) == (401, "woocommerce_rest_cannot_edit")
    missing = send(adapter.stock_request(config_for(site), StockUpdate("999", 1, "X", 1)))
    assert (missing.status_code, missing.json()["code"]) == (404, "rest_no_route")
    for response in (wrong, missing):
        with pytest.raises(CallRefused) as caught:
            adapter.check_response(response.status_code, response.content)
        assert caught.value.retry is False
    assert site.stock == {}


@pytest.mark.integration
def test_the_simulators_faults_are_retried_by_the_adapter(site: WooCommerceSimulator) -> None:
    adapter, config = WooCommerceAdapter(), config_for(site)
    site.faults.rate_limited = 1
    limited = send(adapter.stock_request(config, StockUpdate("CAP-NAVY", 3, "X", 1)))
    site.faults.error_rate = 1.0
    broken = send(adapter.stock_request(config, StockUpdate("CAP-NAVY", 3, "X", 1)))
    site.faults.error_rate = 0.0
    assert (limited.status_code, broken.status_code) == (429, 500)
    for response in (limited, broken):
        with pytest.raises(CallRefused) as caught:
            adapter.check_response(response.status_code, response.content)
        assert caught.value.retry is True
    assert site.stock == {}


@pytest.mark.integration
def test_shipment_and_cancellation_calls_change_the_orders_status_on_the_simulator(
    site: WooCommerceSimulator,
) -> None:
    adapter, config = WooCommerceAdapter(), config_for(site)
    shipped = site.new_order([("TEE-WHITE-M", 1, "59.00")], deliver=False)
    dropped = site.new_order([("CAP-NAVY", 1, "79.00")], deliver=False)
    for update in (
        ShipmentUpdate(str(shipped["id"]), "SF", "SF100", "shipped"),
        ShipmentUpdate(str(dropped["id"]), None, None, "cancelled"),
    ):
        request = adapter.shipment_request(config, update)
        assert request is not None
        response = send(request)
        adapter.check_response(response.status_code, response.content)
    assert site.orders[str(shipped["id"])]["status"] == "completed"
    assert site.orders[str(dropped["id"])]["status"] == "cancelled"
    assert site.shipments == [
        {"order_id": str(shipped["id"]), "carrier": "SF", "tracking_number": "SF100"}
    ]
    fetched = send(adapter.fetch_request(config, str(shipped["id"])))
    native = adapter.read_fetched(config, fetched.status_code, fetched.content)
    assert adapter.to_order(config, native, "").status is S.COMPLETED


@pytest.mark.integration
def test_the_simulators_orders_and_deliveries_are_read_by_the_adapter(
    site: WooCommerceSimulator,
) -> None:
    native = site.new_order([("TEE-WHITE-M", 2, "59.00"), ("512", 1, "39.00")], deliver=False)
    body = wc_json(native)
    headers = {k.lower(): v for k, v in site.headers("order.created", body).items()}
    config = config_for(site)
    request = InboundRequest(body, headers, {})
    assert WooCommerceAdapter().verify(config, request).message_id
    (order,) = WooCommerceAdapter().parse(config, request).orders
    assert [(ln.channel_sku, ln.qty) for ln in order.lines] == [("TEE-WHITE-M", 2), ("512", 1)]
    assert (order.status, order.total) == (S.PAID, money("165.00"))


# -- conformance: the samples WooCommerce and others published ----------------------------------


@pytest.mark.unit
@needs_shared
def test_conformance_a_real_webhook_order_from_a_woocommerce_5_8_store() -> None:
    order = mapper.to_order(shared("frappe_ecommerce_integrations__test_order.json"), channel="c")
    assert (order.external_id, order.status, order.cod) == ("205", S.CREATED, True)  # on-hold
    ((sku, qty, unit),) = [(ln.channel_sku, ln.qty, ln.unit_price) for ln in order.lines]
    assert (sku, qty, unit) == ("woo-album", 1, Money.of("17.70", "INR"))  # 15.00 + 2.70 tax
    assert order.total == Money.of("17.70", "INR")
    assert order.buyer.channel_buyer_id == "1"
    assert order.buyer.email == "strange@erpnext.com"
    assert order.ship_to.city == "Mumbai"  # empty shipping block: the billing address
    assert order.created_at == datetime(2021, 11, 30, 7, 32, 10, tzinfo=UTC)
    assert order.updated_at == datetime(2021, 11, 30, 7, 32, 11, tzinfo=UTC)


@pytest.mark.unit
@needs_shared
@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("wc_rest_docs_v3_order_retrieve.json", S.PAID),
        ("wc_rest_docs_v3_order_update.json", S.COMPLETED),
    ],
)
def test_conformance_the_rest_docs_order_727(name: str, status: OrderStatus) -> None:
    order = mapper.to_order(shared(name), channel="c")
    assert (order.external_id, order.status) == ("727", status)
    assert [(ln.channel_sku, ln.qty) for ln in order.lines] == [("93", 2), ("Bar3", 1)]
    assert [paid_for_line(ln).amount for ln in order.lines] == [Decimal("6.45"), Decimal("12.90")]
    assert order.shipping_fee == Money.of("10.00", "USD")
    assert order.total == Money.of("29.35", "USD")
    assert sum((paid_for_line(ln) for ln in order.lines), order.shipping_fee) == order.total
    assert order.buyer.channel_buyer_id is None  # customer_id 0: a guest
    assert order.created_at == datetime(2017, 3, 22, 19, 28, 2, tzinfo=UTC)
    assert order.payment is not None
    assert order.payment.paid_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)


@pytest.mark.unit
@needs_shared
def test_conformance_the_rest_docs_order_list() -> None:
    orders = [mapper.to_order(o, channel="c") for o in shared("wc_rest_docs_v3_orders_list.json")]
    assert [(o.external_id, o.status, o.buyer.channel_buyer_id) for o in orders] == [
        ("727", S.PAID, None),
        ("723", S.COMPLETED, "26"),
    ]
    assert [ln.channel_sku for ln in orders[1].lines] == ["87", "34"]
    assert orders[1].total == Money.of("39.00", "USD")


@pytest.mark.unit
@needs_shared
def test_conformance_refund_lines_carry_the_same_line_identity() -> None:
    refunds = shared("wc_rest_docs_v3_order_refunds_list.json")
    identities = [mapper.line_identity(line) for r in refunds for line in r["line_items"]]
    assert identities == ["87"]


@pytest.mark.unit
@needs_shared
@pytest.mark.parametrize(
    "name",
    ["wc_rest_docs_v3_webhooks_delivery_section.txt", "webhook_delivery_headers_example_gist.txt"],
)
def test_conformance_the_documented_delivery_headers_are_the_ones_read(name: str) -> None:
    documented = (SHARED / name).read_text().lower()
    for header in ("x-wc-webhook-topic", "x-wc-webhook-signature", "x-wc-webhook-delivery-id"):
        assert header in documented
    # the real delivery's signature is base64 of a 32-byte HMAC-SHA256, as the adapter expects
    if "5poyfy4q" in documented:
        value = next(
            line.split()[-1]
            for line in (SHARED / name).read_text().splitlines()
            if line.lower().startswith("x-wc-webhook-signature")
        )
        assert len(base64.b64decode(value)) == 32
