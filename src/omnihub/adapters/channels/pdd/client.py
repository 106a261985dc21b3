"""The Pinduoduo adapter: builds open-platform router calls (``/api/router``) and reads their
answers; the mapping of orders lives in ``mapper.py``, the signing in ``signature.py``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from omnihub.adapters.channels.pdd import mapper
from omnihub.adapters.channels.pdd.signature import sign, signed
from omnihub.adapters.native import json_object, local_time, require_signature, secret_of, text
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
    PulledOrder,
    PulledPage,
    ShipmentUpdate,
    StockUpdate,
    UnreadablePayload,
    Verified,
)

ROUTER = "/api/router"
INCREMENT = "pdd.order.number.list.increment.get"
INFORMATION = "pdd.order.information.get"
QUANTITY = "pdd.goods.quantity.update"
SEND = "pdd.logistics.online.send"

#: ``error_response.error_code`` values a later attempt may get past: 70031 is the platform's
#: "calls too frequent" answer; 50001 is the code the simulator uses for a passing system error
#: (our choice)
RATE_LIMITED = 70031
SYSTEM_BUSY = 50001
RETRY_CODES = frozenset({RATE_LIMITED, SYSTEM_BUSY})

#: the hub's carrier codes -> PDD ``logistics_id`` (the ids ``pdd.logistics.companies.get``
#: lists; check them for the shop). A channel's ``credentials.carriers`` adds to or overrides
#: them.
CARRIERS: dict[str, str] = {
    "STO": "1",  # 申通
    "SF": "44",  # 顺丰
    "YTO": "85",  # 圆通
    "ZTO": "115",  # 中通
    "EMS": "118",  # EMS
    "JD": "120",  # 京东
    "YUNDA": "121",  # 韵达
}


class PddAdapter(ChannelAdapter):
    """Pinduoduo (拼多多开放平台).

    - Orders are pulled: ``pdd.order.number.list.increment.get`` by ``updated_at`` window (Unix
      seconds; PDD allows 30 minutes a call, so windows are 28 minutes plus the 2-minute
      overlap), every status (``order_status``/``refund_status`` 5), 100 a page. The list holds
      the orders in full; an entry with only its ``order_sn`` is read with
      ``pdd.order.information.get`` (``fetch_request``; see ``complete``).
    - A relay may also push an ``order_info`` (or an information/increment answer) to
      ``POST /api/v1/channels/{code}/orders``, signed PDD-style: query ``client_id``,
      ``timestamp`` (Unix seconds), optional ``msg_id`` and ``sign`` = md5(client_secret +
      sorted k+v + raw body + client_secret), upper-case hex.
    - Stock: ``pdd.goods.quantity.update`` (``goods_id``, ``sku_id``, ``quantity``,
      ``update_type`` 1 = the full quantity). PDD needs the ``goods_id`` of every SKU, so each
      channel SKU is listed in ``credentials.skus``
      ({"<outer_id or sku_id>": {"goods_id": "...", "sku_id": "..."}}).
    - Shipment: ``pdd.logistics.online.send`` (``order_sn``, ``logistics_id`` from ``CARRIERS``,
      ``tracking_number``). Cancellations and refunds are PDD's after-sales, decided on PDD; the
      hub has no call to push for them.

    Credentials: ``client_id``, ``access_token``; the channel ``secret`` is the client secret.
    """

    name = "pdd"
    line_identity = "item_list[].outer_id, else item_list[].sku_id"
    pulls = True
    max_window = timedelta(minutes=28)
    overlap = timedelta(minutes=2)
    page_size = 100
    max_skew = timedelta(minutes=5)
    pushes = frozenset({"shipped"})

    # -- inbound (a relay's push) -------------------------------------------------------------
    def verify(self, config: ChannelConfig, request: InboundRequest) -> Verified:
        secret = secret_of(config)
        params = dict(request.query)
        expected_id = (config.credentials or {}).get("client_id")
        if expected_id is not None and params.get("client_id") != str(expected_id):
            raise ChannelRefused(
                "the push names another client_id than the channel's; it was not stored"
            )
        timestamp = params.get("timestamp")
        if not timestamp:
            raise ChannelRefused("the push has no timestamp; it was not stored")
        require_signature(params.get("sign"), sign(secret, params, request.body), what="PDD sign")
        if not timestamp.isdigit():
            raise ChannelRefused(f"the push timestamp {timestamp!r} is not Unix seconds")
        return Verified(message_id=text(params.get("msg_id")), sent_at=local_time(timestamp))

    def parse(self, config: ChannelConfig, request: InboundRequest) -> Parsed:
        body = json_object(request.body, "PDD push body")
        orders: list[IngestOrder] = []
        fetch: list[str] = []
        for native in order_infos(body):
            if self.complete(native):
                orders.append(self.to_order(config, native, json.dumps(native, ensure_ascii=False)))
            elif text(native.get("order_sn")):
                fetch.append(str(native["order_sn"]))
            else:
                raise UnreadablePayload("the PDD push holds an order without an order_sn")
        return Parsed(orders=orders, fetch=fetch or None)

    def to_order(self, config: ChannelConfig, native: dict[str, Any], raw: str) -> IngestOrder:
        return mapper.to_order(native, channel=config.code, raw=raw)

    def complete(self, native: dict[str, Any]) -> bool:
        """True when ``native`` is a whole ``order_info``, False for an ``order_sn`` to fetch."""
        return "item_list" in native or "order_status" in native

    # -- pull ---------------------------------------------------------------------------------
    def pull_request(
        self, config: ChannelConfig, start: datetime, end: datetime, page: int
    ) -> OutboundRequest:
        return self.call(
            config,
            INCREMENT,
            {
                "start_updated_at": str(int(start.timestamp())),
                "end_updated_at": str(int(end.timestamp())),
                "is_lucky_flag": "0",  # lucky-draw orders and the others
                "order_status": "5",  # every status
                "refund_status": "5",  # every after-sales status
                "page": str(page),
                "page_size": str(self.page_size),
                # with the total the hub reads the window from its last page back
                "use_has_next": "false",
            },
        )

    def read_page(self, config: ChannelConfig, status: int, body: bytes) -> PulledPage:
        result = answer(body, "order_sn_increment_get_response")
        entries = result.get("order_sn_list") or []
        if not isinstance(entries, list):
            raise UnreadablePayload("the PDD increment answer's order_sn_list is not a list")
        has_next = result.get("has_next")
        more = has_next if isinstance(has_next, bool) else len(entries) >= self.page_size
        total = result.get("total_count")
        return PulledPage(
            orders=[pulled(entry) for entry in entries],
            has_more=more,
            total=int(total) if isinstance(total, int | str) and str(total).isdigit() else None,
        )

    def fetch_request(self, config: ChannelConfig, external_id: str) -> OutboundRequest:
        return self.call(config, INFORMATION, {"order_sn": external_id})

    def read_fetched(self, config: ChannelConfig, status: int, body: bytes) -> dict[str, Any]:
        info = answer(body, "order_info_get_response").get("order_info")
        if not isinstance(info, dict):
            raise UnreadablePayload("the PDD order answer has no order_info")
        return info

    # -- outbound -----------------------------------------------------------------------------
    def stock_request(self, config: ChannelConfig, update: StockUpdate) -> OutboundRequest:
        goods_id, sku_id = pdd_item(config, update.channel_sku)
        return self.call(
            config,
            QUANTITY,
            {
                "goods_id": goods_id,
                "sku_id": sku_id,
                "quantity": str(max(0, int(update.quantity))),
                "update_type": "1",  # the full quantity, not a change
            },
        )

    def shipment_request(
        self, config: ChannelConfig, update: ShipmentUpdate
    ) -> OutboundRequest | None:
        if update.status != "shipped":
            return None
        if not update.tracking_number:
            raise InvalidChannelConfig(
                f"channel {config.code} (pdd): PDD needs a tracking "
                f"number to mark order {update.external_id} shipped"
            )
        return self.call(
            config,
            SEND,
            {
                "order_sn": update.external_id,
                "logistics_id": logistics_company(config, update.carrier),
                "tracking_number": update.tracking_number,
            },
        )

    def check_response(self, status: int, body: bytes) -> None:
        if retryable_status(status):
            raise CallRefused(f"PDD answered HTTP {status}", retry=True, code=f"HTTP {status}")
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise CallRefused(
                f"PDD answered HTTP {status} with no JSON: {body[:200]!r}",
                retry=200 <= status < 300,
            ) from None
        if not isinstance(document, dict):
            raise CallRefused("PDD answered with no JSON object", retry=False)
        error = document.get("error_response")
        if isinstance(error, dict):
            try:
                code = int(str(error.get("error_code")))
            except ValueError:
                code = -1
            why = error.get("sub_msg") or error.get("error_msg") or "no description"
            sub = f" ({error['sub_code']})" if error.get("sub_code") else ""
            raise CallRefused(
                f"PDD error {code}{sub}: {why}", retry=code in RETRY_CODES, code=str(code)
            )
        if not 200 <= status < 300:
            raise CallRefused(f"PDD answered HTTP {status}", retry=False, code=f"HTTP {status}")
        for key, value in document.items():
            if (
                key.endswith("_response")
                and isinstance(value, dict)
                and value.get("is_success") is False
            ):
                raise CallRefused(f"PDD refused the call: {key} is_success false", retry=False)

    # -- the router call ----------------------------------------------------------------------
    def call(self, config: ChannelConfig, api: str, business: dict[str, str]) -> OutboundRequest:
        if not config.secret:
            raise InvalidChannelConfig(
                f"channel {config.code} (pdd) needs its client secret as the channel secret"
            )
        params = signed(
            config.secret,
            {
                "type": api,
                "client_id": config.credential("client_id"),
                "access_token": config.credential("access_token", ""),
                "timestamp": str(int(datetime.now(UTC).timestamp())),
                "data_type": "JSON",
                "version": "V1",
                **business,
            },
        )
        return OutboundRequest(
            method="POST",
            url=config.url(ROUTER),
            headers={"content-type": "application/x-www-form-urlencoded;charset=UTF-8"},
            body=urlencode(params).encode(),
        )


def answer(body: bytes, key: str) -> dict[str, Any]:
    document = json_object(body, f"PDD {key}")
    node = document.get(key)
    if not isinstance(node, dict):
        raise UnreadablePayload(f"the PDD answer has no {key}")
    return node


def pulled(entry: Any) -> PulledOrder:
    """One increment-list entry as pulled (an entry that is no object is wrapped so the mapper
    refuses it on its own, keeping the rest of the page)."""
    if not isinstance(entry, dict):
        return PulledOrder(external_id="?", native={"unreadable": entry})
    return PulledOrder(external_id=text(entry.get("order_sn")) or "?", native=entry)


def order_infos(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The order objects of a pushed body: one ``order_info``, ``{"order_info": ...}``, or a
    whole information / increment / order-list answer."""
    if "order_sn" in body:
        return [body]
    if isinstance(body.get("order_info"), dict):
        return [body["order_info"]]
    info = body.get("order_info_get_response")
    if isinstance(info, dict) and isinstance(info.get("order_info"), dict):
        return [info["order_info"]]
    for envelope, key in (
        ("order_sn_increment_get_response", "order_sn_list"),
        ("order_list_get_response", "order_list"),
    ):
        node = body.get(envelope)
        entries = node.get(key) if isinstance(node, dict) else None
        if isinstance(entries, list) and all(isinstance(e, dict) for e in entries):
            return list(entries)
    raise UnreadablePayload(
        "the PDD push holds no order (an object with order_sn, "
        '{"order_info": ...} or a PDD order information/increment answer)'
    )


