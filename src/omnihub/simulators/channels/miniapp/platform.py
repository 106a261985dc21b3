"""A local stand-in of our WeChat mini-program's back end.

Buyers place, pay, cancel and ask refunds for orders; each change is sent to the hub as the
canonical order JSON, signed (``X-Omnihub-Signature``/``-Timestamp``, ``X-Request-Id``). The hub's
calls back (``POST /stock``, ``POST /orders/status``) are checked for signature, freshness and
shape, and kept (the signing of docs/integration.md, written in ``omnihub_signature``).
Faults answer as our back end would: HTTP 429 with ``Retry-After`` and
``{"error": {"code": "rate_limited"}}``, HTTP 500 ``{"error": {"code": "internal"}}``.
"""

from __future__ import annotations

import itertools
import json
import time
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from omnihub.platforms.local_time import SHANGHAI
from omnihub.simulators.base import PlatformSimulator, SimRequest, SimResponse
from omnihub.simulators.channels.omnihub_signature import refusal, signed_headers

#: how far the hub's signed timestamp may be from ours
MAX_SKEW_SECONDS = 300
#: the order statuses the back end takes from the hub (``POST /orders/status``)
STATUSES_IN = frozenset({"shipped", "delivered", "cancelled", "refunded"})


def error(code: str, message: str, status: int) -> SimResponse:
    return SimResponse.json({"error": {"code": code, "message": message}}, status)


