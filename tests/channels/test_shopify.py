"""Shopify adapter: order webhooks read into canonical orders, the status table, the webhook
signature, the Admin API calls the hub makes, and the simulator speaking Shopify's protocol.

Our own fixtures (tests/channels/fixtures/shopify) are Shopify order JSON written with the
demo SKUs; the conformance tests run the samples Shopify and others published (in
../shared/fixtures, when that folder exists) through the same mapper.
"""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.shared_samples import SHARED_FIXTURES, needs_shared

from omnihub.adapters.channels import adapter_for
from omnihub.adapters.channels.shopify import mapper, signature
from omnihub.adapters.channels.shopify.client import ShopifyAdapter, inventory_item_id
from omnihub.domain.errors import ErrorCode
from omnihub.domain.orders import OrderStatus
from omnihub.domain.values import Money
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
from omnihub.simulators.channels.shopify import RATE_LIMITED, ShopifySimulator

HERE = Path(__file__).parent / "fixtures" / "shopify"
FIXTURES = SHARED_FIXTURES
SHARED = FIXTURES / "shopify"

S = OrderStatus
SECRET = "omnihub-shopify-test-secret"
CONFIG = ChannelConfig(
    code="shopify-cn",
    adapter="shopify",
    secret=SECRET,
    credentials={
        "access_token": "shpat_test",
        "location_id": "61000001",
        "inventory_items": {"TEE-WHITE-M": 49000000000101, "44000000000303": "49000000000303"},
    },
    endpoint="https://omnihub-demo.myshopify.com/",
)


def fixture(name: str) -> dict[str, Any]:
    return dict(json.loads((HERE / name).read_text()))


def shared(name: str) -> dict[str, Any]:
    return dict(json.loads((SHARED / name).read_text()))


def webhook(
    body: bytes, topic: str = "orders/create", *, secret: str = SECRET, **extra: str
) -> InboundRequest:
    headers = {
        "x-shopify-topic": topic,
        "x-shopify-hmac-sha256": signature.sign(secret, body),
        "x-shopify-webhook-id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "content-type": "application/json",
    }
    headers.update({k.lower(): v for k, v in extra.items()})
    return InboundRequest(body=body, headers=headers, query={})


def money(value: str) -> Money:
    return Money.of(value, "CNY")


# -- mapper: native -> canonical --------------------------------------------------------------


@pytest.mark.unit
def test_a_paid_order_webhook_becomes_one_canonical_order_with_every_key_field() -> None:
    order = mapper.to_order(fixture("orders_create_paid.json"), channel="shopify-cn", raw="{}")

    assert order.channel == "shopify-cn"
    assert order.external_id == "5123456789012"
    assert order.status is S.PAID
    assert order.created_at == datetime(2026, 6, 18, 2, 15, 2, tzinfo=UTC)
    assert order.updated_at == datetime(2026, 6, 18, 2, 15, 4, tzinfo=UTC)
    tee, cap = order.lines
    assert (tee.channel_sku, tee.qty, tee.unit_price, tee.discount) == (
        "TEE-WHITE-M",
        2,
        money("59.00"),
        money("5.00"),
    )
    # no merchant SKU on the cap's variant: it is matched by its variant id
    assert (cap.channel_sku, cap.qty, cap.unit_price, cap.discount) == (
        "44000000000303",
        1,
        money("79.00"),
        money("0.00"),
    )
    assert order.shipping_fee == money("10.00")  # the discounted shipping price
    assert order.total == money("202.00")
    lines_total = sum((ln.unit_price.times(ln.qty) - ln.discount for ln in order.lines), money("0"))
    assert lines_total + order.shipping_fee == order.total
    assert order.buyer.channel_buyer_id == "7010000000042"
    assert (order.buyer.name, order.buyer.email, order.buyer.phone) == (
        "Fang Wang",
        "wang.fang@example.com",
        "+8613800138000",
    )
    assert order.buyer.masked == ()
    assert order.ship_to.province == "Shanghai"
    assert order.ship_to.address == "No. 100 Yan'an West Road Room 1203"
    assert (order.ship_to.postcode, order.ship_to.lat) == ("200040", 31.2215)
    assert order.payment is not None
    assert order.payment.amount == money("202.00")
    assert order.payment.provider == "shopify:shopify_payments"
    assert order.payment.paid_at == order.created_at
    assert (order.cod, order.refund_requested, order.remark, order.raw) == (False, False, "", "{}")


