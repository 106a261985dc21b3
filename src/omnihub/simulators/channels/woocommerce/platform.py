"""A local stand-in for a WooCommerce site: it sells (order webhooks made and signed as
WooCommerce makes them: compact JSON with escaped slashes, ``X-WC-Webhook-*`` headers, one
attempt per delivery, the webhook disabled after more than five failures in a row, the ping
when a webhook is saved) and answers the REST API v3 calls the hub makes (product and
variation stock, order status), checking basic auth and the shape of every call. Faults come
in WooCommerce's words: a 429 ``rest_too_many_requests``, a 500 "critical error", duplicate
deliveries, and an order's later state delivered before its first.

Written from WooCommerce's documents, not from the adapter: a delivery carries
``X-WC-Webhook-Signature``, "a base64 encoded HMAC-SHA256 hash of the payload" keyed with the
webhook's secret (REST API docs, Webhooks, Delivery/payload), with ``X-WC-Webhook-Topic``,
``-Resource``, ``-Event``, ``-ID``, ``-Delivery-ID`` and ``-Source``; the body is what
``wp_json_encode`` writes; the REST API v3 takes basic auth with the consumer key and secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from omnihub.platforms.local_time import SHANGHAI, utc_now
from omnihub.simulators.base import PlatformSimulator, SimRequest, SimResponse

API = "/wp-json/wc/v3"
STATUSES = (
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
    "trash",
    "checkout-draft",
)
MAX_FAILURES = 5
_GMT = "%Y-%m-%dT%H:%M:%S"


@dataclass
class Delivery:
    order_id: str
    topic: str
    body: bytes
    headers: dict[str, str]


def wc_json(value: Any) -> bytes:
    """JSON as ``wp_json_encode`` writes it: compact, ASCII with \\u escapes, and ``\\/``."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/").encode()


