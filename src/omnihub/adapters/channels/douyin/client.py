"""The 抖店 adapter: verifies pushed message batches, asks for the orders they name, builds the
open-platform calls for stock and shipments and reads the platform's answers."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from omnihub.adapters.channels.douyin import mapper
from omnihub.adapters.channels.douyin.signature import (
    API_VERSION,
    MD5,
    SIGN_METHODS,
    UnknownSignMethod,
    param_json,
    push_signature,
    request_signature,
)
from omnihub.adapters.native import require_signature, secret_of
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

ORDER_DETAIL = "order.orderDetail"
SYNC_STOCK = "sku.syncStock"
LOGISTICS_ADD = "order.logisticsAdd"


class DouyinAdapter(ChannelAdapter):
    """Channel credentials: ``app_key``, ``access_token`` (the shop's authorisation) and
    optionally ``sign_method`` (``md5``, the default, or ``hmac-sha256``) for our calls; the
    channel secret is the app secret. The endpoint is the open-platform base URL
    (``https://openapi-fxg.jinritemai.com`` on the real platform)."""

    name = "douyin"
    line_identity = "sku_order_list[].code (merchant SKU code), else sku_order_list[].sku_id"
    pulls = False
    pushes = frozenset({"shipped"})

    # -- inbound ------------------------------------------------------------------------------
    def verify(self, config: ChannelConfig, request: InboundRequest) -> Verified:
        secret = secret_of(config)
        app_key = config.credential("app_key")
        sender = request.header("app-id")
        if sender is not None and sender.strip() != app_key:
            raise ChannelRefused(
                f"the message is for app {sender!r}, not this channel's app_key; it was not stored"
            )
        method = (request.header("sign-method") or MD5).strip().lower()
        try:
            expected = push_signature(app_key, secret, request.body, method)
        except UnknownSignMethod as exc:
            raise ChannelRefused(f"{exc}; the message was not stored") from exc
        require_signature(
            (request.header("event-sign") or "").lower() or None, expected, what="event-sign"
        )
        return Verified(message_id=batch_id(mapper.message_ids(request.body)))

    def parse(self, config: ChannelConfig, request: InboundRequest) -> Parsed:
        messages = mapper.read_messages(request.body)
        ids, ignored = mapper.orders_to_fetch(messages)
        return Parsed(orders=[], fetch=ids, ignored="; ".join(ignored) or None)

    def to_order(self, config: ChannelConfig, native: dict[str, Any], raw: str) -> IngestOrder:
        return mapper.to_order(config.code, native, raw)

    def acknowledge(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        return {"code": 0, "msg": "success"}

    def fetch_request(self, config: ChannelConfig, external_id: str) -> OutboundRequest:
        return self.call(config, ORDER_DETAIL, {"shop_order_id": external_id})

    def read_fetched(self, config: ChannelConfig, status: int, body: bytes) -> dict[str, Any]:
        self.check_response(status, body)
        answer = mapper.read_answer(body)
        detail = answer.data.get("shop_order_detail") if isinstance(answer.data, dict) else None
        if not isinstance(detail, dict):
            raise UnreadablePayload("order.orderDetail answered without data.shop_order_detail")
        return detail

    # -- outbound -----------------------------------------------------------------------------
    def stock_request(self, config: ChannelConfig, update: StockUpdate) -> OutboundRequest:
        return self.call(
            config, SYNC_STOCK, mapper.stock_params(update.channel_sku, update.quantity)
        )

    def shipment_request(
        self, config: ChannelConfig, update: ShipmentUpdate
    ) -> OutboundRequest | None:
        if update.status != "shipped":
            return None  # the platform has no seller call for the other statuses
        return self.call(
            config,
            LOGISTICS_ADD,
            mapper.shipment_params(update.external_id, update.carrier, update.tracking_number),
        )

    def check_response(self, status: int, body: bytes) -> None:
        if retryable_status(status):
            raise CallRefused(f"douyin answered HTTP {status}", retry=True, code=str(status))
        if not 200 <= status < 300:
            raise CallRefused(
                f"douyin answered HTTP {status}: {body[:300]!r}", retry=False, code=str(status)
            )
        try:
            answer = mapper.read_answer(body)
        except (ValueError, TypeError) as exc:
            raise CallRefused(
                f"douyin answered with an unreadable body: {exc}", retry=True
            ) from exc
        if not answer.ok:
            meaning = mapper.ANSWER_CODES.get(answer.code, "error")
            raise CallRefused(
                f"douyin {answer.code} {meaning}: {answer.message}",
                retry=answer.retryable,
                code=str(answer.code),
            )

    # -- the platform's call envelope ---------------------------------------------------------
    def call(self, config: ChannelConfig, method: str, params: dict[str, Any]) -> OutboundRequest:
        """One signed open-platform call: system parameters in the query, ``param_json`` as
        the body (the bytes that were signed)."""
        app_key = config.credential("app_key")
        sign_method = config.credential("sign_method", MD5).strip().lower()
        if sign_method not in SIGN_METHODS:
            raise InvalidChannelConfig(
                f"channel {config.code}: credentials.sign_method must be one of "
                f"{', '.join(SIGN_METHODS)}, not {sign_method!r}"
            )
        secret = config.secret
        if not secret:
            raise InvalidChannelConfig(f"channel {config.code} has no secret (the app secret)")
        body = param_json(params)
        timestamp = str(int(time.time()))
        query = {
            "app_key": app_key,
            "method": method,
            "access_token": config.credential("access_token"),
            "timestamp": timestamp,
            "v": API_VERSION,
            "sign_method": sign_method,
            "sign": request_signature(app_key, secret, method, body, timestamp, sign_method),
        }
        return OutboundRequest(
            method="POST",
            url=config.url("/" + method.replace(".", "/")),
            headers={"content-type": "application/json;charset=UTF-8"},
            body=body.encode(),
            params=query,
        )


def batch_id(msg_ids: list[str]) -> str | None:
    """One id for a pushed batch: its msg_id, or a digest of all of them."""
    if not msg_ids:
        return None
    if len(msg_ids) == 1 and len(msg_ids[0]) <= 120:
        return msg_ids[0]
    joined = json.dumps(sorted(msg_ids), separators=(",", ":"))
    return "batch:" + hashlib.sha256(joined.encode()).hexdigest()
