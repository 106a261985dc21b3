"""A local stand-in of the 抖店 open platform.

It keeps shop orders in the platform's ``shop_order_detail`` format, pushes order and
after-sale messages to the hub (a JSON array signed with ``event-sign``), answers
``/order/orderDetail``, ``/sku/syncStock`` and ``/order/logisticsAdd`` after checking the call
signature, app key, access token and the parameters' shape, and answers faults in the
platform's own envelope: ``{"code": 30001}`` too many requests, ``{"code": 20000}`` service
unavailable (both HTTP 200, as the platform does), a bad signature ``{"code": 40004}``.

Written from the platform's documents (and its published SDKs), not from the adapter:

- a pushed message batch carries ``app-id`` and ``event-sign``: the hex MD5 of
  ``app_key + body + app_secret`` (the raw body), or with ``sign-method: hmac-sha256`` the hex
  HMAC-SHA256 of that text keyed with the app secret;
- a call carries ``app_key``, ``method``, ``access_token``, ``timestamp``, ``v`` (2),
  ``sign_method`` and ``sign`` in its query and ``param_json`` (the business parameters, keys
  sorted) as its body; ``sign`` is the hex MD5 (or HMAC-SHA256 keyed with the secret) of
  ``secret + "app_key" + app_key + "method" + method + "param_json" + param_json +
  "timestamp" + timestamp + "v" + v + secret``;
- ``shop_order_detail``: ``order_status`` 1 待支付, 105 已支付, 2 备货中, 101 部分发货, 3 已发货,
  4 已取消, 5 已完成; money in fen; times as Unix seconds; each ``sku_order_list[]`` line with
  its ``after_sale_info`` (``after_sale_status`` 6 requested, 12 succeeded, 27 refused, ...);
- message tags: 100 created, 101 paid, 102 shipped, 103 completed, 105 cancelled, 2xx after
  sale (200 requested, 205 refused, 206 refunded);
- the answer envelope ``{"code", "msg", "sub_code", "sub_msg", "data", "log_id"}``, 10000 for
  success (the other codes below are this stand-in's reading of the code table).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from omnihub.simulators.base import PlatformSimulator, SimRequest, SimResponse

MD5 = "md5"
HMAC_SHA256 = "hmac-sha256"
API_VERSION = "2"
#: answer codes of the open platform's envelope, as this stand-in uses them
ANSWER_CODES: dict[int, str] = {
    10000: "success",
    20000: "服务不可用",
    30001: "调用频率超限",
    30002: "access_token 无效或过期",
    40003: "参数错误",
    40004: "签名校验失败",
    50002: "业务处理失败",
}


def _digest(secret: str, text: bytes, sign_method: str) -> str:
    if sign_method == MD5:
        return hashlib.md5(text, usedforsecurity=False).hexdigest()
    if sign_method == HMAC_SHA256:
        return hmac.new(secret.encode(), text, hashlib.sha256).hexdigest()
    raise ValueError(f"no sign method {sign_method!r} on the platform")


def event_sign(app_key: str, app_secret: str, body: bytes, sign_method: str = MD5) -> str:
    """The ``event-sign`` header of a pushed batch."""
    return _digest(app_secret, app_key.encode() + body + app_secret.encode(), sign_method)


def call_sign(
    app_key: str,
    app_secret: str,
    method: str,
    param_json: str,
    timestamp: str,
    sign_method: str = MD5,
    version: str = API_VERSION,
) -> str:
    """The ``sign`` query parameter of a call to the open platform."""
    text = (
        f"{app_secret}app_key{app_key}method{method}param_json{param_json}"
        f"timestamp{timestamp}v{version}{app_secret}"
    )
    return _digest(app_secret, text.encode(), sign_method)


@dataclass(frozen=True)
class Item:
    """A SKU of the shop: the platform's ids and, when the seller set one, its own code."""

    sku_id: int
    product_id: int
    price_fen: int
    code: str | None = None

    @property
    def channel_sku(self) -> str:
        return self.code or str(self.sku_id)


def answer(
    code: int, msg: str, data: Any = None, sub_code: str = "", sub_msg: str = ""
) -> SimResponse:
    return SimResponse.json(
        {
            "code": code,
            "msg": msg,
            "sub_code": sub_code,
            "sub_msg": sub_msg,
            "data": data if data is not None else {},
            "log_id": f"2026{int(time.time() * 1000)}",
        }
    )