@pytest.mark.unit
@pytest.mark.parametrize("name", sorted(p.name for p in HERE.glob("orders_*.json")))
def test_every_fixture_survives_a_round_trip_through_the_shopify_format(name: str) -> None:
    first = mapper.to_order(fixture(name), channel="shopify-cn")
    native = mapper.to_native(first, order_id=int(first.external_id), number=1042)
    second = mapper.to_order(json.loads(json.dumps(native)), channel="shopify-cn")
    assert second == first


@pytest.mark.unit
def test_cash_on_delivery_pending_is_ready_to_ship_without_a_payment_record() -> None:
    order = mapper.to_order(fixture("orders_create_cod_pending.json"), channel="shopify-cn")
    assert (order.status, order.cod, order.payment) == (S.PAID, True, None)
    assert order.remark == "Please call before delivery"
    assert order.lines[0].unit_price + order.shipping_fee == order.total


@pytest.mark.unit
def test_a_cancellation_after_payment_cancels_the_order_even_though_it_was_refunded() -> None:
    order = mapper.to_order(fixture("orders_cancelled_after_payment.json"), channel="c")
    assert order.status is S.CANCELLED
    assert (
        order.updated_at
        > mapper.to_order(fixture("orders_create_paid.json"), channel="c").updated_at
    )


@pytest.mark.unit
def test_a_partial_refund_before_shipment_is_an_open_refund_request() -> None:
    order = mapper.to_order(fixture("orders_updated_partially_refunded.json"), channel="c")
    assert (order.status, order.refund_requested) == (S.PAID, True)


@pytest.mark.unit
def test_a_partial_refund_after_shipment_is_not_a_refund_request() -> None:
    native = fixture("orders_fulfilled.json")
    native["financial_status"] = "partially_refunded"
    assert mapper.order_status(native) == (S.SHIPPED, False)


@pytest.mark.unit
def test_an_order_first_seen_fulfilled_arrives_as_shipped() -> None:
    assert mapper.to_order(fixture("orders_fulfilled.json"), channel="c").status is S.SHIPPED


FINANCIAL = {
    "pending": S.CREATED,
    "authorized": S.PAID,
    "partially_paid": S.CREATED,
    "paid": S.PAID,
    "partially_refunded": S.PAID,
    "refunded": S.REFUNDED,
    "voided": S.CANCELLED,
}


@pytest.mark.unit
def test_the_status_table_covers_every_documented_financial_status() -> None:
    assert mapper.FINANCIAL_STATUS == FINANCIAL


@pytest.mark.unit
@pytest.mark.parametrize(("financial", "expected"), sorted(FINANCIAL.items()))
def test_each_financial_status_maps_to_its_hub_status(
    financial: str, expected: OrderStatus
) -> None:
    native = fixture("orders_create_paid.json")
    native["financial_status"] = financial
    assert mapper.to_order(native, channel="c").status is expected


@pytest.mark.unit
@pytest.mark.parametrize(
    ("fulfilment", "expected"),
    [
        (None, S.PAID),
        ("unfulfilled", S.PAID),
        ("pending", S.PAID),
        ("partial", S.PAID),
        ("fulfilled", S.SHIPPED),
        ("restocked", S.SHIPPED),
    ],
)
def test_each_fulfillment_status_of_a_paid_order(
    fulfilment: str | None, expected: OrderStatus
) -> None:
    native = fixture("orders_create_paid.json")
    native["fulfillment_status"] = fulfilment
    assert mapper.order_status(native)[0] is expected


