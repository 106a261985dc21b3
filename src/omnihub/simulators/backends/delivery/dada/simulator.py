"""A local stand-in of a Dada delivery platform: shops at fixed points, tasks dispatched to
riders who, on the platform's clock (:meth:`DadaSimulator.tick`), accept, reach the shop, and
ride a straight line to the buyer, the platform calling the hub back at each status (signed as
Dada does) and answering ``status/query`` with where the rider is. The fee is distance-based
(5 yuan for 3 km, then 1 yuan a km).

Besides the channel faults (errors, slowness, outages, rate limits) and callbacks twice or out
of order, the platform can do what real ones do to a task: a rider gives up (back to waiting),
the platform cancels it, it expires unaccepted, its creation fails, or a delivery fails and the
goods go back to the shop.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from omnihub.domain.locations import haversine_km
from omnihub.platforms.local_time import local_text, utc_now
from omnihub.simulators.backends.base import (
    BackendSimulator,
    Callback,
    SimRequest,
    SimResponse,
)
from omnihub.simulators.backends.delivery.dada import protocol as dada

#: the statuses in words, for summaries
STATE_NAMES = {
    dada.WAITING: "waiting",
    dada.ASSIGNED: "waiting",
    dada.TO_PICK_UP: "accepted",
    dada.AT_SHOP: "picking_up",
    dada.DELIVERING: "delivering",
    dada.DELIVERED: "delivered",
    dada.CANCELLED: "cancelled",
    dada.CREATION_FAILED: "cancelled",
    dada.EXPIRED: "expired",
    dada.RETURNING: "returning",
    dada.RETURNED: "returned",
}
#: a task in one of these may be sent again (reAddOrder)
ENDED = (dada.CANCELLED, dada.EXPIRED, dada.RETURNED, dada.CREATION_FAILED)


@dataclass(frozen=True)
class Point:
    lat: float
    lng: float


@dataclass
class Task:
    origin_id: str
    client_id: str
    shop_no: str
    start: Point
    destination: Point
    callback: str
    fee: Decimal
    distance_m: int
    status: int = dada.WAITING
    progress: float = 0.0
    """0 at the shop, 1 at the buyer"""
    rider: tuple[int, str, str] | None = None
    update_time: int = 0
    created_at: datetime | None = None
    accepted_at: datetime | None = None
    fetched_at: datetime | None = None
    finished_at: datetime | None = None
    cancelled_at: datetime | None = None
    deduct_fee: Decimal = Decimal("0")

    @property
    def position(self) -> Point | None:
        if self.rider is None:
            return None
        if self.status == dada.TO_PICK_UP:  # on the way to the shop
            return Point(self.start.lat + 0.005, self.start.lng + 0.005)
        return Point(
            self.start.lat + (self.destination.lat - self.start.lat) * self.progress,
            self.start.lng + (self.destination.lng - self.start.lng) * self.progress,
        )


def fee_for(distance_m: int) -> Decimal:
    km = distance_m / 1000
    return (Decimal("5") + Decimal(str(max(0.0, math.ceil(km) - 3)))).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )


class DadaSimulator(BackendSimulator):
    name = "dada"

    def __init__(
        self,
        *,
        app_key: str = "sim-dada-key",
        app_secret: str = "sim-dada-secret",
        source_id: str = "73753",
        legs: int = 3,
        seed: int = 7,
    ) -> None:
        super().__init__(secret=app_secret, seed=seed)
        self.app_key, self.app_secret, self.source_id = app_key, app_secret, source_id
        self.legs = legs
        """ticks a rider takes from the shop to the buyer"""
        self.fresh()
        for path, handler in {
            dada.ADD_ORDER: self._add,
            dada.READD_ORDER: self._readd,
            dada.FORMAL_CANCEL: self._cancel,
            dada.STATUS_QUERY: self._query,
        }.items():
            self.route("POST", path, self._signed(handler))

    def fresh(self) -> None:
        self.shops: dict[str, Point] = {}
        self.tasks: dict[str, Task] = {}
        self._client_ids = iter(range(10**11, 10**12))
        self._rider_ids = iter(range(1000, 10**6))
        self._pending: list[Callback] = []

    def credentials(self) -> dict[str, str]:
        return {"app_key": self.app_key, "app_secret": self.app_secret, "source_id": self.source_id}

    def add_shop(self, shop_no: str, lat: float, lng: float) -> None:
        with self.lock:
            self.shops[shop_no] = Point(lat, lng)

    def task(self, origin_id: str) -> Task:
        with self.lock:
            return self.tasks[origin_id]

    def tasks_by_state(self) -> dict[str, int]:
        """How many tasks are in each state (waiting, accepted, ..., delivered)."""
        with self.lock:
            counts: dict[str, int] = {}
            for task in self.tasks.values():
                name = STATE_NAMES.get(task.status, str(task.status))
                counts[name] = counts.get(name, 0) + 1
            return counts

    def delivered(self) -> list[str]:
        """The origin ids of the tasks delivered to the buyer."""
        with self.lock:
            return [t.origin_id for t in self.tasks.values() if t.status == dada.DELIVERED]

    # -- the API --------------------------------------------------------------------------------
    @staticmethod
    def _fail(code: int, msg: str) -> SimResponse:
        return SimResponse.json({"status": "fail", "code": code, "msg": msg, "errorCode": code})

    @staticmethod
    def _ok(result: Any) -> SimResponse:
        return SimResponse.json({"status": "success", "code": 0, "msg": "成功", "result": result})

    def rate_limit_answer(self, request: SimRequest) -> SimResponse:
        return self._fail(dada.BEING_PROCESSED, "订单正在处理中,请稍后再试")

    def error_answer(self, request: SimRequest) -> SimResponse:
        return self._fail(dada.SYSTEM_ERROR, "系统异常")

    def _signed(
        self, handler: Callable[[dict[str, Any]], SimResponse]
    ) -> Callable[[SimRequest], SimResponse]:
        def serve(request: SimRequest) -> SimResponse:
            try:
                params = request.json()
                business = json.loads(params["body"])
                if not isinstance(business, dict):
                    raise TypeError("body must hold a JSON object")
            except (ValueError, KeyError, TypeError):
                return self._fail(
                    dada.BODY_NOT_JSON, "body参数json解析出错,请检查body内的参数格式是否正确"
                )
            if params.get("app_key") != self.app_key:
                return self._fail(dada.APP_KEY_INVALID, "app_key无效")
            if params.get("source_id") != self.source_id:
                return self._fail(dada.SOURCE_ID_WRONG, "source_id值不正确")
            if params.get("format") != "json":
                return self._fail(dada.FORMAT_WRONG, "format值不正确,默认为json")
            if params.get("v") != dada.VERSION:
                return self._fail(dada.VERSION_WRONG, "v的值不正确,默认为1.0")
            given = str(params.get("signature", ""))
            if given != dada.request_signature(self.app_secret, params):
                self.refuse(request, "bad signature")
                return self._fail(dada.SIGNATURE_WRONG, "签名错误")
            with self.lock:
                response = handler(business)
                pending, self._pending = self._pending, []
            for callback in pending:  # after the lock: the hub may call us meanwhile
                self.send(callback)
            return response

        return serve

    def _dispatch(self, business: dict[str, Any], again: bool) -> SimResponse:
        origin = str(business.get("origin_id") or "")
        if not origin:
            return self._fail(dada.ORIGIN_ID_MISSING, "原始订单origin_id不能为空")
        shop = self.shops.get(str(business.get("shop_no")))
        if shop is None:
            return self._fail(dada.SHOP_UNKNOWN, "无效的门店编号")
        for name, code in (
            ("city_code", dada.CITY_CODE_MISSING),
            ("receiver_name", dada.RECEIVER_NAME_MISSING),
            ("receiver_address", dada.RECEIVER_ADDRESS_MISSING),
            ("receiver_phone", dada.RECEIVER_PHONE_MISSING),
            ("callback", dada.CALLBACK_MISSING),
        ):
            if not business.get(name):
                return self._fail(code, f"{name}不能为空")
        try:
            destination = Point(float(business["receiver_lat"]), float(business["receiver_lng"]))
        except (KeyError, TypeError, ValueError):
            return self._fail(dada.RECEIVER_POSITION_MISSING, "receiver_lat或receiver_lng不能为空")
        existing = self.tasks.get(origin)
        if again:
            if existing is None:
                return self._fail(dada.READD_NEW_ORDER, "新的订单,不能重新发单,请走正常发单流程")
            if existing.status not in ENDED:
                return self._fail(
                    dada.READD_NOT_ENDED, "只有已取消、已过期、投递异常的订单才能重发"
                )
        elif existing is not None:
            return self._fail(dada.ALREADY_DISPATCHED, "订单已下发,如要重发,请使用重发接口")
        distance = int(haversine_km(shop.lat, shop.lng, destination.lat, destination.lng) * 1000)
        task = Task(
            origin,
            str(next(self._client_ids)),
            str(business["shop_no"]),
            shop,
            destination,
            str(business["callback"]),
            fee_for(distance),
            distance,
            created_at=utc_now(),
        )
        if existing is not None:  # its statuses go on after the first life's
            task.update_time = existing.update_time
        self.tasks[origin] = task
        self._pending.append(self._move(task, dada.WAITING))
        fee = float(task.fee)
        return self._ok(
            {
                "distance": float(distance),
                "fee": fee,
                "deliverFee": fee,
                "couponFee": 0.0,
                "tips": 0.0,
                "insuranceFee": 0.0,
            }
        )

    def _add(self, business: dict[str, Any]) -> SimResponse:
        return self._dispatch(business, again=False)

    def _readd(self, business: dict[str, Any]) -> SimResponse:
        return self._dispatch(business, again=True)

    def _cancel(self, business: dict[str, Any]) -> SimResponse:
        task = self.tasks.get(str(business.get("order_id")))
        if task is None:
            return self._fail(dada.ORDER_NOT_FOUND, "订单不存在,请核查订单号")
        if not business.get("cancel_reason_id"):
            return self._fail(dada.CANCEL_REASON_MISSING, "订单取消原因ID不能为空")
        refusals = {
            dada.CANCELLED: (dada.ALREADY_CANCELLED, "订单已取消,无法重复取消"),
            dada.DELIVERING: (dada.CANNOT_CANCEL_DELIVERING, "订单配送中,无法取消"),
            dada.DELIVERED: (dada.CANNOT_CANCEL_DELIVERED, "订单已完成配送,无法取消"),
            dada.EXPIRED: (dada.CANNOT_CANCEL_EXPIRED, "订单已过期,无法取消"),
            dada.RETURNING: (dada.CANNOT_CANCEL_RETURNING, "取消失败[订单状态为9,不能取消]"),
            dada.RETURNED: (dada.CANNOT_CANCEL_RETURNED, "取消失败[订单状态为10,不能取消]"),
        }
        if task.status in refusals:
            return self._fail(*refusals[task.status])
        # a rider on the way costs the merchant a penalty (违约金)
        task.deduct_fee = Decimal("2.00") if task.rider is not None else Decimal("0")
        self._pending.append(
            self._move(
                task,
                dada.CANCELLED,
                cancel_from=dada.BY_MERCHANT,
                reason=str(business.get("cancel_reason") or ""),
            )
        )
        return self._ok({"deduct_fee": float(task.deduct_fee)})

    def _query(self, business: dict[str, Any]) -> SimResponse:
        task = self.tasks.get(str(business.get("order_id")))
        if task is None:
            return self._fail(dada.ORDER_NOT_FOUND, "订单不存在,请核查订单号")
        position = task.position
        rider = task.rider
        fee = float(task.fee)

        def when(moment: datetime | None) -> str:
            return local_text(moment) if moment else ""

        return self._ok(
            {
                "orderId": task.origin_id,
                "statusCode": task.status,
                "statusMsg": dada.STATUS_TEXT[task.status],
                "transporterId": rider[0] if rider else 0,
                "transporterName": rider[1] if rider else "",
                "transporterPhone": rider[2] if rider else "",
                "transporterLng": f"{position.lng:.6f}" if position else "",
                "transporterLat": f"{position.lat:.6f}" if position else "",
                "deliveryFee": fee,
                "tips": 0.0,
                "couponFee": 0.0,
                "insuranceFee": 0.0,
                "actualFee": fee,
                "distance": float(task.distance_m),
                "createTime": when(task.created_at),
                "acceptTime": when(task.accepted_at),
                "fetchTime": when(task.fetched_at),
                "finishTime": when(task.finished_at),
                "cancelTime": when(task.cancelled_at),
                "orderFinishCode": "",
                "deductFee": float(task.deduct_fee),
            }
        )

    # -- the riders -----------------------------------------------------------------------------
    def _move(self, task: Task, status: int, *, cancel_from: int = 0, reason: str = "") -> Callback:
        now = utc_now()
        task.status = status
        # a logical clock: each status of a task is at least a second after the last
        task.update_time = max(int(now.timestamp()), task.update_time + 1)
        if status == dada.TO_PICK_UP:
            task.accepted_at = now
        elif status == dada.DELIVERING:
            task.fetched_at = now
        elif status in (dada.DELIVERED, dada.RETURNED):
            task.finished_at = now
        elif status in ENDED:
            task.cancelled_at = now
        # a failed creation is stamped in milliseconds, every other status in seconds
        update_time = (
            task.update_time * 1000 if status == dada.CREATION_FAILED else task.update_time
        )
        payload: dict[str, Any] = {
            "client_id": task.client_id,
            "order_id": task.origin_id,
            "order_status": status,
            "repeat_reason_type": 0,
            "cancel_reason": reason,
            "cancel_from": cancel_from,
            "update_time": update_time,
            "signature": dada.callback_signature(task.client_id, task.origin_id, update_time),
        }
        if task.rider is not None:
            payload.update(dm_id=task.rider[0], dm_name=task.rider[1], dm_mobile=task.rider[2])
        return Callback(
            f"{task.origin_id} {STATE_NAMES[status]}",
            task.callback,
            json.dumps(payload, ensure_ascii=False).encode(),
            {"Content-Type": "application/json"},
        )

    def tick(self) -> int:
        """Move every live task one step: accepted, at the shop, a leg of the ride, delivered
        (and a failed delivery back to the shop)."""
        callbacks = []
        with self.lock:
            for task in self.tasks.values():
                if task.status in (dada.WAITING, dada.ASSIGNED):
                    rider_id = next(self._rider_ids)
                    task.rider = (rider_id, f"骑士{rider_id}", f"138{rider_id:08d}")
                    callbacks.append(self._move(task, dada.TO_PICK_UP))
                elif task.status == dada.TO_PICK_UP:
                    task.progress = 0.0
                    callbacks.append(self._move(task, dada.AT_SHOP))
                elif task.status == dada.AT_SHOP:
                    callbacks.append(self._move(task, dada.DELIVERING))
                elif task.status == dada.DELIVERING:
                    task.progress = min(1.0, task.progress + 1 / self.legs)
                    if task.progress >= 1.0 - 1e-9:
                        callbacks.append(self._move(task, dada.DELIVERED))
                elif task.status == dada.RETURNING:
                    task.progress = 0.0
                    callbacks.append(self._move(task, dada.RETURNED))
        for callback in callbacks:
            self.send(callback)
        return len(callbacks)

    def _act(self, origin_id: str, status: int, **kwargs: Any) -> None:
        with self.lock:
            task = self.tasks[origin_id]
            if status == dada.WAITING:
                task.rider, task.progress = None, 0.0
            callback = self._move(task, status, **kwargs)
        self.send(callback)

    def rider_gives_up(self, origin_id: str) -> None:
        """The rider cancels: the task goes back to waiting for another rider."""
        self._act(origin_id, dada.WAITING, cancel_from=dada.BY_RIDER, reason="骑士取消")

    def provider_cancels(self, origin_id: str, reason: str = "运力不足") -> None:
        self._act(origin_id, dada.CANCELLED, cancel_from=dada.BY_PLATFORM, reason=reason)

    def expire(self, origin_id: str) -> None:
        self._act(origin_id, dada.EXPIRED, cancel_from=dada.BY_PLATFORM, reason="订单已过期")

    def fail_creation(self, origin_id: str, reason: str = "系统故障订单发布失败") -> None:
        """The platform could not create its waybill (1000); stamped in milliseconds."""
        self._act(origin_id, dada.CREATION_FAILED, cancel_from=dada.BY_PLATFORM, reason=reason)

    def fail_delivery(self, origin_id: str) -> None:
        """The buyer cannot be reached: the goods go back to the shop (9, then 10)."""
        self._act(origin_id, dada.RETURNING, reason="妥投异常")
