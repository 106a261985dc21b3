"""Our WeChat mini-program in the demo: its back end sends each order's state as signed
canonical JSON and takes the hub's stock and order status calls."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omnihub.entrypoints.demo.native import Story, StoryDriver, buyer_number, lines_of
from omnihub.simulators.channels.miniapp import MiniappSimulator


class MiniappDriver(StoryDriver):
    adapter = "miniapp"

    def __init__(self, code: str, hub_url: str, secret: str, stores: list[Any]) -> None:
        super().__init__(code, hub_url, secret, stores)
        self.backend = MiniappSimulator(secret=secret)
        self.simulator = self.backend

    def channel(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "adapter": self.adapter,
            "endpoint": self.backend.url,
            "secret": self.secret,
        }

    def listing(self, sku: str, index: int) -> str:
        return sku  # our own shop sells under our SKU codes

    def place(
        self, story: Story, order: dict[str, Any], *, paid: bool, announce: bool
    ) -> Callable[[], object] | None:
        n = buyer_number(order)
        external_id = self.backend.place_order(
            lines_of(order),
            delivery=order["delivery"],
            pickup_location=order.get("pickup_location"),
            openid=f"oDemo{n:08d}",
            unionid=f"oUnion{n:08d}",
            external_id=order["external_id"],
            shipping_fee=order["shipping_fee"],
            push=False,
        )
        story.native_id = external_id
        if paid:
            self.backend.pay(external_id, push=False)
        created = self.backend.body(external_id)
        if announce:
            story.last = created
            self.backend.send(external_id, created)
            return None
        return lambda: self.backend.send(external_id, created)

    def pay(self, story: Story, order: dict[str, Any]) -> None:
        self.backend.pay(str(story.native_id), push=False)
        self._say(story)

    def cancel(self, story: Story, order: dict[str, Any]) -> None:
        self.backend.cancel(str(story.native_id), push=False)
        self._say(story)

    def repeat(self, story: Story, order: dict[str, Any]) -> None:
        """The back end's job ran twice: the same body again, with a new request id."""
        if story.last is not None:
            self.backend.send(str(story.native_id), story.last)

    def _say(self, story: Story) -> None:
        story.last = self.backend.body(str(story.native_id))
        self.backend.send(str(story.native_id), story.last)
