"""A local stand-in of the JD open platform's router (``/routerjson``) for the calls the hub
makes: ``jingdong.pop.order.search`` (orders by modified time, paged), ``jingdong.pop.order.get``,
``jingdong.stock.write.updateSkuStock`` and ``jingdong.pop.order.shipment``. Every call's
signature, timestamp and shape is checked; errors come back as JD's ``error_response``.

Written from JOS's documents, not from the adapter:

- a router call carries ``method``, ``app_key``, ``access_token``, ``timestamp``
  ("yyyy-MM-dd HH:mm:ss", Beijing time), ``v`` and the business parameters as one JSON string,
  ``360buy_param_json``; ``sign`` is the upper-case hex MD5 of ``secret + name1value1name2value2
  ... + secret`` over the other parameters sorted by name (签名算法, jos.jd.com commondoc 33);
- the gateway's error table (网关系统错误码): 2 App Call Limited, 4 Missing Version, 7 Missing
  Timestamp, 8 Invalid Timestamp (the gateway allows a client six minutes off), 11 Missing
  Signature, 12 Invalid Signature, 14 Missing Method, 15 Invalid Method, 18 Missing
  access_token, 19 Invalid access_token, 20 Missing app_key, 21 Invalid app_key. 66 (bad
  business parameters) and 67 (system busy) are this simulator's own choice;
- answers under ``<method with _>_responce`` (JD spells it so), a business failure as
  ``success: false`` in the result;
- the POP order states (``orderState``) and the ``orderInfo`` fields of the order APIs;
- a relay pushing an order to the hub signs it the same way over its query parameters
  (``app_key``, ``timestamp``, ``msg_id``) with the raw body appended to the text.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from omnihub.platforms.local_time import SHANGHAI, local_text
from omnihub.simulators.base import PlatformSimulator, SimRequest, SimResponse

ROUTER = "/routerjson"
SEARCH = "jingdong.pop.order.search"
GET = "jingdong.pop.order.get"
STOCK = "jingdong.stock.write.updateSkuStock"
SHIPMENT = "jingdong.pop.order.shipment"
#: how far a call's timestamp may be from the gateway's clock
TIMESTAMP_WINDOW = timedelta(minutes=6)
RATE_LIMITED = "2"
SYSTEM_BUSY = "67"
#: ``logiCoprId`` of 厂家自送 (the seller delivers): the one company that needs no ``logiNo``
SELF_DELIVERY = "1274"
#: the POP order states (``orderState``); a search without ``order_state`` serves them all
ORDER_STATES = (
    "NOT_PAY",
    "WAIT_SELLER_STOCK_OUT",
    "WAIT_SELLER_DELIVERY",
    "WAIT_SEND_CODE",
    "LOCKED",
    "POP_ORDER_PAUSE",
    "PAUSE",
    "WAIT_GOODS_RECEIVE_CONFIRM",
    "FINISHED_L",
    "TRADE_CANCELED",
)

ERRORS: dict[str, tuple[str, str]] = {
    "2": ("限制时间内调用失败次数", "App Call Limited"),
    "4": ("缺少版本参数", "Missing Version"),
    "7": ("缺少时间戳参数", "Missing Timestamp"),
    "8": ("非法的时间戳参数", "Invalid Timestamp"),
    "11": ("缺少签名参数", "Missing Signature"),
    "12": ("无效签名", "Invalid Signature"),
    "14": ("缺少方法名参数", "Missing Method"),
    "15": ("不存在的方法名", "Invalid Method"),
    "18": ("缺少access_token参数", "Missing access_token"),
    "19": ("无效access_token", "Invalid access_token"),
    "20": ("缺少app_key参数", "Missing app_key"),
    "21": ("无效app_key", "Invalid app_key"),
    "66": ("业务参数错误", "Invalid Business Parameters"),
    "67": ("系统繁忙", "System Busy"),
}

_SHIPPABLE = frozenset({"WAIT_SELLER_STOCK_OUT", "WAIT_SELLER_DELIVERY"})


def jd_time(moment: datetime) -> str:
    """A moment as JD writes times: Beijing local time to the second, no offset."""
    return local_text(moment)


def jd_datetime(value: Any) -> datetime:
    """A JD time ("yyyy-MM-dd HH:mm:ss", Beijing time); ``ValueError`` if it is not one."""
    return datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)


def jos_sign(secret: str, params: Mapping[str, str], body: bytes = b"") -> str:
    """``sign``: upper-case hex MD5 of the secret, the parameters sorted by name as
    ``name1value1...`` (``sign`` and empty values left out), the raw body if any, the secret."""
    text = "".join(f"{k}{params[k]}" for k in sorted(params) if k != "sign" and params[k] != "")
    payload = secret.encode() + text.encode() + body + secret.encode()
    return hashlib.md5(payload).hexdigest().upper()


def error(code: str, detail: str = "") -> SimResponse:
    """JD's gateway error answer (HTTP 200, as JD sends it)."""
    zh, en = ERRORS[code]
    return SimResponse.json(
        {
            "error_response": {
                "code": code,
                "zh_desc": zh + (f": {detail}" if detail else ""),
                "en_desc": en + (f": {detail}" if detail else ""),
            }
        }
    )