@pytest.mark.unit
@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("financial_status", "chargeback_pending"),
        ("financial_status", None),
        ("fulfillment_status", "shipped_by_drone"),
    ],
)
def test_an_unknown_status_is_refused_with_a_clear_error(key: str, value: Any) -> None:
    native = fixture("orders_create_paid.json")
    native[key] = value
    with pytest.raises(UnknownChannelStatus) as caught:
        mapper.to_order(native, channel="c")
    assert caught.value.code is ErrorCode.UNKNOWN_CHANNEL_STATUS
    assert "shopify status" in caught.value.message
    assert str(value) in caught.value.message


@pytest.mark.unit
def test_tax_is_added_to_line_and_shipping_amounts_when_prices_exclude_it() -> None:
    native = fixture("orders_create_paid.json")
    native["taxes_included"] = False
    native["shipping_lines"][0]["tax_lines"] = [{"price": "1.30"}]
    native["total_price"] = "225.39"  # 202.00 + 22.09 line tax + 1.30 shipping tax
    order = mapper.to_order(native, channel="c")
    amounts = [ln.unit_price.times(ln.qty) - ln.discount for ln in order.lines]
    assert amounts == [money("126.00"), money("88.09")]
    assert all(ln.discount.amount >= 0 for ln in order.lines)
    assert order.shipping_fee == money("11.30")
    assert sum(amounts, money("0")) + order.shipping_fee == order.total


@pytest.mark.unit
@pytest.mark.parametrize(
    ("line", "identity"),
    [
        ({"sku": " TEE-WHITE-M ", "variant_id": 1, "product_id": 2}, "TEE-WHITE-M"),
        ({"sku": "", "variant_id": 44000000000303, "product_id": 2}, "44000000000303"),
        ({"sku": None, "variant_id": None, "product_id": 8800000000303}, "8800000000303"),
        (
            {"sku": None, "variant_id": None, "product_id": None, "title": "Gift wrap"},
            "custom:Gift wrap",
        ),
    ],
)
def test_the_line_identity_is_the_sku_else_the_variant_id(
    line: dict[str, Any], identity: str
) -> None:
    assert mapper.line_identity(line) == identity


@pytest.mark.unit
@pytest.mark.parametrize(
    "change",
    [
        {"line_items": []},
        {"line_items": None},
        {"id": None},
        {"created_at": "yesterday"},
        {"total_price": "a lot"},
    ],
)
def test_an_order_the_mapper_cannot_read_is_unreadable_with_the_reason(
    change: dict[str, Any],
) -> None:
    native = fixture("orders_create_paid.json")
    native.update(change)
    with pytest.raises(UnreadablePayload):
        mapper.to_order(native, channel="c")


# -- signature and webhook reading -------------------------------------------------------------


@pytest.mark.unit
def test_our_own_hmac_vector_computed_with_openssl_verifies() -> None:
    vector = json.loads((HERE / "webhook_hmac_vector.json").read_text())
    body = (HERE / vector["body_file"]).read_bytes()
    assert signature.sign(vector["secret"], body) == vector["expected"]
    signature.check(vector["secret"], body, vector["expected"])


@pytest.mark.unit
@needs_shared
def test_the_published_shopify_hmac_vector_verifies() -> None:
    path = SHARED / "webhook_hmac_test_vector_from_sqlpage.json"
    if not path.exists():
        pytest.skip("the published vector is not in ../shared/fixtures")
    vector = json.loads(path.read_text())
    body = vector["raw_body"].encode()
    assert signature.sign(vector["secret"], body) == vector["expected_header_value_base64"]
    digest = base64.b64decode(vector["expected_header_value_base64"]).hex()
    assert digest == vector["expected_hex_digest_same_hmac"]
    ShopifyAdapter().verify(
        ChannelConfig("s", "shopify", secret=vector["secret"]),
        webhook(body, secret=vector["secret"]),
    )


