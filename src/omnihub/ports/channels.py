"""The sales-channel port. Each channel's adapter (``adapters/channels/<name>/``) translates
between the platform's own language and the hub's; the HTTP transport, retries and cursors are
the hub's, shared by all."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from omnihub.domain.errors import DomainError, ErrorCode
from omnihub.domain.orders import IngestOrder
from omnihub.ports.wire import InboundRequest, OutboundRequest, UnreadablePayload


class UnknownChannelStatus(UnreadablePayload):
    def __init__(self, channel: str, status: object) -> None:
        super().__init__(
            f"{channel} status {status!r} is not in the {channel} status table; the order is "
            "kept in the inbound log until the table knows it",
            code=ErrorCode.UNKNOWN_CHANNEL_STATUS,
            details={"status": str(status)},
        )


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    """One channel instance: which adapter speaks for it and how to reach the platform."""

    code: str
    adapter: str
    secret: str | None = None
    credentials: dict[str, Any] | None = None
    endpoint: str | None = None

    def credential(self, name: str, default: str | None = None) -> str:
        value = (self.credentials or {}).get(name, default)
        if value is None:
            raise InvalidChannelConfig(
                f"channel {self.code} ({self.adapter}) needs credentials.{name}"
            )
        return str(value)

    def url(self, path: str = "") -> str:
        if not self.endpoint:
            raise InvalidChannelConfig(f"channel {self.code} has no endpoint")
        return self.endpoint.rstrip("/") + path


class InvalidChannelConfig(DomainError):
    code = ErrorCode.VALIDATION


@dataclass(frozen=True, slots=True)
class Verified:
    """What the signature check learnt: the message id (for replay protection) and when the
    platform says it sent the message (checked against the allowed clock skew)."""

    message_id: str | None = None
    sent_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Parsed:
    """What an inbound message says: orders (new or updated), ids of orders to fetch in full
    (platforms that notify with an id only), or nothing the hub acts on (``ignored``)."""

    orders: list[IngestOrder]
    """Several when a platform batches messages."""
    fetch: list[str] | None = None
    ignored: str | None = None


@dataclass(frozen=True, slots=True)
class PulledOrder:
    external_id: str
    native: dict[str, Any]
    """The order as the platform returned it (one element of the page)."""


@dataclass(frozen=True, slots=True)
class PulledPage:
    orders: list[PulledOrder]
    has_more: bool
    total: int | None = None
    """How many orders the whole window holds, when the platform says: the hub then reads the
    pages from the last one back, so an order that leaves the window while it reads (modified
    again, after the window's end) cannot shift an unread order onto a page already read."""


@dataclass(frozen=True, slots=True)
class StockUpdate:
    channel_sku: str
    """The platform's identity of the item (the merchant SKU code or its product/variant id,
    as the adapter documents), i.e. the channel SKU of the mapping."""
    quantity: int
    sku: str
    version: int


@dataclass(frozen=True, slots=True)
class ShipmentUpdate:
    external_id: str
    carrier: str | None
    tracking_number: str | None
    status: str
    """The hub's order status that caused the push: shipped, delivered, cancelled, refunded."""


class ChannelAdapter(abc.ABC):
    """The port every channel implements. ``mapper.py`` holds its pure native ↔ canonical
    functions; ``client.py`` the adapter class built on them; ``signature.py`` how it signs.
    The platform's local stand-in lives apart, in ``omnihub.simulators.channels.<name>``."""

    name: str
    #: which field of a native line is the channel SKU a mapping matches
    line_identity: str
    #: True when the hub pulls orders by modified-time window (else they are pushed to it)
    pulls: bool = False
    #: the longest modified-time window one pull may ask for
    max_window: timedelta = timedelta(hours=1)
    #: how far back each pull window starts before the cursor (late commits, clock skew)
    overlap: timedelta = timedelta(minutes=2)
    page_size: int = 100
    #: how far a signed timestamp may be from our clock
    max_skew: timedelta = timedelta(minutes=5)
    #: the hub's statuses this channel accepts a push for (shipped, cancelled, ...)
    pushes: frozenset[str] = frozenset()
    #: the answer to a message received before (its id seen): 409 by default; 200 for a
    #: platform that reads any other answer as a failed delivery (and retries it, or in the end
    #: disables the webhook). Nothing is stored again either way.
    replay_status: int = 409

    # inbound
    @abc.abstractmethod
    def verify(self, config: ChannelConfig, request: InboundRequest) -> Verified:
        """Check the signature; raise ``ChannelRefused`` if it is wrong."""

    @abc.abstractmethod
    def parse(self, config: ChannelConfig, request: InboundRequest) -> Parsed:
        """Read a pushed message; raise ``UnreadablePayload`` when it can't."""

    @abc.abstractmethod
    def to_order(self, config: ChannelConfig, native: dict[str, Any], raw: str) -> IngestOrder:
        """One native order (pushed, pulled or fetched) in the canonical form."""

    def acknowledge(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        """Extra fields of the answer the platform expects from a receiver."""
        return {}

    # pull
    def pull_request(
        self, config: ChannelConfig, start: datetime, end: datetime, page: int
    ) -> OutboundRequest:
        raise NotImplementedError(f"{self.name} pushes its orders; it has no pull")

    def read_page(self, config: ChannelConfig, status: int, body: bytes) -> PulledPage:
        raise NotImplementedError(f"{self.name} pushes its orders; it has no pull")

    def after_fetch(self, config: ChannelConfig, key: str, order: IngestOrder) -> IngestOrder:
        """A fetched order with what the message that named it adds (e.g.
        an open refund request the fetched order does not show); most platforms: as it is."""
        return order

    def complete(self, native: dict[str, Any]) -> bool:
        """False for a pulled entry that only names an order (read it in full first)."""
        return True

    def fetch_request(self, config: ChannelConfig, external_id: str) -> OutboundRequest:
        raise NotImplementedError(f"{self.name} sends whole orders; nothing to fetch")

    def read_fetched(self, config: ChannelConfig, status: int, body: bytes) -> dict[str, Any]:
        raise NotImplementedError(f"{self.name} sends whole orders; nothing to fetch")

    # outbound
    @abc.abstractmethod
    def stock_request(self, config: ChannelConfig, update: StockUpdate) -> OutboundRequest:
        """The platform's own call that sets an item's sellable quantity."""

    def shipment_request(
        self, config: ChannelConfig, update: ShipmentUpdate
    ) -> OutboundRequest | None:
        """The platform's call for a status the hub pushes; None when it has no such call."""
        return None

    @abc.abstractmethod
    def check_response(self, status: int, body: bytes) -> None:
        """Raise ``CallRefused`` when the platform's answer is an error (HTTP status or the
        platform's own error code in a 200)."""


ChannelAdapters = Callable[[str], ChannelAdapter]
"""The adapter speaking for a name (``tmall``, ``shopify``, ...); ``InvalidChannelConfig``
when there is none."""


class ChannelTransport(abc.ABC):
    """The calls the hub makes to a platform outside the delivery queue (they are part of
    receiving orders, not of telling the platform something)."""

    @abc.abstractmethod
    def pages(
        self, adapter: ChannelAdapter, config: ChannelConfig, start: datetime, end: datetime
    ) -> Iterator[PulledPage]:
        """Every page of the orders modified in [start, end]; ``CallRefused`` when the
        platform answers with an error or cannot be reached (``retry`` True for an outage)."""

    @abc.abstractmethod
    def fetcher(
        self, adapter: ChannelAdapter, config: ChannelConfig
    ) -> Callable[[str], dict[str, Any]]:
        """Fetch one order in full by its external id (platforms that notify with an id only);
        ``CallRefused`` as for ``pages``."""
