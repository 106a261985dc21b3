"""The mini-program adapter: verifies the back end's signed canonical orders, reads them, and
builds the signed canonical calls the hub makes back (stock, order status)."""

from __future__ import annotations

import json
from typing import Any

from omnihub.adapters.channels.miniapp import mapper
from omnihub.adapters.channels.miniapp.signature import signed_headers, verify
from omnihub.adapters.native import json_object, secret_of
from omnihub.domain.orders import IngestOrder
from omnihub.platforms.retry import retryable_status
from omnihub.ports import (
    CallRefused,
    ChannelAdapter,
    ChannelConfig,
    InboundRequest,
    InvalidChannelConfig,
    OutboundRequest,
    Parsed,
    ShipmentUpdate,
    StockUpdate,
    Verified,
)


class MiniappAdapter(ChannelAdapter):
    """The channel secret signs both ways; the endpoint is the mini-program back end's base
    URL (``/stock`` and ``/orders/status`` below it)."""

    name = "miniapp"
    line_identity = "lines[].channel_sku (usually our own SKU code), else lines[].sku"
    pulls = False
    pushes = frozenset(mapper.TO_NATIVE.values())

    def verify(self, config: ChannelConfig, request: InboundRequest) -> Verified:
        return verify(secret_of(config), request)

    def parse(self, config: ChannelConfig, request: InboundRequest) -> Parsed:
        native = json_object(request.body, "order")
        return Parsed(
            orders=[self.to_order(config, native, request.body.decode("utf-8", "replace"))]
        )

    def to_order(self, config: ChannelConfig, native: dict[str, Any], raw: str) -> IngestOrder:
        return mapper.to_order(config.code, native, raw)

    def stock_request(self, config: ChannelConfig, update: StockUpdate) -> OutboundRequest:
        body = mapper.stock_body(update.channel_sku, update.sku, update.quantity, update.version)
        return self._signed(config, "/stock", body, f"stock:{update.channel_sku}:{update.version}")

    def shipment_request(
        self, config: ChannelConfig, update: ShipmentUpdate
    ) -> OutboundRequest | None:
        if update.status not in self.pushes:
            return None
        body = mapper.status_body(
            update.external_id, update.status, update.carrier, update.tracking_number
        )
        return self._signed(
            config, "/orders/status", body, f"status:{update.external_id}:{update.status}"
        )

    def check_response(self, status: int, body: bytes) -> None:
        if 200 <= status < 300:
            return
        retry = retryable_status(status)
        raise CallRefused(
            f"miniapp answered HTTP {status}: {body[:300]!r}", retry=retry, code=str(status)
        )

    def _signed(
        self, config: ChannelConfig, path: str, payload: dict[str, Any], request_id: str
    ) -> OutboundRequest:
        if not config.secret:
            raise InvalidChannelConfig(f"channel {config.code} has no secret to sign with")
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        return OutboundRequest(
            "POST", config.url(path), signed_headers(config.secret, body, request_id), body
        )