@pytest.mark.unit
@pytest.mark.parametrize("tamper", ["body", "secret", "missing", "hex"])
def test_a_webhook_whose_signature_does_not_match_is_refused(tamper: str) -> None:
    body = (HERE / "orders_create_paid.json").read_bytes()
    request = webhook(body, secret="another-apps-secret" if tamper == "secret" else SECRET)
    headers = dict(request.headers)
    if tamper == "body":
        body = body.replace(b"202.00", b"2.00")
    elif tamper == "missing":
        del headers["x-shopify-hmac-sha256"]
    elif tamper == "hex":  # the right HMAC in the wrong encoding
        headers["x-shopify-hmac-sha256"] = base64.b64decode(signature.sign(SECRET, body)).hex()
    with pytest.raises(ChannelRefused) as caught:
        ShopifyAdapter().verify(CONFIG, InboundRequest(body, headers, {}))
    assert caught.value.code is ErrorCode.BAD_SIGNATURE


@pytest.mark.unit
def test_a_channel_without_a_secret_refuses_every_webhook() -> None:
    body = (HERE / "orders_create_paid.json").read_bytes()
    with pytest.raises(ChannelRefused, match="no secret"):
        ShopifyAdapter().verify(ChannelConfig("s", "shopify"), webhook(body))


@pytest.mark.unit
def test_verify_returns_the_webhook_id_and_the_triggered_at_time() -> None:
    body = b'{"id": 1}'
    verified = ShopifyAdapter().verify(
        CONFIG, webhook(body, **{"X-Shopify-Triggered-At": "2026-06-18T02:15:04.877041743Z"})
    )
    assert verified.message_id == "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    assert verified.sent_at == datetime(2026, 6, 18, 2, 15, 4, 877041, tzinfo=UTC)
    assert ShopifyAdapter().verify(CONFIG, webhook(body)).sent_at is None
    with pytest.raises(ChannelRefused, match="Triggered-At"):
        ShopifyAdapter().verify(CONFIG, webhook(body, **{"X-Shopify-Triggered-At": "soon"}))


@pytest.mark.unit
def test_a_late_retry_within_shopifys_retry_window_is_not_too_old() -> None:
    assert ShopifyAdapter.max_skew.total_seconds() >= 4 * 3600


@pytest.mark.unit
@pytest.mark.parametrize(
    "topic", ["orders/create", "orders/updated", "orders/paid", "orders/cancelled"]
)
def test_each_order_topic_carries_one_whole_order(topic: str) -> None:
    body = (HERE / "orders_create_paid.json").read_bytes()
    parsed = ShopifyAdapter().parse(CONFIG, webhook(body, topic))
    assert [o.external_id for o in parsed.orders] == ["5123456789012"]
    assert parsed.orders[0].raw == body.decode()
    assert parsed.ignored is None


@pytest.mark.unit
def test_other_topics_are_acknowledged_and_ignored() -> None:
    parsed = ShopifyAdapter().parse(CONFIG, webhook(b'{"id": 1}', "products/update"))
    assert parsed.orders == []
    assert "products/update" in (parsed.ignored or "")


@pytest.mark.unit
def test_a_test_order_is_ignored_unless_the_channel_accepts_test_orders() -> None:
    native = fixture("orders_create_paid.json")
    native["test"] = True
    body = json.dumps(native).encode()
    parsed = ShopifyAdapter().parse(CONFIG, webhook(body))
    assert parsed.orders == []
    assert "test order" in (parsed.ignored or "")
    accepting = ChannelConfig(
        "shopify-cn", "shopify", SECRET, {**(CONFIG.credentials or {}), "accept_test_orders": True}
    )
    assert len(ShopifyAdapter().parse(accepting, webhook(body)).orders) == 1


@pytest.mark.unit
@pytest.mark.parametrize("body", [b"", b"{not json", b"[1, 2]", b'"order"'])
def test_a_body_that_is_not_an_order_object_is_unreadable(body: bytes) -> None:
    with pytest.raises(UnreadablePayload):
        ShopifyAdapter().parse(CONFIG, webhook(body))