class MiniappSimulator(PlatformSimulator):
    name = "miniapp"

    def __init__(self, *, secret: str = "miniapp-secret-0001", seed: int = 7) -> None:
        super().__init__(secret=secret, seed=seed)
        self.statuses: dict[str, list[dict[str, Any]]] = {}
        """external id -> every status call the hub made for it, in order"""
        self.held: dict[str, list[bytes]] = {}
        self.duplicated: list[str] = []
        """ids of the messages sent twice (the duplicate fault)"""
        self._ids = itertools.count(1)
        self._requests = itertools.count(1)
        self._last: dict[str, datetime] = {}
        self._day = time.strftime("%Y%m%d")
        self.route("POST", "/stock", self._stock)
        self.route("POST", "/orders/status", self._status)

    # -- our back end's error answers ---------------------------------------------------------
    def rate_limit_answer(self, request: SimRequest) -> SimResponse:
        response = error("rate_limited", "too many requests, retry later", 429)
        response.headers["retry-after"] = "1"
        return response

    def error_answer(self, request: SimRequest) -> SimResponse:
        return error("internal", "internal error", 500)

    # -- orders -------------------------------------------------------------------------------
    def _moment(self, external_id: str) -> datetime:
        """Now, strictly after the order's previous change."""
        with self.lock:
            now = datetime.now(SHANGHAI)
            now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # as it is sent
            last = self._last.get(external_id)
            if last is not None and now <= last:
                now = last + timedelta(milliseconds=1)
            self._last[external_id] = now
        return now

    def place_order(
        self,
        lines: list[tuple[str, int, str]],
        *,
        delivery: str = "express",
        pickup_location: str | None = None,
        openid: str | None = None,
        unionid: str | None = None,
        external_id: str | None = None,
        shipping_fee: str = "0.00",
        remark: str = "",
        push: bool = True,
    ) -> str:
        """A buyer places an order: ``lines`` are (channel SKU, qty, unit price)."""
        number = next(self._ids)
        external_id = external_id or f"MP{self._day}{number:06d}"
        moment = self._moment(external_id).isoformat(timespec="milliseconds")
        order: dict[str, Any] = {
            "channel": "miniapp",
            "external_id": external_id,
            "status": "created",
            "created_at": moment,
            "updated_at": moment,
            "buyer": {
                "openid": openid or f"oMini{number:08d}x",
                "unionid": unionid or f"oUnion{number:08d}y",
                "name": "张三",
                "phone": "13800000000",
            },
            "delivery": delivery,
            "lines": [
                {"channel_sku": sku, "qty": qty, "unit_price": price, "discount": "0.00"}
                for sku, qty, price in lines
            ],
            "shipping_fee": shipping_fee,
            "currency": "CNY",
            "remark": remark,
        }
        if delivery == "pickup":
            order["pickup_location"] = pickup_location
        else:
            order["ship_to"] = {
                "name": "张三",
                "phone": "13800000000",
                "province": "上海市",
                "city": "上海市",
                "district": "静安区",
                "address": "南京西路 1266 号",
                "lat": 31.2297,
                "lon": 121.4551,
            }
        self.keep_order(external_id, order, datetime.now(SHANGHAI))
        if push:
            self.notify(external_id)
        return external_id

    def _change(self, external_id: str, push: bool, **fields: Any) -> None:
        with self.lock:
            order = self.orders[external_id]
            moment = self._moment(external_id)
            order.update(fields)
            order["updated_at"] = moment.isoformat(timespec="milliseconds")
            self.keep_order(external_id, order, moment)
        if push:
            self.notify(external_id)

    def pay(self, external_id: str, *, push: bool = True) -> None:
        with self.lock:
            order = self.orders[external_id]
            goods = sum(Decimal(ln["unit_price"]) * ln["qty"] for ln in order["lines"])
            total = f"{goods + Decimal(order['shipping_fee']):.2f}"
        self._change(
            external_id,
            push,
            status="paid",
            payment={
                "provider": "wechat",
                "transaction_id": f"4200{external_id[-10:]}",
                "amount": total,
                "paid_at": datetime.now(SHANGHAI).isoformat(timespec="seconds"),
            },
        )

    def cancel(self, external_id: str, *, push: bool = True) -> None:
        self._change(external_id, push, status="cancelled", refund_requested=False)

    def request_refund(self, external_id: str, *, push: bool = True) -> None:
        self._change(external_id, push, refund_requested=True)

    def withdraw_refund(self, external_id: str, *, push: bool = True) -> None:
        self._change(external_id, push, refund_requested=False)

    def refund(self, external_id: str, *, push: bool = True) -> None:
        self._change(external_id, push, status="refunded", refund_requested=False)

    # -- sending to the hub -------------------------------------------------------------------
    def body(self, external_id: str) -> bytes:
        with self.lock:
            return json.dumps(self.orders[external_id], ensure_ascii=False).encode()

    def headers(
        self,
        body: bytes,
        *,
        request_id: str | None = None,
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> dict[str, str]:
        request_id = request_id or f"mp-{next(self._requests):08d}-{self.rng.getrandbits(32):08x}"
        return signed_headers(secret or self.secret, body, request_id, timestamp)

    def send(self, external_id: str, body: bytes, **header_options: Any) -> int:
        return self.push(external_id, body, self.headers(body, **header_options))

    def notify(self, external_id: str) -> None:
        """Send the order's current state, with the faults asked for: a duplicate (the back end
        retried the job: same order, a new request id) or, out of order, the order's first
        message held back until after its next one."""
        body = self.body(external_id)
        with self.lock:
            first = external_id not in self.held and all(
                ext != external_id for ext, _ in self.pushed
            )
        if self.faults.out_of_order and first:
            with self.lock:
                self.held.setdefault(external_id, []).append(body)
            return
        self.send(external_id, body)
        if self.roll(self.faults.duplicate_rate):
            with self.lock:
                self.duplicated.append(external_id)
            self.send(external_id, body)
        with self.lock:
            late = self.held.pop(external_id, [])
        for held in late:
            self.send(external_id, held)

    def flush(self) -> None:
        with self.lock:
            late, self.held = self.held, {}
        for external_id, bodies in late.items():
            for body in bodies:
                self.send(external_id, body)

    # -- what the hub calls -------------------------------------------------------------------
    def _checked(self, request: SimRequest) -> dict[str, Any] | SimResponse:
        why = refusal(self.secret, request.headers, request.body, MAX_SKEW_SECONDS)
        if why is not None:
            return self.refuse(request, why, 401)
        try:
            payload = json.loads(request.body)
        except ValueError:
            return self.refuse(request, "the body is not JSON")
        if not isinstance(payload, dict):
            return self.refuse(request, "the body is not an object")
        return payload

    def _stock(self, request: SimRequest) -> SimResponse:
        payload = self._checked(request)
        if isinstance(payload, SimResponse):
            return payload
        quantity, channel_sku = payload.get("quantity"), payload.get("channel_sku")
        if not isinstance(channel_sku, str) or not channel_sku:
            return self.refuse(request, "channel_sku is missing")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
            return self.refuse(request, f"quantity {quantity!r} is not a count")
        if not isinstance(payload.get("version"), int):
            return self.refuse(request, "version is missing")
        self.set_stock(channel_sku, quantity)
        return SimResponse.json({"ok": True})

    def _status(self, request: SimRequest) -> SimResponse:
        payload = self._checked(request)
        if isinstance(payload, SimResponse):
            return payload
        external_id, status = payload.get("external_id"), payload.get("status")
        if status not in STATUSES_IN:
            return self.refuse(request, f"status {status!r} is not one we take")
        with self.lock:
            known = external_id in self.orders
            if known:
                self.statuses.setdefault(str(external_id), []).append(payload)
        if not known:
            return self.refuse(request, f"no order {external_id!r}", 404)
        if status == "shipped":
            self.record_shipment(payload)
        return SimResponse.json({"ok": True})
