"""饿了么 in the demo: one app with a shop per store. A paid order is placed at the shop of
the store nearest the buyer and pushed whole (message type 10); a cancellation is a state
message naming the order (the hub fetches it). The hub accepts orders
(``confirmOrderLite``), tells when they are packed and sets stock by spec id."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from omnihub.entrypoints.demo.native import (
    Story,
    StoryDriver,
    nearest_store,
    price,
    written_address,
)
from omnihub.simulators.channels.eleme import ElemeSimulator, Item

JSON = {"content-type": "application/json; charset=utf-8"}


class ElemeShops(ElemeSimulator):
    """The platform's stand-in for an app with several shops: ``at_shop`` makes the orders
    placed and changed in this thread belong to the shop named (the simulator itself keeps
    one shop, ``shop_id``)."""

    def __init__(self, **kwargs: Any) -> None:
        self._acting = threading.local()
        super().__init__(**kwargs)

    @property
    def shop_id(self) -> int:
        return getattr(self._acting, "shop_id", None) or self._shop_id

    @shop_id.setter
    def shop_id(self, value: int) -> None:
        self._shop_id = value

    def at_shop(self, shop_id: int, step: Callable[[], Any]) -> Any:
        self._acting.shop_id = shop_id
        try:
            return step()
        finally:
            self._acting.shop_id = None


class ElemeDriver(StoryDriver):
    adapter = "eleme"

    def __init__(self, code: str, hub_url: str, secret: str, stores: list[Any]) -> None:
        super().__init__(code, hub_url, secret, stores)
        self.shops = {store.code: 160_001 + i for i, store in enumerate(stores)}
        self.platform = ElemeShops(
            secret=secret,
            shop_id=self.shops[stores[0].code],
            app_key=f"{code}-app-key",
            token=f"{code}-shop-token",
            items=(),
        )
        self.simulator = self.platform
        self.shop_of: dict[str, int] = {}
        """platform order id -> its shop"""

    def channel(self) -> dict[str, Any]:
        credentials = self.platform.credentials(self.stores[0].code)
        credentials["shops"] = {str(shop): store for store, shop in self.shops.items()}
        return {
            "code": self.code,
            "adapter": self.adapter,
            "endpoint": self.platform.api_url,
            "secret": self.secret,
            "credentials": credentials,
            "locations": [store.code for store in self.stores],
        }

    def listing(self, sku: str, index: int) -> str:
        """An item of one spec whose merchant code (``extendCode``) is our SKU code."""
        item = Item(sku, 5_100_000 + index, 7_100_000 + index, sku, Decimal("0"))
        with self.platform.lock:
            self.platform.items[sku] = item
            self.platform.by_spec[item.spec_id] = item
        return sku

    def place(
        self, story: Story, order: dict[str, Any], *, paid: bool, announce: bool
    ) -> Callable[[], object] | None:
        if paid:
            self.pay(story, order)
        return None  # an order becomes effective (type 10) once it is paid

    def pay(self, story: Story, order: dict[str, Any]) -> None:
        to = order["ship_to"]
        with self.platform.lock:  # the shop's prices today
            for line in order["lines"]:
                item = self.platform.items[line["channel_sku"]]
                priced = Item(
                    item.extend_code,
                    item.item_id,
                    item.spec_id,
                    item.name,
                    price(line["unit_price"]),
                )
                self.platform.items[item.extend_code] = self.platform.by_spec[item.spec_id] = priced
        shop = self.shops[nearest_store(self.stores, to["lat"], to["lon"]).code]
        story.native_id = self.platform.at_shop(
            shop,
            lambda: self.platform.place_order(
                [(ln["channel_sku"], int(ln["qty"])) for ln in order["lines"]],
                lat=to["lat"],
                lon=to["lon"],
                address=written_address(to),
                consignee=to["name"],
                deliver_fee=price(order["shipping_fee"]),
            ),
        )
        self.shop_of[story.native_id] = shop

    def cancel(self, story: Story, order: dict[str, Any]) -> None:
        if story.native_id is not None:
            order_id = story.native_id
            self.platform.at_shop(self.shop_of[order_id], lambda: self.platform.cancel(order_id))

    def repeat(self, story: Story, order: dict[str, Any]) -> None:
        """The order message sent again (a new request id: a new message, the same order)."""
        if story.native_id is None:
            return
        with self.platform.lock:
            native = dict(self.platform.orders[story.native_id])
        body = self.platform.at_shop(native["shopId"], lambda: self.platform.envelope(10, native))
        self.platform.push(story.native_id, body, JSON)

    def too_late(self, why: str) -> bool:
        """An order made invalid (cancelled) meanwhile cannot be accepted or packed."""
        return "不能接单" in why or "不能出餐" in why