@pytest.mark.unit
def test_a_webhook_without_a_topic_is_unreadable() -> None:
    request = webhook(b'{"id": 1}')
    headers = {k: v for k, v in request.headers.items() if k != "x-shopify-topic"}
    with pytest.raises(UnreadablePayload, match="X-Shopify-Topic"):
        ShopifyAdapter().parse(CONFIG, InboundRequest(request.body, headers, {}))


@pytest.mark.unit
def test_the_registry_gives_the_shopify_adapter() -> None:
    adapter = adapter_for("shopify")
    assert isinstance(adapter, ShopifyAdapter)
    assert "sku" in adapter.line_identity
    assert "variant_id" in adapter.line_identity
    assert adapter.pushes == {"shipped"}
    assert not adapter.pulls


# -- outbound calls -----------------------------------------------------------------------------


@pytest.mark.unit
def test_a_stock_push_sets_the_available_quantity_of_the_mapped_inventory_item() -> None:
    request = ShopifyAdapter().stock_request(CONFIG, StockUpdate("TEE-WHITE-M", 17, "TEE", 3))
    assert request.method == "POST"
    assert request.url == (
        "https://omnihub-demo.myshopify.com/admin/api/2024-01/inventory_levels/set.json"
    )
    assert request.headers["X-Shopify-Access-Token"] == "shpat_test"
    assert json.loads(request.body) == {
        "location_id": 61000001,
        "inventory_item_id": 49000000000101,
        "available": 17,
    }


@pytest.mark.unit
def test_the_inventory_item_is_found_in_the_map_else_a_numeric_channel_sku_is_one() -> None:
    assert inventory_item_id(CONFIG, "44000000000303") == 49000000000303
    assert inventory_item_id(CONFIG, "49000000000999") == 49000000000999
    with pytest.raises(CallRefused, match="inventory_items") as caught:
        inventory_item_id(CONFIG, "MUG-CERAMIC-350")
    assert caught.value.retry is False


@pytest.mark.unit
def test_a_shipment_becomes_a_fulfillment_with_tracking_number_and_company() -> None:
    request = ShopifyAdapter().shipment_request(
        CONFIG, ShipmentUpdate("5123456789012", "SF", "SF1400000000042", "shipped")
    )
    assert request is not None
    assert request.url.endswith("/admin/api/2024-01/orders/5123456789012/fulfillments.json")
    assert json.loads(request.body) == {
        "fulfillment": {
            "notify_customer": True,
            "tracking_number": "SF1400000000042",
            "tracking_company": "SF Express",
            "location_id": 61000001,
        }
    }


@pytest.mark.unit
@pytest.mark.parametrize("status", ["cancelled", "refunded", "delivered"])
def test_cancellations_refunds_and_deliveries_are_not_pushed_to_shopify(status: str) -> None:
    update = ShipmentUpdate("5123456789012", None, None, status)
    assert ShopifyAdapter().shipment_request(CONFIG, update) is None


@pytest.mark.unit
def test_the_fulfillment_order_form_fulfils_every_open_fulfillment_order() -> None:
    adapter = ShopifyAdapter()
    listing = adapter.fulfillment_orders_request(CONFIG, "5123456789012")
    assert (listing.method, listing.body) == ("GET", b"")
    assert listing.url.endswith("/orders/5123456789012/fulfillment_orders.json")
    answer = json.dumps(
        {
            "fulfillment_orders": [
                {"id": 1, "status": "open", "supported_actions": ["create_fulfillment"]},
                {"id": 2, "status": "closed", "supported_actions": []},
                {"id": 3, "status": "in_progress", "supported_actions": ["create_fulfillment"]},
            ]
        }
    ).encode()
    update = ShipmentUpdate("5123456789012", "ZTO", "ZT778899", "shipped")
    request = adapter.fulfillment_request(CONFIG, update, answer)
    assert request is not None
    assert request.url.endswith("/admin/api/2024-01/fulfillments.json")
    assert json.loads(request.body) == {
        "fulfillment": {
            "line_items_by_fulfillment_order": [
                {"fulfillment_order_id": 1},
                {"fulfillment_order_id": 3},
            ],
            "notify_customer": True,
            "tracking_info": {"number": "ZT778899", "company": "ZTO Express"},
        }
    }
    closed = json.dumps({"fulfillment_orders": [{"id": 2, "status": "closed"}]}).encode()
    assert adapter.fulfillment_request(CONFIG, update, closed) is None


