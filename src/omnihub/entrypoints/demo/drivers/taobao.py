"""Taobao and Tmall in the demo: the seller's trades live on TOP, where the hub pulls them by
modified time (``taobao.trades.sold.increment.get``) and sets stock
(``taobao.item.quantity.update``) and ships (``taobao.logistics.offline.send``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from omnihub.entrypoints.demo.native import Story, StoryDriver, lines_of
from omnihub.simulators.channels.taobao import TopSimulator


class TaobaoDriver(StoryDriver):
    adapter = "taobao"
    pulls = True
    quiet = "kept"
    app_key = "23000001"

    def __init__(self, code: str, hub_url: str, secret: str, stores: list[Any]) -> None:
        super().__init__(code, hub_url, secret, stores)
        self.top = TopSimulator(secret=secret, app_key=self.app_key, session=f"{code}-session")
        self.simulator = self.top

    def channel(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "adapter": self.adapter,
            "endpoint": self.top.url,
            "secret": self.secret,
            "credentials": self.top.credentials(),
        }

    def listing(self, sku: str, index: int) -> str:
        """An item SKU with our code as its merchant code (``outer_sku_id``); every fifth has
        none (its ``sku_id``)."""
        return self.top.list_item(
            outer_sku_id=None if index % 5 == 4 else sku, title=sku
        ).channel_sku

    def place(
        self, story: Story, order: dict[str, Any], *, paid: bool, announce: bool
    ) -> Callable[[], object] | None:
        lines = lines_of(order)
        with self.top.lock:  # the seller's prices today
            for channel_sku, _, unit in lines:
                listing = self.top.listings[channel_sku]
                self.top.listings[channel_sku] = dataclasses.replace(listing, price=unit)
        story.native_id = self.top.new_trade(
            [(channel_sku, qty) for channel_sku, qty, _ in lines],
            paid=paid,
            post_fee=order["shipping_fee"],
        )
        return None  # the hub reads the trade when it pulls

    def pay(self, story: Story, order: dict[str, Any]) -> None:
        self.top.pay(str(story.native_id))

    def cancel(self, story: Story, order: dict[str, Any]) -> None:
        """Closed: refunded in full when paid, else closed by Taobao."""
        self.top.close(str(story.native_id))


class TmallDriver(TaobaoDriver):
    adapter = "tmall"
    app_key = "23000002"
