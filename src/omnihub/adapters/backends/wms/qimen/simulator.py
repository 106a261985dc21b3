"""A local stand-in of a warehouse speaking Qimen: it keeps stock per warehouse and item,
accepts delivery orders, and on its clock (:meth:`QimenWmsSimulator.tick`) picks, packs and
ships them, calling the hub back (``callback_url``) with a signed ``deliveryorder.confirm``:
a carrier, a tracking number per package, and, with ``partial_rate``, a first partial
shipment (``confirmType`` 1) before the rest. It also receives goods
(``entryorder.confirm``), reports stock changes and stock-takes, answers
``inventory.query`` and ``order.cancel`` (refused once shipped). Every call's ``sign``,
``app_key`` and ``customerId`` are checked; errors come as ``flag`` failure.

Faults: the channel ones (errors, slowness, outages, rate limits), callbacks twice
(``duplicate_rate``) or out of order (``out_of_order``), and ``callback_before_answer``: the
confirmation is sent before the create call is answered.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from omnihub.adapters.backends.wire import local_text
from omnihub.adapters.backends.wms.qimen import mapper, signature
from omnihub.adapters.backends.wms.qimen.client import API_VERSION, CONTENT_TYPE
from omnihub.platforms.local_time import utc_now
from omnihub.simulators.backends.base import (
    BackendSimulator,
    Callback,
    SimRequest,
    SimResponse,
)

ROUTER = "/router/qimen/service"
CARRIERS = ("SF", "YTO", "ZTO", "STO", "YUNDA")


@dataclass
class WmsOrder:
    code: str
    wms_id: str
    warehouse: str
    lines: dict[str, int]
    carrier: str
    status: str = "ACCEPT"
    shipped: dict[str, int] = field(default_factory=dict)
    ticks: int = 0
    confirmations: int = 0


def _xml(body: bytes) -> SimResponse:
    return SimResponse(200, body, {"content-type": CONTENT_TYPE})


def _failure(code: str, message: str) -> SimResponse:
    return _xml(mapper.response(False, code, message))


class QimenWmsSimulator(BackendSimulator):
    name = "qimen"

    def __init__(
        self,
        *,
        app_key: str = "sim-app",
        app_secret: str = "sim-qimen-secret",
        customer_id: str = "sim-customer",
        confirm_after: int = 1,
        seed: int = 7,
    ) -> None:
        super().__init__(secret=app_secret, seed=seed)
        self.app_key, self.app_secret, self.customer_id = app_key, app_secret, customer_id
        self.confirm_after = confirm_after
        """ticks between accepting an order and shipping it"""
        self.fresh()
        self.route("POST", ROUTER, self._router)

    def fresh(self) -> None:
        self.callback_url: str | None = None
        self.inventory: dict[tuple[str, str], int] = {}
        """(warehouse, item code) -> sellable quantity"""
        self.delivery_orders: dict[str, WmsOrder] = {}
        self._numbers = itertools.count(1)

    @property
    def endpoint(self) -> str:
        return self.url + ROUTER

    def credentials(self) -> dict[str, str]:
        return {
            "app_key": self.app_key,
            "app_secret": self.app_secret,
            "customer_id": self.customer_id,
        }

    def put_stock(self, warehouse: str, item: str, qty: int) -> None:
        with self.lock:
            self.inventory[(warehouse, item)] = qty

    # -- calls from the hub ------------------------------------------------------------------
    def rate_limit_answer(self, request: SimRequest) -> SimResponse:
        return _failure("isv.app-call-limited", "App Call Limited")

    def error_answer(self, request: SimRequest) -> SimResponse:
        return _failure("SYSTEM_ERROR", "系统繁忙，请稍后重试")

    def _router(self, request: SimRequest) -> SimResponse:
        params = request.query
        expected = signature.sign(self.app_secret, params, request.body)
        if params.get("app_key") != self.app_key or params.get("customerId") != self.customer_id:
            return _failure("isv.invalid-app-key", "app_key or customerId is not known")
        if params.get("sign", "").upper() != expected:
            self.refuse(request, "bad sign")
            return _failure("sign-check-failure", "Illegal request: wrong sign")
        if params.get("v") != API_VERSION or params.get("format") != "xml":
            return _failure("isv.invalid-parameter", "v must be 2.0 and format xml")
        try:
            root = mapper.parse(request.body, "request")
        except Exception:  # noqa: BLE001 - answered as the WMS would
            return _failure("isv.invalid-parameter", "the body is not XML")
        method = mapper.method_name(params.get("method"))
        handler = {
            "deliveryorder.create": self._create,
            "order.cancel": self._cancel,
            "inventory.query": self._inventory,
        }.get(method)
        if handler is None:
            return _failure("isv.invalid-method", f"method {params.get('method')} is unknown")
        return handler(root)

    def _create(self, root: Any) -> SimResponse:
        header = root.find("deliveryOrder")
        code = mapper.text(header, "deliveryOrderCode")
        warehouse = mapper.text(header, "warehouseCode")
        if not code or not warehouse:
            return _failure("isv.missing-parameter", "deliveryOrderCode and warehouseCode")
        for name in ("name", "mobile", "detailAddress"):
            if not mapper.text(header, f"receiverInfo/{name}"):
                return _failure("isv.missing-parameter", f"receiverInfo.{name} is required")
        lines: dict[str, int] = {}
        for line in root.iterfind("orderLines/orderLine"):
            item = mapper.text(line, "itemCode")
            qty = int(mapper.text(line, "planQty") or 0)
            if not item or qty <= 0 or not mapper.text(line, "ownerCode"):
                return _failure(
                    "isv.invalid-parameter",
                    "each orderLine needs ownerCode, itemCode and a positive planQty",
                )
            lines[item] = lines.get(item, 0) + qty
        if not lines:
            return _failure("isv.missing-parameter", "orderLines")
        with self.lock:
            order = self.delivery_orders.get(code)
            if order is None:  # the same code again is the same order (idempotent)
                carrier = mapper.text(header, "logisticsCode") or "OTHER"
                if carrier == "OTHER":
                    carrier = CARRIERS[len(self.delivery_orders) % len(CARRIERS)]
                order = WmsOrder(code, f"WMS{next(self._numbers):08d}", warehouse, lines, carrier)
                self.delivery_orders[code] = order
                early = self.faults.callback_before_answer
            else:
                early = False
        if early:
            self.ship(code)
        return _xml(
            mapper.to_xml(
                "response",
                {
                    "flag": "success",
                    "code": "0",
                    "message": "ok",
                    "deliveryOrderId": order.wms_id,
                    "createTime": local_text(utc_now()),
                },
            )
        )

    def _cancel(self, root: Any) -> SimResponse:
        code = mapper.text(root, "orderCode") or ""
        with self.lock:
            order = self.delivery_orders.get(code)
            if order is None:
                return _failure("ORDER_NOT_FOUND", f"单据 {code} 不存在")
            if order.status in ("DELIVERED", "PARTDELIVERED"):
                return _failure("ORDER_SHIPPED", f"单据 {code} 已发货，不能取消")
            order.status = "CANCELED"
        return _xml(mapper.response(True))

    def _inventory(self, root: Any) -> SimResponse:
        items = []
        with self.lock:
            for criteria in root.iterfind("criteriaList/criteria"):
                warehouse = mapper.text(criteria, "warehouseCode") or ""
                item = mapper.text(criteria, "itemCode") or ""
                items.append(
                    (
                        "item",
                        {
                            "warehouseCode": warehouse,
                            "itemCode": item,
                            "inventoryType": "ZP",
                            "quantity": self.inventory.get((warehouse, item), 0),
                            "lockQuantity": 0,
                        },
                    )
                )
        return _xml(
            mapper.to_xml(
                "response", {"flag": "success", "code": "0", "message": "ok", "items": items}
            )
        )

    # -- the warehouse's work ------------------------------------------------------------------
    def tick(self) -> int:
        """Ship every order due: after ``confirm_after`` ticks; a partial shipment first when
        ``partial_rate`` says so, the rest on the next tick."""
        with self.lock:
            due = []
            for order in self.delivery_orders.values():
                if order.status not in ("ACCEPT", "PARTDELIVERED"):
                    continue
                order.ticks += 1
                if order.ticks >= self.confirm_after:
                    due.append(order.code)
        for code in due:
            self.ship(code)
        return len(due)

    def ship(self, code: str, partial: bool | None = None) -> None:
        """Ship (part of) an order now and send the confirmation."""
        with self.lock:
            order = self.delivery_orders[code]
            remaining = {
                item: qty - order.shipped.get(item, 0) for item, qty in order.lines.items()
            }
            remaining = {item: qty for item, qty in remaining.items() if qty > 0}
            if not remaining or order.status == "CANCELED":
                return
            if partial is None:
                partial = (
                    order.status == "ACCEPT"
                    and sum(remaining.values()) > 1
                    and self.rng.random() < self.faults.partial_rate
                )
            shipped = remaining
            if partial:  # half of a single item, else the first item
                first = next(iter(remaining))
                half = max(1, remaining[first] // 2) if len(remaining) == 1 else remaining[first]
                shipped = {first: half}
            for item, qty in shipped.items():
                order.shipped[item] = order.shipped.get(item, 0) + qty
                key = (order.warehouse, item)
                self.inventory[key] = self.inventory.get(key, 0) - qty
            final = all(order.shipped.get(i, 0) >= q for i, q in order.lines.items())
            order.status = "DELIVERED" if final else "PARTDELIVERED"
            order.confirmations += 1
            number = order.confirmations
        self._confirm(order, shipped, final, number)

    def _confirm(self, order: WmsOrder, shipped: dict[str, int], final: bool, number: int) -> None:
        tracking = f"{order.carrier}{order.wms_id[3:]}{number:02d}"
        body = mapper.to_xml(
            "request",
            {
                "deliveryOrder": {
                    "deliveryOrderCode": order.code,
                    "deliveryOrderId": order.wms_id,
                    "warehouseCode": order.warehouse,
                    "orderType": "JYCK",
                    "status": "DELIVERED" if final else "PARTDELIVERED",
                    "outBizCode": f"{order.wms_id}-{number}",
                    "confirmType": 0 if final else 1,
                    "orderConfirmTime": local_text(utc_now()),
                    "logisticsCode": order.carrier,
                    "expressCode": tracking,
                },
                "packages": [
                    (
                        "package",
                        {
                            "logisticsCode": order.carrier,
                            "logisticsName": order.carrier,
                            "expressCode": tracking,
                            "packageCode": f"P{tracking}",
                            "weight": "0.5",
                            "items": [
                                ("item", {"itemCode": i, "quantity": q}) for i, q in shipped.items()
                            ],
                        },
                    )
                ],
                "orderLines": [
                    (
                        "orderLine",
                        {
                            "orderLineNo": str(n),
                            "itemCode": i,
                            "inventoryType": "ZP",
                            "actualQty": q,
                        },
                    )
                    for n, (i, q) in enumerate(shipped.items(), start=1)
                ],
            },
        )
        self.call_hub("deliveryorder.confirm", body, f"confirm {order.code} #{number}")

    def receive(
        self, entry_code: str, warehouse: str, lines: dict[str, int], entry_type: str = "CGRK"
    ) -> None:
        """Goods arrived: stock up and ``entryorder.confirm``."""
        with self.lock:
            for item, qty in lines.items():
                self.inventory[(warehouse, item)] = self.inventory.get((warehouse, item), 0) + qty
            number = next(self._numbers)
        body = mapper.to_xml(
            "request",
            {
                "entryOrder": {
                    "entryOrderCode": entry_code,
                    "entryOrderId": f"IN{number:08d}",
                    "warehouseCode": warehouse,
                    "entryOrderType": entry_type,
                    "outBizCode": f"IN{number:08d}-1",
                    "confirmType": 0,
                    "status": "FULFILLED",
                    "operateTime": local_text(utc_now()),
                },
                "orderLines": [
                    (
                        "orderLine",
                        {
                            "orderLineNo": str(n),
                            "itemCode": i,
                            "inventoryType": "ZP",
                            "planQty": q,
                            "actualQty": q,
                        },
                    )
                    for n, (i, q) in enumerate(lines.items(), start=1)
                ],
            },
        )
        self.call_hub("entryorder.confirm", body, f"entry {entry_code}")

    def count(self, check_code: str, warehouse: str, counted: dict[str, int]) -> None:
        """A stock-take: stock becomes what was counted; ``inventory.report`` sends the
        gains and losses."""
        with self.lock:
            diffs = {}
            for item, qty in counted.items():
                diffs[item] = qty - self.inventory.get((warehouse, item), 0)
                self.inventory[(warehouse, item)] = qty
            number = next(self._numbers)
        body = mapper.to_xml(
            "request",
            {
                "totalPage": 1,
                "currentPage": 1,
                "pageSize": len(diffs),
                "warehouseCode": warehouse,
                "checkOrderCode": check_code,
                "checkOrderId": f"CHK{number:08d}",
                "ownerCode": "owner",
                "checkTime": local_text(utc_now()),
                "outBizCode": f"CHK{number:08d}",
                "adjustType": "CHECK",
                "items": [
                    ("item", {"itemCode": i, "inventoryType": "ZP", "quantity": d})
                    for i, d in diffs.items()
                    if d
                ],
            },
        )
        self.call_hub("inventory.report", body, f"count {check_code}")

    def report_change(
        self, order_code: str, warehouse: str, changes: dict[str, int], order_type: str = "QTCK"
    ) -> None:
        """Another stock change (damage, a manual move): ``stockchange.report``."""
        with self.lock:
            for item, delta in changes.items():
                self.inventory[(warehouse, item)] = self.inventory.get((warehouse, item), 0) + delta
            number = next(self._numbers)
        body = mapper.to_xml(
            "request",
            {
                "items": [
                    (
                        "item",
                        {
                            "ownerCode": "owner",
                            "warehouseCode": warehouse,
                            "orderCode": order_code,
                            "orderType": order_type,
                            "outBizCode": f"CHG{number:08d}",
                            "itemCode": i,
                            "inventoryType": "ZP",
                            "quantity": d,
                            "changeTime": local_text(utc_now()),
                        },
                    )
                    for i, d in changes.items()
                ]
            },
        )
        self.call_hub("stockchange.report", body, f"change {order_code}")

    def call_hub(self, method: str, body: bytes, label: str) -> None:
        if not self.callback_url:
            return
        params = {
            "method": f"taobao.qimen.{method}",
            "timestamp": local_text(utc_now()),
            "format": "xml",
            "app_key": self.app_key,
            "v": API_VERSION,
            "sign_method": "md5",
            "customerId": self.customer_id,
        }
        params["sign"] = signature.sign(self.app_secret, params, body)
        self.send(Callback(label, self.callback_url, body, {"Content-Type": CONTENT_TYPE}, params))
