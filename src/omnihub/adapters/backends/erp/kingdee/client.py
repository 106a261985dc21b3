"""The Kingdee K/3 Cloud adapter: builds WebAPI calls and reads their answers.

Authentication: ``AuthService.ValidateUser`` (account id, user, password, lcid) at the start
of every exchange; the session id it returns (``KDSVCSessionId``) goes with each later call as
the ``kdservice-sessionid`` cookie. One login per exchange keeps the adapter stateless (any
worker can run any exchange); a lost session (MsgCode 1) is a retry, which logs in again.
(The third-party app-secret signature of the newer SDKs is not used.)

Exchanges look the bill up by number before writing, so each one is idempotent:
create = find → Save → Submit → Audit (from wherever an earlier attempt stopped);
cancel = find → UnAudit (audited) or CancelAssign (in approval) → ExcuteOperation ``Cancel``
(作废; the bill stays for the books).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from omnihub.adapters.backends.erp.kingdee import mapper
from omnihub.adapters.backends.wire import decode, json_request, refuse_http
from omnihub.domain.backends import (
    ErpDocState,
    ErpRef,
    ItemCost,
    ReturnDoc,
    SalesOrderDoc,
    StockDocument,
    StockLine,
    StockSnapshot,
    occurred_at,
)
from omnihub.ports import (
    Answer,
    BackendConfig,
    CallRefused,
    ErpAdapter,
    Exchange,
    UnreadablePayload,
)

PAGE = 2000

T = TypeVar("T")


class KingdeeAdapter(ErpAdapter):
    name = "kingdee"
    required_credentials = ("acct_id", "username", "password")
    required_settings = ("sale_org", "customer")

    def check_config(self, config: BackendConfig) -> list[str]:
        lcid = config.credentials.get("lcid", "2052")
        if not str(lcid).isdigit():
            return [f"{config.label}.credentials.lcid must be a locale id such as 2052"]
        return []

    # -- the conversation ---------------------------------------------------------------------
    def _answer(self, answer: Answer) -> Any:
        refuse_http(answer, self.name)
        if answer.status >= 400:
            raise CallRefused(
                f"kingdee answered HTTP {answer.status}", retry=False, code=f"http_{answer.status}"
            )
        return decode(answer, self.name)

    def _login(self, config: BackendConfig) -> Exchange[dict[str, str]]:
        answer = yield json_request(
            "POST", config.url(mapper.LOGIN_PATH), mapper.login_body(config)
        )
        session = mapper.read_login(self._answer(answer))
        return {"Cookie": f"{mapper.SESSION_COOKIE}={session}"}

    def _call(
        self, config: BackendConfig, session: dict[str, str], operation: str, payload: Any
    ) -> Exchange[Any]:
        answer = yield json_request(
            "POST", config.url(mapper.form_path(operation)), payload, session
        )
        body = self._answer(answer)
        if operation == "ExecuteBillQuery":
            return mapper.read_rows(body)
        return mapper.read_result(body)

    def _query(
        self,
        config: BackendConfig,
        session: dict[str, str],
        form_id: str,
        fields: str,
        filter_string: str,
    ) -> Exchange[list[list[Any]]]:
        rows: list[list[Any]] = []
        start = 0
        while True:
            page = yield from self._call(
                config,
                session,
                "ExecuteBillQuery",
                mapper.bill_query(form_id, fields, filter_string, start=start, limit=PAGE),
            )
            rows.extend(page)
            if len(page) < PAGE:
                return rows
            start += PAGE

    def _find(
        self, config: BackendConfig, session: dict[str, str], form_id: str, reference: str
    ) -> Exchange[list[Any] | None]:
        rows = yield from self._query(
            config, session, form_id, mapper.FIND_FIELDS, f"FBillNo={mapper.quote(reference)}"
        )
        return rows[0] if rows else None

    def _book(
        self, config: BackendConfig, form_id: str, reference: str, save_body: dict[str, Any]
    ) -> Exchange[ErpRef]:
        """Save (unless saved), Submit (unless submitted), Audit (unless audited)."""
        session = yield from self._login(config)
        found = yield from self._find(config, session, form_id, reference)
        if found is None:
            result = yield from self._call(config, session, "Save", save_body)
            found = [result.get("Id"), result.get("Number") or reference, "A", "A"]
        fid, bill_no, status, cancel = (str(found[0]), str(found[1]), str(found[2]), found[3])
        if cancel == "B":
            return ErpRef(reference, fid, bill_no, ErpDocState.CANCELLED)
        if status in ("Z", "A", "D"):
            yield from self._call(config, session, "Submit", mapper.by_numbers(form_id, [bill_no]))
            status = "B"
        if status == "B":
            yield from self._call(config, session, "Audit", mapper.by_numbers(form_id, [bill_no]))
        return ErpRef(reference, fid, bill_no, ErpDocState.CONFIRMED)

    # -- the port ------------------------------------------------------------------------------
    def create_sales_order(self, config: BackendConfig, doc: SalesOrderDoc) -> Exchange[ErpRef]:
        return (
            yield from self._book(
                config, mapper.SALES_ORDER, doc.reference, mapper.sales_order(config, doc)
            )
        )

    def cancel_sales_order(self, config: BackendConfig, reference: str) -> Exchange[ErpRef]:
        session = yield from self._login(config)
        found = yield from self._find(config, session, mapper.SALES_ORDER, reference)
        if found is None:
            raise CallRefused(
                f"kingdee has no sales order {reference}", retry=False, code="not_found"
            )
        fid, bill_no, status, cancel = str(found[0]), str(found[1]), str(found[2]), found[3]
        if cancel != "B":
            numbers = mapper.by_numbers(mapper.SALES_ORDER, [bill_no])
            if status == "C":
                yield from self._call(config, session, "UnAudit", numbers)
            elif status == "B":
                yield from self._call(config, session, "CancelAssign", numbers)
            yield from self._call(
                config,
                session,
                "ExcuteOperation",
                mapper.operation(mapper.SALES_ORDER, "Cancel", [bill_no]),
            )
        return ErpRef(reference, fid, bill_no, ErpDocState.CANCELLED)

    def post_return(self, config: BackendConfig, doc: ReturnDoc) -> Exchange[ErpRef]:
        return (
            yield from self._book(
                config, mapper.SALES_RETURN, doc.reference, mapper.sales_return(config, doc)
            )
        )

    def stock_snapshot(
        self, config: BackendConfig, skus: Sequence[str] | None = None
    ) -> Exchange[StockSnapshot]:
        session = yield from self._login(config)
        # every warehouse: stock in those the config does not map is reported as unmapped
        condition = (
            mapper.in_list("FMaterialId.FNumber", [config.item_code(s) for s in skus])
            if skus
            else ""
        )
        taken_at = datetime.now(UTC)
        rows = yield from self._query(
            config, session, mapper.INVENTORY, mapper.INVENTORY_FIELDS, condition
        )
        lines, unmapped = self._read(mapper.snapshot_lines, config, rows)
        return StockSnapshot(config.code, taken_at, tuple(_merge(lines)), tuple(unmapped))

    def item_costs(self, config: BackendConfig, skus: Sequence[str]) -> Exchange[list[ItemCost]]:
        if not skus:
            return []
        session = yield from self._login(config)
        rows = yield from self._query(
            config,
            session,
            mapper.MATERIAL,
            mapper.COST_FIELDS,
            mapper.in_list("FNumber", [config.item_code(s) for s in skus]),
        )
        return self._read(mapper.costs, config, rows)

    def stock_documents(
        self, config: BackendConfig, since: datetime
    ) -> Exchange[list[StockDocument]]:
        session = yield from self._login(config)
        condition = mapper.approved_since(since)
        receipt_rows = yield from self._query(
            config, session, mapper.PURCHASE_RECEIPT, mapper.RECEIPT_FIELDS, condition
        )
        count_rows = yield from self._query(
            config, session, mapper.STOCK_COUNT, mapper.COUNT_FIELDS, condition
        )
        documents: list[StockDocument] = [
            *self._read(mapper.receipts, config, receipt_rows),
            *self._read(mapper.stock_takes, config, count_rows),
        ]
        return sorted(documents, key=occurred_at)

    @staticmethod
    def _read(reader: Callable[..., T], config: BackendConfig, rows: list[list[Any]]) -> T:
        try:
            return reader(config, rows)
        except (UnreadablePayload, IndexError, TypeError) as exc:
            raise CallRefused(
                f"kingdee answered rows the adapter cannot read: {exc}",
                retry=False,
                code="unreadable_answer",
            ) from exc


def _merge(lines: list[StockLine]) -> list[StockLine]:
    """One line per (location, SKU): K/3 Cloud keeps a row per lot and stock status."""
    totals: dict[tuple[str, str], int] = {}
    for line in lines:
        totals[(line.location, line.sku)] = totals.get((line.location, line.sku), 0) + line.on_hand
    return [StockLine(location, sku, qty) for (location, sku), qty in sorted(totals.items())]
