"""A local stand-in for a Shopify shop: it sells (order webhooks signed like Shopify's, sent
to the hub with Shopify's headers and retried like Shopify retries them) and answers the Admin
REST calls the hub makes (inventory levels, fulfillments), checking the access token and the
shape of every call. Faults come in Shopify's own words: a 429 with ``Retry-After`` and the
"Exceeded 2 calls per second" body, a 5xx, duplicate deliveries with the same webhook id, and
an order's later state delivered before its first.

Written from Shopify's documents, not from the adapter: a webhook is signed with
``X-Shopify-Hmac-Sha256``, the base64 HMAC-SHA256 of the raw body keyed with the app's client
secret (shopify.dev, "Verify webhooks"), and carries ``X-Shopify-Topic``,
``X-Shopify-Webhook-Id`` (the same on every retry), ``X-Shopify-Triggered-At``,
``X-Shopify-Shop-Domain`` and ``X-Shopify-API-Version``; the Admin REST API takes the
``X-Shopify-Access-Token`` header.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from omnihub.platforms.local_time import SHANGHAI, utc_now
from omnihub.simulators.base import PlatformSimulator, SimRequest, SimResponse

API_VERSION = "2024-01"
RATE_LIMITED = (
    "Exceeded 2 calls per second for api client. Reduce request rates to resume "
    "uninterrupted service."
)
BAD_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"


def webhook_hmac(secret: str, body: bytes) -> str:
    """``X-Shopify-Hmac-Sha256``: base64 of the HMAC-SHA256 of the raw body, keyed with the
    app's client secret."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


@dataclass
class Delivery:
    """One webhook message as Shopify keeps it: the same bytes and webhook id on every retry."""

    order_id: str
    topic: str
    body: bytes
    headers: dict[str, str]


