"""WooCommerce in the demo: a site that sends order webhooks (order.created, order.updated)
and takes the hub's product stock and order status (completed with tracking) by REST API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omnihub.entrypoints.demo.native import Story, StoryDriver, buyer_number, lines_of
from omnihub.simulators.channels.woocommerce import (
    Delivery,
    WooCommerceSimulator,
    wc_json,
)


class WooCommerceDriver(StoryDriver):
    adapter = "woocommerce"

    def __init__(self, code: str, hub_url: str, secret: str, stores: list[Any]) -> None:
        super().__init__(code, hub_url, secret, stores)
        self.site = WooCommerceSimulator(secret=secret, site=f"https://{code}.example.com/")
        self.simulator = self.site

    def channel(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "adapter": self.adapter,
            "endpoint": self.site.url,
            "secret": self.secret,
            "credentials": self.site.credentials(),
        }

    def listing(self, sku: str, index: int) -> str:
        """A product with our SKU code; every fourth is a variation of a product, every
        fourth another has no SKU code (matched by its product id)."""
        product = 30_000 + index
        if index % 4 == 1:
            return self.site.add_product(sku, product_id=product, variation_id=60_000 + index)
        return self.site.add_product(None if index % 4 == 3 else sku, product_id=product)

    def place(
        self, story: Story, order: dict[str, Any], *, paid: bool, announce: bool
    ) -> Callable[[], object] | None:
        to, n = order["ship_to"], buyer_number(order)
        native = self.site.new_order(
            lines_of(order),
            status="processing" if paid else "pending",
            payment_method=order["payment"]["provider"] if order.get("payment") else "alipay",
            customer_id=n,
            name=to["name"],
            phone=to["phone"],
            email=f"buyer{n}@example.com",
            city=to["city"],
            address_1=to["address"],
            shipping=order["shipping_fee"],
            deliver=announce,
        )
        story.native_id = str(native["id"])
        if announce:
            return None
        body = wc_json(native)  # the order as it was created
        created = Delivery(
            story.native_id, "order.created", body, self.site.headers("order.created", body)
        )
        return lambda: self.site.send(created)

    def pay(self, story: Story, order: dict[str, Any]) -> None:
        self.site.set_status(str(story.native_id), "processing")

    def cancel(self, story: Story, order: dict[str, Any]) -> None:
        self.site.set_status(str(story.native_id), "cancelled")

    def repeat(self, story: Story, order: dict[str, Any]) -> None:
        """The order's last webhook topic sent again (WooCommerce gives it a new delivery id)."""
        with self.site.lock:
            last = next(
                (d for d in reversed(self.site.deliveries) if d[0] == story.native_id), None
            )
        if last is not None:
            self.site.deliver(last[0], last[1])
