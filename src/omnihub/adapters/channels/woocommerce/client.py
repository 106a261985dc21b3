"""The WooCommerce adapter: reads order webhooks, builds REST API v3 calls, reads the answers.

Configuration of a channel using it (``POST /api/v1/channels``):

- ``secret``: the webhook's secret (WooCommerce > Settings > Advanced > Webhooks).
- ``endpoint``: the site's origin, ``https://shop.example.com`` (calls go to ``/wp-json/wc/v3``).
- ``credentials.consumer_key`` / ``credentials.consumer_secret``: a REST API key with write
  access, sent as HTTP basic auth. WooCommerce accepts basic auth over HTTPS only; a site
  served over plain HTTP wants OAuth 1.0a signatures, which this adapter does not make.
- ``credentials.products``: ``{channel SKU: product_id}`` or, for a variation,
  ``{channel SKU: "<product_id>/<variation_id>"}``: the item whose ``stock_quantity`` the hub
  sets. A channel SKU missing from the map is taken as a product id when it is a number;
  otherwise the push is refused with a clear error (nothing is sent).
- ``credentials.timezone`` (default ``Asia/Shanghai``): the site's time zone, for an order
  time sent without its ``_gmt`` twin.
- ``credentials.statuses``: ``{plugin status: hub status}`` for order statuses a plugin adds
  (``{"shipped": "shipped"}``); the core statuses are in ``mapper.STATUS``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from omnihub.adapters.channels.woocommerce import mapper, signature
from omnihub.adapters.native import json_object, secret_of, text
from omnihub.domain.orders import IngestOrder, OrderStatus
from omnihub.platforms.local_time import SHANGHAI
from omnihub.platforms.retry import retryable_status
from omnihub.ports import (
    CallRefused,
    ChannelAdapter,
    ChannelConfig,
    InboundRequest,
    InvalidChannelConfig,
    OutboundRequest,
    Parsed,
    ShipmentUpdate,
    StockUpdate,
    UnreadablePayload,
    Verified,
)

API = "/wp-json/wc/v3"
#: topics whose body is the whole order (as ``GET /orders/{id}`` returns it)
ORDER_TOPICS = frozenset({"order.created", "order.updated", "order.restored"})
#: a deleted (trashed) order's body is ``{"id": ...}`` only: the order is fetched in full
DELETED_TOPIC = "order.deleted"


class WooCommerceAdapter(ChannelAdapter):
    """WooCommerce, pushed by webhook.

    Supports: order.created, order.updated and order.restored webhooks (signed with
    ``X-WC-Webhook-Signature``) read as whole orders; order.deleted, whose body is only the
    id, makes the hub fetch the order (a trashed order is ``trash``: cancelled); the unsigned
    ping WooCommerce sends when a webhook is saved is answered 200 and ignored. Stock is pushed
    as ``stock_quantity`` of the product or variation; a shipment completes the order
    (``status: completed``, carrier and tracking number in the order's meta data); a
    cancellation sets ``status: cancelled``. A refund recorded before shipment holds the order
    as a refund request.

    Not pushed: refunds (a refund in WooCommerce is made in its admin with the payment
    gateway; setting the status alone moves no money) and delivery (no such core status).
    No pull (WooCommerce delivers webhooks once, without retries: an outage of the hub
    loses deliveries, which a person re-sends from the shop).
    """

    name = "woocommerce"
    line_identity = "line_items[].sku, else line_items[].variation_id, else product_id"
    pushes = frozenset({str(OrderStatus.SHIPPED), str(OrderStatus.CANCELLED)})
    #: WooCommerce disables a webhook after five failed deliveries in a row, and any answer
    #: but a 2xx is a failure: a delivery id seen before is acknowledged (not stored again)
    replay_status = 200

    # -- inbound ------------------------------------------------------------------------------
    def verify(self, config: ChannelConfig, request: InboundRequest) -> Verified:
        if signature.is_ping(request.body, request.header("X-WC-Webhook-Topic")):
            return Verified()  # unsigned by WooCommerce; parse() ignores it, nothing is stored
        signature.check(secret_of(config), request.body, request.header(signature.HEADER))
        return Verified(message_id=message_id(request))

    def parse(self, config: ChannelConfig, request: InboundRequest) -> Parsed:
        topic = text(request.header("X-WC-Webhook-Topic"))
        if signature.is_ping(request.body, topic):
            return Parsed(
                [],
                ignored=f"WooCommerce webhook ping "
                f"({request.body.decode(errors='replace').strip()})",
            )
        if topic is None:
            raise UnreadablePayload(
                "a WooCommerce webhook carries its topic in "
                "X-WC-Webhook-Topic; this request has none"
            )
        if topic == DELETED_TOPIC:
            native = json_object(request.body, "WooCommerce webhook body")
            order_id = text(native.get("id"))
            if order_id is None or not order_id.isdigit():
                raise UnreadablePayload(
                    "an order.deleted body names the order by its id; "
                    f"this one has {native.get('id')!r}"
                )
            return Parsed([], fetch=[order_id])
        if topic not in ORDER_TOPICS:
            return Parsed(
                [], ignored=f"WooCommerce topic {topic} is not an order message the hub reads"
            )
        native = json_object(request.body, "WooCommerce webhook body")
        return Parsed([self.to_order(config, native, request.body.decode("utf-8", "replace"))])

    def to_order(self, config: ChannelConfig, native: dict[str, Any], raw: str) -> IngestOrder:
        statuses = (config.credentials or {}).get("statuses") or None
        if statuses is not None and not isinstance(statuses, dict):
            raise InvalidChannelConfig(
                f"channel {config.code}: credentials.statuses must map "
                "a WooCommerce status to a hub status"
            )
        return mapper.to_order(
            native, channel=config.code, raw=raw, zone=shop_zone(config), statuses=statuses
        )

    def fetch_request(self, config: ChannelConfig, external_id: str) -> OutboundRequest:
        return self._call(config, "GET", f"/orders/{_id(external_id)}", None)

    def read_fetched(self, config: ChannelConfig, status: int, body: bytes) -> dict[str, Any]:
        return json_object(body, "WooCommerce order")

    # -- outbound -----------------------------------------------------------------------------
    def stock_request(self, config: ChannelConfig, update: StockUpdate) -> OutboundRequest:
        product, variation = product_of(config, update.channel_sku)
        path = f"/products/{product}" + (f"/variations/{variation}" if variation else "")
        return self._call(
            config, "PUT", path, {"stock_quantity": update.quantity, "manage_stock": True}
        )

    def shipment_request(
        self, config: ChannelConfig, update: ShipmentUpdate
    ) -> OutboundRequest | None:
        if update.status not in self.pushes:
            return None
        target = mapper.TO_WOOCOMMERCE[OrderStatus(update.status)]
        body: dict[str, Any] = {"status": target}
        if update.status == OrderStatus.SHIPPED:
            meta = [
                {"key": key, "value": value}
                for key, value in (
                    ("omnihub_carrier", update.carrier),
                    ("omnihub_tracking_number", update.tracking_number),
                )
                if value
            ]
            if meta:
                body["meta_data"] = meta
        return self._call(config, "PUT", f"/orders/{_id(update.external_id)}", body)

    def check_response(self, status: int, body: bytes) -> None:
        if 200 <= status < 300:
            return
        code, message = _error(body)
        retry = retryable_status(status)
        raise CallRefused(
            f"WooCommerce answered {status}: {code}: {message}",
            retry=retry,
            code=code or str(status),
        )

    # -- helpers ------------------------------------------------------------------------------
    def _call(
        self, config: ChannelConfig, method: str, path: str, body: dict[str, Any] | None
    ) -> OutboundRequest:
        key = config.credential("consumer_key")
        secret = config.credential("consumer_secret")
        token = base64.b64encode(f"{key}:{secret}".encode()).decode()
        headers = {"Authorization": f"Basic {token}", "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        return OutboundRequest(
            method=method,
            url=config.url(API + path),
            headers=headers,
            body=b"" if body is None else json.dumps(body, separators=(",", ":")).encode(),
        )


def message_id(request: InboundRequest) -> str | None:
    """The delivery id with a digest of the body. WooCommerce (3.3 and later) makes the
    delivery id from the webhook id and the current second, so two deliveries of one webhook
    in the same second (a bulk status change) share it; the digest keeps them apart, while a
    replay of the same delivery keeps the same id."""
    delivery = text(request.header("X-WC-Webhook-Delivery-ID"))
    if delivery is None:
        return None
    return f"{delivery}:{hashlib.sha256(request.body).hexdigest()[:16]}"


def product_of(config: ChannelConfig, channel_sku: str) -> tuple[int, int | None]:
    """(product id, variation id or None) of the item carrying ``channel_sku``'s stock."""
    products = (config.credentials or {}).get("products") or {}
    found = products.get(channel_sku) if isinstance(products, dict) else None
    if found not in (None, ""):
        product, _, variation = str(found).partition("/")
        return _id(product), _id(variation) if variation else None
    if channel_sku.isdigit():
        return int(channel_sku), None
    raise CallRefused(
        f"WooCommerce channel {config.code} has no product for channel SKU {channel_sku}: add "
        "it to credentials.products ({channel SKU: product_id or 'product_id/variation_id'})",
        retry=False,
        code="unknown_product",
    )


def shop_zone(config: ChannelConfig) -> ZoneInfo:
    name = (config.credentials or {}).get("timezone")
    if not name:
        return SHANGHAI
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidChannelConfig(
            f"channel {config.code}: credentials.timezone {name!r} is "
            "not a time zone name such as Asia/Shanghai"
        ) from exc


def _id(value: Any) -> int:
    try:
        return int(str(value).strip())
    except ValueError as exc:
        raise CallRefused(
            f"{value!r} is not a WooCommerce id (a number)", retry=False, code="bad_id"
        ) from exc


def _error(body: bytes) -> tuple[str, str]:
    """WooCommerce's ``{"code", "message", "data": {"status"}}``."""
    try:
        parsed = json.loads(body or b"{}")
    except ValueError:
        return "", body[:300].decode("utf-8", "replace")
    if not isinstance(parsed, dict):
        return "", str(parsed)[:300]
    return str(parsed.get("code") or ""), str(parsed.get("message") or "no error text")
