"""A local stand-in of a warehouse speaking Qimen: it keeps stock per warehouse and item,
accepts delivery orders, and on its clock (:meth:`QimenWmsSimulator.tick`) picks, packs and
ships them, calling the hub back (``callback_url``) with a signed ``deliveryorder.confirm``:
a carrier and a tracking number per package and, with ``partial_rate``, a first partial
shipment (``confirmType`` 1) before the rest. It also receives goods
(``entryorder.confirm``), reports stock changes (``stockchange.report``) and stock-takes
(``inventory.report``), answers ``inventory.query`` and ``order.cancel`` (refused once
shipped). Every call's ``sign``, ``app_key`` and ``customerId`` are checked, and the fields
the interfaces mark as required; errors come as ``flag`` failure.

Faults: the channel ones (errors, slowness, outages, rate limits), callbacks twice
(``duplicate_rate``) or out of order (``out_of_order``), and ``callback_before_answer``: the
confirmation is sent before the create call is answered.
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field

from omnihub.platforms.local_time import local_text, utc_now
from omnihub.simulators.backends.base import (
    BackendSimulator,
    Callback,
    SimRequest,
    SimResponse,
)
from omnihub.simulators.backends.wms.qimen import protocol
from omnihub.simulators.backends.wms.qimen.protocol import value

ROUTER = "/router/qimen/service"
CARRIERS = ("SF", "YTO", "ZTO", "STO", "YUNDA")
#: 库存类型 正品: the only sellable stock this warehouse keeps
SELLABLE = "ZP"
#: delivery order statuses (出库单状态) this warehouse moves through
ACCEPTED, PART_SHIPPED, SHIPPED, CANCELLED = "ACCEPT", "PARTDELIVERED", "DELIVERED", "CANCELED"


@dataclass
class WmsOrder:
    code: str
    wms_id: str
    warehouse: str
    lines: dict[str, int]
    carrier: str
    owner: str = ""
    status: str = ACCEPTED
    shipped: dict[str, int] = field(default_factory=dict)
    ticks: int = 0
    confirmations: int = 0


def _xml(body: bytes) -> SimResponse:
    return SimResponse(200, body, {"content-type": protocol.XML_TYPE})


def _failure(code: str, message: str) -> SimResponse:
    return _xml(protocol.failure(code, message))


class QimenWmsSimulator(BackendSimulator):
    name = "qimen"

    def __init__(
        self,
        *,
        app_key: str = "sim-app",
        app_secret: str = "sim-qimen-secret",
        customer_id: str = "sim-customer",
        owner_code: str = "OMNI",
        confirm_after: int = 1,
        seed: int = 7,
    ) -> None:
        super().__init__(secret=app_secret, seed=seed)
        self.app_key, self.app_secret, self.customer_id = app_key, app_secret, customer_id
        self.owner_code = owner_code
        """货主编码 the warehouse writes on the goods it receives and counts"""
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

    def orders_by_status(self) -> dict[str, int]:
        """How many delivery orders are in each status (ACCEPT, DELIVERED, ...)."""
        with self.lock:
            counts: dict[str, int] = {}
            for order in self.delivery_orders.values():
                counts[order.status] = counts.get(order.status, 0) + 1
            return counts

    # -- calls from the hub ------------------------------------------------------------------
    def rate_limit_answer(self, request: SimRequest) -> SimResponse:
        return _failure("isv.app-call-limited", "App Call Limited")

    def error_answer(self, request: SimRequest) -> SimResponse:
        return _failure("SYSTEM_ERROR", "系统繁忙，请稍后重试")

    def _router(self, request: SimRequest) -> SimResponse:
        params = request.query
        if params.get("app_key") != self.app_key or params.get("customerId") != self.customer_id:
            return _failure("isv.invalid-app-key", "app_key or customerId is not known")
        given = params.get("sign", "")
        if given.upper() != protocol.sign(self.app_secret, params, request.body):
            self.refuse(request, "bad sign")
            return _failure("sign-check-failure", "Illegal request: wrong sign")
        if params.get("v") != protocol.VERSION or params.get("format") != "xml":
            return _failure("isv.invalid-parameter", f"v must be {protocol.VERSION}, format xml")
        root = protocol.read(request.body)
        if root is None or root.tag != "request":
            return _failure("isv.invalid-parameter", "the body is not a <request> document")
        method = params.get("method", "")
        handlers: dict[str, Callable[[ET.Element], SimResponse]] = {
            protocol.METHOD_PREFIX + "deliveryorder.create": self._create,
            protocol.METHOD_PREFIX + "order.cancel": self._cancel,
            protocol.METHOD_PREFIX + "inventory.query": self._inventory,
        }
        handler = handlers.get(method)
        if handler is None:
            return _failure("isv.invalid-method", f"method {method or '(none)'} is unknown")
        return handler(root)

    def _create(self, root: ET.Element) -> SimResponse:
        header = root.find("deliveryOrder")
        for name in (
            "deliveryOrderCode",
            "orderType",
            "warehouseCode",
            "createTime",
            "placeOrderTime",
            "operateTime",
            "shopNick",
            "logisticsCode",
        ):
            if not value(header, name):
                return _failure("isv.missing-parameter", f"deliveryOrder.{name} is required")
        for name in ("name", "mobile", "province", "city", "detailAddress"):
            if not value(header, f"receiverInfo/{name}"):
                return _failure("isv.missing-parameter", f"receiverInfo.{name} is required")
        code, warehouse = value(header, "deliveryOrderCode"), value(header, "warehouseCode")
        lines: dict[str, int] = {}
        owner = ""
        for line in root.iterfind("orderLines/orderLine"):
            item, owner = value(line, "itemCode"), value(line, "ownerCode")
            try:
                qty = int(value(line, "planQty") or 0)
            except ValueError:
                qty = 0
            if not item or not owner or qty <= 0 or not value(line, "actualPrice"):
                return _failure(
                    "isv.invalid-parameter",
                    "each orderLine needs ownerCode, itemCode, a positive planQty and actualPrice",
                )
            lines[item] = lines.get(item, 0) + qty
        if not lines:
            return _failure("isv.missing-parameter", "orderLines is required")
        with self.lock:
            order = self.delivery_orders.get(code)
            early = False
            if order is None:  # the same code again is the same order (idempotent)
                carrier = value(header, "logisticsCode")
                if carrier == "OTHER":  # the warehouse picks the carrier
                    carrier = CARRIERS[len(self.delivery_orders) % len(CARRIERS)]
                order = WmsOrder(
                    code, f"WMS{next(self._numbers):08d}", warehouse, lines, carrier, owner
                )
                self.delivery_orders[code] = order
                early = self.faults.callback_before_answer
        if early:
            self.ship(code)
        return _xml(
            protocol.success(
                createTime=local_text(utc_now()),
                deliveryOrderId=order.wms_id,
                warehouseCode=order.warehouse,
                logisticsCode=order.carrier,
            )
        )

    def _cancel(self, root: ET.Element) -> SimResponse:
        code = value(root, "orderCode")
        if not code or not value(root, "warehouseCode"):
            return _failure("isv.missing-parameter", "warehouseCode and orderCode are required")
        with self.lock:
            order = self.delivery_orders.get(code)
            if order is None:
                return _failure("ORDER_NOT_FOUND", f"单据 {code} 不存在")
            if order.status in (SHIPPED, PART_SHIPPED):
                return _failure("ORDER_SHIPPED", f"单据 {code} 已发货，不能取消")
            order.status = CANCELLED
        return _xml(protocol.success())

    def _inventory(self, root: ET.Element) -> SimResponse:
        items = []
        with self.lock:
            for criteria in root.iterfind("criteriaList/criteria"):
                item = value(criteria, "itemCode")
                if not item:
                    return _failure("isv.missing-parameter", "criteria.itemCode is required")
                wanted = value(criteria, "warehouseCode")
                type_ = value(criteria, "inventoryType")
                if type_ and type_ != SELLABLE:
                    continue  # this warehouse keeps sellable stock only
                warehouses = (
                    [wanted]
                    if wanted
                    else sorted({w for (w, code) in self.inventory if code == item})
                )
                for warehouse in warehouses:
                    items.append(
                        (
                            "item",
                            {
                                "warehouseCode": warehouse,
                                "itemCode": item,
                                "itemId": f"ITEM-{item}",
                                "inventoryType": SELLABLE,
                                "quantity": self.inventory.get((warehouse, item), 0),
                                "lockQuantity": 0,
                            },
                        )
                    )
        return _xml(protocol.success(items=items))

    # -- the warehouse's work ------------------------------------------------------------------
    def tick(self) -> int:
        """Ship every order due: after ``confirm_after`` ticks; a partial shipment first when
        ``partial_rate`` says so, the rest on the next tick."""
        with self.lock:
            due = []
            for order in self.delivery_orders.values():
                if order.status not in (ACCEPTED, PART_SHIPPED):
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
            if not remaining or order.status == CANCELLED:
                return
            if partial is None:
                partial = (
                    order.status == ACCEPTED
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
            order.status = SHIPPED if final else PART_SHIPPED
            order.confirmations += 1
            number = order.confirmations
        self._confirm(order, shipped, final, number)

    def _confirm(self, order: WmsOrder, shipped: dict[str, int], final: bool, number: int) -> None:
        tracking = f"{order.carrier}{order.wms_id[3:]}{number:02d}"
        now = local_text(utc_now())
        body = protocol.document(
            "request",
            {
                "deliveryOrder": {
                    "deliveryOrderCode": order.code,
                    "deliveryOrderId": order.wms_id,
                    "warehouseCode": order.warehouse,
                    "orderType": "JYCK",
                    "status": SHIPPED if final else PART_SHIPPED,
                    "outBizCode": f"{order.wms_id}-{number}",
                    "confirmType": 0 if final else 1,
                    "orderConfirmTime": now,
                    "operateTime": now,
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
                            "ownerCode": order.owner or self.owner_code,
                            "inventoryType": SELLABLE,
                            "planQty": order.lines[i],
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
        """Goods arrived (``entryOrderType`` CGRK purchase, DBRK transfer, ...): stock up and
        ``entryorder.confirm``."""
        with self.lock:
            for item, qty in lines.items():
                self.inventory[(warehouse, item)] = self.inventory.get((warehouse, item), 0) + qty
            number = next(self._numbers)
        body = protocol.document(
            "request",
            {
                "entryOrder": {
                    "totalOrderLines": len(lines),
                    "entryOrderCode": entry_code,
                    "ownerCode": self.owner_code,
                    "warehouseCode": warehouse,
                    "entryOrderId": f"IN{number:08d}",
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
                            "ownerCode": self.owner_code,
                            "itemCode": i,
                            "inventoryType": SELLABLE,
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
        """A stock-take: stock becomes what was counted; ``inventory.report`` sends the gains
        and losses."""
        with self.lock:
            diffs = {}
            for item, qty in counted.items():
                diffs[item] = qty - self.inventory.get((warehouse, item), 0)
                self.inventory[(warehouse, item)] = qty
            number = next(self._numbers)
        changed = [(i, d) for i, d in diffs.items() if d]
        body = protocol.document(
            "request",
            {
                "totalPage": 1,
                "currentPage": 1,
                "pageSize": len(changed),
                "warehouseCode": warehouse,
                "checkOrderCode": check_code,
                "checkOrderId": f"CHK{number:08d}",
                "ownerCode": self.owner_code,
                "checkTime": local_text(utc_now()),
                "outBizCode": f"CHK{number:08d}",
                "adjustType": "CHECK",
                "items": [
                    (
                        "item",
                        {
                            "itemCode": i,
                            "inventoryType": SELLABLE,
                            "quantity": d,
                            "totalQty": counted[i],
                        },
                    )
                    for i, d in changed
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
        now = local_text(utc_now())
        body = protocol.document(
            "request",
            {
                "items": [
                    (
                        "item",
                        {
                            "ownerCode": self.owner_code,
                            "warehouseCode": warehouse,
                            "orderCode": order_code,
                            "orderType": order_type,
                            "outBizCode": f"CHG{number:08d}",
                            "itemCode": i,
                            "inventoryType": SELLABLE,
                            "quantity": d,
                            "changeTime": now,
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
        params = protocol.system_params(method, self.app_key, self.customer_id)
        params["sign"] = protocol.sign(self.app_secret, params, body)
        self.send(
            Callback(label, self.callback_url, body, {"Content-Type": protocol.XML_TYPE}, params)
        )
