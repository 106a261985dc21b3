"""A local stand-in of the store tills (and the small server they talk through).

Cashiers ring up sales and returns at a store; each receipt is sent to the hub signed
(``X-Omnihub-Signature``/``-Timestamp``, ``X-Request-Id``). The hub's stock pushes
(``POST /stock``) are checked for signature (the signing of docs/integration.md, written in
``omnihub_signature``), freshness and shape and kept per store, as the
tills show them. Faults answer as the tills' server would: HTTP 429 with ``Retry-After``, HTTP
500.
"""

from __future__ import annotations

import copy
import itertools
import json
import time
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from omnihub.platforms.local_time import SHANGHAI
from omnihub.simulators.base import PlatformSimulator, SimRequest, SimResponse
from omnihub.simulators.channels.omnihub_signature import refusal, signed_headers

MAX_SKEW_SECONDS = 300
#: how the tills write their local time (no offset)
TILL_TIME = "%Y-%m-%d %H:%M:%S"


def error(code: str, message: str, status: int) -> SimResponse:
    return SimResponse.json({"error": {"code": code, "message": message}}, status)


class PosSimulator(PlatformSimulator):
    name = "pos"

    def __init__(self, *, secret: str = "pos-till-secret-0001", seed: int = 7) -> None:
        super().__init__(secret=secret, seed=seed)
        self.shelves: dict[str, dict[str, int]] = {}
        """store -> channel SKU -> the quantity the hub last pushed for it"""
        self.receipts: dict[str, dict[str, Any]] = {}
        """receipt no -> the receipt as the till sent it (sales and returns)"""
        self.held: list[tuple[str, bytes]] = []
        self.duplicated: list[str] = []
        """ids of the messages sent twice (the duplicate fault)"""
        self._numbers = itertools.count(1)
        self._requests = itertools.count(1)
        self._clock: datetime | None = None
        self.route("POST", "/stock", self._stock)

    def rate_limit_answer(self, request: SimRequest) -> SimResponse:
        response = error("rate_limited", "too many requests, retry later", 429)
        response.headers["retry-after"] = "1"
        return response

    def error_answer(self, request: SimRequest) -> SimResponse:
        return error("internal", "till server error", 500)

    # -- the counter --------------------------------------------------------------------------
    def _now(self) -> datetime:
        """The tills' clock: whole seconds, each receipt strictly after the previous one."""
        with self.lock:
            now = datetime.now(SHANGHAI).replace(microsecond=0)
            if self._clock is not None and now <= self._clock:
                now = self._clock + timedelta(seconds=1)
            self._clock = now
        return now

    def sale(
        self,
        store: str,
        lines: list[tuple[str, int, str]],
        *,
        payments: list[tuple[str, str]] | None = None,
        member_id: str | None = None,
        by_sku: bool = False,
        push: bool = True,
    ) -> str:
        """A cashier rings up ``lines`` (barcode or SKU, qty, unit price); paid in full by
        WeChat unless ``payments`` (method, amount) say otherwise."""
        number = next(self._numbers)
        receipt_no = f"{store}-{time.strftime('%Y%m%d')}-{number:05d}"
        key = "sku" if by_sku else "barcode"
        total = sum(Decimal(price) * qty for _, qty, price in lines)
        receipt: dict[str, Any] = {
            "store": store,
            "receipt_no": receipt_no,
            "type": "sale",
            "cashier": f"C{number % 7 + 1:03d}",
            "sold_at": self._now().strftime(TILL_TIME),
            "lines": [
                {key: code, "qty": qty, "price": price, "discount": "0.00"}
                for code, qty, price in lines
            ],
            "payments": [
                {"method": method, "amount": amount}
                for method, amount in (payments or [("wechat", f"{total:.2f}")])
            ],
        }
        if member_id:
            receipt["member_id"] = member_id
        with self.lock:
            self.receipts[receipt_no] = receipt
        if push:
            self.notify(receipt_no)
        return receipt_no

    def return_sale(self, original_receipt_no: str, *, push: bool = True) -> str:
        """The buyer brings everything on the receipt back; refunded the way it was paid."""
        with self.lock:
            sale = copy.deepcopy(self.receipts[original_receipt_no])
        number = next(self._numbers)
        receipt_no = f"{sale['store']}-{time.strftime('%Y%m%d')}-R{number:05d}"
        receipt = {
            "store": sale["store"],
            "receipt_no": receipt_no,
            "type": "return",
            "original_receipt_no": original_receipt_no,
            "cashier": sale["cashier"],
            "sold_at": self._now().strftime(TILL_TIME),
            "lines": sale["lines"],
            "payments": sale["payments"],
        }
        with self.lock:
            self.receipts[receipt_no] = receipt
        if push:
            self.notify(receipt_no)
        return receipt_no

    # -- sending to the hub -------------------------------------------------------------------
    def body(self, receipt_no: str) -> bytes:
        with self.lock:
            return json.dumps(self.receipts[receipt_no], ensure_ascii=False).encode()

    def headers(
        self,
        body: bytes,
        *,
        request_id: str | None = None,
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> dict[str, str]:
        request_id = request_id or f"pos-{next(self._requests):08d}-{self.rng.getrandbits(32):08x}"
        return signed_headers(secret or self.secret, body, request_id, timestamp)

    def send(self, receipt_no: str, body: bytes, **header_options: Any) -> int:
        return self.push(receipt_no, body, self.headers(body, **header_options))

    def notify(self, receipt_no: str) -> None:
        """Send a receipt, with the faults asked for: a duplicate (the till resent it with a
        new request id) or, out of order, a sale held back until the next receipt went."""
        body = self.body(receipt_no)
        with self.lock:
            is_sale = self.receipts[receipt_no]["type"] == "sale"
        if self.faults.out_of_order and is_sale:
            with self.lock:
                self.held.append((receipt_no, body))
            return
        self.send(receipt_no, body)
        if self.roll(self.faults.duplicate_rate):
            with self.lock:
                self.duplicated.append(receipt_no)
            self.send(receipt_no, body)
        self.flush()

    def flush(self) -> None:
        with self.lock:
            late, self.held = self.held, []
        for receipt_no, body in late:
            self.send(receipt_no, body)

    # -- what the hub calls -------------------------------------------------------------------
    def _stock(self, request: SimRequest) -> SimResponse:
        why = refusal(self.secret, request.headers, request.body, MAX_SKEW_SECONDS)
        if why is not None:
            return self.refuse(request, why, 401)
        try:
            payload = json.loads(request.body)
        except ValueError:
            return self.refuse(request, "the body is not JSON")
        if not isinstance(payload, dict):
            return self.refuse(request, "the body is not an object")
        quantity, channel_sku = payload.get("quantity"), payload.get("channel_sku")
        if not isinstance(channel_sku, str) or not channel_sku:
            return self.refuse(request, "channel_sku is missing")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
            return self.refuse(request, f"quantity {quantity!r} is not a count")
        store = str(payload.get("store") or "*")
        with self.lock:
            self.shelves.setdefault(store, {})[channel_sku] = quantity
        self.set_stock(channel_sku, quantity)
        return SimResponse.json({"ok": True})
