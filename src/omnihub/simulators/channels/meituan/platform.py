"""A local stand-in of the 美团闪购 open platform for one shop.

It creates orders in the platform's format and pushes them to the hub as signed form
callbacks (the whole order when paid, accepted or completed; the order id alone for
cancellations; ``notify_type`` refund callbacks), answers ``order/getOrderDetail`` with the
order as it stands (GET), and receives the hub's calls: ``retail/sku/stock`` (POST),
``order/confirm`` (POST, docDetail 111) and ``order/preparationMealComplete`` (GET, docDetail
217), each by the request method its document gives, checked for its ``sig``, ``app_id``,
timestamp and shape. Errors are answered HTTP 200 with ``{"data": "ng", "error": {"code",
"msg"}}``: 711 for the rate-limit fault, 700 for the error fault, 703 for a wrong sig, 701 for
a bad parameter, 808 for an unknown order or a state that does not allow the call.

Choices of this stand-in (the real platform's code table is longer and may differ): the
error codes above; a call that accepts an order changes it here but pushes no callback back;
``utime`` advances by at least a second with every change, so each change is newer.

Written from the platform's documents, not from the adapter: every call and every push carries
``app_id``, ``timestamp`` (Unix seconds) and ``sig``, the lower-case hex MD5 of the request URL
without its query, ``?``, the parameters sorted by name as ``name=value`` joined with ``&``
(every parameter but ``sig``, values as they read once URL-decoded) and the app secret; for a
push the URL is the callback URL registered with the platform. Order callbacks are forms: the
order's fields, ``detail`` (the foods) and ``extras`` as JSON text.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from omnihub.platforms.local_time import SHANGHAI
from omnihub.simulators.base import PlatformSimulator, SimRequest, SimResponse

API_PREFIX = "/api/v1"
SIG = "sig"
TIMESTAMP_WINDOW_SECONDS = 600


def sig(url: str, params: dict[str, str], secret: str) -> str:
    """``sig`` of a request to ``url`` (no query) with ``params`` (``sig`` itself left out)."""
    joined = "&".join(f"{name}={params[name]}" for name in sorted(params) if name != SIG)
    return hashlib.md5(f"{url}?{joined}{secret}".encode()).hexdigest()


@dataclass(frozen=True)
class Food:
    app_food_code: str
    sku_id: str
    name: str
    price: Decimal


#: the demo retailer's goods as listed in the shop (its sku_id are the retailer's SKU codes)
DEMO_FOODS = (
    Food("SPU-TEE", "TEE-WHITE-M", "白色T恤 M", Decimal("59.00")),
    Food("SPU-MUG", "MUG-CERAMIC-350", "陶瓷马克杯 350ml", Decimal("39.00")),
    Food("SPU-CAP", "CAP-NAVY", "藏青棒球帽", Decimal("79.00")),
)


class MeituanSimulator(PlatformSimulator):
    name = "meituan"

    def __init__(
        self,
        *,
        secret: str = "meituan-app-secret",
        seed: int = 7,
        app_id: str = "6001",
        poi: str = "mt-poi-jingan",
        foods: tuple[Food, ...] = DEMO_FOODS,
    ) -> None:
        super().__init__(secret=secret, seed=seed)
        self.app_id = app_id
        self.poi = poi
        self.foods = {food.sku_id: food for food in foods}
        self.confirmed: list[str] = []
        """orders the hub accepted (order/confirm)"""
        self.prepared: list[str] = []
        self.refunds: dict[str, str] = {}
        """order id -> the last refund notify_type"""
        self._held_back: dict[str, tuple[dict[str, str], int]] = {}
        self._order_ids = itertools.count(27000000001)
        for method, path, handler in (
            ("GET", "/order/getOrderDetail", self._order_detail),
            ("POST", "/retail/sku/stock", self._sku_stock),
            ("POST", "/order/confirm", self._confirm),
            ("GET", "/order/preparationMealComplete", self._prepared),
        ):
            self.route(method, API_PREFIX + path, handler)

    # -- what the hub needs to know -----------------------------------------------------------
    @property
    def api_url(self) -> str:
        return self.url + API_PREFIX

    @property
    def callback_url(self) -> str:
        """Where the platform pushes (and what its sig covers): the hub's native endpoint."""
        assert self.hub_url, "set hub_url (the hub's /api/v1/channels/<code>) first"
        return self.hub_url + "/orders"

    def credentials(self, store: str, callback_url: str) -> dict[str, Any]:
        return {
            "app_id": self.app_id,
            "callback_url": callback_url,
            "shops": {self.poi: store},
            "foods": {sku: food.app_food_code for sku, food in self.foods.items()},
        }

    # -- orders -------------------------------------------------------------------------------
    def place_order(
        self,
        lines: list[tuple[str, int]],
        *,
        lat: float = 31.2281,
        lon: float = 121.4540,
        address: str = "上海市静安区南京西路1601号 (3楼)",
        name: str = "王(先生)",
        phone: str = "1**********7",
        caution: str = "",
        pay_type: int = 2,
        shipping_fee: Decimal = Decimal("5.00"),
        unknown_food: str | None = None,
        push: bool = True,
    ) -> str:
        """A buyer pays: the order is kept and pushed whole (推送已支付订单), unless ``push`` is
        false (the caller sends it). With the ``out_of_order`` fault the callback is held back
        until the order's next callback."""
        order_id = str(next(self._order_ids))
        now = int(time.time())
        detail: list[dict[str, Any]] = []
        for sku_id, qty in lines:
            food = self.foods[sku_id]
            detail.append(
                {
                    "app_food_code": food.app_food_code,
                    "food_name": food.name,
                    "sku_id": food.sku_id,
                    "quantity": qty,
                    "price": float(food.price),
                    "box_num": 0,
                    "box_price": 0,
                    "unit": "件",
                    "food_discount": 1,
                    "spec": "",
                }
            )
        if unknown_food:  # a food the hub has no mapping for
            detail.append(
                {
                    "app_food_code": f"SPU-{unknown_food}",
                    "food_name": unknown_food,
                    "sku_id": unknown_food,
                    "quantity": 1,
                    "price": 9.9,
                    "box_num": 0,
                    "box_price": 0,
                    "unit": "件",
                    "food_discount": 1,
                    "spec": "",
                }
            )
        goods = sum((Decimal(str(d["price"])) * d["quantity"] for d in detail), Decimal("0"))
        order: dict[str, Any] = {
            "order_id": int(order_id),
            "wm_order_id_view": f"{order_id}{now % 1000:03d}",
            "app_poi_code": self.poi,
            "wm_poi_name": "omnihub 静安店",
            "wm_poi_address": "上海市静安区南京西路1601号",
            "wm_poi_phone": "021-00000000",
            "recipient_address": address,
            "recipient_phone": phone,
            "recipient_name": name,
            "shipping_fee": float(shipping_fee),
            "total": float(goods + shipping_fee),
            "original_price": float(goods + shipping_fee),
            "caution": caution,
            "shipper_phone": "",
            "status": 2,
            "city_id": 310100,
            "has_invoiced": 0,
            "invoice_title": "",
            "ctime": now,
            "utime": now,
            "delivery_time": 0,
            "is_third_shipping": 0,
            "pay_type": pay_type,
            "latitude": lat,
            "longitude": lon,
            "day_seq": len(self.orders) + 1,
            "detail": detail,
            "extras": [],
        }
        self.keep_order(order_id, order, datetime.fromtimestamp(now, SHANGHAI))
        params = self.order_params(order)
        if not push:
            return order_id
        if self.faults.out_of_order:
            with self.lock:
                self._held_back[order_id] = (params, now)
        else:
            self._send(order_id, params)
        return order_id

    def confirm(self, order_id: str) -> None:
        """The shop accepts in its own app (推送已确认订单, the whole order)."""
        self._send(order_id, self.order_params(self._change(order_id, status=4)))

    def complete(self, order_id: str) -> None:
        self._send(order_id, self.order_params(self._change(order_id, status=8)))

    def cancel(self, order_id: str, reason: str = "用户取消") -> None:
        """The buyer or customer service cancels (推送用户或客服取消订单)."""
        self._change(order_id, status=9)
        self._send(order_id, {"order_id": order_id, "reason_code": "1001", "reason": reason})

    def refund_apply(self, order_id: str) -> None:
        self._refund(order_id, "apply", res_type=0)

    def refund_reject(self, order_id: str) -> None:
        self._refund(order_id, "reject", res_type=1)

    def refund_agree(self, order_id: str) -> None:
        self._change(order_id, status=9)
        self._refund(order_id, "agree", res_type=2, change=False)

    def _refund(
        self, order_id: str, notify_type: str, *, res_type: int, change: bool = True
    ) -> None:
        if change:
            self._change(order_id)
        with self.lock:
            self.refunds[order_id] = notify_type
        self._send(
            order_id,
            {
                "order_id": order_id,
                "notify_type": notify_type,
                "reason": "不想要了",
                "res_type": str(res_type),
                "is_appeal": "0",
                "pictures": "",
            },
        )

    def _change(self, order_id: str, *, status: int | None = None) -> dict[str, Any]:
        with self.lock:
            order = self.orders[order_id]
            if status is not None:
                order["status"] = status
            order["utime"] = max(int(time.time()), int(order["utime"]) + 1)
            self.modified[order_id] = datetime.fromtimestamp(order["utime"], SHANGHAI)
            return dict(order)

    # -- pushing ------------------------------------------------------------------------------
    @staticmethod
    def order_params(order: dict[str, Any]) -> dict[str, str]:
        """An order as an order callback's parameters: every value as text, the foods and
        extras as JSON text."""
        params: dict[str, str] = {}
        for name, value in order.items():
            if isinstance(value, list | dict):
                params[name] = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
            else:
                params[name] = "" if value is None else str(value)
        return params

    def signed(
        self,
        params: dict[str, str],
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        url: str | None = None,
    ) -> dict[str, str]:
        """``params`` with ``app_id``, ``timestamp`` and the ``sig`` over the callback URL
        (``secret`` other than the app secret: a forged callback)."""
        signed = dict(
            params,
            app_id=self.app_id,
            timestamp=str(timestamp if timestamp is not None else int(time.time())),
        )
        signed[SIG] = sig(url or self.callback_url, signed, secret or self.secret)
        return signed

    def form(self, params: dict[str, str], **signing: Any) -> bytes:
        return urlencode(self.signed(params, **signing)).encode("utf-8")

    def _send(self, order_id: str, params: dict[str, str]) -> None:
        with self.lock:
            held = self._held_back.pop(order_id, None)
        body = self.form(params)
        headers = {"content-type": "application/x-www-form-urlencoded;charset=utf-8"}
        self.push(order_id, body, headers)
        if self.roll(self.faults.duplicate_rate):
            self.push(order_id, body, headers)
        if held is not None:  # the order's first callback arrives after its later one
            self.push(order_id, self.form(held[0]), headers)

    # -- the hub's calls ----------------------------------------------------------------------
    def _checked(self, request: SimRequest) -> dict[str, str] | SimResponse:
        params = request.form()
        given = params.pop(SIG, None)
        if params.get("app_id") != self.app_id:
            return self._refuse(request, 701, f"unknown app_id {params.get('app_id')!r}")
        try:
            skew = abs(time.time() - int(params.get("timestamp", "")))
        except ValueError:
            skew = float("inf")
        if skew > TIMESTAMP_WINDOW_SECONDS:
            return self._refuse(request, 701, "timestamp missing or out of range")
        if given != sig(self.url + request.path, params, self.secret):
            return self._refuse(request, 703, "签名验证错误")
        return params

    def _order_detail(self, request: SimRequest) -> SimResponse:
        params = self._checked(request)
        if isinstance(params, SimResponse):
            return params
        with self.lock:
            order = self.orders.get(params.get("order_id", ""))
            if order is None:
                return self._refuse(request, 808, "订单不存在")
            return SimResponse.json({"data": json.loads(json.dumps(order))})

    def _sku_stock(self, request: SimRequest) -> SimResponse:
        params = self._checked(request)
        if isinstance(params, SimResponse):
            return params
        if params.get("app_poi_code") != self.poi:
            return self._refuse(request, 701, f"unknown app_poi_code {params.get('app_poi_code')}")
        try:
            foods = json.loads(params.get("food_data", ""))
        except ValueError:
            return self._refuse(request, 701, "food_data is not JSON")
        updates: dict[str, int] = {}
        for entry in foods if isinstance(foods, list) else [None]:
            if not isinstance(entry, dict) or not isinstance(entry.get("skus"), list):
                return self._refuse(request, 701, "food_data entries need app_food_code, skus")
            for sku in entry["skus"]:
                food = self.foods.get(str(sku.get("sku_id"))) if isinstance(sku, dict) else None
                if food is None or food.app_food_code != entry.get("app_food_code"):
                    return self._refuse(request, 701, f"no such food/sku: {entry!r}")
                stock = str(sku.get("stock", ""))
                if not stock.isdigit():
                    return self._refuse(request, 701, f"stock must be a whole number: {stock!r}")
                updates[food.sku_id] = int(stock)
        for sku_id, qty in updates.items():
            self.set_stock(sku_id, qty)
        return SimResponse.json({"data": "ok"})

    def _confirm(self, request: SimRequest) -> SimResponse:
        params = self._checked(request)
        if isinstance(params, SimResponse):
            return params
        with self.lock:
            order = self.orders.get(params.get("order_id", ""))
            if order is None or order["status"] not in (2, 3, 4):
                return self._refuse(
                    request, 808, f"订单 {params.get('order_id')} 不存在或状态不允许确认"
                )
            order["status"] = 4
            self.confirmed.append(params["order_id"])
        return SimResponse.json({"data": "ok"})

    def _prepared(self, request: SimRequest) -> SimResponse:
        params = self._checked(request)
        if isinstance(params, SimResponse):
            return params
        with self.lock:
            order = self.orders.get(params.get("order_id", ""))
            if order is None or order["status"] != 4:
                return self._refuse(
                    request, 808, f"订单 {params.get('order_id')} 不存在或状态不允许"
                )
            self.prepared.append(params["order_id"])
        return SimResponse.json({"data": "ok"})

    def _refuse(self, request: SimRequest, code: int, message: str) -> SimResponse:
        with self.lock:
            self.refused.append((request.path, f"{code}: {message}"))
        return _error(code, message)

    # -- the platform's own error answers -----------------------------------------------------
    def rate_limit_answer(self, request: SimRequest) -> SimResponse:
        return _error(711, "调用频率超过限制")

    def error_answer(self, request: SimRequest) -> SimResponse:
        return _error(700, "系统繁忙，请稍后重试")


def _error(code: int, message: str) -> SimResponse:
    return SimResponse.json({"data": "ng", "error": {"code": code, "msg": message}})
