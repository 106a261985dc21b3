"""美团闪购 in the demo: one app with a shop per store. A paid order is placed at the shop of
the store nearest the buyer and pushed whole as a signed callback; a cancellation is pushed
as a cancel callback (the hub fetches the order). The hub accepts orders (``order/confirm``),
tells when they are packed and sets stock for one shop (``retail/sku/stock``)."""

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
from omnihub.simulators.channels.meituan import Food, MeituanSimulator

FORM = {"content-type": "application/x-www-form-urlencoded;charset=utf-8"}


class MeituanShops(MeituanSimulator):
    """The platform's stand-in for an app with several shops: ``place_at`` places an order at
    the shop named (the simulator itself keeps one shop, ``poi``, which is also the shop whose
    stock the hub sets)."""

    def __init__(self, **kwargs: Any) -> None:
        self._placing = threading.local()
        super().__init__(**kwargs)

    @property
    def poi(self) -> str:
        return getattr(self._placing, "poi", None) or self._poi

    @poi.setter
    def poi(self, value: str) -> None:
        self._poi = value

    def place_at(self, poi: str, lines: list[tuple[str, int]], **details: Any) -> str:
        self._placing.poi = poi
        try:
            return self.place_order(lines, **details)
        finally:
            self._placing.poi = None


class MeituanDriver(StoryDriver):
    adapter = "meituan"

    def __init__(self, code: str, hub_url: str, secret: str, stores: list[Any]) -> None:
        super().__init__(code, hub_url, secret, stores)
        self.pois = {store.code: f"mt-{store.code.lower()}" for store in stores}
        self.platform = MeituanShops(
            secret=secret, app_id="6001", poi=self.pois[stores[0].code], foods=()
        )
        self.simulator = self.platform

    def channel(self) -> dict[str, Any]:
        credentials = self.platform.credentials(self.stores[0].code, self.platform.callback_url)
        credentials["shops"] = {poi: store for store, poi in self.pois.items()}
        credentials["stock_poi"] = self.platform.poi
        return {
            "code": self.code,
            "adapter": self.adapter,
            "endpoint": self.platform.api_url,
            "secret": self.secret,
            "credentials": credentials,
            "locations": [store.code for store in self.stores],
        }

    def listing(self, sku: str, index: int) -> str:
        """A food of one spec whose ``sku_id`` is our SKU code."""
        with self.platform.lock:
            self.platform.foods[sku] = Food(f"SPU{index:05d}", sku, sku, Decimal("0"))
        return sku

    def place(
        self, story: Story, order: dict[str, Any], *, paid: bool, announce: bool
    ) -> Callable[[], object] | None:
        if paid:
            self.pay(story, order)
        return None  # the platform tells the shop of an order once it is paid

    def pay(self, story: Story, order: dict[str, Any]) -> None:
        to = order["ship_to"]
        with self.platform.lock:  # the shop's prices today
            for line in order["lines"]:
                food = self.platform.foods[line["channel_sku"]]
                self.platform.foods[food.sku_id] = Food(
                    food.app_food_code, food.sku_id, food.name, price(line["unit_price"])
                )
        store = nearest_store(self.stores, to["lat"], to["lon"])
        story.native_id = self.platform.place_at(
            self.pois[store.code],
            [(ln["channel_sku"], int(ln["qty"])) for ln in order["lines"]],
            lat=to["lat"],
            lon=to["lon"],
            address=written_address(to),
            name=to["name"],
            shipping_fee=price(order["shipping_fee"]),
        )

    def cancel(self, story: Story, order: dict[str, Any]) -> None:
        if story.native_id is not None:
            self.platform.cancel(story.native_id)

    def repeat(self, story: Story, order: dict[str, Any]) -> None:
        """The order callback sent again (signed anew: a new callback with the same order)."""
        if story.native_id is None:
            return
        with self.platform.lock:
            params = self.platform.order_params(self.platform.orders[story.native_id])
        self.platform.push(story.native_id, self.platform.form(params), FORM)

    def too_late(self, why: str) -> bool:
        """808: the order's state (cancelled meanwhile) does not allow the call."""
        return why.startswith("808:")
