"""A local stand-in of an ERPNext site's REST API: customers, items with valuation rates,
warehouses and bins, sales orders and return delivery notes through their docstatus, and
purchase receipts and stock reconciliations it can be told to submit, each followed by a
signed webhook to the hub (``webhook_url``). It checks ``Authorization: token key:secret``,
list ``filters`` (``[field, op, value]`` with ``=``, ``!=``, ``in``, ``>=``, ``<=``, ``>``,
``<``) and the documents' fields, and answers errors as Frappe does (HTTP 417 / 404 / 401
with ``exc_type`` and ``_server_messages``).

Written from Frappe's REST API and Webhook documents, not from the adapter: a webhook with
"Enable Security" posts the document as ``json.dumps`` writes it and signs that body with
``X-Frappe-Webhook-Signature``, the base64 HMAC-SHA256 keyed with the webhook's secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from omnihub.platforms.local_time import SHANGHAI, utc_now
from omnihub.simulators.backends.base import (
    BackendSimulator,
    Callback,
    SimRequest,
    SimResponse,
)

RESOURCE = "/api/resource"
CANCEL = "/api/method/frappe.client.cancel"
#: the header a Webhook with "Enable Security" signs its request with
WEBHOOK_SIGNATURE = "X-Frappe-Webhook-Signature"

SALES_ORDER = "Sales Order"
DELIVERY_NOTE = "Delivery Note"
PURCHASE_RECEIPT = "Purchase Receipt"
STOCK_RECONCILIATION = "Stock Reconciliation"
ITEM = "Item"
BIN = "Bin"


def webhook_body(doc: dict[str, Any]) -> bytes:
    """The request body of a JSON webhook: the data as Python's ``json.dumps`` writes it."""
    return json.dumps(doc).encode()