def pdd_item(config: ChannelConfig, channel_sku: str) -> tuple[str, str]:
    """(goods_id, sku_id) of a channel SKU, from ``credentials.skus``."""
    known = (config.credentials or {}).get("skus") or {}
    item = known.get(channel_sku) if isinstance(known, dict) else None
    if isinstance(item, dict) and item.get("goods_id") and item.get("sku_id"):
        return str(item["goods_id"]), str(item["sku_id"])
    raise InvalidChannelConfig(
        f"channel {config.code} (pdd): PDD sets stock by goods_id and sku_id; add "
        f'{channel_sku!r} to credentials.skus as {{"goods_id": ..., "sku_id": ...}}'
    )


def logistics_company(config: ChannelConfig, carrier: str | None) -> str:
    """PDD's ``logistics_id`` for the hub's carrier code (case-insensitive)."""
    table = {k.upper(): v for k, v in CARRIERS.items()}
    extra = (config.credentials or {}).get("carriers") or {}
    if isinstance(extra, dict):
        table.update({str(k).upper(): str(v) for k, v in extra.items()})
    company = table.get((carrier or "").upper())
    if company is None:
        raise InvalidChannelConfig(
            f"channel {config.code} (pdd): no PDD logistics_id for carrier {carrier!r}; known: "
            f"{', '.join(sorted(table))}; add it to credentials.carriers"
        )
    return company
