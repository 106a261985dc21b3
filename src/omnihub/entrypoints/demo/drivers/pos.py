"""The store tills in the demo: a sale is rung up at the store the buyer walks into (the
demo's pickup store) once it is paid, and sent as a signed receipt; a cancellation is the
return of that receipt. The tills take the hub's stock for their store."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from omnihub.entrypoints.demo.native import Story, StoryDriver, buyer_number, lines_of
from omnihub.simulators.channels.pos import PosSimulator

#: the demo's payment providers -> the tills' payment methods
METHODS = {"wechatpay": "wechat", "alipay": "alipay", "unionpay": "card"}


class PosDriver(StoryDriver):
    adapter = "pos"

    def __init__(self, code: str, hub_url: str, secret: str, stores: list[Any]) -> None:
        super().__init__(code, hub_url, secret, stores)
        self.tills = PosSimulator(secret=secret)
        self.simulator = self.tills

    def channel(self) -> dict[str, Any]:
        """The tills of every store (no ``credentials.store``): the stock they show is what
        the hub can sell from the stores."""
        return {
            "code": self.code,
            "adapter": self.adapter,
            "endpoint": self.tills.url,
            "secret": self.secret,
            "locations": [store.code for store in self.stores],
        }

    def listing(self, sku: str, index: int) -> str:
        """The barcode the tills scan (EAN-13)."""
        digits = f"692345{index:06d}"
        odd, even = sum(map(int, digits[::2])), sum(map(int, digits[1::2]))
        return digits + str((10 - (odd + 3 * even) % 10) % 10)

    def place(
        self, story: Story, order: dict[str, Any], *, paid: bool, announce: bool
    ) -> Callable[[], object] | None:
        if paid:
            self.pay(story, order)
        return None  # nothing reaches the hub before the buyer pays at the counter

    def pay(self, story: Story, order: dict[str, Any]) -> None:
        lines = lines_of(order)
        total = sum(Decimal(unit) * qty for _, qty, unit in lines)
        method = METHODS.get((order.get("payment") or {}).get("provider", ""), "cash")
        story.native_id = self.tills.sale(
            order["pickup_location"],
            lines,
            payments=[(method, f"{total:.2f}")],
            member_id=f"M{buyer_number(order):06d}" if order["buyer"].get("tier") else None,
        )

    def cancel(self, story: Story, order: dict[str, Any]) -> None:
        if story.native_id is not None:
            self.tills.return_sale(story.native_id)

    def repeat(self, story: Story, order: dict[str, Any]) -> None:
        """The till sends the receipt again (a new request id)."""
        if story.native_id is not None:
            self.tills.send(story.native_id, self.tills.body(story.native_id))
