"""A local stand-in of a K/3 Cloud WebAPI: one account, materials, warehouses and stock, and
the bills the hub books (sales orders, sales returns) moving through their statuses, plus
purchase receipts and stock counts it can be told to approve. It checks the session cookie,
the body shape, materials and warehouses, and answers in the WebAPI's own format (errors in
``Result.ResponseStatus`` with a ``MsgCode``; query errors wrapped as ``[[{...}]]``).

Written from the WebAPI's documents and SDKs, not from the adapter: the service paths
(``Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.<Operation>.common.kdsvc``), the
bodies (``{"formid", "data"}``, ``data`` as an object or as JSON text; ``ExcuteOperation``
with ``opNumber``; ``ExecuteBillQuery`` with ``FormId``, ``FieldKeys``, ``FilterString``,
``StartRow``, ``Limit``), the forms and their fields, and the ``MsgCode`` values.
``ExecuteBillQuery`` understands filters of clauses joined by ``and``, each ``Field='v'``,
``Field>='v'`` or ``Field in ('a','b')``.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from omnihub.platforms.local_time import local_text, utc_now
from omnihub.simulators.backends.base import BackendSimulator, SimRequest, SimResponse

_CLAUSE = re.compile(
    r"^\s*(?P<field>[\w.]+)\s*(?:(?P<op>>=|=)\s*'(?P<value>(?:[^']|'')*)'"
    r"|in\s*\((?P<values>.*)\))\s*$",
    re.IGNORECASE,
)
_LITERAL = re.compile(r"'((?:[^']|'')*)'")


#: where the WebAPI lives on the server (``http://host/K3Cloud``)
BASE = "/K3Cloud"
LOGIN = BASE + "/Kingdee.BOS.WebApi.ServicesStub.AuthService.ValidateUser.common.kdsvc"
#: the session cookie ValidateUser sets and every later call carries
SESSION_COOKIE = "kdservice-sessionid"

# forms (FormId)
SALES_ORDER = "SAL_SaleOrder"  # 销售订单
SALES_RETURN = "SAL_RETURNSTOCK"  # 销售退货单
INVENTORY = "STK_Inventory"  # 即时库存
MATERIAL = "BD_MATERIAL"  # 物料
PURCHASE_RECEIPT = "STK_InStock"  # 采购入库单
STOCK_COUNT = "STK_StockCountInput"  # 物料盘点作业

# MsgCode values of a failed ResponseStatus
SESSION_LOST = 1  # 上下文丢失 (会话过期)
OPERATION_UNKNOWN = 3
FORM_UNKNOWN = 5
DATABASE_FAILED = 6
BAD_PARAMETER = 8
FIELD_UNKNOWN = 9
NOT_FOUND = 10
VALIDATION_FAILED = 11
NOT_ALLOWED = 12
CALL_LIMITED = 14


def service(operation: str) -> str:
    """The path of a DynamicFormService operation (``Save``, ``ExecuteBillQuery``, ...;
    ``ExcuteOperation`` is the WebAPI's own spelling)."""
    return f"{BASE}/Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.{operation}.common.kdsvc"


class KingdeeError(Exception):
    def __init__(self, message: str, msg_code: int, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.msg_code = msg_code
        self.field = field


@dataclass
class Bill:
    form_id: str
    fid: int
    number: str
    model: dict[str, Any]
    status: str = "A"
    cancel: str = "A"
    approved_at: datetime | None = None
    entries: list[dict[str, Any]] = field(default_factory=list)
    """rows of (warehouse, material, qty) for receipts and counts"""


class KingdeeSimulator(BackendSimulator):
    name = "kingdee"

    def __init__(
        self,
        *,
        acct_id: str = "sim-acct",
        username: str = "api",
        password: str = "sim-pass",
        seed: int = 7,
    ) -> None:
        super().__init__(secret=password, seed=seed)
        self.acct_id, self.username, self.password = acct_id, username, password
        self.fresh()
        self.route("POST", LOGIN, self._login)
        for operation, handler in {
            "Save": self._save,
            "Submit": self._submit,
            "Audit": self._audit,
            "UnAudit": self._unaudit,
            "CancelAssign": self._cancel_assign,
            "ExcuteOperation": self._operation,
            "ExecuteBillQuery": self._query,
        }.items():
            self.route("POST", service(operation), self._guarded(handler))

    def fresh(self) -> None:
        self.sessions: set[str] = set()
        self.logins = 0
        self.materials: dict[str, Decimal] = {}
        """material number -> reference cost"""
        self.warehouses: set[str] = set()
        self.inventory: dict[tuple[str, str], int] = {}
        """(warehouse, material) -> base quantity"""
        self.bills: dict[str, dict[str, Bill]] = {}
        """form id -> bill number -> bill"""
        self._fid = 100000

    # -- the ERP's data ---------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        return self.url + BASE

    def credentials(self) -> dict[str, str]:
        return {"acct_id": self.acct_id, "username": self.username, "password": self.password}

    def add_material(self, code: str, cost: str = "0") -> None:
        with self.lock:
            self.materials[code] = Decimal(cost)

    def put_stock(self, warehouse: str, material: str, qty: int) -> None:
        with self.lock:
            self.warehouses.add(warehouse)
            self.inventory[(warehouse, material)] = qty

    def add_warehouse(self, code: str) -> None:
        with self.lock:
            self.warehouses.add(code)

    def approve_receipt(
        self, number: str, warehouse: str, lines: dict[str, int], at: datetime | None = None
    ) -> None:
        """An audited purchase receipt (采购入库单): stock goes up."""
        with self.lock:
            bill = self._new_bill(PURCHASE_RECEIPT, number, {})
            bill.status, bill.approved_at = "C", at or utc_now()
            for material, qty in lines.items():
                bill.entries.append(
                    {"FStockId.FNumber": warehouse, "FMaterialId.FNumber": material, "qty": qty}
                )
                key = (warehouse, material)
                self.inventory[key] = self.inventory.get(key, 0) + qty

    def approve_count(
        self, number: str, warehouse: str, counts: dict[str, int], at: datetime | None = None
    ) -> None:
        """An audited stock count (物料盘点作业): stock becomes what was counted."""
        with self.lock:
            bill = self._new_bill(STOCK_COUNT, number, {})
            bill.status, bill.approved_at = "C", at or utc_now()
            for material, qty in counts.items():
                bill.entries.append(
                    {"FStockId.FNumber": warehouse, "FMaterialId.FNumber": material, "qty": qty}
                )
                self.inventory[(warehouse, material)] = qty

    def bill(self, form_id: str, number: str) -> Bill | None:
        with self.lock:
            return self.bills.get(form_id, {}).get(number)

    def expire_sessions(self) -> None:
        with self.lock:
            self.sessions.clear()

    def _new_bill(self, form_id: str, number: str, model: dict[str, Any]) -> Bill:
        self._fid += 1
        bill = Bill(form_id, self._fid, number, model)
        self.bills.setdefault(form_id, {})[number] = bill
        return bill

    # -- answers --------------------------------------------------------------------------------
    @staticmethod
    def _status(
        success: bool,
        *,
        errors: list[dict[str, Any]] | None = None,
        msg_code: int = 0,
        entities: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        status: dict[str, Any] = {
            "IsSuccess": success,
            "Errors": errors or [],
            "SuccessEntitys": entities or [],
            "SuccessMessages": [],
            "MsgCode": msg_code,
        }
        if not success:
            status["ErrorCode"] = 500
        return {"Result": {"ResponseStatus": status}}

    def _error(
        self, request: SimRequest, message: str, msg_code: int, field_name: str | None = None
    ) -> SimResponse:
        body = self._status(
            False,
            msg_code=msg_code,
            errors=[{"FieldName": field_name, "Message": message, "DIndex": 0}],
        )
        if request.path == service("ExecuteBillQuery"):
            return SimResponse.json([[body]])
        return SimResponse.json(body)

    def rate_limit_answer(self, request: SimRequest) -> SimResponse:
        return self._error(request, "接口调用频率超过限制", CALL_LIMITED)

    def error_answer(self, request: SimRequest) -> SimResponse:
        return self._error(request, "数据库操作失败", DATABASE_FAILED)

    def _guarded(self, handler: Callable[[dict[str, Any]], Any]) -> Callable[..., SimResponse]:
        def serve(request: SimRequest) -> SimResponse:
            cookie = request.headers.get("cookie", "")
            session = dict(
                part.strip().split("=", 1) for part in cookie.split(";") if "=" in part
            ).get(SESSION_COOKIE)
            with self.lock:
                known = session in self.sessions
            if not known:
                return self._error(request, "会话信息已丢失，请重新登录", SESSION_LOST)
            try:
                payload = request.json()
                if isinstance(payload, dict) and isinstance(payload.get("data"), str):
                    payload["data"] = json.loads(payload["data"])  # the SDKs send it as text
                if not isinstance(payload, dict):
                    raise KingdeeError("请求参数必须是JSON对象", BAD_PARAMETER)
                with self.lock:
                    return SimResponse.json(handler(payload))
            except KingdeeError as exc:
                return self._error(request, exc.message, exc.msg_code, exc.field)
            except (ValueError, KeyError, TypeError) as exc:
                return self._error(request, f"参数错误: {exc}", BAD_PARAMETER)

        return serve

    # -- WebAPI services ------------------------------------------------------------------------
    def _login(self, request: SimRequest) -> SimResponse:
        body = request.json()
        ok = (
            body.get("acctID") == self.acct_id
            and body.get("username") == self.username
            and body.get("password") == self.password
        )
        if not ok:
            return SimResponse.json(
                {
                    "Message": "用户名或密码错误",
                    "LoginResultType": 0,
                    "KDSVCSessionId": None,
                    "IsSuccessByAPI": False,
                }
            )
        session = secrets.token_hex(16)
        with self.lock:
            self.sessions.add(session)
            self.logins += 1
        response = SimResponse.json(
            {
                "Message": None,
                "LoginResultType": 1,
                "KDSVCSessionId": session,
                "IsSuccessByAPI": True,
                "Lcid": body.get("lcid", 2052),
            }
        )
        response.headers["set-cookie"] = f"{SESSION_COOKIE}={session}; path=/"
        return response

    def _model(self, payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        form_id = payload.get("formid")
        data = payload.get("data")
        if form_id not in (SALES_ORDER, SALES_RETURN):
            raise KingdeeError(f"表单 {form_id} 不支持", FORM_UNKNOWN)
        if not isinstance(data, dict) or not isinstance(data.get("Model"), dict):
            raise KingdeeError("缺少 Model", BAD_PARAMETER)
        return str(form_id), data["Model"]

    def _check_reference(self, value: Any, field_name: str, known: Iterable[str]) -> None:
        if not isinstance(value, dict) or value.get("FNumber") not in set(known):
            raise KingdeeError(
                f"字段 {field_name} 的值 {value} 不存在", VALIDATION_FAILED, field_name
            )

    def _save(self, payload: dict[str, Any]) -> Any:
        form_id, model = self._model(payload)
        number = model.get("FBillNo")
        if not number:
            raise KingdeeError("单据编号不能为空", VALIDATION_FAILED, "FBillNo")
        if number in self.bills.get(form_id, {}):
            raise KingdeeError(f"单据编号 {number} 已经存在", VALIDATION_FAILED, "FBillNo")
        entry_key = "FSaleOrderEntry" if form_id == SALES_ORDER else "FEntity"
        entries = model.get(entry_key)
        if not isinstance(entries, list) or not entries:
            raise KingdeeError(f"{entry_key} 不能为空", VALIDATION_FAILED, entry_key)
        for key in ("FSaleOrgId", "FBillTypeID", "FDate"):
            if not model.get(key):
                raise KingdeeError(f"{key} 不能为空", VALIDATION_FAILED, key)
        customer = model.get("FCustId" if form_id == SALES_ORDER else "FRetcustId")
        if not isinstance(customer, dict) or not customer.get("FNumber"):
            raise KingdeeError("客户不能为空", VALIDATION_FAILED, "FCustId")
        for entry in entries:
            self._check_reference(entry.get("FMaterialId"), "FMaterialId", self.materials)
            qty = entry.get("FQty" if form_id == SALES_ORDER else "FRealQty")
            if not isinstance(qty, int | float) or qty <= 0:
                raise KingdeeError("数量必须大于0", VALIDATION_FAILED, "FQty")
            warehouse = entry.get("FSOStockId") or entry.get("FStockId")
            self._check_reference(warehouse, "FStockId", self.warehouses)
        bill = self._new_bill(form_id, str(number), model)
        entity = {"Id": bill.fid, "Number": bill.number, "DIndex": 0}
        answer = self._status(True, entities=[entity])
        answer["Result"].update(
            {
                "Id": bill.fid,
                "Number": bill.number,
                "NeedReturnData": [{"FID": bill.fid, "FBillNo": bill.number}],
            }
        )
        return answer

    def _bills(self, payload: dict[str, Any]) -> list[Bill]:
        form_id = payload.get("formid")
        numbers = (payload.get("data") or {}).get("Numbers") or []
        found = []
        for number in numbers:
            bill = self.bills.get(str(form_id), {}).get(number)
            if bill is None:
                raise KingdeeError(f"单据 {number} 不存在", NOT_FOUND)
            found.append(bill)
        if not found:
            raise KingdeeError("Numbers 和 Ids 不能同时为空", BAD_PARAMETER)
        return found

    def _move(self, payload: dict[str, Any], allowed: set[str], to: str, what: str) -> Any:
        bills = self._bills(payload)
        for bill in bills:
            if bill.cancel == "B" or bill.status not in allowed:
                raise KingdeeError(f"单据 {bill.number} 当前状态不允许{what}", NOT_ALLOWED)
        for bill in bills:
            bill.status = to
            bill.approved_at = utc_now() if to == "C" else None
        return self._status(
            True,
            entities=[{"Id": b.fid, "Number": b.number, "DIndex": i} for i, b in enumerate(bills)],
        )

    def _submit(self, payload: dict[str, Any]) -> Any:
        return self._move(payload, {"Z", "A", "D"}, "B", "提交")

    def _audit(self, payload: dict[str, Any]) -> Any:
        return self._move(payload, {"B"}, "C", "审核")

    def _unaudit(self, payload: dict[str, Any]) -> Any:
        return self._move(payload, {"C"}, "D", "反审核")

    def _cancel_assign(self, payload: dict[str, Any]) -> Any:
        return self._move(payload, {"B"}, "A", "撤销")

    def _operation(self, payload: dict[str, Any]) -> Any:
        if payload.get("opNumber") != "Cancel":
            raise KingdeeError(f"操作 {payload.get('opNumber')} 不支持", OPERATION_UNKNOWN)
        bills = self._bills(payload)
        for bill in bills:
            if bill.status in ("B", "C"):
                raise KingdeeError(f"单据 {bill.number} 已提交或已审核，不能作废", NOT_ALLOWED)
        for bill in bills:
            bill.cancel = "B"
        return self._status(True)

    # -- queries --------------------------------------------------------------------------------
    def _rows(self, form_id: str) -> list[dict[str, Any]]:
        if form_id == INVENTORY:
            return [
                {"FStockId.FNumber": w, "FMaterialId.FNumber": m, "FBaseQty": float(q)}
                for (w, m), q in sorted(self.inventory.items())
            ]
        if form_id == MATERIAL:
            return [{"FNumber": m, "FRefCost": float(c)} for m, c in sorted(self.materials.items())]
        rows = []
        for bill in self.bills.get(form_id, {}).values():
            header = {
                "FID": bill.fid,
                "FBillNo": bill.number,
                "FDocumentStatus": bill.status,
                "FCancelStatus": bill.cancel,
                "FApproveDate": local_text(bill.approved_at, "%Y-%m-%dT%H:%M:%S")
                if bill.approved_at
                else None,
            }
            if not bill.entries:
                rows.append(header)
            qty_field = "FRealQty" if form_id == PURCHASE_RECEIPT else "FCountQty"
            for entry in bill.entries:
                rows.append(
                    {
                        **header,
                        "FStockId.FNumber": entry["FStockId.FNumber"],
                        "FMaterialId.FNumber": entry["FMaterialId.FNumber"],
                        qty_field: float(entry["qty"]),
                    }
                )
        return rows

    def _query(self, payload: dict[str, Any]) -> Any:
        data = payload.get("data") or {}
        form_id = data.get("FormId")
        known = (
            INVENTORY,
            MATERIAL,
            PURCHASE_RECEIPT,
            STOCK_COUNT,
            SALES_ORDER,
            SALES_RETURN,
        )
        if form_id not in known:
            raise KingdeeError(f"表单 {form_id} 不存在", FORM_UNKNOWN)
        keys = [k.strip() for k in str(data.get("FieldKeys", "")).split(",") if k.strip()]
        rows = self._rows(str(form_id))
        for clause in filter(
            None, re.split(r"\s+and\s+", str(data.get("FilterString") or ""), flags=re.IGNORECASE)
        ):
            rows = [row for row in rows if _matches(row, clause)]
        if rows:
            missing = [k for k in keys if k not in rows[0]]
            if missing:
                raise KingdeeError(f"字段 {', '.join(missing)} 不存在", FIELD_UNKNOWN)
        start, limit = int(data.get("StartRow", 0)), int(data.get("Limit", 0)) or len(rows)
        return [[row[k] for k in keys] for row in rows[start : start + limit]]


def _matches(row: dict[str, Any], clause: str) -> bool:
    match = _CLAUSE.match(clause)
    if match is None:
        raise KingdeeError(f"过滤条件 {clause!r} 无法解析", BAD_PARAMETER)
    field_name = match["field"]
    if field_name not in row:
        raise KingdeeError(f"字段 {field_name} 不存在", FIELD_UNKNOWN)
    value = row[field_name]
    if match["values"] is not None:
        wanted = {v.replace("''", "'") for v in _LITERAL.findall(match["values"])}
        return str(value) in wanted
    literal = match["value"].replace("''", "'")
    if match["op"] == ">=":
        return value is not None and str(value).replace("T", " ") >= literal
    return str(value) == literal
