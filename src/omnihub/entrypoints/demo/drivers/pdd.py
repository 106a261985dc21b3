"""Pinduoduo in the demo: the shop's orders live on PDD, where the hub pulls them by
``updated_at`` (``pdd.order.number.list.increment.get``) and sets stock
(``pdd.goods.quantity.update``) and ships (``pdd.logistics.online.send``). An order waiting for
payment is, on PDD, a group buy not formed yet (``confirm_status`` 0)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omnihub.entrypoints.demo.native import Story, StoryDriver, lines_of
from omnihub.simulators.channels.pdd import PddSimulator


class PddDriver(StoryDriver):
    adapter = "pdd"
    pulls = True
    quiet = "kept"

    def __init__(self, code: str, hub_url: str, secret: str, stores: list[Any]) -> None:
        super().__init__(code, hub_url, secret, stores)
        self.shop = PddSimulator(
            secret=secret, client_id=f"{code}-client", access_token=f"{code}-token"
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
        """A SKU with our code as its ``outer_id``; every fifth has none (its sku_id)."""
        return self.shop.add_item(
            None if index % 5 == 4 else sku,
            goods_id=str(880_000_000 + index),
            sku_id=str(1_300_000_000 + index),
        )

    def place(
        self, story: Story, order: dict[str, Any], *, paid: bool, announce: bool
    ) -> Callable[[], object] | None:
        lines = lines_of(order)
        with self.shop.lock:  # the shop's prices today
            for channel_sku, _, unit in lines:
                self.shop.items[channel_sku]["goods_price"] = unit
        story.native_id = self.shop.create_order(
            [(channel_sku, qty) for channel_sku, qty, _ in lines],
            confirm_status=1 if paid else 0,
            postage=order["shipping_fee"],
        )
        return None  # the hub reads the order when it pulls

    def pay(self, story: Story, order: dict[str, Any]) -> None:
        """The group buy is formed: the order is final."""
        self.shop.update_order(str(story.native_id), confirm_status=1)

    def cancel(self, story: Story, order: dict[str, Any]) -> None:
        """Refunded in full (after-sales) when paid; else the group buy is cancelled."""
        if "paid" in story.said:
            self.shop.update_order(str(story.native_id), refund_status=4)
        else:
            self.shop.update_order(str(story.native_id), confirm_status=2)

    def too_late(self, why: str) -> bool:
        """A shipment for an order refunded on PDD meanwhile."""
        return "cannot ship" in why
