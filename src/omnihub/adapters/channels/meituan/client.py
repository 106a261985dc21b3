"""The 美团 adapter: verifies pushed callbacks, reads orders (fetching the order in full when a
callback only names it), builds the open-platform calls for stock and order acceptance and
reads the platform's answers."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

from omnihub.adapters.channels.meituan import mapper
from omnihub.adapters.channels.meituan.signature import SIG, sig
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

ORDER_DETAIL = "/order/getOrderDetail"
SKU_STOCK = "/retail/sku/stock"
CONFIRM = "/order/confirm"
PREPARED = "/order/preparationMealComplete"
#: hub status -> the platform call it makes, with the request method its document gives: the
#: store reserved the goods (the shop accepts, 商家确认, ``order/confirm``: POST) and the goods
#: are packed (商家确认已完成拣货, ``order/preparationMealComplete``: GET)
STATUS_CALLS: dict[str, tuple[str, str]] = {
    "allocated": ("POST", CONFIRM),
    "picked": ("GET", PREPARED),
}


class MeituanAdapter(ChannelAdapter):
    """Channel settings: the secret is the app secret; the endpoint is the API base URL
    (``https://waimaiopen.meituan.com/api/v1`` on the real platform); credentials:

    * ``app_id``: the developer app id (pushes for another app are refused);
    * ``callback_url``: the push URL registered with the platform, i.e. this channel's
      ``/api/v1/channels/<code>/orders`` as the platform reaches it — the push signature
      covers it;
    * ``shops``: ``{"<app_poi_code>": "<hub store code>"}`` — the store that serves (and
      reserves for) the shop's orders;
    * ``foods`` (optional): ``{"<sku_id>": "<app_food_code>"}`` for stock calls, which name
      both; without an entry the SKU's own code is used as its product code (single-spec
      products) — and ``stock_poi`` when the channel has several shops.

    Orders are same-day: the platform's rider delivers and the hub reserves at the shop's
    store. One channel per shop is the intended set-up for stock (the hub publishes one
    quantity per SKU per channel)."""

    name = "meituan"
    line_identity = "detail[].sku_id (merchant SKU code), else detail[].app_food_code"
    pulls = False
    pushes = frozenset(STATUS_CALLS)

    # -- inbound ------------------------------------------------------------------------------
    def verify(self, config: ChannelConfig, request: InboundRequest) -> Verified:
        secret = secret_of(config)
        callback_url = (config.credentials or {}).get("callback_url")
        if not callback_url:
            raise ChannelRefused(
                f"channel {config.code} has no credentials.callback_url (the push URL the "
                "platform signs); the callback was not stored"
            )
        try:
            params = mapper.form_params(request.body, request.query)
        except UnreadablePayload as exc:
            raise ChannelRefused(f"{exc}; the callback was not stored") from exc
        app_id = (config.credentials or {}).get("app_id")
        if app_id is not None and text(params.get("app_id")) != str(app_id):
            raise ChannelRefused(
                f"the callback is for app {params.get('app_id')!r}, not this channel's app_id; "
                "it was not stored"
            )
        given = params.get(SIG)
        expected = sig(str(callback_url), params, secret)
        require_signature(given.lower() if given else None, expected, what="sig")
        try:
            sent = mapper.timestamp_of(params)
        except UnreadablePayload as exc:
            raise ChannelRefused(f"{exc}; the callback was not stored") from exc
        # the platform gives no message id: its sig covers every parameter and the timestamp,
        # so the same sig is the same callback sent again
        return Verified(message_id=f"sig:{expected}", sent_at=sent)

    def parse(self, config: ChannelConfig, request: InboundRequest) -> Parsed:
        params = mapper.form_params(request.body, request.query)
        kind = mapper.kind_of(params)
        if kind is mapper.Kind.ORDER:
            raw = json.dumps(params, ensure_ascii=False)
            return Parsed(orders=[self.to_order(config, params, raw)])
        if kind is mapper.Kind.DELIVERY:
            return Parsed(
                orders=[],
                ignored="a delivery state of the platform's rider: the hub does not track it",
            )
        order_id = mapper.order_id_of(params)
        if kind is mapper.Kind.REFUND:
            mapper.refund_notice(params.get("notify_type"))  # an unknown one is refused here
            key = mapper.notice_key(
                order_id, str(params["notify_type"]), str(params.get("timestamp", ""))
            )
            return Parsed(orders=[], fetch=[key])
        return Parsed(orders=[], fetch=[order_id])  # cancel or status: the order says it all

    def to_order(self, config: ChannelConfig, native: dict[str, Any], raw: str) -> IngestOrder:
        return mapper.to_order(config.code, shops(config), native, raw)

    def after_fetch(self, config: ChannelConfig, key: str, order: IngestOrder) -> IngestOrder:
        """A fetched order with what the callback that named it added (a refund callback's
        open or closed request; the order itself does not show it)."""
        return mapper.with_notice(key, order)

    def acknowledge(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        return {"data": "ok"}

    def fetch_request(self, config: ChannelConfig, external_id: str) -> OutboundRequest:
        order_id = mapper.order_of_key(external_id)
        return self.call(
            config, "GET", ORDER_DETAIL, {"order_id": order_id, "is_mt_logistics": "0"}
        )

    def read_fetched(self, config: ChannelConfig, status: int, body: bytes) -> dict[str, Any]:
        self.check_response(status, body)
        data = mapper.read_answer(body).data
        if not isinstance(data, dict):
            raise UnreadablePayload(f"{ORDER_DETAIL} answered without the order")
        return data

    # -- outbound -----------------------------------------------------------------------------
    def stock_request(self, config: ChannelConfig, update: StockUpdate) -> OutboundRequest:
        foods = (config.credentials or {}).get("foods") or {}
        app_food_code = str(foods.get(update.channel_sku, update.channel_sku))
        return self.call(
            config,
            "POST",
            SKU_STOCK,
            {
                "app_poi_code": stock_poi(config),
                "food_data": mapper.food_data(app_food_code, update.channel_sku, update.quantity),
            },
        )

    def shipment_request(
        self, config: ChannelConfig, update: ShipmentUpdate
    ) -> OutboundRequest | None:
        call = STATUS_CALLS.get(update.status)
        if call is None:
            return None
        method, path = call
        return self.call(config, method, path, {"order_id": update.external_id})

    def check_response(self, status: int, body: bytes) -> None:
        if retryable_status(status):
            raise CallRefused(f"meituan answered HTTP {status}", retry=True, code=str(status))
        if not 200 <= status < 300:
            raise CallRefused(
                f"meituan answered HTTP {status}: {body[:300]!r}", retry=False, code=str(status)
            )
        try:
            answer = mapper.read_answer(body)
        except (ValueError, TypeError) as exc:
            raise CallRefused(
                f"meituan answered with an unreadable body: {exc}", retry=True
            ) from exc
        if not answer.ok:
            meaning = mapper.ERROR_CODES.get(answer.error_code or 0, ("error",))[0]
            raise CallRefused(
                f"meituan {answer.error_code} {meaning}: {answer.error_message}",
                retry=answer.retryable,
                code=str(answer.error_code),
            )

    # -- the platform's call envelope ---------------------------------------------------------
    def call(
        self, config: ChannelConfig, method: str, path: str, params: dict[str, str]
    ) -> OutboundRequest:
        """One signed call: ``app_id``, ``timestamp`` and ``sig`` in the query; the call's own
        parameters in the query (GET) or as a form body (POST)."""
        secret = config.secret
        if not secret:
            raise InvalidChannelConfig(f"channel {config.code} has no secret (the app secret)")
        url = config.url(path)
        system = {"app_id": config.credential("app_id"), "timestamp": str(int(time.time()))}
        system[SIG] = sig(url, {**system, **params}, secret)
        if method == "GET":
            return OutboundRequest(method="GET", url=url, headers={}, params={**params, **system})
        return OutboundRequest(
            method="POST",
            url=url,
            headers={"content-type": "application/x-www-form-urlencoded;charset=utf-8"},
            body=urlencode(params).encode("utf-8"),
            params=system,
        )


def shops(config: ChannelConfig) -> dict[str, str]:
    configured = (config.credentials or {}).get("shops")
    if not isinstance(configured, dict) or not configured:
        raise InvalidChannelConfig(
            f'channel {config.code} needs credentials.shops: {{"<app_poi_code>": "<store code>"}}'
        )
    return {str(k): str(v) for k, v in configured.items()}


def stock_poi(config: ChannelConfig) -> str:
    """The shop whose stock the channel's quantities are: its only shop, or ``stock_poi``."""
    chosen = (config.credentials or {}).get("stock_poi")
    if chosen:
        return str(chosen)
    configured = shops(config)
    if len(configured) != 1:
        raise InvalidChannelConfig(
            f"channel {config.code} has {len(configured)} shops; name the one its stock is for "
            "in credentials.stock_poi (or use one channel per shop)"
        )
    return next(iter(configured))
