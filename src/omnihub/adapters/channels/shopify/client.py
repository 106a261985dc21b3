"""The Shopify adapter: reads order webhooks, builds Admin REST API calls, reads the answers.

Configuration of a channel using it (``POST /api/v1/channels``):

- ``secret``: the app's client secret (API secret key), which signs every webhook.
- ``endpoint``: the shop's admin origin, ``https://<shop>.myshopify.com``.
- ``credentials.access_token``: the Admin API access token (``X-Shopify-Access-Token``).
- ``credentials.location_id``: the Shopify location whose ``available`` quantity the hub sets.
- ``credentials.inventory_items``: ``{channel SKU: inventory_item_id}``. Shopify keeps stock
  per *inventory item*, not per SKU code or variant; each variant has one inventory item (its
  ``inventory_item_id``, shown by ``GET /admin/api/2024-01/variants/{id}.json``). A channel
  SKU missing from this map is sent as the inventory item id itself when it is a number (a
  mapping made directly with the inventory item id), else the push is refused with a clear
  error (nothing is sent).
- ``credentials.api_version`` (default ``2024-01``) and ``credentials.accept_test_orders``
  (default false: test orders and "send test notification" bodies are acknowledged and
  ignored).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from omnihub.adapters.channels.shopify import mapper, signature
from omnihub.adapters.native import json_object, local_time, secret_of, text
from omnihub.domain.orders import IngestOrder, OrderStatus
from omnihub.platforms.retry import retryable_status
from omnihub.ports import (
    CallRefused,
    ChannelAdapter,
    ChannelConfig,
    ChannelRefused,
    InboundRequest,
    OutboundRequest,
    Parsed,
    ShipmentUpdate,
    StockUpdate,
    UnreadablePayload,
    Verified,
)

API_VERSION = "2024-01"

#: Topics whose body is the whole order. ``orders/fulfilled`` and ``orders/partially_fulfilled``
#: are read too when a shop subscribes them (same body).
ORDER_TOPICS = frozenset(
    {
        "orders/create",
        "orders/updated",
        "orders/paid",
        "orders/cancelled",
        "orders/fulfilled",
        "orders/partially_fulfilled",
    }
)

#: The hub's carrier codes -> the tracking company names Shopify recognises (it then links
#: the tracking page); any other carrier is sent by its name as given.
CARRIERS: dict[str, str] = {
    "SF": "SF Express",
    "ZTO": "ZTO Express",
    "YTO": "YTO Express",
    "STO": "STO Express",
    "YUNDA": "Yunda Express",
    "EMS": "China EMS (ePacket)",
    "CHINAPOST": "China Post",
    "JD": "JD Logistics",
    "4PX": "4PX",
    "DHL": "DHL Express",
    "UPS": "UPS",
    "FEDEX": "FedEx",
    "USPS": "USPS",
}


class ShopifyAdapter(ChannelAdapter):
    """Shopify, pushed by webhook.

    Supports: orders/create, orders/updated, orders/paid and orders/cancelled webhooks (signed
    with ``X-Shopify-Hmac-Sha256``; ``X-Shopify-Webhook-Id`` is the message id, and
    ``X-Shopify-Triggered-At`` the sending time); stock pushed with
    ``inventory_levels/set.json``; a shipment pushed as a fulfillment with its tracking number
    and company. A partial refund before shipment holds the order (refund request); a full
    refund or a cancellation on Shopify cancels it in the hub.

    Not pushed: cancellations and refunds (Shopify merchants cancel and refund in the Shopify
    admin, which also returns the money; the hub learns of it by the orders/cancelled and
    orders/updated webhooks) and delivery (Shopify learns it from the carrier). No pull.
    """

    name = "shopify"
    line_identity = "line_items[].sku, else line_items[].variant_id (else product_id)"
    pushes = frozenset({str(OrderStatus.SHIPPED)})
    #: Shopify retries a failed delivery (with the same webhook id and triggered-at time) over
    #: several hours; a retry that late must still be accepted. Replays are caught by the
    #: webhook id.
    max_skew = timedelta(hours=48)
    #: Shopify retries any answer but a 2xx, and in the end removes a webhook that keeps
    #: failing: a webhook id seen before is acknowledged (and not stored again)
    replay_status = 200

    # -- inbound ------------------------------------------------------------------------------
    def verify(self, config: ChannelConfig, request: InboundRequest) -> Verified:
        signature.check(secret_of(config), request.body, request.header(signature.HEADER))
        sent_at = None
        triggered = request.header("X-Shopify-Triggered-At")
        if triggered:
            sent_at = _header_time(triggered)
        return Verified(message_id=text(request.header("X-Shopify-Webhook-Id")), sent_at=sent_at)

    def parse(self, config: ChannelConfig, request: InboundRequest) -> Parsed:
        topic = text(request.header("X-Shopify-Topic"))
        if topic is None:
            raise UnreadablePayload(
                "a Shopify webhook carries its topic in X-Shopify-Topic; this request has none"
            )
        if topic not in ORDER_TOPICS:
            return Parsed(
                [], ignored=f"Shopify topic {topic} is not an order message the hub reads"
            )
        native = json_object(request.body, "Shopify webhook body")
        if native.get("test") is True and not _flag(config, "accept_test_orders"):
            return Parsed(
                [],
                ignored=f"Shopify test order {native.get('id')} (test: true) is not taken into "
                "the hub; set credentials.accept_test_orders to take them",
            )
        return Parsed([self.to_order(config, native, request.body.decode("utf-8", "replace"))])

    def to_order(self, config: ChannelConfig, native: dict[str, Any], raw: str) -> IngestOrder:
        return mapper.to_order(native, channel=config.code, raw=raw)

    # -- outbound -----------------------------------------------------------------------------
    def stock_request(self, config: ChannelConfig, update: StockUpdate) -> OutboundRequest:
        body = {
            "location_id": _id(config.credential("location_id")),
            "inventory_item_id": inventory_item_id(config, update.channel_sku),
            "available": update.quantity,
        }
        return self._call(config, "POST", "/inventory_levels/set.json", body)

    def shipment_request(
        self, config: ChannelConfig, update: ShipmentUpdate
    ) -> OutboundRequest | None:
        """A shipment as one order-level fulfillment call with the tracking number and company.
        Shopify served this call up to API version 2022-04 (and the simulator serves it); on
        later versions a shipment is the fulfillment-order form below, two chained calls."""
        if update.status != OrderStatus.SHIPPED:
            return None
        fulfillment: dict[str, Any] = {"notify_customer": True}
        if update.tracking_number:
            fulfillment["tracking_number"] = update.tracking_number
        if update.carrier:
            fulfillment["tracking_company"] = carrier_name(update.carrier)
        location = (config.credentials or {}).get("location_id")
        if location not in (None, ""):
            fulfillment["location_id"] = _id(location)
        order_id = _id(update.external_id)
        return self._call(
            config, "POST", f"/orders/{order_id}/fulfillments.json", {"fulfillment": fulfillment}
        )

    # The fulfillment-order form of a shipment, for shops on API versions that no longer serve
    # the order-level call above: first read the order's open fulfillment orders, then fulfil
    # them with the tracking details. It takes two calls, the second built from the first
    # answer, so it needs a runtime that chains calls.
    def fulfillment_orders_request(
        self, config: ChannelConfig, external_id: str
    ) -> OutboundRequest:
        return self._call(
            config, "GET", f"/orders/{_id(external_id)}/fulfillment_orders.json", None
        )

    def fulfillment_request(
        self, config: ChannelConfig, update: ShipmentUpdate, fulfillment_orders: bytes
    ) -> OutboundRequest | None:
        """The fulfillment of every open fulfillment order of the order; None when nothing is
        left to fulfil (it was fulfilled already)."""
        listed = json_object(fulfillment_orders, "Shopify fulfillment_orders answer")
        open_ids = [
            _id(fo["id"])
            for fo in listed.get("fulfillment_orders") or ()
            if isinstance(fo, dict)
            and fo.get("status") in ("open", "in_progress")
            and "create_fulfillment" in (fo.get("supported_actions") or ("create_fulfillment",))
        ]
        if not open_ids:
            return None
        fulfillment: dict[str, Any] = {
            "line_items_by_fulfillment_order": [{"fulfillment_order_id": i} for i in open_ids],
            "notify_customer": True,
        }
        tracking = {
            k: v
            for k, v in (
                ("number", update.tracking_number),
                ("company", carrier_name(update.carrier) if update.carrier else None),
            )
            if v
        }
        if tracking:
            fulfillment["tracking_info"] = tracking
        return self._call(config, "POST", "/fulfillments.json", {"fulfillment": fulfillment})

    def check_response(self, status: int, body: bytes) -> None:
        if 200 <= status < 300:
            return
        errors = _errors(body)
        if status == 422 and "already fulfilled" in errors.lower():
            return  # a resent fulfillment whose first attempt went through: nothing to do
        retry = retryable_status(status)
        message = f"Shopify answered {status}: {errors or 'no error text'}"
        if status == 429:
            message += " (rate limited; retried later)"
        raise CallRefused(message, retry=retry, code=str(status))

    # -- helpers ------------------------------------------------------------------------------
    def _call(
        self, config: ChannelConfig, method: str, path: str, body: dict[str, Any] | None
    ) -> OutboundRequest:
        version = (config.credentials or {}).get("api_version") or API_VERSION
        return OutboundRequest(
            method=method,
            url=config.url(f"/admin/api/{version}{path}"),
            headers={
                "X-Shopify-Access-Token": config.credential("access_token"),
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
            body=b"" if body is None else json.dumps(body, separators=(",", ":")).encode(),
        )


def inventory_item_id(config: ChannelConfig, channel_sku: str) -> int:
    """The inventory item whose level carries ``channel_sku``'s stock (see the module doc)."""
    items = (config.credentials or {}).get("inventory_items") or {}
    found = items.get(channel_sku) if isinstance(items, dict) else None
    if found not in (None, ""):
        return _id(found)
    if channel_sku.isdigit():
        return int(channel_sku)
    raise CallRefused(
        f"Shopify channel {config.code} has no inventory item for channel SKU {channel_sku}: "
        "add it to credentials.inventory_items ({channel SKU: inventory_item_id})",
        retry=False,
        code="unknown_inventory_item",
    )


