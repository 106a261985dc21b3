"""JD in the demo: the vender's orders live on JOS, where the hub pulls them by modified time
(``jingdong.pop.order.search``) and sets stock (``updateSkuStock``) and ships
(``jingdong.pop.order.shipment``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omnihub.entrypoints.demo.native import Story, StoryDriver, lines_of
from omnihub.simulators.channels.jd import JdSimulator


class JdDriver(StoryDriver):
    adapter = "jd"
    pulls = True
    quiet = "kept"

    def __init__(self, code: str, hub_url: str, secret: str, stores: list[Any]) -> None:
        super().__init__(code, hub_url, secret, stores)
        self.jos = JdSimulator(secret=secret, app_key=f"{code}-app", access_token=f"{code}-token")
        self.simulator = self.jos

    def channel(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "adapter": self.adapter,
            "endpoint": self.jos.url,
            "secret": self.secret,
            "credentials": self.jos.credentials,
        }

    def listing(self, sku: str, index: int) -> str:
        """A product with our code as its ``outerSkuId``; every fifth has none (its skuId)."""
        return self.jos.add_item(None if index % 5 == 4 else sku, sku_id=str(100_023_400 + index))

    def place(
        self, story: Story, order: dict[str, Any], *, paid: bool, announce: bool
    ) -> Callable[[], object] | None:
        lines = lines_of(order)
        with self.jos.lock:  # the vender's prices today
            for channel_sku, _, unit in lines:
                self.jos.items[channel_sku]["jdPrice"] = unit
        story.native_id = self.jos.create_order(
            [(channel_sku, qty) for channel_sku, qty, _ in lines],
            state="WAIT_SELLER_STOCK_OUT" if paid else "NOT_PAY",
            freight=order["shipping_fee"],
        )
        return None  # the hub reads the order when it pulls

    def pay(self, story: Story, order: dict[str, Any]) -> None:
        self.jos.update_order(str(story.native_id), state="WAIT_SELLER_STOCK_OUT")

    def cancel(self, story: Story, order: dict[str, Any]) -> None:
        self.jos.update_order(str(story.native_id), state="TRADE_CANCELED")

    def too_late(self, why: str) -> bool:
        """A shipment for an order no longer waiting for one (cancelled meanwhile)."""
        return why.startswith("order ")