@pytest.mark.unit
@pytest.mark.parametrize(
    ("status", "body", "retry"),
    [
        (429, {"errors": RATE_LIMITED}, True),
        (500, {"errors": "Internal Server Error"}, True),
        (503, {"errors": "Unavailable Shop"}, True),
        (401, {"errors": "[API] Invalid API key or access token"}, False),
        (404, {"errors": "Not Found"}, False),
        (422, {"errors": ["Inventory item does not have inventory tracking enabled"]}, False),
    ],
)
def test_shopify_errors_are_retried_only_when_a_later_attempt_can_work(
    status: int, body: dict[str, Any], retry: bool
) -> None:
    with pytest.raises(CallRefused) as caught:
        ShopifyAdapter().check_response(status, json.dumps(body).encode())
    assert caught.value.retry is retry
    assert caught.value.code == str(status)
    text = body["errors"] if isinstance(body["errors"], str) else body["errors"][0]
    assert text in str(caught.value)


@pytest.mark.unit
def test_a_resent_fulfillment_of_an_order_fulfilled_already_counts_as_done() -> None:
    body = json.dumps({"errors": {"base": ["Line items are already fulfilled"]}}).encode()
    ShopifyAdapter().check_response(422, body)
    ShopifyAdapter().check_response(201, b'{"fulfillment": {}}')


# -- the simulator speaks Shopify's protocol ----------------------------------------------------


@pytest.fixture
def shop() -> Any:
    with ShopifySimulator(seed=3) as sim:
        assert isinstance(sim, ShopifySimulator)
        sim.add_variant(
            "TEE-WHITE-M",
            variant_id=44000000000101,
            product_id=8800000000101,
            inventory_item_id=49000000000101,
        )
        sim.add_variant(
            None,
            variant_id=44000000000303,
            product_id=8800000000303,
            inventory_item_id=49000000000303,
        )
        yield sim


def config_for(sim: ShopifySimulator, **credentials: Any) -> ChannelConfig:
    return ChannelConfig(
        "shopify-cn", "shopify", sim.secret, {**sim.credentials(), **credentials}, sim.url
    )


def send(request: Any) -> httpx.Response:
    return httpx.request(
        request.method, request.url, content=request.body or None, headers=request.headers
    )


@pytest.mark.integration
def test_the_simulator_applies_the_adapters_stock_calls_for_sku_and_variant_items(
    shop: ShopifySimulator,
) -> None:
    adapter, config = ShopifyAdapter(), config_for(shop)
    for channel_sku, qty in (("TEE-WHITE-M", 40), ("44000000000303", 7), ("TEE-WHITE-M", 39)):
        response = send(adapter.stock_request(config, StockUpdate(channel_sku, qty, "X", 1)))
        adapter.check_response(response.status_code, response.content)
    assert shop.stock == {"TEE-WHITE-M": 39, "44000000000303": 7}
    assert shop.levels[(shop.location_id, 49000000000303)] == 7
    assert shop.refused == []


