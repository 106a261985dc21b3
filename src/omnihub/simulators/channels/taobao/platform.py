"""A local stand-in of the TOP platform (Taobao Open Platform, which serves Taobao and Tmall
shops alike) for tests and the demo, written from TOP's documents and not from the adapter.

It lists items (num_iid, sku_id and merchant codes), creates trades in the TOP format and moves
them through their life (paid, refund requested, closed), serves the TOP router
(``POST /router/rest``) for what the hub calls: ``taobao.trades.sold.increment.get`` (by
modified window, newest first, with paging), ``taobao.trade.fullinfo.get``,
``taobao.item.quantity.update``, ``taobao.logistics.offline.send`` and
``taobao.logistics.dummy.send``; it checks each call's app key, session, timestamp and TOP
signature, and answers errors in TOP's own ``error_response`` (code 7 App Call Limited for a
rate limit, code 15 with an ``isp.`` sub code for a failure). It pushes TMC messages (and whole
trades) to the hub.

What it follows, from TOP's documents:

- signing (API 调用方法详解 / 签名算法): every parameter but ``sign`` and the empty ones, sorted
  by name in ASCII order, written ``name1value1name2value2...``; ``sign_method=md5`` is the MD5
  of ``secret + text + secret``, ``hmac`` the HMAC-MD5 of the text keyed with the secret,
  ``hmac-sha256`` the HMAC-SHA256; upper-case hex. The documentation's worked example
  (app_key ``test``, secret ``test``, ``taobao.user.seller.get``) gives
  ``72CB4D809B375A54502C09360D879C64``. A message pushed to a receiver carries ``app_key``,
  ``timestamp``, ``sign_method`` and ``sign`` in its query, signed the same way with the raw
  body appended to the text (the way TOP signs a call whose payload is a body, e.g. 奇门);
- times: "yyyy-MM-dd HH:mm:ss", Beijing time; a call more than ten minutes off is refused;
- the platform error codes (21 Missing Method, 22 Invalid Method, 24 Missing Signature, 25
  Invalid Signature, 26 Missing Session, 27 Invalid Session, 29 Invalid App Key, 31 Invalid
  Timestamp, 40 Missing Required Arguments, 41 Invalid Arguments, 7 App Call Limited, 15
  Remote service error with ``isv.*`` / ``isp.*`` sub codes);
- ``taobao.trades.sold.increment.get``: a window of at most one day, at most 100 a page,
  ``total_results`` or, with ``use_has_next``, ``has_next``;
- ``taobao.item.quantity.update``: ``type`` 1 sets the quantity, 2 adds to it;
- logistics company codes as ``taobao.logistics.companies.get`` lists them.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from omnihub.platforms.local_time import SHANGHAI, local_text
from omnihub.simulators.base import PlatformSimulator, SimRequest, SimResponse

ROUTER_PATH = "/router/rest"
#: the longest window ``taobao.trades.sold.increment.get`` accepts
MAX_PULL_WINDOW = timedelta(days=1)
MAX_PAGE_SIZE = 100
#: how far a call's timestamp may be from the platform's clock
MAX_CLOCK_SKEW = timedelta(minutes=10)
SIGN_METHODS = ("md5", "hmac", "hmac-sha256")
#: logistics company codes (``company_code``) as ``taobao.logistics.companies.get`` lists them
LOGISTICS_COMPANIES: dict[str, str] = {
    "SF": "顺丰速运",
    "ZTO": "中通快递",
    "YTO": "圆通速递",
    "STO": "申通快递",
    "YUNDA": "韵达快递",
    "EMS": "EMS",
    "EYB": "EMS经济快递",
    "POSTB": "邮政快递包裹",
    "JD": "京东快递",
    "DBKD": "德邦快递",
    "HTKY": "百世快递",
    "ZJS": "宅急送",
    "TTKDEX": "天天快递",
    "QFKD": "全峰快递",
    "GTO": "国通快递",
    "UC": "优速快递",
    "FAST": "快捷快递",
}


def top_time(moment: datetime) -> str:
    """A time as TOP writes it: "yyyy-MM-dd HH:mm:ss", Beijing time, no offset."""
    return local_text(moment)


def top_datetime(value: str) -> datetime:
    """A TOP time ("yyyy-MM-dd HH:mm:ss", Asia/Shanghai); ``ValueError`` if it is not one."""
    return datetime.strptime(value + " +0800", "%Y-%m-%d %H:%M:%S %z").astimezone(SHANGHAI)


def signing_text(params: Mapping[str, object]) -> str:
    """``name1value1name2value2...`` over the parameters sorted by name, leaving out ``sign``
    and the empty ones."""
    names = sorted(k for k, v in params.items() if k != "sign" and v is not None and str(v) != "")
    return "".join(f"{name}{params[name]}" for name in names)


def top_sign(
    params: Mapping[str, object], secret: str, sign_method: str = "md5", body: bytes = b""
) -> str:
    """TOP's ``sign`` of a call (and of a pushed message: its query parameters, then its raw
    body), upper-case hex; ``ValueError`` for a sign method TOP does not have."""
    text = signing_text(params).encode("utf-8") + body
    key = secret.encode("utf-8")
    if sign_method == "md5":
        return hashlib.md5(key + text + key).hexdigest().upper()
    if sign_method == "hmac":
        return hmac.new(key, text, hashlib.md5).hexdigest().upper()
    if sign_method == "hmac-sha256":
        return hmac.new(key, text, hashlib.sha256).hexdigest().upper()
    raise ValueError(f"TOP has no sign_method {sign_method!r}")


@dataclass(frozen=True, slots=True)
class Listing:
    """One sellable thing on the platform: an item, or one SKU of an item."""

    num_iid: int
    sku_id: int | None
    outer_iid: str | None
    outer_sku_id: str | None
    title: str
    price: str

    @property
    def channel_sku(self) -> str:
        """The line identity the adapter reads from a trade line of this listing."""
        for value in (self.outer_sku_id, self.outer_iid, self.sku_id, self.num_iid):
            if value is not None:
                return str(value)
        raise AssertionError("a listing always has a num_iid")

    @property
    def ids(self) -> str:
        """``num_iid`` or ``num_iid:sku_id``, as ``credentials.listings`` holds them."""
        return f"{self.num_iid}:{self.sku_id}" if self.sku_id else str(self.num_iid)


class TopError(Exception):
    def __init__(
        self, code: int, msg: str, sub_code: str | None = None, sub_msg: str | None = None
    ) -> None:
        super().__init__(msg)
        self.body: dict[str, Any] = {"code": code, "msg": msg}
        if sub_code:
            self.body["sub_code"] = sub_code
        if sub_msg:
            self.body["sub_msg"] = sub_msg


def error_response(error: TopError, request_id: str = "sim") -> SimResponse:
    return SimResponse.json({"error_response": {**error.body, "request_id": request_id}})


class TopSimulator(PlatformSimulator):
    """A TOP router and TMC pusher. ``credentials()`` is what the hub's channel needs."""

    name = "taobao"

    def __init__(
        self,
        *,
        secret: str = "sim-top-secret",
        app_key: str = "23000001",
        session: str = "sim-session-token",
        sign_method: str = "md5",
        seed: int = 7,
    ) -> None:
        super().__init__(secret=secret, seed=seed)
        self.app_key = app_key
        self.session = session
        self.sign_method = sign_method
        self.listings: dict[str, Listing] = {}
        """channel SKU -> listing"""
        self.history: dict[str, list[dict[str, Any]]] = {}
        """tid -> every state the trade had, oldest first"""
        self.messages: list[dict[str, Any]] = []
        """every TMC message pushed, as sent"""
        self.limited_methods: dict[str, int] = {}
        """TOP method -> how many of its next calls get the rate-limit answer (code 7)"""
        self.pages_served: list[tuple[str, str, int, int]] = []
        """(start_modified, end_modified, page_no, trades on the page) of every pull"""
        self._ids = iter(range(1, 10**9))
        self._id_lock = threading.Lock()
        self.route("POST", ROUTER_PATH, self._router)
        self.route("GET", ROUTER_PATH, self._router)

    def _next(self) -> int:
        with self._id_lock:
            return next(self._ids)

    # -- the seller's catalogue -----------------------------------------------------------------
    def list_item(
        self,
        *,
        outer_sku_id: str | None = None,
        outer_iid: str | None = None,
        with_sku: bool = True,
        price: str = "59.00",
        title: str = "",
    ) -> Listing:
        n = self._next()
        listing = Listing(
            num_iid=600000000000 + n,
            sku_id=5000000000000 + n if with_sku else None,
            outer_iid=outer_iid,
            outer_sku_id=outer_sku_id if with_sku else None,
            title=title or f"demo item {n}",
            price=price,
        )
        with self.lock:
            self.listings[listing.channel_sku] = listing
        return listing

    def credentials(self) -> dict[str, Any]:
        """``credentials`` of a hub channel served by this simulator (its listings as they are
        now: list the items first)."""
        with self.lock:
            listings = {sku: item.ids for sku, item in self.listings.items()}
        return {
            "app_key": self.app_key,
            "session": self.session,
            "sign_method": self.sign_method,
            "listings": listings,
        }

    # -- trades ---------------------------------------------------------------------------------
    def new_trade(
        self,
        lines: list[tuple[str, int]],
        *,
        at: datetime | None = None,
        paid: bool = False,
        buyer_message: str = "",
        post_fee: str = "0.00",
        discount: str = "0.00",
        push: bool = False,
        tid: int | None = None,
    ) -> str:
        """A trade of ``(channel SKU, qty)`` lines, waiting for payment (or paid), with the
        first line ``discount`` off; its id (``tid`` when given, else the next free one).
        ``push`` sends TMC's TradeCreate message to the hub once it is made."""
        at = at or self.now()
        tid = tid or 3100000000000000 + self._next() * 100
        orders: list[dict[str, Any]] = []
        for i, (channel_sku, qty) in enumerate(lines):
            item = self.listings[channel_sku]
            gross = Decimal(item.price) * qty
            line_discount = Decimal(discount) if i == 0 else Decimal("0")
            orders.append(
                {
                    "oid": tid + i,
                    "num_iid": item.num_iid,
                    "sku_id": str(item.sku_id) if item.sku_id else None,
                    "outer_iid": item.outer_iid,
                    "outer_sku_id": item.outer_sku_id,
                    "title": item.title,
                    "num": qty,
                    "price": item.price,
                    "total_fee": f"{gross - line_discount:.2f}",
                    "payment": f"{gross - line_discount:.2f}",
                    "discount_fee": f"{line_discount:.2f}",
                    "adjust_fee": "0.00",
                    "refund_status": "NO_REFUND",
                    "status": "WAIT_BUYER_PAY",
                }
            )
            orders[-1] = {k: v for k, v in orders[-1].items() if v is not None}
        goods = sum(Decimal(o["payment"]) for o in orders)
        trade: dict[str, Any] = {
            "tid": tid,
            "tid_str": str(tid),
            "status": "WAIT_BUYER_PAY",
            "type": "fixed",
            "created": top_time(at),
            "modified": top_time(at),
            "total_fee": f"{sum(Decimal(o['price']) * o['num'] for o in orders):.2f}",
            "discount_fee": "0.00",
            "adjust_fee": "0.00",
            "post_fee": post_fee,
            "payment": f"{goods + Decimal(post_fee):.2f}",
            "buyer_nick": f"t**{tid % 10}",
            "buyer_open_uid": f"AAH{tid:x}",
            "buyer_message": buyer_message,
            "shipping_type": "express",
            "receiver_name": "王**",
            "receiver_mobile": "138****0021",
            "receiver_state": "上海",
            "receiver_city": "上海市",
            "receiver_district": "静安区",
            "receiver_address": "南京西路****号",
            "receiver_zip": "200040",
            "orders": {"order": orders},
        }
        self._keep(str(tid), trade, at)
        if paid:
            self.pay(str(tid), at=at)
        if push:
            self.push_message(str(tid), "taobao_trade_TradeCreate")
        return str(tid)

    def trade(self, tid: str) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(self.orders[tid])

    def change(
        self,
        tid: str,
        *,
        at: datetime | None = None,
        status: str | None = None,
        refund_status: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """A new state of a trade: its status (and its lines'), a refund status on every
        line, other fields; ``modified`` moves on (at least a second: TOP times are whole
        seconds)."""
        at = self.next_time(tid, at)
        with self.lock:
            trade = copy.deepcopy(self.orders[tid])
        trade.update(fields)
        for line in trade["orders"]["order"]:
            if status:
                line["status"] = status
            if refund_status:
                line["refund_status"] = refund_status
        if status:
            trade["status"] = status
        trade["modified"] = top_time(at)
        self._keep(tid, trade, at)
        return trade

    def next_time(self, tid: str, at: datetime | None = None) -> datetime:
        """``at`` (now by default), or a second after the trade's last change if that is
        later: a trade's ``modified`` only moves forward."""
        with self.lock:
            previous = self.modified[tid]
        at = at or self.now()
        return at if at > previous else previous + timedelta(seconds=1)

    def pay(self, tid: str, *, at: datetime | None = None) -> dict[str, Any]:
        at = self.next_time(tid, at)
        return self.change(
            tid,
            at=at,
            status="WAIT_SELLER_SEND_GOODS",
            pay_time=top_time(at),
            alipay_no=f"2026{tid}",
        )

    def request_refund(self, tid: str, *, at: datetime | None = None) -> dict[str, Any]:
        return self.change(tid, at=at, refund_status="WAIT_SELLER_AGREE")

    def close(self, tid: str, *, at: datetime | None = None) -> dict[str, Any]:
        """Closed: by the platform before payment, or after a full refund once paid."""
        if self.trade(tid).get("pay_time"):
            return self.change(tid, at=at, status="TRADE_CLOSED", refund_status="SUCCESS")
        return self.change(tid, at=at, status="TRADE_CLOSED_BY_TAOBAO")

    def corrupt(self, tid: str) -> dict[str, Any]:
        """Break the trade as the platform holds it, ``modified`` unchanged: its first line's
        quantity becomes words no reader can take (one bad record among good ones)."""
        with self.lock:
            trade = self.orders[tid]
            trade["orders"]["order"][0]["num"] = "两件"
            self.history[tid][-1] = copy.deepcopy(trade)
            return copy.deepcopy(trade)

    def _keep(self, tid: str, trade: dict[str, Any], at: datetime) -> None:
        self.keep_order(tid, trade, at)
        with self.lock:
            self.history.setdefault(tid, []).append(copy.deepcopy(trade))

    def now(self) -> datetime:
        return datetime.now(SHANGHAI).replace(microsecond=0)

    # -- pushing to the hub ---------------------------------------------------------------------
    def signed_query(
        self,
        body: bytes,
        *,
        timestamp: datetime | None = None,
        secret: str | None = None,
        sign_method: str | None = None,
    ) -> str:
        """The query string of a push: app key, timestamp, sign method and TOP sign."""
        params = {
            "app_key": self.app_key,
            "timestamp": top_time(timestamp or datetime.now(SHANGHAI)),
            "sign_method": sign_method or self.sign_method,
        }
        params["sign"] = top_sign(params, secret or self.secret, params["sign_method"], body)
        return urlencode(params)

    def message(self, tid: str, topic: str, *, message_id: int | None = None) -> dict[str, Any]:
        """A TMC message about a trade, as TMC delivers it (``content`` a JSON string)."""
        trade = self.trade(tid)
        content = {
            "tid": int(tid),
            "oid": trade["orders"]["order"][0]["oid"],
            "buyer_nick": trade["buyer_nick"],
            "payment": trade["payment"],
            "status": trade["status"],
            "type": trade["type"],
        }
        return {
            "id": message_id or 4100000000000000000 + self._next(),
            "topic": topic,
            "pub_time": top_time(datetime.now(SHANGHAI)),
            "pub_app_key": self.app_key,
            "user_id": 2200000001,
            "user_nick": "omnihub演示旗舰店",
            "content": json.dumps(content, ensure_ascii=False, separators=(",", ":")),
        }

    def push_body(self, external_id: str, body: bytes) -> int:
        path = f"/orders?{self.signed_query(body)}"
        return self.push(external_id, body, {"content-type": "application/json"}, path=path)

    def push_message(self, tid: str, topic: str, *, message_id: int | None = None) -> int:
        """Push one TMC message (twice when the ``duplicate_rate`` fault says so: the same
        message delivered again, as TMC does when it saw no acknowledgement)."""
        message = self.message(tid, topic, message_id=message_id)
        with self.lock:
            self.messages.append(message)
        body = json.dumps(message, ensure_ascii=False).encode()
        status = self.push_body(tid, body)
        if self.roll(self.faults.duplicate_rate):
            self.push_body(tid, body)
        return status

    def push_trade(self, tid: str, state: int = -1) -> int:
        """Push a whole trade (one of its states; the newest by default) as a data push."""
        with self.lock:
            trade = copy.deepcopy(self.history[tid][state])
        body = json.dumps(
            {"trade_fullinfo_get_response": {"trade": trade}}, ensure_ascii=False
        ).encode()
        return self.push_body(tid, body)

    def push_history(self, tid: str) -> list[int]:
        """Push every state of a trade, oldest first; with the ``out_of_order`` fault the
        newest goes first (paid before created)."""
        with self.lock:
            states = list(range(len(self.history[tid])))
        if self.faults.out_of_order:
            states = states[::-1]
        return [self.push_trade(tid, i) for i in states]

    # -- the TOP router -------------------------------------------------------------------------
    def rate_limit_answer(self, request: SimRequest) -> SimResponse:
        return error_response(
            TopError(
                7,
                "App Call Limited",
                "accesscontrol.limited-by-app-access-count",
                "This ban will last for 1 more seconds",
            )
        )

    def error_answer(self, request: SimRequest) -> SimResponse:
        return error_response(
            TopError(
                15,
                "Remote service error",
                "isp.top-remote-connection-timeout",
                "the backend service did not answer in time",
            )
        )

    def _router(self, request: SimRequest) -> SimResponse:
        params = request.form()
        try:
            self._check_call(request, params)
            with self.lock:
                limited = self.limited_methods.get(params["method"], 0)
                if limited:
                    self.limited_methods[params["method"]] = limited - 1
            if limited:
                return self.rate_limit_answer(request)
            handler = {
                "taobao.trades.sold.increment.get": self._increment,
                "taobao.trade.fullinfo.get": self._fullinfo,
                "taobao.item.quantity.update": self._quantity,
                "taobao.logistics.offline.send": self._offline_send,
                "taobao.logistics.dummy.send": self._dummy_send,
            }.get(params["method"])
            if handler is None:
                raise TopError(22, "Invalid Method", None, f"no method {params['method']}")
            return SimResponse.json(handler(params))
        except TopError as error:
            return error_response(error)

    def _check_call(self, request: SimRequest, params: dict[str, str]) -> None:
        def refuse(error: TopError) -> TopError:
            with self.lock:
                self.refused.append((request.path, f"{error.body['code']} {error}"))
            return error

        if not params.get("method"):
            raise refuse(TopError(21, "Missing Method"))
        if params.get("app_key") != self.app_key:
            raise refuse(TopError(29, "Invalid App Key"))
        if not params.get("session"):
            raise refuse(TopError(26, "Missing Session"))
        if params["session"] != self.session:
            raise refuse(TopError(27, "Invalid Session"))
        try:
            stamp = top_datetime(params.get("timestamp", ""))
        except ValueError:
            raise refuse(TopError(31, "Invalid Timestamp")) from None
        if abs(stamp - datetime.now(SHANGHAI)) > MAX_CLOCK_SKEW:
            raise refuse(TopError(31, "Invalid Timestamp", None, "more than 10 minutes off"))
        method = params.get("sign_method") or "md5"
        if method not in SIGN_METHODS:
            raise refuse(TopError(41, "Invalid Arguments", "isv.invalid-parameter:sign_method"))
        if not params.get("sign"):
            raise refuse(TopError(24, "Missing Signature"))
        if params["sign"] != top_sign(params, self.secret, method):
            raise refuse(TopError(25, "Invalid Signature"))

    @staticmethod
    def _required(params: dict[str, str], *names: str) -> None:
        missing = [n for n in names if not params.get(n)]
        if missing:
            raise TopError(40, "Missing Required Arguments", f"isv.missing-parameter:{missing[0]}")

    def _increment(self, params: dict[str, str]) -> dict[str, Any]:
        self._required(params, "fields", "start_modified", "end_modified")
        try:
            start = top_datetime(params["start_modified"])
            end = top_datetime(params["end_modified"])
        except ValueError:
            raise TopError(
                41, "Invalid Arguments", "isv.invalid-parameter:start_modified"
            ) from None
        if end < start or end - start > MAX_PULL_WINDOW:
            raise TopError(
                15,
                "Remote service error",
                "isv.invalid-parameter",
                "end_modified must follow start_modified by at most one day",
            )
        page = int(params.get("page_no") or 1)
        size = int(params.get("page_size") or 40)
        if not 1 <= size <= MAX_PAGE_SIZE or page < 1:
            raise TopError(41, "Invalid Arguments", "isv.invalid-parameter:page_size")
        with self.lock:
            # TOP lists the newest modification first
            chosen = sorted(
                ((m, i) for i, m in self.modified.items() if start <= m <= end), reverse=True
            )
            trades = [copy.deepcopy(self.orders[i]) for _, i in chosen]
        part = trades[(page - 1) * size : page * size]
        with self.lock:
            self.pages_served.append(
                (params["start_modified"], params["end_modified"], page, len(part))
            )
        answer: dict[str, Any] = {}
        if part:
            answer["trades"] = {"trade": part}
        if params.get("use_has_next") == "true":
            answer["has_next"] = page * size < len(trades)
        else:
            answer["total_results"] = len(trades)
        return {"trades_sold_increment_get_response": answer}

    def _fullinfo(self, params: dict[str, str]) -> dict[str, Any]:
        self._required(params, "fields", "tid")
        with self.lock:
            trade = copy.deepcopy(self.orders.get(params["tid"]))
        if trade is None:
            raise TopError(
                15,
                "Remote service error",
                "isv.trade-not-exist",
                f"trade {params['tid']} does not exist",
            )
        return {"trade_fullinfo_get_response": {"trade": trade}}

    def _quantity(self, params: dict[str, str]) -> dict[str, Any]:
        self._required(params, "num_iid", "quantity")
        with self.lock:
            items = [x for x in self.listings.values() if str(x.num_iid) == params["num_iid"]]
        if not items:
            raise TopError(
                15,
                "Remote service error",
                "isv.item-not-exist",
                f"item {params['num_iid']} does not exist",
            )
        sku_id, outer_id = params.get("sku_id"), params.get("outer_id")
        if sku_id:
            items = [x for x in items if str(x.sku_id) == sku_id]
        elif outer_id:
            items = [x for x in items if x.outer_sku_id == outer_id]
        elif items[0].sku_id is not None:
            raise TopError(
                15,
                "Remote service error",
                "isv.invalid-parameter",
                "the item has SKUs: give sku_id or outer_id",
            )
        if len(items) != 1:
            raise TopError(
                15,
                "Remote service error",
                "isv.sku-not-exist",
                f"no SKU {sku_id or outer_id} on item {params['num_iid']}",
            )
        try:
            qty = int(params["quantity"])
        except ValueError:
            raise TopError(41, "Invalid Arguments", "isv.invalid-parameter:quantity") from None
        kind = params.get("type") or "1"
        if kind not in ("1", "2") or (kind == "1" and qty < 0):
            raise TopError(41, "Invalid Arguments", "isv.invalid-parameter:type")
        listing = items[0]
        with self.lock:
            current = self.stock.get(listing.channel_sku, 0)
            self.stock[listing.channel_sku] = qty if kind == "1" else current + qty
            total = self.stock[listing.channel_sku]
        return {
            "item_quantity_update_response": {
                "item": {
                    "num_iid": listing.num_iid,
                    "num": total,
                    "modified": top_time(datetime.now(SHANGHAI)),
                }
            }
        }

    def _consign(self, params: dict[str, str], shipment: dict[str, Any]) -> None:
        tid = params["tid"]
        with self.lock:
            trade = self.orders.get(tid)
            status = trade["status"] if trade else None
        if trade is None:
            raise TopError(
                15, "Remote service error", "isv.trade-not-exist", f"trade {tid} does not exist"
            )
        if status not in ("WAIT_SELLER_SEND_GOODS", "SELLER_CONSIGNED_PART"):
            raise TopError(
                15,
                "Remote service error",
                "isv.logistics-offline-service-error",
                f"trade {tid} is {status}; it cannot be shipped",
            )
        self.record_shipment(shipment)
        now = self.now()
        self.change(tid, at=now, status="WAIT_BUYER_CONFIRM_GOODS", consign_time=top_time(now))

    def _offline_send(self, params: dict[str, str]) -> dict[str, Any]:
        self._required(params, "tid", "out_sid", "company_code")
        if params["company_code"] not in LOGISTICS_COMPANIES:
            raise TopError(
                15,
                "Remote service error",
                "isv.logistics-company-not-exist",
                f"no logistics company {params['company_code']}",
            )
        self._consign(
            params,
            {
                "tid": params["tid"],
                "out_sid": params["out_sid"],
                "company_code": params["company_code"],
            },
        )
        return {"logistics_offline_send_response": {"shipping": {"is_success": True}}}

    def _dummy_send(self, params: dict[str, str]) -> dict[str, Any]:
        self._required(params, "tid")
        self._consign(params, {"tid": params["tid"], "out_sid": None, "company_code": None})
        return {"logistics_dummy_send_response": {"shipping": {"is_success": True}}}
