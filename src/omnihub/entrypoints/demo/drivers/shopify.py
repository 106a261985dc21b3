"""Shopify in the demo: a shop that sends order webhooks (orders/create, orders/paid,
orders/cancelled, orders/updated) and takes the hub's inventory levels and fulfillments."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from omnihub.entrypoints.demo.native import Story, StoryDriver, buyer_number, lines_of
from omnihub.simulators.channels.shopify import Delivery, ShopifySimulator


class ShopifyDriver(StoryDriver):
    adapter = "shopify"

    def __init__(self, code: str, hub_url: str, secret: str, stores: list[Any]) -> None:
        super().__init__(code, hub_url, secret, stores)
        self.shop = ShopifySimulator(secret=secret, shop=f"{code}-demo.myshopify.com")
        self.simulator = self.shop

    def channel(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "adapter": self.adapter,
            "endpoint": self.shop.url,
            "secret": self.secret,
            "credentials": self.shop.credentials(),
        }

    def listing(self, sku: str, index: int) -> str:
        """A variant with our SKU code as its ``sku``; every fourth has none (matched by its
        variant id)."""
        n = 100_000 + index
        return self.shop.add_variant(
            None if index % 4 == 3 else sku,
            variant_id=44_000_000_000_000 + n,
            product_id=8_800_000_000_000 + n,
            inventory_item_id=49_000_000_000_000 + n,
        )

    def place(
        self, story: Story, order: dict[str, Any], *, paid: bool, announce: bool
    ) -> Callable[[], object] | None:
        to, n = order["ship_to"], buyer_number(order)
        native = self.shop.new_order(
            lines_of(order),
            financial_status="paid" if paid else "pending",
            customer_id=7_000_000 + n,
            name=to["name"],
            phone=to["phone"],
            email=f"buyer{n}@example.com",
            province=to["province"],
            city=to["city"],
            address1=to["address"],
            shipping=order["shipping_fee"],
            deliver=announce,
        )
        story.native_id = str(native["id"])
        if announce:
            return None
        body = json.dumps(native, ensure_ascii=False).encode()  # the order as it was created
        created = Delivery(
            story.native_id, "orders/create", body, self.shop.headers("orders/create", body)
        )
        return lambda: self.shop.send(created)

    def pay(self, story: Story, order: dict[str, Any]) -> None:
        self.shop.pay(str(story.native_id))

    def cancel(self, story: Story, order: dict[str, Any]) -> None:
        self.shop.cancel(str(story.native_id))

    def repeat(self, story: Story, order: dict[str, Any]) -> None:
        """The order's last webhook delivered again, with the same webhook id."""
        with self.shop.lock:
            last = next(
                (d for d in reversed(self.shop.deliveries) if d[0] == story.native_id), None
            )
        if last is not None:
            self.shop.deliver(last[0], last[1], webhook_id=last[2])

    def too_late(self, why: str) -> bool:
        """A fulfillment for an order cancelled in the admin meanwhile (or fulfilled already)."""
        return "is cancelled" in why or "fulfilled already" in why