@pytest.mark.integration
def test_the_simulator_refuses_a_wrong_access_token_as_shopify_does(shop: ShopifySimulator) -> None:
    adapter = ShopifyAdapter()
    request = adapter.stock_request(
        config_for(shop, access_token="shpat_wrong"), StockUpdate("TEE-WHITE-M", 5, "X", 1)
    )
    response = send(request)
    assert response.status_code == 401
    with pytest.raises(CallRefused) as caught:
        adapter.check_response(response.status_code, response.content)
    assert caught.value.retry is False
    assert "Invalid API key" in str(caught.value)
    assert shop.stock == {}
    assert shop.refused == [("/admin/api/2024-01/inventory_levels/set.json", "bad access token")]


@pytest.mark.integration
def test_the_simulator_rate_limits_in_shopifys_words_and_the_adapter_retries(
    shop: ShopifySimulator,
) -> None:
    adapter, config = ShopifyAdapter(), config_for(shop)
    shop.faults.rate_limited = 1
    response = send(adapter.stock_request(config, StockUpdate("TEE-WHITE-M", 5, "X", 1)))
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2.0"
    assert response.json() == {"errors": RATE_LIMITED}
    with pytest.raises(CallRefused) as caught:
        adapter.check_response(response.status_code, response.content)
    assert caught.value.retry is True
    again = send(adapter.stock_request(config, StockUpdate("TEE-WHITE-M", 5, "X", 1)))
    adapter.check_response(again.status_code, again.content)
    assert shop.stock == {"TEE-WHITE-M": 5}


@pytest.mark.integration
def test_both_fulfillment_forms_work_against_the_simulator_and_a_resend_is_harmless(
    shop: ShopifySimulator,
) -> None:
    adapter, config = ShopifyAdapter(), config_for(shop)
    first = shop.new_order([("TEE-WHITE-M", 1, "59.00")], deliver=False)
    second = shop.new_order([("44000000000303", 2, "79.00")], deliver=False)
    update = ShipmentUpdate(str(first["id"]), "SF", "SF100", "shipped")
    for _ in range(2):  # a resend after a lost answer is answered 422, read as done
        response = send(adapter.shipment_request(config, update))
        adapter.check_response(response.status_code, response.content)
    update = ShipmentUpdate(str(second["id"]), "YTO", "YT200", "shipped")
    listing = send(adapter.fulfillment_orders_request(config, update.external_id))
    adapter.check_response(listing.status_code, listing.content)
    request = adapter.fulfillment_request(config, update, listing.content)
    assert request is not None
    response = send(request)
    adapter.check_response(response.status_code, response.content)
    listing = send(adapter.fulfillment_orders_request(config, update.external_id))
    assert adapter.fulfillment_request(config, update, listing.content) is None
    assert [
        (s["order_id"], s["tracking_number"], s["tracking_company"], s["via"])
        for s in shop.shipments
    ] == [
        (str(first["id"]), "SF100", "SF Express", "order"),
        (str(second["id"]), "YT200", "YTO Express", "fulfillment_orders"),
    ]
    assert shop.orders[str(first["id"])]["fulfillment_status"] == "fulfilled"


@pytest.mark.integration
def test_the_simulators_orders_are_read_back_by_the_mapper(shop: ShopifySimulator) -> None:
    native = shop.new_order(
        [("TEE-WHITE-M", 2, "59.00"), ("44000000000303", 1, "79.00")], deliver=False, cod=True
    )
    order = mapper.to_order(copy.deepcopy(native), channel="c")
    assert [(ln.channel_sku, ln.qty) for ln in order.lines] == [
        ("TEE-WHITE-M", 2),
        ("44000000000303", 1),
    ]
    assert (order.status, order.cod, order.total) == (S.PAID, True, money("207.00"))
    body = json.dumps(native).encode()
    headers = {k.lower(): v for k, v in shop.headers("orders/create", body).items()}
    verified = ShopifyAdapter().verify(config_for(shop), InboundRequest(body, headers, {}))
    assert verified.message_id
    assert verified.sent_at is not None


# -- conformance: the samples Shopify and others published -------------------------------------


