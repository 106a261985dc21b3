"""HTTP for the calls the hub makes to a platform outside the delivery queue: fetching an
order in full, pulling a window of orders page by page."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import httpx

from omnihub.ports import (
    CallRefused,
    ChannelAdapter,
    ChannelConfig,
    ChannelTransport,
    OutboundRequest,
    PulledPage,
)


def send(client: httpx.Client, request: OutboundRequest) -> httpx.Response:
    return client.request(
        request.method,
        request.url,
        content=request.body or None,
        headers=request.headers,
        params=request.params,
    )


def call(
    client: httpx.Client, adapter: ChannelAdapter, request: OutboundRequest
) -> tuple[int, bytes]:
    """Make the call; ``CallRefused`` when the platform answers with an error (retry=True for
    an outage or a timeout)."""
    try:
        response = send(client, request)
    except httpx.HTTPError as exc:
        raise CallRefused(f"{adapter.name}: {type(exc).__name__}: {exc}", retry=True) from exc
    adapter.check_response(response.status_code, response.content)
    return response.status_code, response.content


def fetcher(
    client: httpx.Client, adapter: ChannelAdapter, config: ChannelConfig
) -> Callable[[str], dict[str, Any]]:
    """Fetch one order in full (platforms that notify with an id only)."""

    def fetch(external_id: str) -> dict[str, Any]:
        status, body = call(client, adapter, adapter.fetch_request(config, external_id))
        return adapter.read_fetched(config, status, body)

    return fetch


def pages(
    client: httpx.Client,
    adapter: ChannelAdapter,
    config: ChannelConfig,
    start: datetime,
    end: datetime,
    *,
    max_pages: int = 1000,
) -> Iterator[PulledPage]:
    """Every page of orders modified in [start, end]. When the first page tells the window's
    total, the other pages are read from the last one back and page 1 once more at the end
    (see ``PulledPage.total``): an order leaving the window only moves later orders to
    earlier pages, which are read after."""

    def read(number: int) -> PulledPage:
        status, body = call(client, adapter, adapter.pull_request(config, start, end, number))
        return adapter.read_page(config, status, body)

    first = read(1)
    yield first
    if first.total is not None:
        last = -(-first.total // adapter.page_size)
        if last > max_pages:
            raise CallRefused(f"{adapter.name}: {last} pages in one window", retry=True)
        if last > 1:
            for number in range(last, 1, -1):
                yield read(number)
            yield read(1)  # an order that left page 1 meanwhile slid the next one onto it
        return
    page = first
    for number in range(2, max_pages + 1):
        if not page.has_more:
            return
        page = read(number)
        yield page
    if page.has_more:
        raise CallRefused(f"{adapter.name}: more than {max_pages} pages in one window", retry=True)


class HttpChannelTransport(ChannelTransport):
    """``ChannelTransport`` over HTTP with one client."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def pages(
        self, adapter: ChannelAdapter, config: ChannelConfig, start: datetime, end: datetime
    ) -> Iterator[PulledPage]:
        return pages(self.client, adapter, config, start, end)

    def fetcher(
        self, adapter: ChannelAdapter, config: ChannelConfig
    ) -> Callable[[str], dict[str, Any]]:
        return fetcher(self.client, adapter, config)