class ShopifySimulator(PlatformSimulator):
    name = "shopify"

    def __init__(
        self,
        *,
        secret: str = "shpss_simulated_app_secret",
        access_token: str = "shpat_simulated_token",
        location_id: int = 61_000_001,
        shop: str = "omnihub-demo.myshopify.com",
        seed: int = 7,
        retry_delays: tuple[float, ...] = (0.05, 0.1, 0.2, 0.4),
        echo_fulfillments: bool = True,
    ) -> None:
        super().__init__(secret=secret, seed=seed)
        self.access_token = access_token
        self.location_id = location_id
        self.shop = shop
        self.retry_delays = retry_delays
        """Shopify retries a delivery that got no 2xx (any other status, or none); the real
        schedule spans hours, the simulator's a fraction of a second."""
        self.echo_fulfillments = echo_fulfillments
        """after a fulfillment, send orders/fulfilled and orders/updated as Shopify does"""
        self.variants: dict[str, dict[str, int]] = {}
        """channel SKU -> variant_id, product_id, inventory_item_id"""
        self.items: dict[int, str] = {}
        """inventory_item_id -> channel SKU"""
        self.levels: dict[tuple[int, int], int] = {}
        self.deliveries: list[tuple[str, str, str, int]] = []
        """(order id, topic, webhook id, hub status) of every delivery attempt"""
        self.held: dict[str, list[Delivery]] = {}
        self.fulfillment_orders: dict[str, list[dict[str, Any]]] = {}
        self._order_ids = itertools.count(5_100_000_001)
        self._numbers = itertools.count(1001)
        self._ids = itertools.count(9_000_000_001)
        self._background: list[threading.Thread] = []
        self.base = f"/admin/api/{API_VERSION}"
        self.route("POST", f"{self.base}/inventory_levels/set.json", self._set_level)
        self.route("POST", f"{self.base}/fulfillments.json", self._fulfil_orders)

    # -- the shop's catalogue -----------------------------------------------------------------
    def add_variant(
        self, sku: str | None, *, variant_id: int, product_id: int, inventory_item_id: int
    ) -> str:
        """A variant on sale; returns its channel SKU (the sku, or the variant id without)."""
        channel_sku = sku or str(variant_id)
        with self.lock:
            self.variants[channel_sku] = {
                "variant_id": variant_id,
                "product_id": product_id,
                "inventory_item_id": inventory_item_id,
            }
            self.items[inventory_item_id] = channel_sku
        return channel_sku

    def credentials(self) -> dict[str, Any]:
        """What a channel pointing at this shop needs (``POST /api/v1/channels``)."""
        return {
            "access_token": self.access_token,
            "location_id": self.location_id,
            "inventory_items": {sku: v["inventory_item_id"] for sku, v in self.variants.items()},
        }

    # -- selling (each change is a webhook to the hub) ----------------------------------------
    def new_order(
        self,
        lines: list[tuple[str, int, str]],
        *,
        financial_status: str = "paid",
        customer_id: int = 7_001,
        name: str = "Li Lei",
        phone: str = "+86 138 0013 8000",
        email: str = "li.lei@example.com",
        province: str = "Shanghai",
        city: str = "Shanghai",
        address1: str = "No. 1 Nanjing West Road",
        note: str | None = None,
        shipping: str = "10.00",
        cod: bool = False,
        test: bool = False,
        deliver: bool = True,
    ) -> dict[str, Any]:
        """An order of (channel SKU, quantity, unit price) lines, sent as orders/create."""
        order_id = next(self._order_ids)
        number = next(self._numbers)
        now = self._now()
        items = []
        subtotal = 0.0
        for n, (channel_sku, qty, price) in enumerate(lines, start=1):
            variant = self.variants.get(channel_sku, {})
            has_code = not channel_sku.isdigit()
            items.append(
                {
                    "id": order_id * 10 + n,
                    "admin_graphql_api_id": f"gid://shopify/LineItem/{order_id * 10 + n}",
                    "variant_id": variant.get("variant_id"),
                    "product_id": variant.get("product_id"),
                    "sku": channel_sku if has_code else "",
                    "title": f"Item {channel_sku}",
                    "name": f"Item {channel_sku}",
                    "quantity": qty,
                    "current_quantity": qty,
                    "fulfillable_quantity": qty,
                    "price": price,
                    "total_discount": "0.00",
                    "discount_allocations": [],
                    "tax_lines": [],
                    "requires_shipping": True,
                    "taxable": True,
                    "fulfillment_status": None,
                    "fulfillment_service": "manual",
                    "gift_card": False,
                }
            )
            subtotal += float(price) * qty
        first, _, last = name.partition(" ")
        address = {
            "first_name": first,
            "last_name": last,
            "name": name,
            "phone": phone,
            "address1": address1,
            "address2": None,
            "city": city,
            "province": province,
            "zip": "200040",
            "country": "China",
            "country_code": "CN",
            "latitude": None,
            "longitude": None,
        }
        gateway = "Cash on Delivery (COD)" if cod else "shopify_payments"
        order = {
            "id": order_id,
            "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
            "name": f"#{number}",
            "order_number": number,
            "number": number - 1000,
            "email": email,
            "contact_email": email,
            "phone": phone,
            "created_at": now,
            "updated_at": now,
            "processed_at": now,
            "cancelled_at": None,
            "cancel_reason": None,
            "closed_at": None,
            "test": test,
            "confirmed": True,
            "currency": "CNY",
            "presentment_currency": "CNY",
            "taxes_included": True,
            "financial_status": financial_status,
            "fulfillment_status": None,
            "gateway": gateway,
            "payment_gateway_names": [gateway],
            "note": note,
            "source_name": "web",
            "tags": "",
            "subtotal_price": f"{subtotal:.2f}",
            "total_tax": "0.00",
            "total_discounts": "0.00",
            "total_line_items_price": f"{subtotal:.2f}",
            "total_price": f"{subtotal + float(shipping):.2f}",
            "line_items": items,
            "shipping_lines": [
                {
                    "id": order_id * 10,
                    "title": "Standard",
                    "code": "Standard",
                    "source": "shopify",
                    "price": shipping,
                    "discounted_price": shipping,
                    "tax_lines": [],
                    "discount_allocations": [],
                }
            ],
            "billing_address": dict(address),
            "shipping_address": address,
            "customer": {
                "id": customer_id,
                "email": email,
                "first_name": first,
                "last_name": last,
                "phone": phone,
                "state": "enabled",
                "currency": "CNY",
            },
            "fulfillments": [],
            "refunds": [],
        }
        key = str(order_id)
        self.keep_order(key, order, utc_now())
        self._add_order_routes(key)
        if deliver:
            self.deliver(key, "orders/create")
        return order

    def pay(self, order_id: str) -> None:
        """The payment is captured: orders/paid and orders/updated (same order state)."""
        self._change(order_id, financial_status="paid")
        self.deliver(order_id, "orders/paid")
        self.deliver(order_id, "orders/updated")

    def cancel(self, order_id: str, reason: str = "customer") -> None:
        """The merchant cancels in the admin; a paid order is refunded in full, an unpaid one
        voided: orders/cancelled and orders/updated."""
        order = self.orders[order_id]
        paid = order["financial_status"] in ("paid", "partially_refunded", "authorized")
        self._change(
            order_id,
            cancelled_at=self._now(),
            cancel_reason=reason,
            financial_status="refunded" if paid else "voided",
        )
        self.deliver(order_id, "orders/cancelled")
        self.deliver(order_id, "orders/updated")

    def refund(self, order_id: str, amount: str, *, full: bool = False) -> None:
        """The merchant refunds money before shipping (the buyer asked): orders/updated."""
        order = self.orders[order_id]
        refunds = [
            *order["refunds"],
            {
                "id": next(self._ids),
                "order_id": int(order_id),
                "created_at": self._now(),
                "note": "buyer asked",
                "transactions": [{"kind": "refund", "amount": amount, "status": "success"}],
            },
        ]
        self._change(
            order_id, refunds=refunds, financial_status="refunded" if full else "partially_refunded"
        )
        self.deliver(order_id, "orders/updated")

    def _change(self, order_id: str, **changes: Any) -> dict[str, Any]:
        with self.lock:
            order = self.orders[order_id]
            order.update(changes)
            order["updated_at"] = self._after(order["updated_at"])
            self.modified[order_id] = utc_now()
            return order

    # -- webhooks -----------------------------------------------------------------------------
    def deliver(self, order_id: str, topic: str, *, webhook_id: str | None = None) -> int:
        """Send the order's current state under ``topic``, signed like Shopify; with the
        ``out_of_order`` fault an orders/create waits until the order's next message went."""
        with self.lock:
            body = json.dumps(self.orders[order_id], ensure_ascii=False).encode()
        message = Delivery(order_id, topic, body, self.headers(topic, body, webhook_id))
        if self.faults.out_of_order and topic == "orders/create":
            with self.lock:
                self.held.setdefault(order_id, []).append(message)
            return 0
        status = self.send(message)
        with self.lock:
            late = self.held.pop(order_id, [])
        for held in late:  # the first state arrives after the later one
            self.send(held)
        if self.roll(self.faults.duplicate_rate):
            self.send(message)  # the same delivery again, same webhook id
        return status

    def flush(self) -> None:
        """Send every held message (orders whose later state never came)."""
        with self.lock:
            held = [m for messages in self.held.values() for m in messages]
            self.held.clear()
        for message in held:
            self.send(message)

    def headers(self, topic: str, body: bytes, webhook_id: str | None = None) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": webhook_hmac(self.secret, body),
            "X-Shopify-Shop-Domain": self.shop,
            "X-Shopify-API-Version": API_VERSION,
            "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
            "X-Shopify-Event-Id": str(uuid.uuid4()),
            "X-Shopify-Triggered-At": utc_now().isoformat().replace("+00:00", "Z"),
        }

    def send(self, message: Delivery) -> int:
        """One delivery with Shopify's retries: any answer but 2xx (or none) is tried again."""
        assert self.hub_url, "set hub_url (the hub's /api/v1/channels/<code>) first"
        status = 0
        for delay in (*self.retry_delays, None):
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
                        message.headers["X-Shopify-Webhook-Id"],
                        status,
                    )
                )
            if 200 <= status < 300 or delay is None:
                break
            time.sleep(delay)
        with self.lock:
            self.pushed.append((message.order_id, status))
        return status

    # -- the Admin API ------------------------------------------------------------------------
    def handle(self, request: SimRequest) -> SimResponse:
        response = super().handle(request)
        if response.status == 404 and (request.method, request.path) not in self.routes:
            return SimResponse.json({"errors": "Not Found"}, 404)
        return response

    def _authorised(self, request: SimRequest) -> SimResponse | None:
        if request.headers.get("x-shopify-access-token") != self.access_token:
            return self.refuse_with(request, "bad access token", 401, {"errors": BAD_TOKEN})
        return None

    def refuse_with(
        self, request: SimRequest, why: str, status: int, body: dict[str, Any]
    ) -> SimResponse:
        self.refuse(request, why, status)
        return SimResponse.json(body, status)

    def _body(self, request: SimRequest, key: str | None = None) -> dict[str, Any] | None:
        try:
            body = request.json()
        except ValueError:
            return None
        if not isinstance(body, dict):
            return None
        if key is None:
            return body
        inner = body.get(key)
        return inner if isinstance(inner, dict) else None

    def _set_level(self, request: SimRequest) -> SimResponse:
        denied = self._authorised(request)
        if denied:
            return denied
        body = self._body(request)
        expected = {"location_id", "inventory_item_id", "available"}
        if (
            body is None
            or set(body) != expected
            or not all(isinstance(body[k], int) and not isinstance(body[k], bool) for k in body)
        ):
            return self.refuse_with(
                request,
                f"bad inventory_levels/set body {request.body!r}",
                400,
                {"errors": {"inventory_level": "Required parameter missing or invalid"}},
            )
        if body["location_id"] != self.location_id:
            return self.refuse_with(
                request, f"unknown location {body['location_id']}", 404, {"errors": "Not Found"}
            )
        item = body["inventory_item_id"]
        channel_sku = self.items.get(item)
        if channel_sku is None:
            return self.refuse_with(
                request,
                f"unknown inventory item {item}",
                422,
                {"errors": ["Inventory item does not exist"]},
            )
        with self.lock:
            self.levels[(self.location_id, item)] = body["available"]
        self.set_stock(channel_sku, body["available"])
        return SimResponse.json(
            {
                "inventory_level": {
                    "inventory_item_id": item,
                    "location_id": self.location_id,
                    "available": body["available"],
                    "updated_at": self._now(),
                    "admin_graphql_api_id": f"gid://shopify/InventoryLevel/{self.location_id}"
                    f"?inventory_item_id={item}",
                }
            }
        )

    def _add_order_routes(self, order_id: str) -> None:
        self.route(
            "POST",
            f"{self.base}/orders/{order_id}/fulfillments.json",
            lambda request: self._fulfil_order(request, order_id),
        )
        self.route(
            "GET",
            f"{self.base}/orders/{order_id}/fulfillment_orders.json",
            lambda request: self._list_fulfillment_orders(request, order_id),
        )
        self.route(
            "GET",
            f"{self.base}/orders/{order_id}.json",
            lambda request: self._get_order(request, order_id),
        )
        with self.lock:
            order = self.orders[order_id]
            self.fulfillment_orders[order_id] = [
                {
                    "id": next(self._ids),
                    "order_id": int(order_id),
                    "status": "open",
                    "assigned_location_id": self.location_id,
                    "request_status": "unsubmitted",
                    "supported_actions": ["create_fulfillment", "hold"],
                    "line_items": [
                        {
                            "id": next(self._ids),
                            "line_item_id": item["id"],
                            "quantity": item["quantity"],
                            "fulfillable_quantity": item["quantity"],
                            "variant_id": item["variant_id"],
                        }
                        for item in order["line_items"]
                    ],
                }
            ]

    def _get_order(self, request: SimRequest, order_id: str) -> SimResponse:
        denied = self._authorised(request)
        return denied or SimResponse.json({"order": self.orders[order_id]})

    def _fulfil_order(self, request: SimRequest, order_id: str) -> SimResponse:
        """The order-level fulfillment (``orders/{id}/fulfillments.json``)."""
        denied = self._authorised(request)
        if denied:
            return denied
        fulfillment = self._body(request, "fulfillment")
        if (
            fulfillment is None
            or not isinstance(fulfillment.get("tracking_number", ""), str)
            or not isinstance(fulfillment.get("notify_customer", False), bool)
            or ("location_id" in fulfillment and fulfillment["location_id"] != self.location_id)
        ):
            return self.refuse_with(
                request,
                f"bad fulfillment body {request.body!r}",
                400,
                {"errors": {"fulfillment": "Required parameter missing or invalid"}},
            )
        return self._fulfil(
            request,
            order_id,
            fulfillment.get("tracking_number"),
            fulfillment.get("tracking_company"),
            via="order",
        )

    def _list_fulfillment_orders(self, request: SimRequest, order_id: str) -> SimResponse:
        denied = self._authorised(request)
        if denied:
            return denied
        with self.lock:
            return SimResponse.json({"fulfillment_orders": self.fulfillment_orders[order_id]})

    def _fulfil_orders(self, request: SimRequest) -> SimResponse:
        """The fulfillment-order form (``fulfillments.json``)."""
        denied = self._authorised(request)
        if denied:
            return denied
        fulfillment = self._body(request, "fulfillment")
        groups = (fulfillment or {}).get("line_items_by_fulfillment_order")
        if not isinstance(groups, list) or not groups:
            return self.refuse_with(
                request,
                f"bad fulfillment body {request.body!r}",
                400,
                {"errors": {"fulfillment": "Required parameter missing or invalid"}},
            )
        wanted = {g.get("fulfillment_order_id") for g in groups if isinstance(g, dict)}
        with self.lock:
            owner = next(
                (
                    oid
                    for oid, fos in self.fulfillment_orders.items()
                    if any(fo["id"] in wanted for fo in fos)
                ),
                None,
            )
        if owner is None:
            return self.refuse_with(
                request, f"unknown fulfillment orders {wanted}", 404, {"errors": "Not Found"}
            )
        tracking = (fulfillment or {}).get("tracking_info") or {}
        return self._fulfil(
            request,
            owner,
            tracking.get("number"),
            tracking.get("company"),
            via="fulfillment_orders",
        )

    def _fulfil(
        self, request: SimRequest, order_id: str, number: Any, company: Any, *, via: str
    ) -> SimResponse:
        with self.lock:
            order = self.orders[order_id]
            if order["fulfillment_status"] == "fulfilled":
                return self.refuse_with(
                    request,
                    f"order {order_id} fulfilled already",
                    422,
                    {"errors": {"base": ["Line items are already fulfilled"]}},
                )
            if order["cancelled_at"]:
                return self.refuse_with(
                    request,
                    f"order {order_id} is cancelled",
                    422,
                    {"errors": {"base": ["Order is cancelled"]}},
                )
            for fo in self.fulfillment_orders[order_id]:
                fo["status"] = "closed"
            created = {
                "id": next(self._ids),
                "order_id": int(order_id),
                "status": "success",
                "tracking_number": number,
                "tracking_numbers": [number] if number else [],
                "tracking_company": company,
                "created_at": self._now(),
                "location_id": self.location_id,
            }
            order["fulfillments"].append(created)
            for item in order["line_items"]:
                item["fulfillment_status"] = "fulfilled"
                item["fulfillable_quantity"] = 0
        self._change(order_id, fulfillment_status="fulfilled")
        self.record_shipment(
            {
                "order_id": order_id,
                "tracking_number": number,
                "tracking_company": company,
                "via": via,
            }
        )
        if self.echo_fulfillments and self.hub_url:
            self._later(
                lambda: (
                    self.deliver(order_id, "orders/fulfilled"),
                    self.deliver(order_id, "orders/updated"),
                )
            )
        return SimResponse.json({"fulfillment": created}, 201)

    # -- Shopify's own error answers ----------------------------------------------------------
    def rate_limit_answer(self, request: SimRequest) -> SimResponse:
        return SimResponse(
            429,
            json.dumps({"errors": RATE_LIMITED}).encode(),
            {
                "content-type": "application/json; charset=utf-8",
                "Retry-After": "2.0",
                "X-Shopify-Shop-Api-Call-Limit": "40/40",
            },
        )

    def error_answer(self, request: SimRequest) -> SimResponse:
        return SimResponse.json({"errors": "Internal Server Error"}, 500)

    # -- time ---------------------------------------------------------------------------------
    def _now(self) -> str:
        """Shopify's timestamps: seconds, with the shop's UTC offset."""
        return utc_now().astimezone(SHANGHAI).replace(microsecond=0).isoformat()

    def _after(self, previous: str) -> str:
        """A new ``updated_at``, strictly later than ``previous`` (Shopify counts seconds)."""
        now = datetime.fromisoformat(self._now())
        floor = datetime.fromisoformat(previous) + timedelta(seconds=1)
        return max(now, floor).isoformat()

    def _later(self, job: Any) -> None:
        thread = threading.Thread(target=job, daemon=True, name="shopify-echo")
        with self.lock:
            self._background = [t for t in self._background if t.is_alive()] + [thread]
        thread.start()

    def settle(self, timeout: float = 10.0) -> None:
        """Wait for the webhooks sent in the background (after fulfillments)."""
        deadline = time.monotonic() + timeout
        with self.lock:
            threads = list(self._background)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
