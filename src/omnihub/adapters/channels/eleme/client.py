"""The 饿了么 adapter: verifies pushed envelopes, reads order messages (fetching the order in
full when a message only names it), builds the open-platform calls for stock and order
acceptance and reads the platform's answers."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from omnihub.adapters.channels.eleme import mapper
from omnihub.adapters.channels.eleme.signature import api_signature, push_signature
from omnihub.adapters.native import require_signature, secret_of, text
from omnihub.domain.orders import IngestOrder
from omnihub.platforms.retry import retryable_status
from omnihub.ports import (
    CallRefused,
    ChannelAdapter,
    ChannelConfig,
    ChannelRefused,
    InboundRequest,
    InvalidChannelConfig,
    OutboundRequest,
    Parsed,
    ShipmentUpdate,
    StockUpdate,
    UnreadablePayload,
    Verified,
)

GET_ORDER = "eleme.order.getOrder"
BATCH_UPDATE_STOCK = "eleme.product.item.batchUpdateStock"
CONFIRM_ORDER = "eleme.order.confirmOrderLite"
ORDER_PREPARED = "eleme.order.setOrderPrepared"
#: hub status -> the platform call it makes: the store reserved the goods (the shop accepts the
#: order, 接单) and the goods are packed (出餐, the rider may collect them)
STATUS_CALLS: dict[str, str] = {"allocated": CONFIRM_ORDER, "picked": ORDER_PREPARED}


class ElemeAdapter(ChannelAdapter):
    """Channel settings: the secret is the app secret (it signs pushes and our calls); the
    endpoint is the API URL (``https://open-api.shop.ele.me/api/v1/`` on the real platform);
    credentials:

    * ``shops``: ``{"<platform shop id>": "<hub store code>"}`` — the store that serves (and
      reserves for) the shop's orders;
    * ``app_key`` and ``token`` (the shop's OAuth access token) for our calls;
    * ``app_id`` (optional): when set, pushes for another app are refused;
    * ``specs`` (optional): ``{"<merchant extendCode>": <platform spec id>}`` — stock is set
      per spec id (``batchUpdateStock``), so a channel SKU that is a merchant code needs its
      spec id here; a channel SKU of digits is a spec id already.

    Orders are same-day: the platform's rider delivers and the hub reserves at the shop's
    store. One channel per shop is the intended set-up for stock (the hub publishes one
    quantity per SKU per channel)."""

    name = "eleme"
    line_identity = (
        "groups[].items[].extendCode (merchant code), else skuId (platform spec id, when not "
        "-1), else id; items of the extra basket (餐盒费) are fees, not lines"
    )
    pulls = False
    pushes = frozenset(STATUS_CALLS)

    # -- inbound ------------------------------------------------------------------------------
    def verify(self, config: ChannelConfig, request: InboundRequest) -> Verified:
        secret = secret_of(config)
        try:
            raw = mapper.read_envelope(request.body)
        except UnreadablePayload as exc:
            raise ChannelRefused(f"no signed envelope could be read ({exc}); not stored") from exc
        app_id = (config.credentials or {}).get("app_id")
        if app_id is not None and text(raw.get("appId")) != str(app_id):
            raise ChannelRefused(
                f"the message is for app {raw.get('appId')!r}, not this channel's app_id; it "
                "was not stored"
            )
        given = raw.get("signature")
        require_signature(
            given.upper() if isinstance(given, str) else None,
            push_signature(raw, secret),
            what="signature",
        )
        try:
            sent = mapper.sent_at(raw.get("timestamp"))
        except UnreadablePayload as exc:
            raise ChannelRefused(f"{exc}; the message was not stored") from exc
        return Verified(message_id=text(raw.get("requestId")), sent_at=sent)

    def parse(self, config: ChannelConfig, request: InboundRequest) -> Parsed:
        envelope = mapper.envelope(mapper.read_envelope(request.body))
        if envelope.type == mapper.ORDER_EFFECTIVE:
            raw = request.body.decode("utf-8", "replace")
            return Parsed(orders=[self._order(config, envelope.message, raw)])
        if envelope.type in mapper.STATE_MESSAGES:
            return Parsed(orders=[], fetch=[mapper.order_named(envelope.message, envelope.type)])
        return Parsed(orders=[], ignored=mapper.ignored_reason(envelope.type))

    def to_order(self, config: ChannelConfig, native: dict[str, Any], raw: str) -> IngestOrder:
        return self._order(config, native, raw)

    def _order(self, config: ChannelConfig, native: dict[str, Any], raw: str) -> IngestOrder:
        return mapper.to_order(config.code, shops(config), native, raw)

    def acknowledge(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        return {"message": "ok"}

    def fetch_request(self, config: ChannelConfig, external_id: str) -> OutboundRequest:
        return self.call(config, GET_ORDER, {"orderId": external_id})

    def read_fetched(self, config: ChannelConfig, status: int, body: bytes) -> dict[str, Any]:
        """The whole answer: its ``id`` tells when the order was read (see ``to_order``)."""
        self.check_response(status, body)
        answer = json.loads(body)
        if not isinstance(answer.get("result"), dict):
            raise UnreadablePayload(f"{GET_ORDER} answered without an order")
        return dict(answer)

    # -- outbound -----------------------------------------------------------------------------
    def stock_request(self, config: ChannelConfig, update: StockUpdate) -> OutboundRequest:
        return self.call(
            config,
            BATCH_UPDATE_STOCK,
            mapper.stock_map(spec_id(config, update.channel_sku), update.quantity),
        )

    def shipment_request(
        self, config: ChannelConfig, update: ShipmentUpdate
    ) -> OutboundRequest | None:
        action = STATUS_CALLS.get(update.status)
        if action is None:
            return None
        return self.call(config, action, {"orderId": update.external_id})

    def check_response(self, status: int, body: bytes) -> None:
        if retryable_status(status):
            raise CallRefused(f"eleme answered HTTP {status}", retry=True, code=str(status))
        if not 200 <= status < 300:
            raise CallRefused(
                f"eleme answered HTTP {status}: {body[:300]!r}", retry=False, code=str(status)
            )
        try:
            answer = mapper.read_answer(body)
        except (ValueError, TypeError) as exc:
            raise CallRefused(f"eleme answered with an unreadable body: {exc}", retry=True) from exc
        if not answer.ok:
            meaning = mapper.ERROR_CODES.get(answer.error_code or "", ("business error",))[0]
            raise CallRefused(
                f"eleme {answer.error_code} ({meaning}): {answer.error_message}",
                retry=answer.retryable,
                code=answer.error_code,
            )

    # -- the platform's call envelope ---------------------------------------------------------
    def call(self, config: ChannelConfig, action: str, params: dict[str, Any]) -> OutboundRequest:
        """One signed API call. Its ``id`` is ``<uuid>|<Unix ms>``, as the SDKs write it; the
        platform echoes it in the answer."""
        secret = config.secret
        if not secret:
            raise InvalidChannelConfig(f"channel {config.code} has no secret (the app secret)")
        token = config.credential("token")
        millis = int(time.time() * 1000)
        metas = {"app_key": config.credential("app_key"), "timestamp": millis // 1000}
        body = {
            "nop": "1.0.0",
            "id": f"{uuid.uuid4().hex.upper()}|{millis}",
            "action": action,
            "token": token,
            "metas": metas,
            "params": params,
            "signature": api_signature(action, token, metas, params, secret),
        }
        return OutboundRequest(
            method="POST",
            url=config.url("/"),
            headers={
                "content-type": "application/json;charset=utf-8",
                "x-eleme-requestid": str(body["id"]),
            },
            body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        )


def shops(config: ChannelConfig) -> dict[str, str]:
    configured = (config.credentials or {}).get("shops")
    if not isinstance(configured, dict) or not configured:
        raise InvalidChannelConfig(
            f'channel {config.code} needs credentials.shops: {{"<eleme shop id>": "<store code>"}}'
        )
    return {str(k): str(v) for k, v in configured.items()}


def spec_id(config: ChannelConfig, channel_sku: str) -> int:
    """The platform spec id stock is set for: the channel SKU itself when it is one, else the
    spec the merchant code is configured to (credentials.specs)."""
    if channel_sku.isdigit():
        return int(channel_sku)
    specs = (config.credentials or {}).get("specs") or {}
    value = specs.get(channel_sku) if isinstance(specs, dict) else None
    if value is None or not str(value).isdigit():
        raise InvalidChannelConfig(
            f"channel {config.code}: no eleme spec id for merchant code {channel_sku!r}; add it "
            'to credentials.specs ({"<extendCode>": <spec id>})'
        )
    return int(value)
