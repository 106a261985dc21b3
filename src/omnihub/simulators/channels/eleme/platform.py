"""A local stand-in of the 饿了么 open platform for one shop.

It creates orders in the platform's format and pushes them to the hub as signed message
envelopes (type 10 with the whole order, then the state and refund messages that only name
it), answers ``eleme.order.getOrder`` with the order as it stands, and receives the hub's
calls on its JSON API (``POST /api/v1/``): ``batchUpdateStock``, ``confirmOrderLite``,
``setOrderPrepared``, ``cancelOrderLite``, each checked for its signature, token and shape.
Errors are answered the platform's way, HTTP 200 with ``{"id", "result": null, "error":
{"code", "message"}}``: ``EXCEED_LIMIT`` for the rate-limit fault, ``SERVER_ERROR`` for the
error fault, ``INVALID_SIGNATURE``/``UNAUTHORIZED``/``VALIDATION_FAILED`` for bad calls.

Choices of this stand-in (the real platform may differ): a call that accepts or packs an
order changes its state here but pushes no message back; a stock value is kept under the
item's merchant code (``extendCode``), the channel SKU the hub maps.

Written from the platform's documents and SDKs, not from the adapter:

- a push envelope ``{"requestId", "type", "appId", "message", "shopId", "timestamp",
  "signature", "userId"}`` is signed over its seven other fields: sorted by name, each written
  ``name=value`` (the value as text, ``message`` the JSON string it is), joined with nothing,
  the app secret appended, MD5, upper-case hex (the SDKs' ``CallbackValidationUtil``);
- an API call ``{"nop": "1.0.0", "id", "action", "token", "metas": {"app_key", "timestamp"},
  "params", "signature"}`` is signed over ``metas`` and ``params`` together: each entry
  written ``name=<JSON of the value>``, those strings sorted and joined with nothing, and
  ``action + token + that + secret`` hashed with MD5, upper-case hex (the signing guide's
  steps, and the Python SDK's ``generate_signature``; the Java SDK sorts by name instead,
  which only differs for a name followed by a character below ``=``, none of the calls here);
- times in orders are local (Asia/Shanghai) without an offset; ``timestamp`` of a push is Unix
  milliseconds; order states ``unprocessed``, ``valid``, ``invalid``, ``settled``,
  ``refunding``; refund states ``noRefund``, ``applied``, ``rejected``, ``successful``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from omnihub.platforms.local_time import SHANGHAI
from omnihub.simulators.base import PlatformSimulator, SimRequest, SimResponse

API_PATH = "/api/v1/"
#: how far a call's metas.timestamp may be from the platform's clock
TIMESTAMP_WINDOW_SECONDS = 600


#: the envelope fields a push signature covers
SIGNED_FIELDS = ("appId", "message", "requestId", "shopId", "timestamp", "type", "userId")


def _text(value: Any) -> str:
    """A value as the SDKs append it to the string they sign (Java's ``toString``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def push_signature(envelope: dict[str, Any], secret: str) -> str:
    """The ``signature`` of a push envelope."""
    signed = "".join(f"{name}={_text(envelope.get(name))}" for name in sorted(SIGNED_FIELDS))
    return hashlib.md5((signed + secret).encode("utf-8")).hexdigest().upper()


def api_signature(
    action: str, token: str, metas: dict[str, Any], params: dict[str, Any], secret: str
) -> str:
    """The ``signature`` of an API call, as the platform's signing guide lays it out: every
    entry of ``metas`` and ``params`` written ``name=<JSON of the value>``, the strings sorted,
    joined with nothing, between ``action + token`` and the secret."""
    merged = {**params, **metas}
    entries = sorted(
        f"{name}={json.dumps(value, ensure_ascii=False, separators=(',', ':'))}"
        for name, value in merged.items()
    )
    return (
        hashlib.md5((action + token + "".join(entries) + secret).encode("utf-8"))
        .hexdigest()
        .upper()
    )


@dataclass(frozen=True)
class Item:
    extend_code: str
    item_id: int
    spec_id: int
    name: str
    price: Decimal


#: the demo retailer's goods as listed in the shop (merchant codes are the retailer's SKUs)
DEMO_ITEMS = (
    Item("TEE-WHITE-M", 5100001, 7100001, "白色T恤 M", Decimal("59.00")),
    Item("MUG-CERAMIC-350", 5100002, 7100002, "陶瓷马克杯 350ml", Decimal("39.00")),
    Item("CAP-NAVY", 5100003, 7100003, "藏青棒球帽", Decimal("79.00")),
)


class ElemeSimulator(PlatformSimulator):
    name = "eleme"

    def __init__(
        self,
        *,
        secret: str = "eleme-app-secret",
        seed: int = 7,
        shop_id: int = 160001,
        app_id: int = 30001,
        app_key: str = "eleme-app-key",
        token: str = "eleme-shop-token",
        items: tuple[Item, ...] = DEMO_ITEMS,
    ) -> None:
        super().__init__(secret=secret, seed=seed)
        self.shop_id = shop_id
        self.app_id = app_id
        self.app_key = app_key
        self.token = token
        self.items = {item.extend_code: item for item in items}
        self.by_spec = {item.spec_id: item for item in items}
        self.user_id = 98587250597500001
        self.accepted: list[str] = []
        """orders the hub accepted (confirmOrderLite)"""
        self.prepared: list[str] = []
        self.cancelled_by_hub: list[str] = []
        self._held_back: dict[str, bytes] = {}
        self._order_ids = itertools.count(3000000000000000001)
        self.route("POST", API_PATH, self._api)

    # -- what the hub needs to know -----------------------------------------------------------
    @property
    def api_url(self) -> str:
        return self.url + API_PATH

    def credentials(self, store: str) -> dict[str, Any]:
        """The channel credentials that point the hub at this shop, served by ``store``."""
        return {
            "shops": {str(self.shop_id): store},
            "app_key": self.app_key,
            "token": self.token,
            "app_id": self.app_id,
            "specs": {code: item.spec_id for code, item in self.items.items()},
        }

    # -- orders -------------------------------------------------------------------------------
    def place_order(
        self,
        lines: list[tuple[str, int]],
        *,
        lat: float = 31.2281,
        lon: float = 121.4540,
        address: str = "上海市静安区南京西路1601号",
        consignee: str = "王 先生",
        phone: str = "138****0001",
        description: str = "",
        online_paid: bool = True,
        deliver_fee: Decimal = Decimal("5.00"),
        unknown_item: str | None = None,
        push: bool = True,
    ) -> str:
        """A buyer's order becomes effective: kept and pushed as a type-10 message, unless
        ``push`` is false (the caller sends it). With the ``out_of_order`` fault the message is
        held back until the order's next message."""
        order_id = str(next(self._order_ids))
        now = _local_now()
        items = []
        for code, qty in lines:
            item = self.items[code]
            items.append(
                _basket_item(
                    item.item_id, item.spec_id, item.name, item.price, qty, item.extend_code
                )
            )
        if unknown_item:
            items.append(
                _basket_item(5199999, 7199999, unknown_item, Decimal("9.90"), 1, unknown_item)
            )
        goods = sum((Decimal(str(i["total"])) for i in items), Decimal("0"))
        order = {
            "id": order_id,
            "orderId": order_id,
            "address": address,
            "createdAt": now,
            "activeAt": now,
            "deliverFee": float(deliver_fee),
            "deliverTime": None,
            "description": description,
            "groups": [{"name": "1号篮子", "type": "normal", "items": items}],
            "invoice": None,
            "book": False,
            "onlinePaid": online_paid,
            "phoneList": [phone],
            "shopId": self.shop_id,
            "shopName": "omnihub 静安店",
            "daySn": len(self.orders) + 1,
            "status": "unprocessed",
            "refundStatus": "noRefund",
            "userId": self.user_id,
            "totalPrice": float(goods + deliver_fee),
            "originalPrice": float(goods + deliver_fee),
            "consignee": consignee,
            "deliveryGeo": f"{lon},{lat}",
            "deliveryPoiAddress": address,
            "invoiced": False,
            "income": float(goods),
            "serviceRate": 0.0,
            "serviceFee": 0.0,
            "hongbao": 0.0,
            "packageFee": 0.0,
            "activityTotal": 0.0,
            "shopPart": 0.0,
            "elemePart": 0.0,
            "downgraded": False,
        }
        self.keep_order(order_id, order, datetime.now(SHANGHAI))
        if not push:
            return order_id
        body = self.envelope(10, order)
        if self.faults.out_of_order:
            with self.lock:
                self._held_back[order_id] = body
        else:
            self._send(order_id, body)
        return order_id

    def accept(self, order_id: str) -> None:
        """The shop accepts the order in its own app (商户接单, type 12)."""
        self._change(order_id, 12, status="valid")

    def cancel(self, order_id: str) -> None:
        """The order is cancelled: before acceptance (type 14) or made invalid after (15)."""
        kind = 14 if self.orders[order_id]["status"] == "unprocessed" else 15
        self._change(order_id, kind, status="invalid")

    def request_cancel(self, order_id: str) -> None:
        """The buyer asks to cancel the order (用户申请取消单, type 20)."""
        self._change(order_id, 20, status="refunding", refund="applied")

    def reject_cancel(self, order_id: str) -> None:
        self._change(order_id, 22, status="valid", refund="rejected")

    def agree_cancel(self, order_id: str) -> None:
        self._change(order_id, 23, status="invalid", refund="successful")

    def complete(self, order_id: str) -> None:
        self._change(order_id, 18, status="settled")

    def _change(self, order_id: str, kind: int, *, status: str, refund: str | None = None) -> None:
        with self.lock:
            order = self.orders[order_id]
            order["status"] = status
            if refund is not None:
                order["refundStatus"] = refund
            self.modified[order_id] = datetime.now(SHANGHAI)
            held = self._held_back.pop(order_id, None)
        message: dict[str, Any] = {
            "orderId": order_id,
            "shopId": self.shop_id,
            "updateTime": int(time.time()),
        }
        if refund is None:
            message.update(state=status, role=2)
        else:
            message.update(
                refundStatus=refund, reason="不想要了", goodsList=[], refundType="normal"
            )
        self._send(order_id, self.envelope(kind, message))
        if held is not None:  # the order's first message arrives after its later one
            self._send(order_id, held)

    # -- pushing ------------------------------------------------------------------------------
    def envelope(
        self,
        kind: int,
        message: dict[str, Any],
        *,
        timestamp_ms: int | None = None,
        request_id: str | None = None,
        secret: str | None = None,
    ) -> bytes:
        """A signed push envelope (``secret`` other than the app secret: a forged one)."""
        raw: dict[str, Any] = {
            "requestId": request_id or uuid.uuid4().hex,
            "type": kind,
            "appId": self.app_id,
            "message": json.dumps(message, ensure_ascii=False, separators=(",", ":")),
            "shopId": self.shop_id,
            "timestamp": timestamp_ms if timestamp_ms is not None else int(time.time() * 1000),
            "userId": self.user_id,
        }
        raw["signature"] = push_signature(raw, secret or self.secret)
        return json.dumps(raw, ensure_ascii=False).encode("utf-8")

    def _send(self, order_id: str, body: bytes) -> None:
        headers = {"content-type": "application/json; charset=utf-8"}
        self.push(order_id, body, headers)
        if self.roll(self.faults.duplicate_rate):
            self.push(order_id, body, headers)

    # -- the hub's calls ----------------------------------------------------------------------
    def _api(self, request: SimRequest) -> SimResponse:
        try:
            call = request.json()
        except ValueError:
            return self._refuse(None, "ILLEGAL_REQUEST", "the body is not JSON")
        if not isinstance(call, dict):
            return self._refuse(None, "ILLEGAL_REQUEST", "the body is not a JSON object")
        request_id = call.get("id")
        action, token = call.get("action"), call.get("token")
        metas, params = call.get("metas"), call.get("params")
        if (
            call.get("nop") != "1.0.0"
            or not isinstance(action, str)
            or not isinstance(metas, dict)
            or not isinstance(params, dict)
        ):
            return self._refuse(
                request_id, "ILLEGAL_REQUEST", "nop, action, metas and params are required"
            )
        if token != self.token or metas.get("app_key") != self.app_key:
            return self._refuse(request_id, "UNAUTHORIZED", "unknown app_key or token")
        expected = api_signature(action, token, metas, params, self.secret)
        if str(call.get("signature", "")).upper() != expected:
            return self._refuse(request_id, "INVALID_SIGNATURE", "签名错误")
        try:
            skew = abs(time.time() - int(str(metas.get("timestamp"))))
        except (TypeError, ValueError):
            skew = float("inf")
        if skew > TIMESTAMP_WINDOW_SECONDS:
            return self._refuse(request_id, "INVALID_TIMESTAMP", "timestamp out of range")
        handler = {
            "eleme.order.getOrder": self._get_order,
            "eleme.product.item.batchUpdateStock": self._update_stock,
            "eleme.order.confirmOrderLite": self._confirm,
            "eleme.order.setOrderPrepared": self._prepared,
            "eleme.order.cancelOrderLite": self._cancel_by_hub,
        }.get(action)
        if handler is None:
            return self._refuse(request_id, "METHOD_NOT_ALLOWED", f"no action {action}")
        try:
            result = handler(params)
        except _Refused as exc:
            return self._refuse(request_id, exc.code, exc.message)
        return SimResponse.json({"id": request_id, "result": result, "error": None})

    def _order(self, params: dict[str, Any]) -> dict[str, Any]:
        order = self.orders.get(str(params.get("orderId")))
        if order is None:
            raise _Refused("VALIDATION_FAILED", f"订单不存在: {params.get('orderId')}")
        return order

    def _get_order(self, params: dict[str, Any]) -> Any:
        with self.lock:
            return json.loads(json.dumps(self._order(params)))

    def _update_stock(self, params: dict[str, Any]) -> Any:
        stock_map = params.get("stockMap")
        if not isinstance(stock_map, dict) or not stock_map:
            raise _Refused("VALIDATION_FAILED", "stockMap must map spec ids to quantities")
        updates = {}
        for spec, qty in stock_map.items():
            item = self.by_spec.get(int(spec)) if str(spec).isdigit() else None
            if item is None:
                raise _Refused("VALIDATION_FAILED", f"规格不存在: {spec}")
            if isinstance(qty, bool) or not isinstance(qty, int) or qty < 0:
                raise _Refused("VALIDATION_FAILED", f"库存必须是非负整数: {qty!r}")
            updates[item.extend_code] = qty
        for code, qty in updates.items():
            self.set_stock(code, qty)
        return None

    def _confirm(self, params: dict[str, Any]) -> Any:
        with self.lock:
            order = self._order(params)
            if order["status"] not in ("unprocessed", "valid"):
                raise _Refused(
                    "VALIDATION_FAILED", f"订单 {order['orderId']} 状态 {order['status']} 不能接单"
                )
            order["status"] = "valid"
            self.accepted.append(order["orderId"])
        return None

    def _prepared(self, params: dict[str, Any]) -> Any:
        with self.lock:
            order = self._order(params)
            if order["status"] != "valid":
                raise _Refused(
                    "VALIDATION_FAILED", f"订单 {order['orderId']} 状态 {order['status']} 不能出餐"
                )
            self.prepared.append(order["orderId"])
        return None

    def _cancel_by_hub(self, params: dict[str, Any]) -> Any:
        with self.lock:
            order = self._order(params)
            order["status"] = "invalid"
            self.cancelled_by_hub.append(order["orderId"])
        return None

    def _refuse(self, request_id: Any, code: str, message: str) -> SimResponse:
        with self.lock:
            self.refused.append((API_PATH, f"{code}: {message}"))
        return _error(request_id, code, message)

    # -- the platform's own error answers -----------------------------------------------------
    def rate_limit_answer(self, request: SimRequest) -> SimResponse:
        return _error(_request_id(request), "EXCEED_LIMIT", "调用频率超过限制")

    def error_answer(self, request: SimRequest) -> SimResponse:
        return _error(_request_id(request), "SERVER_ERROR", "服务器错误")


class _Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _error(request_id: Any, code: str, message: str) -> SimResponse:
    return SimResponse.json(
        {"id": request_id, "result": None, "error": {"code": code, "message": message}}
    )


def _request_id(request: SimRequest) -> Any:
    try:
        return request.json().get("id")
    except (ValueError, AttributeError):
        return None


def _basket_item(
    item_id: int, spec_id: int, name: str, price: Decimal, qty: int, extend_code: str
) -> dict[str, Any]:
    return {
        "id": item_id,
        "skuId": spec_id,
        "name": name,
        "categoryId": 1,
        "price": float(price),
        "quantity": qty,
        "total": float(price * qty),
        "additions": [],
        "extendCode": extend_code,
        "barCode": "",
    }


def _local_now() -> str:
    """Now as the platform writes times: local (Asia/Shanghai), no offset."""
    return datetime.now(SHANGHAI).replace(microsecond=0, tzinfo=None).isoformat()
