"""The JD adapter: builds JOS router calls (``/routerjson``) and reads their answers; the
mapping of orders lives in ``mapper.py``, the signing in ``signature.py``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from omnihub.adapters.channels.jd import mapper
from omnihub.adapters.channels.jd.signature import API_VERSION, jd_time, sign, signed
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

ROUTER = "/routerjson"
SEARCH = "jingdong.pop.order.search"
GET = "jingdong.pop.order.get"
STOCK = "jingdong.stock.write.updateSkuStock"
SHIPMENT = "jingdong.pop.order.shipment"

#: ``error_response.code`` values a later attempt may get past: "2" is "App Call Limited" in
#: JD's published gateway error table (calls over the app's limit); "67" is the code the
#: simulator uses for a passing system error (our choice, not from JD's table)
RATE_LIMITED = "2"
SYSTEM_BUSY = "67"
RETRY_CODES = frozenset({RATE_LIMITED, SYSTEM_BUSY})

#: the hub's carrier codes -> JD ``logiCoprId``. JD's ids are per vender (read them from the
#: shop's delivery-company list on JOS); these are the common ones and a channel's
#: ``credentials.carriers`` ({"SF": "467", ...}) adds to or overrides them.
CARRIERS: dict[str, str] = {
    "JD": "2087",  # 京东快递
    "SF": "467",  # 顺丰
    "YTO": "463",  # 圆通
    "STO": "470",  # 申通
    "ZTO": "1499",  # 中通
    "YUNDA": "1327",  # 韵达
    "EMS": "465",  # EMS
    "SELF": "1274",  # 厂家自送 (the seller delivers; no tracking number)
}
SELF_DELIVERY = "1274"


class JdAdapter(ChannelAdapter):
    """JD POP (京东 POP 开放平台).

    - Orders are pulled: ``jingdong.pop.order.search`` by modified time (``dateType`` 0), every
      state, 100 a page; one order in full by ``jingdong.pop.order.get``.
    - A relay may also push an ``orderInfo`` (or a search/get answer) to
      ``POST /api/v1/channels/{code}/orders``, signed JD-style: query ``app_key``,
      ``timestamp`` (Beijing time), optional ``msg_id`` and ``sign`` = md5(secret + sorted k+v
      + raw body + secret), upper-case hex. An ``orderInfo`` with only an ``orderId`` is fetched.
    - Stock: ``jingdong.stock.write.updateSkuStock`` (``skuId``, ``stockNum``). The channel SKU is
      ``outerSkuId`` else ``skuId``; JD's call needs the ``skuId``, so an ``outerSkuId`` must be
      listed in ``credentials.skus`` ({"<outerSkuId>": "<skuId>"}); a numeric channel SKU is
      taken as the ``skuId`` itself.
    - Shipment: ``jingdong.pop.order.shipment`` (``orderId``, ``logiCoprId`` from ``CARRIERS``,
      ``logiNo``). Cancellations and refunds are decided on JD (the buyer asks, the seller
      agrees in JD's back office); the hub has no call to push for them.

    Credentials: ``app_key``, ``access_token``; the channel ``secret`` is the app secret.
    """

    name = "jd"
    line_identity = "itemInfoList[].outerSkuId, else itemInfoList[].skuId"
    pulls = True
    max_window = timedelta(hours=1)
    page_size = 100
    max_skew = timedelta(minutes=6)
    pushes = frozenset({"shipped"})

    # -- inbound (a relay's push) -------------------------------------------------------------
    def verify(self, config: ChannelConfig, request: InboundRequest) -> Verified:
        secret = secret_of(config)
        params = dict(request.query)
        expected_key = (config.credentials or {}).get("app_key")
        if expected_key is not None and params.get("app_key") != str(expected_key):
            raise ChannelRefused(
                "the push names another app_key than the channel's; it was not stored"
            )
        timestamp = params.get("timestamp")
        if not timestamp:
            raise ChannelRefused("the push has no timestamp; it was not stored")
        require_signature(params.get("sign"), sign(secret, params, request.body), what="JD sign")
        try:
            sent_at = local_time(timestamp)
        except UnreadablePayload as exc:
            raise ChannelRefused(f"the push timestamp {timestamp!r} is not a time") from exc
        return Verified(message_id=text(params.get("msg_id")), sent_at=sent_at)

    def parse(self, config: ChannelConfig, request: InboundRequest) -> Parsed:
        body = json_object(request.body, "JD push body")
        natives = order_infos(body)
        orders: list[IngestOrder] = []
        fetch: list[str] = []
        for native in natives:
            if self.complete(native):
                orders.append(self.to_order(config, native, json.dumps(native, ensure_ascii=False)))
            elif text(native.get("orderId")):
                fetch.append(str(native["orderId"]))
            else:
                raise UnreadablePayload("the JD push holds an orderInfo without an orderId")
        return Parsed(orders=orders, fetch=fetch or None)

    def to_order(self, config: ChannelConfig, native: dict[str, Any], raw: str) -> IngestOrder:
        return mapper.to_order(native, channel=config.code, raw=raw)

    def complete(self, native: dict[str, Any]) -> bool:
        """True when ``native`` is a whole ``orderInfo``, False for an id to fetch."""
        return "itemInfoList" in native or "orderState" in native

    # -- pull ---------------------------------------------------------------------------------
    def pull_request(
        self, config: ChannelConfig, start: datetime, end: datetime, page: int
    ) -> OutboundRequest:
        return self.call(
            config,
            SEARCH,
            {
                "start_date": jd_time(start),
                "end_date": jd_time(end),
                "order_state": mapper.ALL_STATES,
                "optional_fields": mapper.ORDER_FIELDS,
                "page": str(page),
                "page_size": str(self.page_size),
                "dateType": "0",  # 0: by the order's modified time
                "sortType": "0",  # ascending
            },
        )

    def read_page(self, config: ChannelConfig, status: int, body: bytes) -> PulledPage:
        result = answer(body, SEARCH).get("searchorderinfo_result")
        if not isinstance(result, dict):
            raise UnreadablePayload("the JD search answer has no searchorderinfo_result")
        entries = result.get("orderInfoList") or []
        if not isinstance(entries, list):
            raise UnreadablePayload("the JD search answer's orderInfoList is not a list")
        orders = [pulled(entry) for entry in entries]
        total = result.get("orderTotal")
        return PulledPage(
            orders=orders,
            has_more=len(entries) >= self.page_size,
            total=int(total) if isinstance(total, int | str) and str(total).isdigit() else None,
        )

    def fetch_request(self, config: ChannelConfig, external_id: str) -> OutboundRequest:
        return self.call(
            config,
            GET,
            {
                "order_id": external_id,
                "optional_fields": mapper.ORDER_FIELDS,
                "order_state": mapper.ALL_STATES,
            },
        )

    def read_fetched(self, config: ChannelConfig, status: int, body: bytes) -> dict[str, Any]:
        detail = answer(body, GET).get("orderDetailInfo")
        info = detail.get("orderInfo") if isinstance(detail, dict) else None
        if not isinstance(info, dict):
            raise UnreadablePayload("the JD order answer has no orderDetailInfo.orderInfo")
        return info

    # -- outbound -----------------------------------------------------------------------------
    def stock_request(self, config: ChannelConfig, update: StockUpdate) -> OutboundRequest:
        sku_id = jd_sku_id(config, update.channel_sku)
        return self.call(
            config, STOCK, {"skuId": int(sku_id), "stockNum": max(0, int(update.quantity))}
        )

    def shipment_request(
        self, config: ChannelConfig, update: ShipmentUpdate
    ) -> OutboundRequest | None:
        if update.status != "shipped":
            return None
        carrier = logistics_company(config, update.carrier, update.tracking_number)
        params = {"orderId": update.external_id, "logiCoprId": carrier}
        if update.tracking_number:
            params["logiNo"] = update.tracking_number
        return self.call(config, SHIPMENT, params)

    def check_response(self, status: int, body: bytes) -> None:
        if retryable_status(status):
            raise CallRefused(f"JD answered HTTP {status}", retry=True, code=f"HTTP {status}")
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise CallRefused(
                f"JD answered HTTP {status} with no JSON: {body[:200]!r}", retry=200 <= status < 300
            ) from None
        if not isinstance(document, dict):
            raise CallRefused("JD answered with no JSON object", retry=False)
        error = document.get("error_response")
        if isinstance(error, dict):
            code = str(error.get("code", ""))
            why = (
                " / ".join(str(error[k]) for k in ("zh_desc", "en_desc") if error.get(k))
                or "no description"
            )
            raise CallRefused(f"JD error {code}: {why}", retry=code in RETRY_CODES, code=code)
        if not 200 <= status < 300:
            raise CallRefused(f"JD answered HTTP {status}", retry=False, code=f"HTTP {status}")
        for key, value in document.items():
            if key.endswith("_responce") and isinstance(value, dict):
                failure = business_failure(value)
                if failure:
                    raise CallRefused(
                        f"JD refused the call: {failure}",
                        retry=False,
                        code=str(value.get("code", "")),
                    )

    # -- the router call ----------------------------------------------------------------------
    def call(self, config: ChannelConfig, method: str, business: dict[str, Any]) -> OutboundRequest:
        if not config.secret:
            raise InvalidChannelConfig(
                f"channel {config.code} (jd) needs its app secret as the channel secret"
            )
        params = signed(
            config.secret,
            {
                "method": method,
                "app_key": config.credential("app_key"),
                "access_token": config.credential("access_token", ""),
                "timestamp": jd_time(datetime.now(UTC)),
                "v": API_VERSION,
                "360buy_param_json": json.dumps(
                    business, separators=(",", ":"), ensure_ascii=False
                ),
            },
        )
        return OutboundRequest(
            method="POST",
            url=config.url(ROUTER),
            headers={"content-type": "application/x-www-form-urlencoded;charset=UTF-8"},
            body=urlencode(params).encode(),
        )


def answer(body: bytes, method: str) -> dict[str, Any]:
    """The ``<method>_responce`` object of a JD answer (JD spells it so)."""
    document = json_object(body, f"JD {method} answer")
    key = method.replace(".", "_") + "_responce"
    node = document.get(key)
    if not isinstance(node, dict):
        raise UnreadablePayload(f"the JD answer has no {key}")
    return node


def pulled(entry: Any) -> PulledOrder:
    """One search result as pulled: the order as JD gave it (an entry that is no object is
    wrapped so the mapper refuses it on its own, keeping the rest of the page)."""
    if not isinstance(entry, dict):
        return PulledOrder(external_id="?", native={"unreadable": entry})
    return PulledOrder(external_id=text(entry.get("orderId")) or "?", native=entry)


def order_infos(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The orderInfo objects of a pushed body: one orderInfo, ``{"orderInfo": ...}``, or a
    whole ``jingdong.pop.order.get``/``search`` answer."""
    if "orderId" in body:
        return [body]
    if isinstance(body.get("orderInfo"), dict):
        return [body["orderInfo"]]
    get = body.get("jingdong_pop_order_get_responce")
    if isinstance(get, dict):
        detail = get.get("orderDetailInfo")
        if isinstance(detail, dict) and isinstance(detail.get("orderInfo"), dict):
            return [detail["orderInfo"]]
    search = body.get("jingdong_pop_order_search_responce")
    if isinstance(search, dict):
        result = search.get("searchorderinfo_result")
        entries = result.get("orderInfoList") if isinstance(result, dict) else None
        if isinstance(entries, list) and all(isinstance(e, dict) for e in entries):
            return list(entries)
    raise UnreadablePayload(
        "the JD push holds no orderInfo (an object with orderId, "
        '{"orderInfo": ...} or a JD order search/get answer)'
    )


def business_failure(node: dict[str, Any]) -> str | None:
    """Why a ``..._responce`` says the call failed, or None: ``code`` other than 0, or a
    ``success: false`` in it or in one of its result objects (``apiResult`` included)."""
    code = node.get("code")
    if code not in (None, "0", 0):
        return f"code {code}"
    candidates = [node] + [v for v in node.values() if isinstance(v, dict)]
    candidates += [v["apiResult"] for v in candidates if isinstance(v.get("apiResult"), dict)]
    for candidate in candidates:
        if candidate.get("success") is False or candidate.get("success") == "false":
            return str(
                candidate.get("chineseErrCode")
                or candidate.get("englishErrCode")
                or candidate.get("errorMessage")
                or "success is false"
            )
    return None


def jd_sku_id(config: ChannelConfig, channel_sku: str) -> str:
    """JD's ``skuId`` of a channel SKU: from ``credentials.skus``, else the channel SKU when it
    is one (all digits)."""
    known = (config.credentials or {}).get("skus") or {}
    sku_id = known.get(channel_sku) if isinstance(known, dict) else None
    if sku_id is not None:
        return str(sku_id)
    if channel_sku.isdigit():
        return channel_sku
    raise InvalidChannelConfig(
        f"channel {config.code} (jd): {channel_sku!r} is an outerSkuId and JD sets stock by "
        'skuId; add it to credentials.skus as {"' + channel_sku + '": "<skuId>"}'
    )


def logistics_company(config: ChannelConfig, carrier: str | None, tracking: str | None) -> str:
    """JD's ``logiCoprId`` for the hub's carrier code (case-insensitive)."""
    table = {k.upper(): v for k, v in CARRIERS.items()}
    extra = (config.credentials or {}).get("carriers") or {}
    if isinstance(extra, dict):
        table.update({str(k).upper(): str(v) for k, v in extra.items()})
    if not carrier:
        if tracking:
            raise InvalidChannelConfig(
                f"channel {config.code} (jd): a tracking number with no "
                "carrier cannot be sent to JD"
            )
        return SELF_DELIVERY
    company = table.get(carrier.upper())
    if company is None:
        raise InvalidChannelConfig(
            f"channel {config.code} (jd): no JD logiCoprId for carrier {carrier!r}; known: "
            f"{', '.join(sorted(table))}; add it to credentials.carriers"
        )
    return company