def carrier_name(carrier: str) -> str:
    return CARRIERS.get(carrier.strip().upper().replace(" ", ""), carrier.strip())


def retry_after(headers: dict[str, str]) -> float | None:
    """Seconds Shopify asks a rate-limited client to wait (``Retry-After: 2.0``)."""
    value = {k.lower(): v for k, v in headers.items()}.get("retry-after")
    try:
        return None if value is None else max(0.0, float(value))
    except ValueError:
        return None


def _id(value: Any) -> int:
    try:
        return int(str(value).strip())
    except ValueError as exc:
        raise CallRefused(
            f"{value!r} is not a Shopify id (a number)", retry=False, code="bad_id"
        ) from exc


def _errors(body: bytes) -> str:
    """Shopify's ``errors``: a string, a list, or field -> messages."""
    try:
        parsed = json.loads(body or b"{}")
    except ValueError:
        return body[:300].decode("utf-8", "replace")
    errors = parsed.get("errors", parsed.get("error")) if isinstance(parsed, dict) else parsed
    if isinstance(errors, dict):
        return "; ".join(
            f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
            for k, v in errors.items()
        )
    if isinstance(errors, list):
        return "; ".join(map(str, errors))
    return "" if errors is None else str(errors)


def _flag(config: ChannelConfig, name: str) -> bool:
    value = (config.credentials or {}).get(name)
    return value is True or str(value).lower() in ("true", "1", "yes")


def _header_time(value: str) -> datetime:
    try:
        return local_time(value)
    except UnreadablePayload as exc:
        raise ChannelRefused(
            f"X-Shopify-Triggered-At {value!r} is not a time; the request was not stored"
        ) from exc