@pytest.mark.unit
@needs_shared
def test_conformance_shopify_python_api_order() -> None:
    order = mapper.to_order(shared("shopify_python_api__order.json"), channel="c")
    assert order.external_id == "450789469"
    assert order.status is S.PAID  # authorized: held for the shop, captured on shipment
    assert [(ln.channel_sku, ln.qty, ln.unit_price.amount) for ln in order.lines] == [
        ("IPOD2008GREEN", 1, Decimal("199.00")),
        ("IPOD2008RED", 1, Decimal("199.00")),
        ("IPOD2008BLACK", 1, Decimal("199.00")),
    ]
    assert order.total == Money.of("409.94", "USD")
    assert order.buyer.channel_buyer_id == "207119551"
    assert order.buyer.email == "bob.norman@hostmail.com"
    assert order.created_at == datetime(2008, 1, 10, 16, 0, tzinfo=UTC)
    assert order.ship_to.city == "Louisville"
    assert order.ship_to.lat == 45.41634
    assert order.payment is not None
    assert order.payment.provider == "shopify:authorize_net"


@pytest.mark.unit
@needs_shared
def test_conformance_shopify_python_api_orders_list() -> None:
    listed = shared("shopify_python_api__orders.json")["orders"]
    assert [o["id"] for o in listed] == [450789469]
    native = mapper.unwrap(listed[0])
    # partially refunded and not shipped: paid, with an open refund request
    assert mapper.order_status(native) == (S.PAID, True)
    # the published list entry was trimmed of its line items: refused with the reason
    with pytest.raises(UnreadablePayload, match="line_items"):
        mapper.to_order(native, channel="c")
    # with the same order's line items (order.json) the rest of the entry reads in full
    lines = shared("shopify_python_api__order.json")["order"]["line_items"]
    order = mapper.to_order({**native, "line_items": lines}, channel="c")
    assert (order.external_id, order.status, order.refund_requested) == ("450789469", S.PAID, True)
    assert order.buyer.channel_buyer_id == "207119551"
    assert order.buyer.phone == "+16136120707"  # the customer account's phone
    assert order.total == Money.of("598.94", "USD")
    assert order.created_at == order.updated_at == datetime(2008, 1, 10, 16, 0, tzinfo=UTC)
    assert order.payment is not None
    assert order.payment.paid_at == datetime(2008, 1, 10, 16, 0, tzinfo=UTC)


@pytest.mark.unit
@needs_shared
def test_conformance_orders_create_test_notification() -> None:
    native = shared("dropazul_app__orders_create_test_notification_2019.json")
    order = mapper.to_order(native, channel="c")
    assert order.external_id == "820982911946154508"
    assert order.status is S.CANCELLED  # voided and cancelled by the customer
    assert [(ln.channel_sku, ln.qty, ln.discount.amount) for ln in order.lines] == [
        ("IPOD2008PINK", 1, Decimal("0.00")),
        ("IPOD2008PINK", 1, Decimal("5.00")),
    ]
    assert order.shipping_fee == Money.of("10.00", "USD")
    assert order.total == Money.of("403.00", "USD")
    lines_total = sum(
        (ln.unit_price.times(ln.qty) - ln.discount for ln in order.lines), Money.of("0", "USD")
    )
    assert lines_total + order.shipping_fee == order.total
    assert order.buyer.channel_buyer_id == "115310627314723954"
    assert order.created_at == datetime(2019, 6, 4, 17, 53, 6, tzinfo=UTC)
    assert order.ship_to.name == "Steve Shipper"
    body = json.dumps(native).encode()
    parsed = ShopifyAdapter().parse(CONFIG, webhook(body))
    assert parsed.orders == []
    assert "test" in (parsed.ignored or "")


@pytest.mark.unit
@needs_shared
def test_conformance_a_refunds_lines_carry_the_same_line_identity() -> None:
    refund = shared("shopify_python_api__refund.json")["refund"]
    identities = [mapper.line_identity(r["line_item"]) for r in refund["refund_line_items"]]
    assert identities == ["IPOD2008BLACK", "IPOD2008GREEN"]
