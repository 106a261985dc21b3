"""A local stand-in of Pinduoduo's open-platform router (``/api/router``) for the calls the hub
makes: ``pdd.order.number.list.increment.get`` (orders by ``updated_at`` window, paged),
``pdd.order.information.get``, ``pdd.goods.quantity.update`` and
``pdd.logistics.online.send``. Every call's signature, timestamp and shape is checked; errors
come back as PDD's ``{"error_response": {"error_code", "error_msg", "sub_code", ...}}``.

Error codes: 70031 (calls too frequent) is the platform's rate-limit code; the others
(10000 bad parameters, 10001 no such API, 10016 bad client_id or access_token, 10019 bad
sign, 10020 stale timestamp, 50001 system busy) are this simulator's own choice.

Written from the open platform's documents, not from the adapter: a call carries ``type`` (the
API), ``client_id``, ``access_token``, ``timestamp`` (Unix seconds), ``data_type``,
``version`` and its business parameters as plain parameters; ``sign`` is the upper-case hex
MD5 of ``client_secret + name1value1name2value2... + client_secret`` over every other
parameter sorted by name (签名算法). Times in orders are "yyyy-MM-dd HH:mm:ss", Beijing time;
money in yuan as numbers; ``order_status`` 1 待发货 / 2 已发货待签收 / 3 已签收,
``refund_status`` 1 无售后或售后关闭 / 2 售后处理中 / 3 退款中 / 4 退款成功 (as in the
``pdd.order.information.get`` and increment-list examples). A relay pushing an order to the
hub signs it the same way over its query parameters with the raw body appended to the text.
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

from omnihub.platforms.local_time import local_text
from omnihub.simulators.base import PlatformSimulator, SimRequest, SimResponse

ROUTER = "/api/router"
INCREMENT = "pdd.order.number.list.increment.get"
INFORMATION = "pdd.order.information.get"
QUANTITY = "pdd.goods.quantity.update"
SEND = "pdd.logistics.online.send"
RATE_LIMITED = 70031
SYSTEM_BUSY = 50001
#: how far a call's timestamp may be from the platform's clock
TIMESTAMP_WINDOW = timedelta(minutes=10)

ERRORS: dict[int, tuple[str, str]] = {
    10000: ("业务参数错误", "isv.invalid-parameter"),
    10001: ("接口不存在", "isv.invalid-type"),
    10016: ("client_id或access_token无效", "isv.invalid-client"),
    10019: ("签名校验失败", "isv.invalid-sign"),
    10020: ("timestamp已过期", "isv.invalid-timestamp"),
    RATE_LIMITED: ("调用过于频繁，请调整调用频率", "isv.call-limited"),
    SYSTEM_BUSY: ("系统繁忙，请稍后重试", "isp.system-busy"),
}

#: the longest updated_at window PDD answers in one call
MAX_WINDOW = timedelta(minutes=30)


def pop_sign(client_secret: str, params: Mapping[str, str], body: bytes = b"") -> str:
    """``sign``: upper-case hex MD5 of the client secret, the parameters sorted by name as
    ``name1value1...`` (``sign`` and empty values left out), the raw body if any, the secret."""
    text = "".join(f"{k}{params[k]}" for k in sorted(params) if k != "sign" and params[k] != "")
    payload = client_secret.encode() + text.encode() + body + client_secret.encode()
    return hashlib.md5(payload).hexdigest().upper()


def error(code: int, detail: str = "") -> SimResponse:
    message, sub_code = ERRORS[code]
    return SimResponse.json(
        {
            "error_response": {
                "error_code": code,
                "error_msg": message,
                "sub_code": sub_code,
                "sub_msg": detail,
                "request_id": "sim-" + str(code),
            }
        }
    )


def pdd_time(moment: datetime) -> str:
    """Beijing local time to the second, as PDD writes times."""
    return local_text(moment)


class PddSimulator(PlatformSimulator):
    """PDD's router for one shop. ``add_item`` puts a SKU on sale, ``create_order`` and
    ``update_order`` write ``order_info`` objects as PDD holds them, ``signed_push`` signs an
    order the way a relay pushes it to the hub. With ``ids_only`` the increment list gives
    ``order_sn`` and ``updated_at`` only (the hub then has to read each order in full)."""

    name = "pdd"

    def __init__(
        self,
        *,
        secret: str = "pdd-sim-client-secret-01",
        client_id: str = "pdd-sim-client",
        access_token: str = "pdd-sim-token",
        seed: int = 7,
    ) -> None:
        super().__init__(secret=secret, seed=seed)
        self.client_id = client_id
        self.access_token = access_token
        self.items: dict[str, dict[str, str]] = {}
        """channel SKU (outer_id, else sku_id) -> the SKU PDD sells"""
        self.history: dict[str, list[dict[str, Any]]] = {}
        self.ids = itertools.count(1)
        self.ids_only = False
        self.route("POST", ROUTER, self._router)

    @property
    def credentials(self) -> dict[str, Any]:
        """What a hub channel pointing at this simulator needs in ``credentials``."""
        return {
            "client_id": self.client_id,
            "access_token": self.access_token,
            "skus": {
                identity: {"goods_id": item["goods_id"], "sku_id": item["sku_id"]}
                for identity, item in self.items.items()
            },
        }

    # -- the catalogue and the orders -------------------------------------------------------
    def add_item(
        self, outer_id: str | None, goods_id: str, sku_id: str, price: str = "59.00"
    ) -> str:
        """A SKU on sale; returns its channel SKU (``outer_id`` else ``sku_id``)."""
        identity = outer_id or sku_id
        with self.lock:
            self.items[identity] = {
                "goods_id": goods_id,
                "sku_id": sku_id,
                "outer_id": outer_id or "",
                "goods_price": price,
            }
        return identity

    def create_order(
        self,
        lines: list[tuple[str, int]],
        *,
        order_status: int = 1,
        refund_status: int = 1,
        confirm_status: int = 1,
        at: datetime | None = None,
        seller_discount: str = "0",
        platform_discount: str = "0",
        postage: str = "0",
        memo: str = "",
        order_sn: str | None = None,
    ) -> str:
        """A new order as PDD holds it; ``lines`` are (channel SKU, units)."""
        moment = _second(at or datetime.now(UTC))
        order_sn = order_sn or f"{pdd_time(moment)[2:10].replace('-', '')}-{next(self.ids):015d}"
        item_list: list[dict[str, Any]] = []
        for identity, units in lines:
            item = self.items.get(identity) or {
                "goods_id": "1",
                "sku_id": identity,
                "outer_id": "",
                "goods_price": "10.00",
            }
            item_list.append(
                {
                    "goods_id": item["goods_id"],
                    "sku_id": item["sku_id"],
                    "outer_id": item["outer_id"],
                    "outer_goods_id": "",
                    "goods_name": f"演示商品 {identity}",
                    "goods_price": float(item["goods_price"]),
                    "goods_spec": "",
                    "goods_count": units,
                    "goods_img": "",
                }
            )
        goods = round(sum(i["goods_price"] * i["goods_count"] for i in item_list), 2)
        discount = round(float(seller_discount) + float(platform_discount), 2)
        native = {
            "order_sn": order_sn,
            "order_status": order_status,
            "refund_status": refund_status,
            "confirm_status": confirm_status,
            "is_lucky_flag": 1,
            "goods_amount": goods,
            "discount_amount": discount,
            "seller_discount": float(seller_discount),
            "platform_discount": float(platform_discount),
            "capital_free_discount": 0,
            "postage": float(postage),
            "pay_amount": round(goods + float(postage) - discount, 2),
            "pay_no": f"4200{self.rng.getrandbits(60):018d}",
            "pay_type": "WEIXIN",
            "created_time": pdd_time(moment),
            "confirm_time": pdd_time(moment),
            "updated_at": pdd_time(moment),
            "receive_time": "",
            "shipping_time": "",
            "logistics_id": 0,
            "tracking_number": "",
            "buyer_memo": memo,
            "remark": "",
            "country": "中国",
            "province": "上海市",
            "city": "上海市",
            "town": "静安区",
            **self._receiver(),
            "item_list": item_list,
        }
        self.keep_order(order_sn, native, moment)
        return order_sn

    def update_order(
        self, order_sn: str, *, at: datetime | None = None, **fields: Any
    ) -> dict[str, Any]:
        """A later state of an order (``updated_at`` moves one second at least past the last)."""
        with self.lock:
            before = self.orders[order_sn]
            moment = _second(at or datetime.now(UTC))
            moment = max(moment, self.modified[order_sn] + timedelta(seconds=1))
            after: dict[str, Any] = json.loads(json.dumps(before))
            after.update(fields)
            after["updated_at"] = pdd_time(moment)
            self.history.setdefault(order_sn, []).append(before)
            self.keep_order(order_sn, after, moment)
            return after

    def add_raw(self, order_sn: str, native: dict[str, Any], at: datetime | None = None) -> None:
        """An order exactly as given (e.g. one the hub cannot read), served like the others."""
        self.keep_order(order_sn, native, _second(at or datetime.now(UTC)))

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
        query = {
            "client_id": self.client_id,
            "timestamp": str(int((at or datetime.now(UTC)).timestamp())),
        }
        if msg_id:
            query["msg_id"] = msg_id
        query["sign"] = pop_sign(secret or self.secret, query, body)
        return body, query

    def push_order(self, order_sn: str, *, msg_id: str | None = None) -> int:
        with self.lock:
            native = self.orders[order_sn]
        body, query = self.signed_push(native, msg_id=msg_id)
        return self.push(
            order_sn, body, {"content-type": "application/json"}, path="/orders?" + urlencode(query)
        )

    def _receiver(self) -> dict[str, str]:
        """PDD's encrypted receiver: "~...~" ciphertext with masked companions."""

        def cipher() -> str:
            return "~" + base64.b64encode(self.rng.randbytes(36)).decode() + "~"

        return {
            "receiver_name": cipher(),
            "receiver_phone": cipher(),
            "address": cipher(),
            "receiver_name_mask": "张*",
            "receiver_phone_mask": "138****0000",
            "receiver_address_mask": "上海市上海市静安区****",
        }

    # -- the platform's error answers ---------------------------------------------------------
    def rate_limit_answer(self, request: SimRequest) -> SimResponse:
        return error(RATE_LIMITED)

    def error_answer(self, request: SimRequest) -> SimResponse:
        return error(SYSTEM_BUSY)

    # -- the router ---------------------------------------------------------------------------
    def _router(self, request: SimRequest) -> SimResponse:
        if request.headers.get("content-type", "").startswith("application/json"):
            params = {k: str(v) for k, v in request.json().items()}
        else:
            params = request.form()
        for name in ("type", "client_id", "timestamp", "sign"):
            if not params.get(name):
                return self._refused(request, 10000, f"no {name}")
        if params["client_id"] != self.client_id or params.get("access_token") != self.access_token:
            return self._refused(request, 10016)
        if params["sign"] != pop_sign(self.secret, params):
            return self._refused(request, 10019)
        if not params["timestamp"].isdigit():
            return self._refused(request, 10020, params["timestamp"])
        sent = datetime.fromtimestamp(int(params["timestamp"]), UTC)
        if abs(datetime.now(UTC) - sent) > TIMESTAMP_WINDOW:
            return self._refused(request, 10020, params["timestamp"])
        handler = {
            INCREMENT: self._increment,
            INFORMATION: self._information,
            QUANTITY: self._quantity,
            SEND: self._send,
        }.get(params["type"])
        if handler is None:
            return self._refused(request, 10001, params["type"])
        try:
            return handler(request, params)
        except (KeyError, ValueError, TypeError) as exc:
            return self._refused(request, 10000, f"{type(exc).__name__}: {exc}")

    def _refused(self, request: SimRequest, code: int, detail: str = "") -> SimResponse:
        with self.lock:
            self.refused.append((request.path, f"{code} {ERRORS[code][1]} {detail}".strip()))
        return error(code, detail)

    def _increment(self, request: SimRequest, params: dict[str, str]) -> SimResponse:
        start = datetime.fromtimestamp(int(params["start_updated_at"]), UTC)
        end = datetime.fromtimestamp(int(params["end_updated_at"]), UTC)
        if end < start or end - start > MAX_WINDOW:
            return self._refused(request, 10000, "the updated_at window is 0..30 minutes")
        page, size = int(params.get("page", 1)), int(params.get("page_size", 100))
        if page < 1 or not 1 <= size <= 100:
            return self._refused(request, 10000, "page >= 1, page_size 1..100")
        wanted_order = int(params["order_status"])
        wanted_refund = int(params["refund_status"])
        with self.lock:
            chosen = sorted(
                (m, sn)
                for sn, m in self.modified.items()
                if start <= m <= end
                and wanted_order in (5, self.orders[sn].get("order_status"))
                and wanted_refund in (5, self.orders[sn].get("refund_status"))
            )
            total = len(chosen)
            entries: list[Any] = []
            for _, sn in chosen[(page - 1) * size : page * size]:
                native = self.orders[sn]
                if self.ids_only and isinstance(native, dict):
                    native = {"order_sn": sn, "updated_at": native.get("updated_at")}
                entries.append(native)
                if self.faults.duplicate_rate and self.rng.random() < self.faults.duplicate_rate:
                    entries.append(native)
                if self.faults.out_of_order and self.history.get(sn) and not self.ids_only:
                    entries.append(self.history[sn][-1])  # a stale copy after the new one
        body: dict[str, Any] = {"total_count": total, "order_sn_list": entries}
        if params.get("use_has_next") == "true":
            body["has_next"] = page * size < total
        return SimResponse.json({"order_sn_increment_get_response": body})

    def _information(self, request: SimRequest, params: dict[str, str]) -> SimResponse:
        with self.lock:
            native = self.orders.get(params["order_sn"])
        if native is None:
            return self._refused(request, 10000, f"order {params['order_sn']} does not exist")
        return SimResponse.json({"order_info_get_response": {"order_info": native}})

    def _quantity(self, request: SimRequest, params: dict[str, str]) -> SimResponse:
        goods_id, sku_id = params["goods_id"], params.get("sku_id", "")
        units, update_type = int(params["quantity"]), int(params.get("update_type", "1"))
        if update_type not in (1, 2) or (update_type == 1 and units < 0):
            return self._refused(request, 10000, "update_type 1 (full, >= 0) or 2 (change)")
        with self.lock:
            identity = next(
                (
                    k
                    for k, v in self.items.items()
                    if v["goods_id"] == goods_id and v["sku_id"] == sku_id
                ),
                None,
            )
            if identity is None:
                return self._refused(request, 10000, f"goods {goods_id} sku {sku_id} unknown")
            self.stock[identity] = (
                units if update_type == 1 else self.stock.get(identity, 0) + units
            )
        return SimResponse.json({"goods_quantity_update_response": {"is_success": True}})

    def _send(self, request: SimRequest, params: dict[str, str]) -> SimResponse:
        order_sn = params["order_sn"]
        logistics_id, tracking = params["logistics_id"], params["tracking_number"]
        if not logistics_id.isdigit() or not tracking:
            return self._refused(request, 10000, "logistics_id (digits), tracking_number")
        with self.lock:
            native = self.orders.get(order_sn)
            shippable = (
                native is not None
                and native.get("order_status") == 1
                and native.get("refund_status") == 1
            )
        if not shippable:
            state = (
                None
                if native is None
                else (native.get("order_status"), native.get("refund_status"))
            )
            return self._refused(request, 10000, f"order {order_sn} cannot ship: {state}")
        self.update_order(
            order_sn,
            order_status=2,
            logistics_id=int(logistics_id),
            tracking_number=tracking,
            shipping_time=pdd_time(datetime.now(UTC)),
        )
        self.record_shipment(
            {"order_sn": order_sn, "logistics_id": logistics_id, "tracking_number": tracking}
        )
        return SimResponse.json({"logistics_online_send_response": {"is_success": True}})


def _second(moment: datetime) -> datetime:
    """PDD keeps times to the second."""
    return moment.astimezone(UTC).replace(microsecond=0)
