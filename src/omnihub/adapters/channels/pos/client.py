"""The POS adapter: verifies the tills' signed receipts, reads them as counter sales and
returns, and builds the signed stock call back to the tills."""

from __future__ import annotations

import json
from typing import Any

from omnihub.adapters.channels.pos import mapper
from omnihub.adapters.channels.pos.signature import signed_headers, verify
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
    StockUpdate,
    Verified,
)


class PosAdapter(ChannelAdapter):
    """The channel secret signs both ways; ``credentials.store`` (optional) is the one store
    whose tills this channel is (receipts of other stores are refused, stock pushes name it);
    the endpoint is the tills' server base URL (``/stock`` below it)."""

    name = "pos"
    line_identity = "lines[].barcode (scanned), else lines[].sku"
    pulls = False
    pushes: frozenset[str] = frozenset()  # a counter sale is over when the hub hears of it

    def verify(self, config: ChannelConfig, request: InboundRequest) -> Verified:
        return verify(secret_of(config), request)

    def parse(self, config: ChannelConfig, request: InboundRequest) -> Parsed:
        receipt = json_object(request.body, "receipt")
        return Parsed(
            orders=[self.to_order(config, receipt, request.body.decode("utf-8", "replace"))]
        )

    def to_order(self, config: ChannelConfig, native: dict[str, Any], raw: str) -> IngestOrder:
        return mapper.to_order(config.code, native, raw, store=_store(config))

    def stock_request(self, config: ChannelConfig, update: StockUpdate) -> OutboundRequest:
        if not config.secret:
            raise InvalidChannelConfig(f"channel {config.code} has no secret to sign with")
        payload = mapper.stock_body(
            _store(config), update.channel_sku, update.sku, update.quantity, update.version
        )
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        request_id = f"stock:{update.channel_sku}:{update.version}"
        return OutboundRequest(
            "POST", config.url("/stock"), signed_headers(config.secret, body, request_id), body
        )

    def check_response(self, status: int, body: bytes) -> None:
        if 200 <= status < 300:
            return
        retry = retryable_status(status)
        raise CallRefused(
            f"pos answered HTTP {status}: {body[:300]!r}", retry=retry, code=str(status)
        )


def _store(config: ChannelConfig) -> str | None:
    store = (config.credentials or {}).get("store")
    return str(store).strip() or None if store is not None else None