def webhook_signature(secret: str, body: bytes) -> str:
    """``X-WC-Webhook-Signature``: base64 of the HMAC-SHA256 of the body as sent, keyed with
    the webhook's secret."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def wc_error(code: str, message: str, status: int) -> SimResponse:
    return SimResponse.json({"code": code, "message": message, "data": {"status": status}}, status)


class WooCommerceSimulator(PlatformSimulator):
    name = "woocommerce"

    def __init__(
        self,
        *,
        secret: str = "wc-webhook-secret-simulated",
        consumer_key: str = "ck_simulated0000000000000000000000000000",
        consumer_secret: str = "cs_simulated0000000000000000000000000000",
        webhook_id: int = 12,
        site: str = "https://shop.example.com/",
        seed: int = 7,
        echo_updates: bool = True,
    ) -> None:
        super().__init__(secret=secret, seed=seed)
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.webhook_id = webhook_id
        """the id of the order.created webhook; each other topic is its own webhook"""
        self.webhook_ids = {
            topic: webhook_id + n
            for n, topic in enumerate(
                ("order.created", "order.updated", "order.deleted", "order.restored")
            )
        }
        self.site = site
        self.echo_updates = echo_updates
        """after the hub changes an order's status, send order.updated as WooCommerce does"""
        self.products: dict[str, tuple[int, int | None]] = {}
        """channel SKU -> (product id, variation id)"""
        self.items: dict[tuple[int, int | None], str] = {}
        self.stock_quantity: dict[tuple[int, int | None], int] = {}
        self.status_pushes: list[tuple[str, str]] = []
        """(order id, status) of every status the hub set"""
        self.deliveries: list[tuple[str, str, str, int]] = []
        """(order id, topic, delivery id, hub status) of every delivery"""
        self.failures = 0
        self.disabled = False
        self.held: dict[str, list[Delivery]] = {}
        self._order_ids = itertools.count(4_101)
        self._ids = itertools.count(90_001)
        self._background: list[threading.Thread] = []

    # -- the shop's catalogue -----------------------------------------------------------------
    def add_product(
        self, sku: str | None, *, product_id: int, variation_id: int | None = None
    ) -> str:
        """A product (or a variation of one) on sale; returns its channel SKU."""
        channel_sku = sku or str(variation_id or product_id)
        key = (product_id, variation_id)
        path = f"{API}/products/{product_id}" + (
            f"/variations/{variation_id}" if variation_id else ""
        )
        with self.lock:
            self.products[channel_sku] = key
            self.items[key] = channel_sku
        self.route("PUT", path, lambda request: self._set_stock(request, key))
        return channel_sku

    def credentials(self) -> dict[str, Any]:
        """What a channel pointing at this site needs (``POST /api/v1/channels``)."""
        return {
            "consumer_key": self.consumer_key,
            "consumer_secret": self.consumer_secret,
            "products": {sku: f"{p}/{v}" if v else p for sku, (p, v) in self.products.items()},
        }

    # -- selling (each change is a webhook to the hub) ----------------------------------------
    def new_order(
        self,
        lines: list[tuple[str, int, str]],
        *,
        status: str = "processing",
        payment_method: str = "alipay",
        customer_id: int = 31,
        name: str = "Han Meimei",
        phone: str = "13900139000",
        email: str = "han.meimei@example.com",
        state: str = "CN2",
        city: str = "Shanghai",
        address_1: str = "No. 8 Huaihai Middle Road",
        note: str = "",
        shipping: str = "8.00",
        deliver: bool = True,
    ) -> dict[str, Any]:
        """An order of (channel SKU, quantity, unit price) lines, sent as order.created."""
        order_id = next(self._order_ids)
        now = utc_now().replace(microsecond=0)
        line_items = []
        subtotal = 0.0
        for channel_sku, qty, price in lines:
            product_id, variation_id = self.products.get(channel_sku, (0, None))
            amount = float(price) * qty
            subtotal += amount
            line_items.append(
                {
                    "id": next(self._ids),
                    "name": f"Item {channel_sku}",
                    "product_id": product_id,
                    "variation_id": variation_id or 0,
                    "quantity": qty,
                    "tax_class": "",
                    "subtotal": f"{amount:.2f}",
                    "subtotal_tax": "0.00",
                    "total": f"{amount:.2f}",
                    "total_tax": "0.00",
                    "taxes": [],
                    "meta_data": [],
                    "sku": "" if channel_sku.isdigit() else channel_sku,
                    "price": float(price),
                    "parent_name": None,
                    "image": {"id": "", "src": ""},
                }
            )
        first, _, last = name.partition(" ")
        address = {
            "first_name": first,
            "last_name": last,
            "company": "",
            "address_1": address_1,
            "address_2": "",
            "city": city,
            "state": state,
            "postcode": "200020",
            "country": "CN",
        }
        paid = status in ("processing", "completed") and payment_method != "cod"
        order = {
            "id": order_id,
            "parent_id": 0,
            "status": status,
            "currency": "CNY",
            "version": "8.5.2",
            "prices_include_tax": True,
            "date_created": _local(now),
            "date_modified": _local(now),
            "discount_total": "0.00",
            "discount_tax": "0.00",
            "shipping_total": shipping,
            "shipping_tax": "0.00",
            "cart_tax": "0.00",
            "total": f"{subtotal + float(shipping):.2f}",
            "total_tax": "0.00",
            "customer_id": customer_id,
            "order_key": f"wc_order_{order_id:x}sim",
            "billing": {**address, "email": email, "phone": phone},
            "shipping": {**address, "phone": phone},
            "payment_method": payment_method,
            "payment_method_title": "Cash on delivery"
            if payment_method == "cod"
            else payment_method.title(),
            "transaction_id": f"2026{order_id:012d}" if paid else "",
            "customer_ip_address": "127.0.0.1",
            "customer_user_agent": "simulator",
            "created_via": "checkout",
            "customer_note": note,
            "date_completed": None,
            "date_paid": _local(now) if paid else None,
            "cart_hash": "",
            "number": str(order_id),
            "meta_data": [],
            "line_items": line_items,
            "tax_lines": [],
            "shipping_lines": [
                {
                    "id": next(self._ids),
                    "method_title": "Flat rate",
                    "method_id": "flat_rate",
                    "instance_id": "1",
                    "total": shipping,
                    "total_tax": "0.00",
                    "taxes": [],
                    "meta_data": [],
                }
            ],
            "fee_lines": [],
            "coupon_lines": [],
            "refunds": [],
            "payment_url": f"{self.site}checkout/order-pay/{order_id}/",
            "is_editable": False,
            "needs_payment": not paid,
            "needs_processing": True,
            "date_created_gmt": _gmt(now),
            "date_modified_gmt": _gmt(now),
            "date_completed_gmt": None,
            "date_paid_gmt": _gmt(now) if paid else None,
            "currency_symbol": "\u00a5",
            "_links": {
                "self": [{"href": f"{self.site}wp-json/wc/v3/orders/{order_id}"}],
                "collection": [{"href": f"{self.site}wp-json/wc/v3/orders"}],
            },
        }
        key = str(order_id)
        self.keep_order(key, order, now)
        self.route("GET", f"{API}/orders/{key}", lambda request: self._get_order(request, key))
        self.route("PUT", f"{API}/orders/{key}", lambda request: self._update_order(request, key))
        if deliver:
            self.deliver(key, "order.created")
        return order

    def set_status(self, order_id: str, status: str, *, deliver: bool = True) -> None:
        """The shop (or the buyer's payment) moves the order: order.updated."""
        changes: dict[str, Any] = {"status": status}
        order = self.orders[order_id]
        if status == "processing" and order["payment_method"] != "cod" and not order["date_paid"]:
            now = utc_now().replace(microsecond=0)
            changes.update(
                date_paid=_local(now),
                date_paid_gmt=_gmt(now),
                transaction_id=f"2026{order_id:0>12}",
                needs_payment=False,
            )
        self._change(order_id, **changes)
        if deliver:
            self.deliver(order_id, "order.updated")

    def refund(self, order_id: str, amount: str, reason: str = "buyer asked") -> None:
        """A refund recorded on the order (the buyer asked before it shipped): order.updated."""
        order = self.orders[order_id]
        refunds = [
            *order["refunds"],
            {"id": next(self._ids), "reason": reason, "total": f"-{amount}"},
        ]
        self._change(order_id, refunds=refunds)
        self.deliver(order_id, "order.updated")

    def trash(self, order_id: str) -> None:
        """The shop deletes the order (to the trash): order.deleted with the id only."""
        self._change(order_id, status="trash")
        self.deliver(order_id, "order.deleted")

    def delete(self, order_id: str) -> None:
        """The shop deletes the order for good (bypassing the trash): order.deleted, and the
        order is gone from the REST API (404)."""
        with self.lock:
            self.orders.pop(order_id, None)
            self.modified.pop(order_id, None)
        self.deliver(order_id, "order.deleted")

    def ping(self) -> int:
        """What WooCommerce sends when the webhook is saved: form-encoded, unsigned."""
        assert self.hub_url, "set hub_url (the hub's /api/v1/channels/<code>) first"
        response = self.client.post(
            self.hub_url + "/orders",
            content=f"webhook_id={self.webhook_id}".encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "User-Agent": "WooCommerce/8.5.2 Hookshot (WordPress/6.4.3)",
            },
        )
        return response.status_code

    def _change(self, order_id: str, **changes: Any) -> dict[str, Any]:
        with self.lock:
            order = self.orders[order_id]
            order.update(changes)
            previous = datetime.strptime(order["date_modified_gmt"], _GMT).replace(tzinfo=UTC)
            modified = max(utc_now().replace(microsecond=0), previous + timedelta(seconds=1))
            order["date_modified"], order["date_modified_gmt"] = _local(modified), _gmt(modified)
            if order["status"] == "completed" and not order["date_completed"]:
                order["date_completed"] = _local(modified)
                order["date_completed_gmt"] = _gmt(modified)
            self.modified[order_id] = modified
            return order

    # -- webhooks -----------------------------------------------------------------------------
    def deliver(self, order_id: str, topic: str) -> int:
        """Send the order's current state under ``topic`` (one attempt, as WooCommerce does);
        with the ``out_of_order`` fault an order.created waits for the order's next message."""
        with self.lock:
            payload = {"id": int(order_id)} if topic.endswith(".deleted") else self.orders[order_id]
            body = wc_json(payload)
        message = Delivery(order_id, topic, body, self.headers(topic, body))
        if self.faults.out_of_order and topic == "order.created":
            with self.lock:
                self.held.setdefault(order_id, []).append(message)
            return 0
        status = self.send(message)
        with self.lock:
            late = self.held.pop(order_id, [])
        for held in late:
            self.send(held)
        if self.roll(self.faults.duplicate_rate):
            self.send(message)  # delivered twice: same body, same delivery id
        return status

    def flush(self) -> None:
        with self.lock:
            held = [m for messages in self.held.values() for m in messages]
            self.held.clear()
        for message in held:
            self.send(message)

    def headers(self, topic: str, body: bytes) -> dict[str, str]:
        resource, _, event = topic.partition(".")
        webhook = self.webhook_ids.get(topic, self.webhook_id)
        # WooCommerce 3.3+: wp_hash(webhook id . current second), shared within a second
        delivery = hashlib.md5(f"{webhook}{int(time.time())}".encode()).hexdigest()
        return {
            "Content-Type": "application/json",
            "User-Agent": "WooCommerce/8.5.2 Hookshot (WordPress/6.4.3)",
            "X-WC-Webhook-Source": self.site,
            "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Resource": resource,
            "X-WC-Webhook-Event": event,
            "X-WC-Webhook-Signature": webhook_signature(self.secret, body),
            "X-WC-Webhook-ID": str(webhook),
            "X-WC-Webhook-Delivery-ID": delivery,
        }

    def send(self, message: Delivery) -> int:
        """One attempt; a 2xx, 301 or 302 is a success, anything else a failure, and more than
        five failures in a row disable the webhook (nothing is sent after that)."""
        assert self.hub_url, "set hub_url (the hub's /api/v1/channels/<code>) first"
        with self.lock:
            if self.disabled:
                self.pushed.append((message.order_id, 0))
                return 0
        try:
            status = self.client.post(
                self.hub_url + "/orders", content=message.body, headers=message.headers
            ).status_code
        except httpx.HTTPError:
            status = 0
        with self.lock:
            self.deliveries.append(
                (
                    message.order_id,
                    message.topic,
                    message.headers["X-WC-Webhook-Delivery-ID"],
                    status,
                )
            )
            self.pushed.append((message.order_id, status))
            if 200 <= status < 303:
                self.failures = 0
            elif self.failures > MAX_FAILURES:
                self.disabled = True
            else:
                self.failures += 1
        return status

    # -- the REST API -------------------------------------------------------------------------
    def handle(self, request: SimRequest) -> SimResponse:
        response = super().handle(request)
        if response.status == 404 and (request.method, request.path) not in self.routes:
            return wc_error(
                "rest_no_route", "No route was found matching the URL and request method.", 404
            )
        return response

    def _authorised(self, request: SimRequest) -> SimResponse | None:
        token = base64.b64encode(f"{self.consumer_key}:{self.consumer_secret}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {token}":
            self.refuse(request, "bad basic auth", 401)
            return wc_error(
                "woocommerce_rest_cannot_edit",
                "Sorry, you are not allowed to edit this resource.",
                401,
            )
        return None

    def _json(self, request: SimRequest) -> dict[str, Any] | None:
        try:
            body = request.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def _set_stock(self, request: SimRequest, key: tuple[int, int | None]) -> SimResponse:
        denied = self._authorised(request)
        if denied:
            return denied
        body = self._json(request)
        quantity = (body or {}).get("stock_quantity")
        if (
            body is None
            or set(body) != {"stock_quantity", "manage_stock"}
            or body["manage_stock"] is not True
            or isinstance(quantity, bool)
            or not isinstance(quantity, int)
        ):
            self.refuse(request, f"bad stock body {request.body!r}")
            return wc_error("rest_invalid_param", "Invalid parameter(s): stock_quantity", 400)
        with self.lock:
            self.stock_quantity[key] = quantity
            channel_sku = self.items[key]
        self.set_stock(channel_sku, quantity)
        product, variation = key
        return SimResponse.json(
            {
                "id": variation or product,
                "parent_id": product if variation else 0,
                "sku": "" if channel_sku.isdigit() else channel_sku,
                "manage_stock": True,
                "stock_quantity": quantity,
                "stock_status": "instock" if quantity > 0 else "outofstock",
            }
        )

    def _get_order(self, request: SimRequest, order_id: str) -> SimResponse:
        denied = self._authorised(request)
        if denied:
            return denied
        with self.lock:
            order = self.orders.get(order_id)
        if order is None:
            return wc_error("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404)
        return SimResponse(200, wc_json(order))

    def _update_order(self, request: SimRequest, order_id: str) -> SimResponse:
        denied = self._authorised(request)
        if denied:
            return denied
        body = self._json(request)
        meta = (body or {}).get("meta_data", [])
        if (
            body is None
            or body.get("status") not in STATUSES
            or set(body) - {"status", "meta_data"}
            or not isinstance(meta, list)
            or not all(isinstance(m, dict) and set(m) == {"key", "value"} for m in meta)
        ):
            self.refuse(request, f"bad order update {request.body!r}")
            return wc_error("rest_invalid_param", "Invalid parameter(s): status", 400)
        with self.lock:
            order = self.orders[order_id]
            order["meta_data"] = [
                *order["meta_data"],
                *({"id": next(self._ids), **m} for m in meta),
            ]
            changed = order["status"] != body["status"]
        self._change(order_id, status=body["status"])
        with self.lock:
            self.status_pushes.append((order_id, body["status"]))
        if body["status"] == "completed":
            tracking = {m["key"]: m["value"] for m in meta}
            self.record_shipment(
                {
                    "order_id": order_id,
                    "carrier": tracking.get("omnihub_carrier"),
                    "tracking_number": tracking.get("omnihub_tracking_number"),
                }
            )
        if changed and self.echo_updates and self.hub_url:
            self._later(lambda: self.deliver(order_id, "order.updated"))
        with self.lock:
            return SimResponse(200, wc_json(self.orders[order_id]))

    # -- WooCommerce's own error answers ------------------------------------------------------
    def rate_limit_answer(self, request: SimRequest) -> SimResponse:
        response = wc_error(
            "rest_too_many_requests", "Too many requests. Please wait and try again.", 429
        )
        response.headers["Retry-After"] = "1"
        return response

    def error_answer(self, request: SimRequest) -> SimResponse:
        return wc_error(
            "internal_server_error", "<p>There has been a critical error on this website.</p>", 500
        )

    def _later(self, job: Any) -> None:
        thread = threading.Thread(target=job, daemon=True, name="woocommerce-echo")
        with self.lock:
            self._background = [t for t in self._background if t.is_alive()] + [thread]
        thread.start()

    def settle(self, timeout: float = 10.0) -> None:
        """Wait for the webhooks sent in the background (after status changes)."""
        deadline = time.monotonic() + timeout
        with self.lock:
            threads = list(self._background)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


def _local(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime(_GMT)


def _gmt(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_GMT)