def webhook_signature(secret: str, body: bytes) -> str:
    """Base64 of the HMAC-SHA256 of the body, keyed with the webhook's secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class FrappeError(Exception):
    def __init__(self, status: int, exc_type: str, message: str) -> None:
        super().__init__(message)
        self.status, self.exc_type, self.message = status, exc_type, message


def _answer_error(error: FrappeError) -> SimResponse:
    return SimResponse.json(
        {
            "exc_type": error.exc_type,
            "exception": f"frappe.exceptions.{error.exc_type}: {error.message}",
            "_server_messages": json.dumps([json.dumps({"message": error.message})]),
        },
        error.status,
    )


class ErpNextSimulator(BackendSimulator):
    name = "erpnext"

    def __init__(
        self,
        *,
        api_key: str = "sim-key",
        api_secret: str = "sim-secret",
        webhook_secret: str = "sim-webhook-secret",
        seed: int = 7,
    ) -> None:
        super().__init__(secret=webhook_secret, seed=seed)
        self.api_key, self.api_secret, self.webhook_secret = api_key, api_secret, webhook_secret
        self.fresh()
        for method in ("GET", "POST", "PUT", "DELETE"):
            self.route_prefix(method, RESOURCE, self._resource)
        self.route("POST", CANCEL, self._cancel)

    def fresh(self) -> None:
        self.webhook_url: str | None = None
        self.customers: set[str] = {"Demo Customer"}
        self.docs: dict[str, dict[str, dict[str, Any]]] = {
            SALES_ORDER: {},
            DELIVERY_NOTE: {},
            PURCHASE_RECEIPT: {},
            STOCK_RECONCILIATION: {},
            ITEM: {},
            BIN: {},
        }
        self.warehouses: set[str] = set()
        self._counters: dict[str, int] = {}

    # -- the ERP's data ---------------------------------------------------------------------
    def credentials(self) -> dict[str, str]:
        return {
            "api_key": self.api_key,
            "api_secret": self.api_secret,
            "webhook_secret": self.webhook_secret,
        }

    def add_item(self, code: str, valuation_rate: str = "0") -> None:
        with self.lock:
            self.docs[ITEM][code] = {
                "doctype": ITEM,
                "name": code,
                "item_code": code,
                "valuation_rate": float(Decimal(valuation_rate)),
            }

    def add_warehouse(self, name: str) -> None:
        with self.lock:
            self.warehouses.add(name)

    def put_stock(self, warehouse: str, code: str, qty: int) -> None:
        with self.lock:
            self.warehouses.add(warehouse)
            self._bin(warehouse, code)["actual_qty"] = float(qty)

    def _bin(self, warehouse: str, code: str) -> dict[str, Any]:
        name = f"{code}@{warehouse}"
        return self.docs[BIN].setdefault(
            name,
            {
                "doctype": BIN,
                "name": name,
                "item_code": code,
                "warehouse": warehouse,
                "actual_qty": 0.0,
                "reserved_qty": 0.0,
            },
        )

    def doc(self, doctype: str, name: str) -> dict[str, Any] | None:
        with self.lock:
            return self.docs[doctype].get(name)

    def find(self, doctype: str, **values: Any) -> list[dict[str, Any]]:
        with self.lock:
            return [
                d
                for d in self.docs[doctype].values()
                if all(d.get(k) == v for k, v in values.items())
            ]

    def _name(self, doctype: str) -> str:
        prefix = {
            SALES_ORDER: "SAL-ORD",
            DELIVERY_NOTE: "MAT-DN-RET",
            PURCHASE_RECEIPT: "MAT-PRE",
            STOCK_RECONCILIATION: "MAT-RECO",
        }[doctype]
        self._counters[doctype] = self._counters.get(doctype, 0) + 1
        return f"{prefix}-{utc_now().year}-{self._counters[doctype]:05d}"

    @staticmethod
    def _stamp(doc: dict[str, Any], at: datetime) -> None:
        local = at.astimezone(SHANGHAI)
        doc.update(
            posting_date=local.strftime("%Y-%m-%d"),
            posting_time=local.strftime("%H:%M:%S.%f"),
            modified=local.strftime("%Y-%m-%d %H:%M:%S.%f"),
        )

    def submit_receipt(
        self, warehouse: str, lines: dict[str, int], at: datetime | None = None
    ) -> dict[str, Any]:
        """A submitted Purchase Receipt: stock goes up, the webhook fires."""
        with self.lock:
            doc: dict[str, Any] = {
                "doctype": PURCHASE_RECEIPT,
                "name": self._name(PURCHASE_RECEIPT),
                "docstatus": 1,
                "supplier": "Demo Supplier",
                "set_warehouse": warehouse,
                "is_return": 0,
                "items": [
                    {
                        "item_code": code,
                        "qty": float(qty),
                        "received_qty": float(qty),
                        "warehouse": warehouse,
                    }
                    for code, qty in lines.items()
                ],
            }
            self._stamp(doc, at or utc_now())
            self.docs[PURCHASE_RECEIPT][doc["name"]] = doc
            for code, qty in lines.items():
                self._bin(warehouse, code)["actual_qty"] += qty
        self._webhook(doc)
        return doc

    def submit_reconciliation(
        self, warehouse: str, counts: dict[str, int], at: datetime | None = None
    ) -> dict[str, Any]:
        """A submitted Stock Reconciliation: stock becomes what was counted; webhook."""
        with self.lock:
            doc: dict[str, Any] = {
                "doctype": STOCK_RECONCILIATION,
                "name": self._name(STOCK_RECONCILIATION),
                "docstatus": 1,
                "purpose": "Stock Reconciliation",
                "items": [
                    {
                        "item_code": code,
                        "warehouse": warehouse,
                        "qty": float(qty),
                        "current_qty": self._bin(warehouse, code)["actual_qty"],
                    }
                    for code, qty in counts.items()
                ],
            }
            self._stamp(doc, at or utc_now())
            self.docs[STOCK_RECONCILIATION][doc["name"]] = doc
            for code, qty in counts.items():
                self._bin(warehouse, code)["actual_qty"] = float(qty)
        self._webhook(doc)
        return doc

    def _webhook(self, doc: dict[str, Any]) -> None:
        if not self.webhook_url:
            return
        body = webhook_body(doc)
        self.send(
            Callback(
                doc["doctype"],
                self.webhook_url,
                body,
                {
                    "Content-Type": "application/json",
                    WEBHOOK_SIGNATURE: webhook_signature(self.webhook_secret, body),
                },
            )
        )

    # -- REST ---------------------------------------------------------------------------------
    def rate_limit_answer(self, request: SimRequest) -> SimResponse:
        return _answer_error(FrappeError(429, "RateLimitExceededError", "Too Many Requests"))

    def error_answer(self, request: SimRequest) -> SimResponse:
        return _answer_error(FrappeError(500, "QueryDeadlockError", "Deadlock found"))

    def _authorised(self, request: SimRequest) -> bool:
        return request.headers.get("authorization") == f"token {self.api_key}:{self.api_secret}"

    def _resource(self, request: SimRequest) -> SimResponse:
        if not self._authorised(request):
            return _answer_error(FrappeError(401, "AuthenticationError", "Invalid token"))
        doctype, _, name = request.query.get("_rest", "").partition("/")
        try:
            with self.lock:
                if doctype not in self.docs:
                    raise FrappeError(404, "DoesNotExistError", f"DocType {doctype} not found")
                if request.method == "GET" and not name:
                    return SimResponse.json({"data": self._list(doctype, request.query)})
                if request.method == "GET":
                    return SimResponse.json({"data": self._get(doctype, name)})
                if request.method == "POST" and not name:
                    return SimResponse.json({"data": self._insert(doctype, request.json())})
                if request.method == "PUT" and name:
                    return SimResponse.json({"data": self._update(doctype, name, request.json())})
                if request.method == "DELETE" and name:
                    doc = self._get(doctype, name)
                    if doc.get("docstatus") != 0:
                        raise FrappeError(
                            417, "LinkExistsError", "Submitted documents cannot be deleted"
                        )
                    del self.docs[doctype][name]
                    return SimResponse.json({"message": "ok"})
        except FrappeError as exc:
            return _answer_error(exc)
        except (ValueError, TypeError, KeyError) as exc:
            return _answer_error(FrappeError(417, "ValidationError", str(exc)))
        return _answer_error(FrappeError(405, "MethodNotAllowed", request.method))

    def _cancel(self, request: SimRequest) -> SimResponse:
        if not self._authorised(request):
            return _answer_error(FrappeError(401, "AuthenticationError", "Invalid token"))
        body = request.json()
        try:
            with self.lock:
                doc = self._get(str(body.get("doctype")), str(body.get("name")))
                if doc["docstatus"] != 1:
                    raise FrappeError(
                        417,
                        "DocstatusTransitionError",
                        "Cannot cancel a document that is not submitted",
                    )
                doc["docstatus"] = 2
        except FrappeError as exc:
            return _answer_error(exc)
        return SimResponse.json({})

    def _get(self, doctype: str, name: str) -> dict[str, Any]:
        doc = self.docs.get(doctype, {}).get(name)
        if doc is None:
            raise FrappeError(404, "DoesNotExistError", f"{doctype} {name} not found")
        return doc

    def _list(self, doctype: str, query: dict[str, str]) -> list[dict[str, Any]]:
        fields = json.loads(query.get("fields", '["name"]'))
        filters = json.loads(query.get("filters", "[]"))
        rows = [d for d in self.docs[doctype].values() if all(_match(d, f) for f in filters)]
        order = query.get("order_by", "")
        if order.startswith("modified"):
            rows.sort(key=lambda d: d.get("modified", ""))
        start = int(query.get("limit_start", 0))
        size = int(query.get("limit_page_length", 20))
        for name in fields:
            if rows and name not in rows[0] and name not in ("name", "docstatus"):
                raise FrappeError(417, "DataError", f"Field not permitted in query: {name}")
        return [{f: d.get(f) for f in fields} for d in rows[start : start + size]]

    def _insert(self, doctype: str, body: dict[str, Any]) -> dict[str, Any]:
        if doctype not in (SALES_ORDER, DELIVERY_NOTE):
            raise FrappeError(403, "PermissionError", f"No permission to create {doctype}")
        if body.get("customer") not in self.customers:
            raise FrappeError(
                417, "LinkValidationError", f"Could not find Customer: {body.get('customer')}"
            )
        items = body.get("items")
        if not isinstance(items, list) or not items:
            raise FrappeError(417, "MandatoryError", "items is mandatory")
        for item in items:
            if item.get("item_code") not in self.docs[ITEM]:
                raise FrappeError(
                    417, "LinkValidationError", f"Could not find Item: {item.get('item_code')}"
                )
            if item.get("warehouse") not in self.warehouses:
                raise FrappeError(
                    417, "LinkValidationError", f"Could not find Warehouse: {item.get('warehouse')}"
                )
            qty = item.get("qty")
            wrong_sign = qty is None or (qty >= 0 if body.get("is_return") else qty <= 0)
            if wrong_sign:
                raise FrappeError(417, "ValidationError", f"Quantity {qty} is not allowed")
        if body.get("docstatus") not in (0, 1):
            raise FrappeError(417, "DocstatusTransitionError", "docstatus must be 0 or 1")
        doc = {**body, "doctype": doctype, "name": self._name(doctype)}
        self._stamp(doc, utc_now())
        self.docs[doctype][doc["name"]] = doc
        return doc

    def _update(self, doctype: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        doc = self._get(doctype, name)
        target = body.get("docstatus", doc["docstatus"])
        allowed = {(0, 0), (0, 1), (1, 1), (1, 2), (2, 2)}
        if (doc["docstatus"], target) not in allowed:
            raise FrappeError(
                417,
                "DocstatusTransitionError",
                f"Cannot change docstatus from {doc['docstatus']} to {target}",
            )
        if doc["docstatus"] != 0 and set(body) - {"docstatus"}:
            raise FrappeError(417, "UpdateAfterSubmitError", "Not allowed to change after submit")
        doc.update(body)
        return doc


def _match(doc: dict[str, Any], condition: list[Any]) -> bool:
    if len(condition) == 4:
        condition = condition[1:]
    field_name, op, wanted = condition
    value = doc.get(field_name)
    if op == "=":
        return bool(value == wanted)
    if op == "!=":
        return bool(value != wanted)
    if op == "in":
        return value in wanted
    if value is None:
        return False
    comparisons = {
        ">=": value >= wanted,
        "<=": value <= wanted,
        ">": value > wanted,
        "<": value < wanted,
    }
    if op not in comparisons:
        raise FrappeError(417, "ValidationError", f"Operator {op} is not supported")
    return bool(comparisons[op])
