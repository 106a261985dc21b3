"""Reading a pull window page by page: an order that leaves the window while the hub reads it
(modified again, after the window's end) must not make the hub skip another order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from omnihub.adapters.channels.transport import pages
from omnihub.ports import (
    ChannelAdapter,
    ChannelConfig,
    InboundRequest,
    OutboundRequest,
    Parsed,
    PulledOrder,
    PulledPage,
    StockUpdate,
    Verified,
)
from omnihub.simulators.base import PlatformSimulator, SimRequest, SimResponse

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 11, 0, 0, tzinfo=UTC)
END = START + timedelta(hours=1)


class ShiftingPlatform(PlatformSimulator):
    """Serves 250 orders by page; while the hub reads the page ``touch_on``, the order at
    ``touched`` is modified again and leaves the window."""

    name = "shifting"

    def __init__(self, *, total_known: bool, touch_on: int, touched: str) -> None:
        super().__init__()
        self.total_known = total_known
        self.touch_on, self.touched = touch_on, touched
        for n in range(250):
            self.keep_order(f"T{n:03d}", {"id": f"T{n:03d}"}, START + timedelta(seconds=n))
        self.route("GET", "/orders", self.list_orders)

    def list_orders(self, request: SimRequest) -> SimResponse:
        page, size = int(request.query["page"]), int(request.query["size"])
        if page == self.touch_on:
            self.keep_order(self.touched, {"id": self.touched}, END + timedelta(minutes=1))
        items, total = self.window(START, END, page, size)
        body: dict[str, Any] = {"items": items, "has_more": page * size < total}
        if self.total_known:
            body["total"] = total
        return SimResponse.json(body)


class PagedAdapter(ChannelAdapter):
    name = "paged"
    line_identity = "id"
    page_size = 100

    def verify(self, config: ChannelConfig, request: InboundRequest) -> Verified:
        return Verified()

    def parse(self, config: ChannelConfig, request: InboundRequest) -> Parsed:
        return Parsed(orders=[])

    def to_order(self, config: ChannelConfig, native: dict[str, Any], raw: str) -> Any:
        return native

    def pull_request(
        self, config: ChannelConfig, start: datetime, end: datetime, page: int
    ) -> OutboundRequest:
        return OutboundRequest(
            "GET",
            config.url("/orders"),
            {},
            params={"page": str(page), "size": str(self.page_size)},
        )

    def read_page(self, config: ChannelConfig, status: int, body: bytes) -> PulledPage:
        data = json.loads(body)
        return PulledPage(
            [PulledOrder(o["id"], o) for o in data["items"]], data["has_more"], data.get("total")
        )

    def stock_request(self, config: ChannelConfig, update: StockUpdate) -> OutboundRequest:
        raise NotImplementedError

    def check_response(self, status: int, body: bytes) -> None:
        assert status == 200


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as http:
        yield http


def read_window(platform: ShiftingPlatform, client: httpx.Client) -> set[str]:
    config = ChannelConfig("paged", "paged", endpoint=platform.url)
    seen: set[str] = set()
    for page in pages(client, PagedAdapter(), config, START, END):
        seen |= {o.external_id for o in page.orders}
    return seen


def test_with_the_total_known_pages_are_read_from_the_last_and_nothing_is_skipped(
    client: httpx.Client,
) -> None:
    # T050 (on page 1, read first) leaves the window while page 2 is read
    with ShiftingPlatform(total_known=True, touch_on=2, touched="T050") as platform:
        seen = read_window(platform, client)
    assert {f"T{n:03d}" for n in range(250)} - {"T050"} <= seen


def test_reading_forwards_an_order_leaving_the_window_skips_another(
    client: httpx.Client,
) -> None:
    """Why the hub reads backwards when it can: forwards, the first order of page 2 slides
    onto page 1 (already read) and is missed in this window."""
    with ShiftingPlatform(total_known=False, touch_on=2, touched="T050") as platform:
        seen = read_window(platform, client)
    assert "T100" not in seen
