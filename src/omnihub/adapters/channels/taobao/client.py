"""The Taobao and Tmall adapters: TOP requests out, TOP answers and pushed messages in.

Both platforms speak the same TOP protocol (the router ``POST {endpoint}/router/rest`` with
``method=...``); they differ only in their name (and so the channel they serve).

Channel configuration (``POST /api/v1/channels``):

- ``secret``: the app secret. It signs every call the hub makes and every message pushed to
  the hub.
- ``credentials.app_key``, ``credentials.session`` (the seller's access token),
  ``credentials.sign_method`` (``md5`` by default, or ``hmac`` / ``hmac-sha256``).
- ``credentials.listings``: channel SKU -> ``"num_iid"`` (an item without SKUs) or
  ``"num_iid:sku_id"``, for the SKUs whose channel SKU is a merchant code: TOP sets stock by
  item (and SKU) id, which a merchant code alone does not give. A channel SKU written as
  ``"num_iid:sku_id"`` needs no entry.
- ``endpoint``: the TOP gateway (``https://eco.taobao.com``; ``/router/rest`` is added
  unless it is there already).

Pushed messages (``POST /api/v1/channels/{code}/orders``) are signed the TOP way, our choice
for a push receiver since TOP's message channel (TMC) itself is a long-lived connection: the
query carries ``app_key``, ``timestamp`` ("yyyy-MM-dd HH:mm:ss", Asia/Shanghai),
``sign_method`` and ``sign``, where ``sign`` is the TOP signature of the other query
parameters followed by the raw body (see ``signature.py``). The timestamp is checked against
``max_skew`` (TOP's own ten minutes) and the TMC message ``id`` against replays. The body is
one TMC message (``{"topic", "content", "id", ...}``), a batch (``{"tmc_message": [...]}``),
an old comet message (``{"notify_trade": {...}}``) or a whole trade
(``{"trade_fullinfo_get_response": {"trade": {...}}}``, as a data push such as 聚石塔 sends).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from omnihub.adapters.channels.taobao import mapper, signature
from omnihub.adapters.native import json_object, local_time, secret_of, text
from omnihub.domain.orders import IngestOrder
from omnihub.platforms.local_time import SHANGHAI
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

ROUTER_PATH = "/router/rest"

_LINE_FIELDS = (
    "oid",
    "status",
    "num_iid",
    "sku_id",
    "outer_iid",
    "outer_sku_id",
    "title",
    "num",
    "price",
    "payment",
    "divide_order_fee",
    "total_fee",
    "discount_fee",
    "adjust_fee",
    "part_mjz_discount",
    "refund_status",
    "refund_id",
)
#: what the hub reads of a trade (``fields`` of the pull and of ``taobao.trade.fullinfo.get``)
TRADE_FIELDS = ",".join(
    [
        "tid",
        "tid_str",
        "status",
        "type",
        "created",
        "modified",
        "pay_time",
        "consign_time",
        "end_time",
        "payment",
        "post_fee",
        "total_fee",
        "discount_fee",
        "adjust_fee",
        "alipay_no",
        "buyer_nick",
        "buyer_open_uid",
        "buyer_email",
        "buyer_message",
        "shipping_type",
        "receiver_name",
        "receiver_state",
        "receiver_city",
        "receiver_district",
        "receiver_town",
        "receiver_address",
        "receiver_zip",
        "receiver_mobile",
        "receiver_phone",
    ]
    + [f"orders.{name}" for name in _LINE_FIELDS]
)

#: TOP platform error codes a later attempt may get past: call limits (4-8) and the service
#: being unavailable (10). Code 15 (remote service error) is retried when its ``sub_code``
#: starts with ``isp.`` (the platform's fault), never for ``isv.`` (the request's fault).
RETRY_CODES = frozenset({"4", "5", "6", "7", "8", "10"})


class TaobaoAdapter(ChannelAdapter):
    """Taobao (C-shop) trades over TOP.

    Supports: orders pushed (TMC trade/refund messages -> the hub fetches the trade with
    ``taobao.trade.fullinfo.get``; whole trades pushed) and pulled
    (``taobao.trades.sold.increment.get`` by modified-time window, 100 a page); cancellations
    and refunds as the trade's status says them; open refund requests on a line hold the
    order; stock (``taobao.item.quantity.update``, full quantity); shipments
    (``taobao.logistics.offline.send`` with the carrier's TOP company code, or
    ``taobao.logistics.dummy.send`` for goods that need no carrier).
    Does not: push cancellations (TOP closes only unpaid trades, and a paid trade is undone
    by the buyer's refund), accept or refuse refunds, read refund details
    (``taobao.refund.get``), split a shipment by line, or decrypt masked buyer fields.
    """

    name = "taobao"
    line_identity = (
        "orders.order[].outer_sku_id (the SKU's merchant code), else outer_iid (the item's "
        "merchant code), else sku_id, else num_iid"
    )
    pulls = True
    #: TOP allows a day per call and advises half an hour for a fast answer
    max_window = timedelta(minutes=30)
    page_size = 100
    #: TOP refuses a call more than ten minutes from its clock; the hub does the same
    max_skew = timedelta(minutes=10)
    pushes = frozenset({"shipped"})

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.clock = clock or (lambda: datetime.now(SHANGHAI))

    # -- inbound ------------------------------------------------------------------------------
    def verify(self, config: ChannelConfig, request: InboundRequest) -> Verified:
        secret = secret_of(config)
        params = dict(request.query)
        stamp = params.get("timestamp")
        if not stamp:
            raise ChannelRefused("the request has no timestamp parameter; it was not stored")
        expected_key = (config.credentials or {}).get("app_key")
        if expected_key and params.get("app_key") not in (None, str(expected_key)):
            raise ChannelRefused(
                f"app_key {params.get('app_key')!r} is not this channel's; it was not stored"
            )
        signature.verify(params, secret, request.body)
        try:
            sent_at = local_time(stamp)
        except UnreadablePayload as exc:
            raise ChannelRefused(f"timestamp {stamp!r} is not a time; it was not stored") from exc
        return Verified(message_id=self._message_id(request.body), sent_at=sent_at)

    @staticmethod
    def _message_id(body: bytes) -> str | None:
        """The TMC message id (several in a batch: one id for the whole batch); None for a
        body that is not a message (a whole trade) or can't be read (``parse`` says why)."""
        try:
            notices = mapper.notices(json_object(body))
        except UnreadablePayload:
            return None
        if not notices:
            return None
        ids = [n.message_id for n in notices]
        if any(i is None for i in ids):
            return None
        if len(ids) == 1:
            return ids[0]
        digest = hashlib.sha256(",".join(str(i) for i in ids).encode()).hexdigest()[:32]
        return f"tmc-batch:{digest}"

    def parse(self, config: ChannelConfig, request: InboundRequest) -> Parsed:
        body = json_object(request.body, "TOP message")
        notices = mapper.notices(body)
        if notices is None:
            if not isinstance(mapper.trade_of(body).get("orders"), dict | list):
                raise UnreadablePayload(
                    "the body is neither a TMC message, a comet notification nor a TOP trade "
                    "(trade_fullinfo_get_response.trade)"
                )
            raw = request.body.decode("utf-8", "replace")
            return Parsed(orders=[self.to_order(config, body, raw)])
        fetch: list[str] = []
        for notice in notices:
            if notice.tid is not None and notice.tid not in fetch:
                fetch.append(notice.tid)
        if not fetch:
            topics = sorted({n.topic for n in notices})
            return Parsed(orders=[], ignored=f"not a trade message: {', '.join(topics)}")
        return Parsed(orders=[], fetch=fetch)

    def to_order(self, config: ChannelConfig, native: dict[str, Any], raw: str) -> IngestOrder:
        return mapper.to_ingest(native, channel=config.code, platform=self.name, raw=raw)

    # -- pull and fetch -----------------------------------------------------------------------
    def pull_request(
        self, config: ChannelConfig, start: datetime, end: datetime, page: int
    ) -> OutboundRequest:
        return self.call(
            config,
            "taobao.trades.sold.increment.get",
            {
                "fields": TRADE_FIELDS,
                "start_modified": mapper.top_time(start),
                "end_modified": mapper.top_time(end),
                "page_no": page,
                "page_size": self.page_size,
                # the total, not has_next: the hub then reads the window from its last page
                # back (TOP lists the newest first; see PulledPage.total)
                "use_has_next": "false",
            },
        )

    def read_page(self, config: ChannelConfig, status: int, body: bytes) -> PulledPage:
        self.check_response(status, body)
        answer = json_object(body, "TOP answer").get("trades_sold_increment_get_response")
        if not isinstance(answer, dict):
            raise UnreadablePayload("the answer has no trades_sold_increment_get_response")
        holder = answer.get("trades") or {}
        trades = holder.get("trade", []) if isinstance(holder, dict) else holder
        if not isinstance(trades, list):
            raise UnreadablePayload("trades.trade of the answer is not a list")
        orders = [
            PulledOrder(
                external_id=_tid_or_unknown(t),
                native=t if isinstance(t, dict) else {"unreadable": t},
            )
            for t in trades
        ]
        total = answer.get("total_results")
        if "has_next" in answer:
            has_more = answer["has_next"] in (True, "true")
        else:
            has_more = len(trades) >= self.page_size
        return PulledPage(
            orders=orders, has_more=has_more, total=int(total) if total is not None else None
        )

    def fetch_request(self, config: ChannelConfig, external_id: str) -> OutboundRequest:
        return self.call(
            config, "taobao.trade.fullinfo.get", {"fields": TRADE_FIELDS, "tid": external_id}
        )

    def read_fetched(self, config: ChannelConfig, status: int, body: bytes) -> dict[str, Any]:
        self.check_response(status, body)
        answer = json_object(body, "TOP answer").get("trade_fullinfo_get_response")
        trade = answer.get("trade") if isinstance(answer, dict) else None
        if not isinstance(trade, dict):
            raise UnreadablePayload("the answer has no trade_fullinfo_get_response.trade")
        return trade

    # -- outbound -----------------------------------------------------------------------------
    def stock_request(self, config: ChannelConfig, update: StockUpdate) -> OutboundRequest:
        num_iid, sku_id = listing(config, update.channel_sku)
        return self.call(
            config,
            "taobao.item.quantity.update",
            {
                "num_iid": num_iid,
                "sku_id": sku_id,
                "quantity": max(0, update.quantity),
                "type": 1,
            },
        )

    def shipment_request(
        self, config: ChannelConfig, update: ShipmentUpdate
    ) -> OutboundRequest | None:
        if update.status != "shipped":
            return None
        if not update.tracking_number and not update.carrier:
            return self.call(config, "taobao.logistics.dummy.send", {"tid": update.external_id})
        if not update.tracking_number or not update.carrier:
            raise CallRefused(
                f"trade {update.external_id}: TOP needs both a carrier and a tracking number "
                f"(got carrier {update.carrier!r}, tracking number {update.tracking_number!r})",
                retry=False,
                code="shipment_incomplete",
            )
        company = mapper.carrier_code(update.carrier)
        if company is None:
            raise CallRefused(
                f"carrier {update.carrier!r} has no TOP company code in the table (known: "
                f"{', '.join(sorted(set(mapper.CARRIER_CODES.values())))})",
                retry=False,
                code="unknown_carrier",
            )
        return self.call(
            config,
            "taobao.logistics.offline.send",
            {
                "tid": update.external_id,
                "out_sid": update.tracking_number,
                "company_code": company,
            },
        )

    def check_response(self, status: int, body: bytes) -> None:
        if retryable_status(status):
            raise CallRefused(f"{self.name}: HTTP {status}", retry=True, code=str(status))
        try:
            answer = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CallRefused(
                f"{self.name}: HTTP {status} with a body that is not JSON: {body[:200]!r}",
                retry=True,
            ) from exc
        if not isinstance(answer, dict):
            raise CallRefused(f"{self.name}: the answer is not a JSON object", retry=True)
        error = answer.get("error_response")
        if isinstance(error, dict):
            raise top_error(self.name, error)
        if not 200 <= status < 300:
            raise CallRefused(f"{self.name}: HTTP {status}", retry=status == 408, code=str(status))
        for value in answer.values():  # {"logistics_offline_send_response": {"shipping": ...}}
            shipping = value.get("shipping") if isinstance(value, dict) else None
            if isinstance(shipping, dict) and shipping.get("is_success") in (False, "false"):
                raise CallRefused(
                    f"{self.name}: the shipment was not accepted: {shipping}",
                    retry=False,
                    code="shipping_failed",
                )

    # -- TOP calls ----------------------------------------------------------------------------
    def call(self, config: ChannelConfig, method: str, params: dict[str, Any]) -> OutboundRequest:
        """A signed TOP call: common parameters, the API's own, ``sign``; sent as a form."""
        sign_method = (config.credentials or {}).get("sign_method") or "md5"
        if sign_method not in signature.SIGN_METHODS:
            raise InvalidChannelConfig(
                f"channel {config.code}: credentials.sign_method must be one of "
                f"{', '.join(signature.SIGN_METHODS)}, not {sign_method!r}"
            )
        common = {
            "method": method,
            "app_key": config.credential("app_key"),
            "session": config.credential("session"),
            "timestamp": mapper.top_time(self.clock()),
            "format": "json",
            "v": "2.0",
        }
        form = signature.signed({**common, **params}, secret_of(config), sign_method)
        return OutboundRequest(
            method="POST",
            url=router_url(config),
            headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
            body=urlencode(form).encode("utf-8"),
        )


class TmallAdapter(TaobaoAdapter):
    """Tmall (B-shop) trades: the same TOP protocol, APIs and status table as Taobao."""

    name = "tmall"


# -- helpers ------------------------------------------------------------------------------------


def router_url(config: ChannelConfig) -> str:
    url = config.url()
    return url if url.endswith(ROUTER_PATH) else url + ROUTER_PATH


def listing(config: ChannelConfig, channel_sku: str) -> tuple[str, str | None]:
    """(num_iid, sku_id or None) of a channel SKU: from ``credentials.listings``, or the SKU
    itself when it is written ``num_iid:sku_id``."""
    listings = (config.credentials or {}).get("listings") or {}
    value = text(listings.get(channel_sku)) if isinstance(listings, dict) else None
    if value is None and ":" in channel_sku:
        value = channel_sku
    if value is None:
        raise InvalidChannelConfig(
            f"channel {config.code}: no TOP item for channel SKU {channel_sku!r}; add it to "
            'credentials.listings as "num_iid" or "num_iid:sku_id"'
        )
    num_iid, _, sku_id = value.partition(":")
    if not num_iid.isdigit() or (sku_id and not sku_id.isdigit()):
        raise InvalidChannelConfig(
            f"channel {config.code}: listing {value!r} of {channel_sku!r} must be "
            '"num_iid" or "num_iid:sku_id" (digits)'
        )
    return num_iid, sku_id or None


def top_error(platform: str, error: dict[str, Any]) -> CallRefused:
    """A TOP ``error_response`` as ``CallRefused``: retried for call limits and the
    platform's own failures, final for errors in the request or the business."""
    code = str(error.get("code", ""))
    sub_code = str(error.get("sub_code") or "")
    retry = code in RETRY_CODES or sub_code.startswith("isp.")
    detail = " ".join(
        str(part) for part in (error.get("msg"), sub_code, error.get("sub_msg")) if part
    )
    return CallRefused(
        f"{platform}: TOP error {code}: {detail}", retry=retry, code=sub_code or code
    )


def _tid_or_unknown(trade: Any) -> str:
    if isinstance(trade, dict):
        value = text(trade.get("tid_str")) or text(trade.get("tid"))
        if value:
            return value
    return "unknown"