def ok(method: str, result: dict[str, Any]) -> SimResponse:
    return SimResponse.json({method.replace(".", "_") + "_responce": {"code": "0", **result}})


class JdSimulator(PlatformSimulator):
    """JD's router for one vender. ``add_item`` puts a product on sale, ``create_order`` and
    ``update_order`` write ``orderInfo`` objects as JD holds them, ``signed_push`` signs an order
    the way a relay pushes it to the hub."""

    name = "jd"

    def __init__(
        self,
        *,
        secret: str = "jd-sim-app-secret-0001",
        app_key: str = "jd-sim-app",
        access_token: str = "jd-sim-token",
        vender_id: str = "10000001",
        seed: int = 7,
    ) -> None:
        super().__init__(secret=secret, seed=seed)
        self.app_key = app_key
        self.access_token = access_token
        self.vender_id = vender_id
        self.items: dict[str, dict[str, str]] = {}
        """channel SKU (outerSkuId, else skuId) -> the item JD sells"""
        self.history: dict[str, list[dict[str, Any]]] = {}
        """order id -> its earlier snapshots (served, stale, when out_of_order is on)"""
        self.ids = itertools.count(300_000_000_001)
        self.route("POST", ROUTER, self._router)
        self.route("GET", ROUTER, self._router)

    @property
    def credentials(self) -> dict[str, Any]:
        """What a hub channel pointing at this simulator needs in ``credentials``."""
        return {
            "app_key": self.app_key,
            "access_token": self.access_token,
            "skus": {
                outer: item["skuId"] for outer, item in self.items.items() if item.get("outerSkuId")
            },
        }

    # -- the catalogue and the orders -------------------------------------------------------
    def add_item(self, outer_sku_id: str | None, sku_id: str, price: str = "59.00") -> str:
        """A product on sale; returns its channel SKU (``outerSkuId`` else ``skuId``)."""
        identity = outer_sku_id or sku_id
        with self.lock:
            self.items[identity] = {
                "skuId": sku_id,
                "outerSkuId": outer_sku_id or "",
                "wareId": str(10_000_000_000 + int(sku_id) % 10_000_000),
                "jdPrice": price,
            }
        return identity

    def create_order(
        self,
        lines: list[tuple[str, int]],
        *,
        state: str = "WAIT_SELLER_STOCK_OUT",
        at: datetime | None = None,
        seller_discount: str = "0.00",
        freight: str = "0.00",
        jd_discount: str = "0.00",
        remark: str = "",
        order_id: str | None = None,
    ) -> str:
        """A new order as JD holds it; ``lines`` are (channel SKU, units); ``jd_discount`` is
        what JD's own coupons take off the buyer's payment."""
        moment = _second(at or datetime.now(UTC))
        order_id = order_id or str(next(self.ids))
        items = []
        for identity, units in lines:
            item = self.items.get(identity) or {
                "skuId": identity if identity.isdigit() else str(900_000 + len(self.items)),
                "outerSkuId": "" if identity.isdigit() else identity,
                "wareId": "1",
                "jdPrice": "10.00",
            }
            items.append(
                {
                    "skuId": item["skuId"],
                    "wareId": item["wareId"],
                    "outerSkuId": item["outerSkuId"],
                    "skuName": f"演示商品 {identity}",
                    "itemTotal": str(units),
                    "jdPrice": item["jdPrice"],
                    "giftPoint": "0",
                    "newStoreId": "0",
                    "itemExt": json.dumps({"isVMI": 0, "newStoreId": "0"}),
                }
            )
        goods = sum(float(i["jdPrice"]) * int(i["itemTotal"]) for i in items)
        payment = goods + float(freight) - float(seller_discount) - float(jd_discount)
        paid = state != "NOT_PAY"
        native = {
            "orderId": order_id,
            "venderId": self.vender_id,
            "orderType": "22",
            "payType": "4-在线支付",
            "orderTotalPrice": f"{goods:.2f}",
            "orderSellerPrice": f"{goods - float(seller_discount):.2f}",
            "orderPayment": f"{payment:.2f}",
            "freightPrice": freight,
            "sellerDiscount": seller_discount,
            "balanceUsed": "0.00",
            "orderState": state,
            "orderStateRemark": "",
            "deliveryType": "任意时间",
            "invoiceInfo": "不需要开具发票",
            "orderRemark": remark,
            "venderRemark": "",
            "orderStartTime": jd_time(moment),
            "paymentConfirmTime": jd_time(moment) if paid else "",
            "modified": jd_time(moment),
            "pin": f"jd_{self.rng.getrandbits(40):010x}",
            "returnOrder": "0",
            "storeOrder": "",
            "storeId": "0",
            "sendpayMap": json.dumps({"34": "3", "62": "1"}),
            "consigneeInfo": self._consignee(),
            "itemInfoList": items,
        }
        self.keep_order(order_id, native, moment)
        return order_id

    def update_order(
        self, order_id: str, *, state: str | None = None, at: datetime | None = None, **fields: Any
    ) -> dict[str, Any]:
        """A later state of an order (JD moves ``modified`` on every change, one second at least
        past the last one)."""
        with self.lock:
            before = self.orders[order_id]
            moment = _second(at or datetime.now(UTC))
            moment = max(moment, self.modified[order_id] + timedelta(seconds=1))
            after: dict[str, Any] = json.loads(json.dumps(before))
            if state is not None:
                after["orderState"] = state
                if state != "NOT_PAY" and not after.get("paymentConfirmTime"):
                    after["paymentConfirmTime"] = jd_time(moment)
            after.update(fields)
            after["modified"] = jd_time(moment)
            self.history.setdefault(order_id, []).append(before)
            self.keep_order(order_id, after, moment)
            return after

    def add_raw(self, order_id: str, native: dict[str, Any], at: datetime | None = None) -> None:
        """An order exactly as given (e.g. one the hub cannot read), served like the others."""
        self.keep_order(order_id, native, _second(at or datetime.now(UTC)))

    def signed_push(
        self,
        native: dict[str, Any],
        *,
        msg_id: str | None = None,
        at: datetime | None = None,
        secret: str | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """An order as a relay pushes it to the hub: (raw body, query with ``sign``)."""
        body = json.dumps(native, ensure_ascii=False).encode()
        query = {"app_key": self.app_key, "timestamp": jd_time(at or datetime.now(UTC))}
        if msg_id:
            query["msg_id"] = msg_id
        query["sign"] = jos_sign(secret or self.secret, query, body)
        return body, query

    def push_order(self, order_id: str, *, msg_id: str | None = None) -> int:
        with self.lock:
            native = self.orders[order_id]
        body, query = self.signed_push(native, msg_id=msg_id)
        return self.push(
            order_id, body, {"content-type": "application/json"}, path="/orders?" + urlencode(query)
        )

    def _consignee(self) -> dict[str, Any]:
        """JD's encrypted consignee (since 2022): ciphertext name and address, masked mobile."""

        def cipher() -> str:
            return "AAS" + base64.b64encode(self.rng.randbytes(48)).decode()

        digest = hashlib.sha256(self.rng.randbytes(8)).hexdigest()
        return {
            "fullname": cipher(),
            "fullAddress": cipher(),
            "mobile": "138*******1",
            "telephone": "138*******1",
            "province": "上海",
            "city": "上海市",
            "county": "静安区",
            "town": "静安寺街道",
            "provinceId": "2",
            "cityId": "2813",
            "countyId": "51976",
            "desen_mobile": digest,
            "desen_telephone": digest,
        }

    # -- the platform's error answers ---------------------------------------------------------
    def rate_limit_answer(self, request: SimRequest) -> SimResponse:
        return error(RATE_LIMITED)

    def error_answer(self, request: SimRequest) -> SimResponse:
        return error(SYSTEM_BUSY)

    # -- the router ---------------------------------------------------------------------------
    def _router(self, request: SimRequest) -> SimResponse:
        params = request.form()
        for name, code in (("method", "14"), ("v", "4"), ("timestamp", "7"), ("sign", "11")):
            if not params.get(name):
                return self._refused(request, code, f"no {name}")
        for name, code in (("app_key", "20"), ("access_token", "18")):
            if not params.get(name):
                return self._refused(request, code, f"no {name}")
        if params["app_key"] != self.app_key:
            return self._refused(request, "21")
        if params["access_token"] != self.access_token:
            return self._refused(request, "19")
        if params["sign"] != jos_sign(self.secret, params):
            return self._refused(request, "12")
        try:
            sent = jd_datetime(params["timestamp"])
        except ValueError:
            return self._refused(request, "8", params["timestamp"])
        if abs(datetime.now(UTC) - sent) > TIMESTAMP_WINDOW:
            return self._refused(request, "8", params["timestamp"])
        try:
            business = json.loads(params.get("360buy_param_json") or "{}")
        except ValueError:
            return self._refused(request, "66", "360buy_param_json is not JSON")
        if not isinstance(business, dict):
            return self._refused(request, "66", "360buy_param_json is not an object")
        handler = {
            SEARCH: self._search,
            GET: self._get,
            STOCK: self._stock,
            SHIPMENT: self._shipment,
        }.get(params["method"])
        if handler is None:
            return self._refused(request, "15", params["method"])
        try:
            return handler(request, business)
        except (KeyError, ValueError, TypeError) as exc:
            return self._refused(request, "66", f"{type(exc).__name__}: {exc}")

    def _refused(self, request: SimRequest, code: str, detail: str = "") -> SimResponse:
        with self.lock:
            self.refused.append((request.path, f"{code} {ERRORS[code][1]} {detail}".strip()))
        return error(code, detail)

    def _search(self, request: SimRequest, business: dict[str, Any]) -> SimResponse:
        start = jd_datetime(business["start_date"])
        end = jd_datetime(business["end_date"])
        page, size = int(business.get("page", 1)), int(business.get("page_size", 20))
        if page < 1 or not 1 <= size <= 100:
            return self._refused(request, "66", "page >= 1, page_size 1..100")
        if str(business.get("dateType", "0")) != "0":
            return self._refused(request, "66", "the simulator serves dateType 0 (modified)")
        states = set(str(business.get("order_state") or ",".join(ORDER_STATES)).split(","))
        with self.lock:
            chosen = sorted(
                (m, i)
                for i, m in self.modified.items()
                if start <= m <= end and str(self.orders[i].get("orderState")) in states
            )
            total = len(chosen)
            entries: list[Any] = []
            for _, order_id in chosen[(page - 1) * size : page * size]:
                entries.append(self.orders[order_id])
                if self.faults.duplicate_rate and self.rng.random() < self.faults.duplicate_rate:
                    entries.append(self.orders[order_id])
                if self.faults.out_of_order and self.history.get(order_id):
                    entries.append(self.history[order_id][-1])  # a stale copy after the new
        return ok(
            SEARCH,
            {
                "searchorderinfo_result": {
                    "orderInfoList": entries,
                    "orderTotal": total,
                    "apiResult": {
                        "success": True,
                        "englishErrCode": "success",
                        "chineseErrCode": "成功",
                    },
                }
            },
        )

    def _get(self, request: SimRequest, business: dict[str, Any]) -> SimResponse:
        with self.lock:
            native = self.orders.get(str(business["order_id"]))
        if native is None:
            return ok(
                GET,
                {
                    "orderDetailInfo": {
                        "apiResult": {
                            "success": False,
                            "englishErrCode": "order not found",
                            "chineseErrCode": "订单不存在",
                        }
                    }
                },
            )
        return ok(GET, {"orderDetailInfo": {"orderInfo": native, "apiResult": {"success": True}}})

    def _stock(self, request: SimRequest, business: dict[str, Any]) -> SimResponse:
        sku_id, units = business["skuId"], business["stockNum"]
        if not isinstance(sku_id, int) or not isinstance(units, int) or units < 0:
            return self._refused(request, "66", "skuId and stockNum must be whole numbers")
        with self.lock:
            identity = next((k for k, v in self.items.items() if v["skuId"] == str(sku_id)), None)
        if identity is None:
            with self.lock:
                self.refused.append((request.path, f"unknown skuId {sku_id}"))
            return ok(STOCK, {"success": False, "errorMessage": f"SKU {sku_id} 不存在"})
        self.set_stock(identity, units)
        return ok(STOCK, {"success": True})

    def _shipment(self, request: SimRequest, business: dict[str, Any]) -> SimResponse:
        order_id = str(business["orderId"])
        company = str(business.get("logiCoprId") or "")
        number = str(business.get("logiNo") or "")
        if not company.isdigit() or (not number and company != SELF_DELIVERY):
            return self._refused(request, "66", "logiCoprId (digits) and logiNo are required")
        with self.lock:
            native = self.orders.get(order_id)
            state = native.get("orderState") if native else None
        if state not in _SHIPPABLE:
            with self.lock:
                self.refused.append((request.path, f"order {order_id} is {state}"))
            return ok(
                SHIPMENT,
                {
                    "sopjosshipment_result": {
                        "success": False,
                        "englishErrCode": "order state error",
                        "chineseErrCode": f"订单状态不正确: {state}",
                    }
                },
            )
        self.update_order(order_id, state="WAIT_GOODS_RECEIVE_CONFIRM")
        self.record_shipment({"orderId": order_id, "logiCoprId": company, "logiNo": number})
        return ok(
            SHIPMENT,
            {
                "sopjosshipment_result": {
                    "success": True,
                    "englishErrCode": "success",
                    "chineseErrCode": "成功",
                }
            },
        )


def _second(moment: datetime) -> datetime:
    """JD keeps times to the second."""
    return moment.astimezone(UTC).replace(microsecond=0)
