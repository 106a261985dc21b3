"""抖店 (Douyin shop) in the demo: the platform pushes message batches that name an order
(created 100, paid 101, refunded 206); the hub fetches the order in full, and sets stock
(``sku.syncStock``) and ships (``order.logisticsAdd``) by open-platform calls."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from omnihub.entrypoints.demo.native import Story, StoryDriver, price
from omnihub.simulators.channels.douyin import DouyinSimulator, Item


class DouyinDriver(StoryDriver):
    adapter = "douyin"

    def __init__(self, code: str, hub_url: str, secret: str, stores: list[Any]) -> None:
        super().__init__(code, hub_url, secret, stores)
        self.shop = DouyinSimulator(
            secret=secret, app_key="7152000000000000001", access_token=f"{code}-shop-token"
        )
        self.simulator = self.shop

    def channel(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "adapter": self.adapter,
            "endpoint": self.shop.url,
            "secret": self.secret,
            "credentials": self.shop.credentials,
        }

    def listing(self, sku: str, index: int) -> str:
        """A SKU with our code as its merchant code; every fifth has none (its sku_id)."""
        item = Item(
            sku_id=1_729_000_000_000 + index,
            product_id=3_600_000_000 + index,
            price_fen=0,
            code=None if index % 5 == 4 else sku,
        )
        return self.shop.add_item(item).channel_sku

    def place(
        self, story: Story, order: dict[str, Any], *, paid: bool, announce: bool
    ) -> Callable[[], object] | None:
        lines = []
        for line in order["lines"]:  # each SKU at the price the shop sells it for today
            with self.shop.lock:
                item = self.shop.items[line["channel_sku"]]
            fen = int(price(line["unit_price"]) * 100)
            lines.append((Item(item.sku_id, item.product_id, fen, item.code), int(line["qty"])))
        shop_order = self.shop.create_order(lines, push=False)
        story.native_id = shop_order
        if paid:
            self.pay(story, order)  # paid at once: the payment message tells of the order
            return None
        if announce:
            story.last = self._notify(shop_order, "100")
            return None
        return lambda: self._notify(shop_order, "100")

    def pay(self, story: Story, order: dict[str, Any]) -> None:
        self.shop.pay(str(story.native_id), push=False)
        story.last = self._notify(str(story.native_id), "101")

    def cancel(self, story: Story, order: dict[str, Any]) -> None:
        """A paid order is refunded in full (after-sale, 206); an unpaid one cancelled (105)."""
        shop_order = str(story.native_id)
        if "paid" in story.said:
            self.shop.refund(shop_order, push=False)
            story.last = self._notify(shop_order, "206")
        else:
            self.shop.cancel(shop_order, push=False)
            story.last = self._notify(shop_order, "105")

    def repeat(self, story: Story, order: dict[str, Any]) -> None:
        """The last batch pushed again, same msg_id."""
        if story.last is not None:
            self.shop.send(str(story.native_id), story.last)

    def _notify(self, shop_order: str, tag: str) -> bytes:
        body = json.dumps([self.shop.message(shop_order, tag)], ensure_ascii=False).encode()
        self.shop.send(shop_order, body)
        return body

    def too_late(self, why: str) -> bool:
        """A shipment for an order refunded or cancelled on the platform meanwhile."""
        return "cannot be shipped" in why