class DouyinSimulator(PlatformSimulator):
    name = "douyin"

    def __init__(
        self,
        *,
        app_key: str = "7152000000000000001",
        secret: str = "douyin-app-secret-0001",
        access_token: str = "douyin-shop-token-0001",
        shop_id: int = 4463798,
        sign_method: str = MD5,
        seed: int = 7,
    ) -> None:
        super().__init__(secret=secret, seed=seed)
        self.app_key = app_key
        self.access_token = access_token
        self.shop_id = shop_id
        self.sign_method = sign_method
        self.items: dict[str, Item] = {}
        self.held: dict[str, list[bytes]] = {}
        """order id -> batches held back (out-of-order fault) until its next message"""
        self.duplicated: list[str] = []
        """ids of the messages sent twice (the duplicate fault)"""
        self._ids = itertools.count(6920000000000000001 + seed * 1000)
        self._messages = itertools.count(1)
        self._last_update: dict[str, int] = {}
        self.route("POST", "/order/orderDetail", self._order_detail)
        self.route("POST", "/sku/syncStock", self._sync_stock)
        self.route("POST", "/order/logisticsAdd", self._logistics_add)

    @property
    def credentials(self) -> dict[str, str]:
        """What the hub's channel needs (``POST /api/v1/channels`` credentials)."""
        return {
            "app_key": self.app_key,
            "access_token": self.access_token,
            "sign_method": self.sign_method,
        }

    def add_item(self, item: Item) -> Item:
        with self.lock:
            self.items[item.channel_sku] = item
            self.items[str(item.sku_id)] = item
        return item

    # -- the platform's answers to faults -----------------------------------------------------
    def rate_limit_answer(self, request: SimRequest) -> SimResponse:
        return answer(
            30001, "too many requests", sub_code="isv.app-call-limited", sub_msg="调用频率超限"
        )

    def error_answer(self, request: SimRequest) -> SimResponse:
        return answer(20000, "服务不可用", sub_code="isp.service-error", sub_msg="服务暂不可用")

    # -- orders as the platform holds them ----------------------------------------------------
    def _tick(self, order_id: str) -> int:
        """Unix seconds for a change of the order, strictly after its previous change (the
        platform's times are whole seconds; two changes must not look the same)."""
        with self.lock:
            moment = max(int(time.time()), self._last_update.get(order_id, 0) + 1)
            self._last_update[order_id] = moment
        return moment

    def _change(self, order_id: str, **fields: Any) -> dict[str, Any]:
        with self.lock:
            detail = self.orders[order_id]
            moment = self._tick(order_id)
            detail.update(fields)
            detail["update_time"] = moment
            self.keep_order(order_id, detail, datetime.fromtimestamp(moment, UTC))
            return detail

    def create_order(
        self,
        lines: list[tuple[Item, int]],
        *,
        order_id: str | None = None,
        buyer_words: str = "",
        post_fen: int = 0,
        pay_type: int = 1,
        push: bool = True,
    ) -> str:
        """A buyer places an order (status 1, not paid); pushes tag 100."""
        order_id = order_id or str(next(self._ids))
        moment = self._tick(order_id)
        sku_orders: list[dict[str, Any]] = []
        for number, (item, qty) in enumerate(lines, start=1):
            self.add_item(item)
            sku_orders.append(
                {
                    "order_id": f"{order_id}{number:02d}",
                    "parent_order_id": order_id,
                    "sku_id": item.sku_id,
                    "product_id": item.product_id,
                    "code": item.code or "",
                    "item_num": qty,
                    "origin_amount": item.price_fen,
                    "pay_amount": item.price_fen * qty,
                    "order_status": 1,
                    "after_sale_info": {
                        "after_sale_status": 0,
                        "after_sale_type": 0,
                        "refund_status": 0,
                    },
                }
            )
        goods = sum(item.price_fen * qty for item, qty in lines)
        detail = {
            "order_id": order_id,
            "shop_id": self.shop_id,
            "order_status": 1,
            "order_status_desc": "待支付",
            "order_amount": goods + post_fen,
            "pay_amount": goods + post_fen,
            "post_amount": post_fen,
            "pay_type": pay_type,
            "pay_time": 0,
            "create_time": moment,
            "update_time": moment,
            "doudian_open_id": f"1@#{order_id[-8:]}openid==",
            "encrypt_post_receiver": f"#{order_id[-6:]}#R1Fa+receiver==#1##",
            "encrypt_post_tel": f"${order_id[-6:]}$MTM4tel==$1$$",
            "post_addr": {
                "province": {"name": "上海市", "id": "31"},
                "city": {"name": "上海市", "id": "310100"},
                "town": {"name": "静安区", "id": "310106"},
                "street": {"name": "南京西路街道", "id": "310106012"},
                "encrypt_detail": f"#{order_id[-6:]}#ZGV0YWls==#1##",
            },
            "buyer_words": buyer_words,
            "seller_words": "",
            "sku_order_list": sku_orders,
        }
        self.keep_order(order_id, detail, datetime.fromtimestamp(moment, UTC))
        if push:
            self.notify(order_id, "100")
        return order_id

    def pay(self, order_id: str, *, push: bool = True) -> None:
        """The buyer pays: 备货中 (2), tag 101."""
        moment = self._tick(order_id)
        self._change(
            order_id,
            order_status=2,
            order_status_desc="备货中",
            pay_time=moment,
            channel_payment_no=f"PAY{order_id[-10:]}",
        )
        if push:
            self.notify(order_id, "101")

    def cancel(self, order_id: str, *, push: bool = True) -> None:
        """The buyer cancels an unpaid order (or it times out): 4, tag 105."""
        self._change(order_id, order_status=4, order_status_desc="已取消")
        if push:
            self.notify(order_id, "105")

    def request_refund(self, order_id: str, *, push: bool = True) -> None:
        """The buyer asks for a refund before shipment (未发货仅退款): tag 200."""
        self._set_after_sale(order_id, status=6, kind=2, refund=1)
        if push:
            self.notify(order_id, "200")

    def refuse_refund(self, order_id: str, *, push: bool = True) -> None:
        """The seller refuses the after-sale request: tag 205, the order is sold after all."""
        self._set_after_sale(order_id, status=27, kind=2, refund=0)
        if push:
            self.notify(order_id, "205")

    def refund(self, order_id: str, *, push: bool = True) -> None:
        """The refund goes through: every line refunded, the order closed (4), tag 206."""
        self._set_after_sale(order_id, status=12, kind=2, refund=3, order_status=4)
        if push:
            self.notify(order_id, "206")

    def ship(self, order_id: str, company_code: str, tracking: str, *, push: bool = True) -> None:
        """The seller ships by hand in the shop back office: 3, tag 102."""
        self._change(
            order_id,
            order_status=3,
            order_status_desc="已发货",
            logistics_info=[{"company": company_code, "tracking_no": tracking}],
        )
        if push:
            self.notify(order_id, "102")

    def complete(self, order_id: str, *, push: bool = True) -> None:
        self._change(order_id, order_status=5, order_status_desc="已完成")
        if push:
            self.notify(order_id, "103")

    def _set_after_sale(
        self, order_id: str, *, status: int, kind: int, refund: int, order_status: int | None = None
    ) -> None:
        with self.lock:
            detail = self.orders[order_id]
            for line in detail["sku_order_list"]:
                line["after_sale_info"] = {
                    "after_sale_status": status,
                    "after_sale_type": kind,
                    "refund_status": refund,
                }
            fields: dict[str, Any] = {}
            if order_status is not None:
                fields = {"order_status": order_status, "order_status_desc": "已关闭"}
            self._change(order_id, **fields)

    # -- pushing messages to the hub ----------------------------------------------------------
    def message(self, order_id: str, tag: str) -> dict[str, Any]:
        with self.lock:
            detail = self.orders[order_id]
            data: dict[str, Any] = {
                "p_id": int(order_id),
                "shop_id": self.shop_id,
                "s_ids": [int(line["order_id"]) for line in detail["sku_order_list"]],
                "order_status": detail["order_status"],
                "biz": 2,
                "update_time": detail["update_time"],
            }
            if tag.startswith("2"):
                data = {
                    "p_id": int(order_id),
                    "s_id": data["s_ids"][0],
                    "shop_id": self.shop_id,
                    "aftersale_id": f"7{order_id[-12:]}",
                    "aftersale_type": 2,
                    "aftersale_status": detail["sku_order_list"][0]["after_sale_info"][
                        "after_sale_status"
                    ],
                    "apply_time": detail["update_time"],
                }
            msg_id = f"{order_id}:{tag}:{next(self._messages)}"
        return {"tag": tag, "msg_id": msg_id, "data": json.dumps(data, separators=(",", ":"))}

    def signed_headers(self, body: bytes, *, secret: str | None = None) -> dict[str, str]:
        headers = {
            "content-type": "application/json",
            "app-id": self.app_key,
            "event-sign": event_sign(self.app_key, secret or self.secret, body, self.sign_method),
        }
        if self.sign_method != MD5:
            headers["sign-method"] = self.sign_method
        return headers

    def notify(self, order_id: str, tag: str) -> None:
        """Push one message about the order, with the faults asked for: a duplicate delivery
        (the same msg_id again) or, out of order, the order's first message held back until
        after its next one."""
        body = json.dumps([self.message(order_id, tag)], ensure_ascii=False).encode()
        if self.faults.out_of_order and tag == "100":
            with self.lock:
                self.held.setdefault(order_id, []).append(body)
            return
        self.send(order_id, body)
        if self.roll(self.faults.duplicate_rate):
            with self.lock:
                self.duplicated.append(order_id)
            self.send(order_id, body)
        with self.lock:
            late = self.held.pop(order_id, [])
        for held in late:
            self.send(order_id, held)

    def flush(self) -> None:
        """Send every message still held back."""
        with self.lock:
            late, self.held = self.held, {}
        for order_id, bodies in late.items():
            for body in bodies:
                self.send(order_id, body)

    def send(self, order_id: str, body: bytes) -> int:
        """One batch to the hub, signed; the hub's status is kept in ``pushed``."""
        return self.push(order_id, body, self.signed_headers(body))

    # -- the open-platform calls the hub makes ------------------------------------------------
    def _checked(self, request: SimRequest, method: str) -> dict[str, Any] | SimResponse:
        """The call's business parameters once its system parameters and sign are right."""
        query = request.query
        missing = [
            k
            for k in ("app_key", "method", "access_token", "timestamp", "v", "sign")
            if not query.get(k)
        ]
        if missing:
            return self._refuse(request, 40003, f"missing {', '.join(missing)}")
        if query["method"] != method:
            return self._refuse(request, 40003, f"method {query['method']} on the {method} path")
        if query["app_key"] != self.app_key:
            return self._refuse(request, 40004, f"unknown app_key {query['app_key']}")
        params_json = query.get("param_json") or request.body.decode("utf-8", "replace")
        sign_method = query.get("sign_method", MD5)
        try:
            expected = call_sign(
                self.app_key,
                self.secret,
                method,
                params_json,
                query["timestamp"],
                sign_method,
                query["v"],
            )
        except ValueError as exc:
            return self._refuse(request, 40004, str(exc))
        if not hmac.compare_digest(expected, query["sign"].lower()):
            return self._refuse(request, 40004, "sign does not match")
        if query["access_token"] != self.access_token:
            return self._refuse(request, 30002, "access_token is not valid")
        try:
            params = json.loads(params_json)
        except ValueError:
            return self._refuse(request, 40003, "param_json is not JSON")
        if not isinstance(params, dict):
            return self._refuse(request, 40003, "param_json is not an object")
        return params

    def _refuse(self, request: SimRequest, code: int, why: str) -> SimResponse:
        with self.lock:
            self.refused.append((request.path, why))
        return answer(code, ANSWER_CODES.get(code, "error"), sub_msg=why)

    def _order_detail(self, request: SimRequest) -> SimResponse:
        params = self._checked(request, "order.orderDetail")
        if isinstance(params, SimResponse):
            return params
        order_id = str(params.get("shop_order_id") or "")
        with self.lock:
            detail = copy.deepcopy(self.orders.get(order_id))
        if detail is None:
            return self._refuse(request, 50002, f"order {order_id} does not exist")
        return answer(10000, "success", {"shop_order_detail": detail})

    def _sync_stock(self, request: SimRequest) -> SimResponse:
        params = self._checked(request, "sku.syncStock")
        if isinstance(params, SimResponse):
            return params
        stock = params.get("stock_num")
        if not isinstance(stock, int) or isinstance(stock, bool) or stock < 0:
            return self._refuse(request, 40003, f"stock_num {stock!r} is not a count")
        if params.get("incremental") is not False:
            return self._refuse(request, 40003, "the hub must set stock (incremental=false)")
        identity = str(params.get("code") or params.get("sku_id") or "")
        with self.lock:
            known = identity in self.items
        if not known:
            return self._refuse(request, 50002, f"no SKU {identity!r} in the shop")
        self.set_stock(identity, stock)
        return answer(10000, "success", {})

    def _logistics_add(self, request: SimRequest) -> SimResponse:
        params = self._checked(request, "order.logisticsAdd")
        if isinstance(params, SimResponse):
            return params
        order_id = str(params.get("order_id") or "")
        company, tracking = params.get("company_code"), params.get("logistics_code")
        if not company or not tracking:
            return self._refuse(request, 40003, "company_code and logistics_code are required")
        with self.lock:
            detail = self.orders.get(order_id)
            status = detail["order_status"] if detail else None
        if status not in (2, 105, 101):
            return self._refuse(
                request, 50002, f"order {order_id} cannot be shipped (order_status {status})"
            )
        self._change(
            order_id,
            order_status=3,
            order_status_desc="已发货",
            logistics_info=[{"company": company, "tracking_no": tracking}],
        )
        self.record_shipment(
            {"order_id": order_id, "company_code": company, "logistics_code": tracking}
        )
        return answer(10000, "success", {})
