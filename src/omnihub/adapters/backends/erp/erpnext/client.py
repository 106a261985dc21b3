"""The ERPNext adapter: Frappe REST calls with token auth, and its webhooks.

Exchanges find the document by ``po_no`` (our reference) first: create = find → POST
(submitted at once) or submit a draft left by an earlier attempt (PUT ``docstatus`` 1);
cancel = find → ``frappe.client.cancel`` (submitted) or DELETE (a draft).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from omnihub.adapters.backends.erp.erpnext import mapper, signature
from omnihub.adapters.backends.wire import decode, json_request
from omnihub.adapters.native import json_object, require_signature
from omnihub.domain.backends import (
    ErpDocState,
    ErpRef,
    ItemCost,
    ReturnDoc,
    SalesOrderDoc,
    StockDocument,
    StockSnapshot,
    occurred_at,
)
from omnihub.ports import (
    Answer,
    BackendConfig,
    CallRefused,
    ChannelRefused,
    ErpAdapter,
    Exchange,
    InboundRequest,
    UnreadablePayload,
)

PAGE = 500

T = TypeVar("T")


class ErpNextAdapter(ErpAdapter):
    name = "erpnext"
    required_credentials = ("api_key", "api_secret")
    required_settings = ("customer",)
    receives_callbacks = True

    def check_config(self, config: BackendConfig) -> list[str]:
        try:
            mapper.zone(config)
        except UnreadablePayload as exc:
            return [exc.message]
        return []

    # -- the conversation ---------------------------------------------------------------------
    @staticmethod
    def _auth(config: BackendConfig) -> dict[str, str]:
        return {
            "Authorization": f"token {config.credential('api_key')}:"
            f"{config.credential('api_secret')}"
        }

    def _answer(self, answer: Answer) -> Any:
        body: Any = None
        if answer.body:
            try:
                body = decode(answer, self.name)
            except CallRefused:
                if answer.status < 400:
                    raise
        if not 200 <= answer.status < 300:
            raise mapper.failure(answer.status, body)
        return body

    def _request(
        self,
        config: BackendConfig,
        method: str,
        path: str,
        payload: Any = None,
        params: dict[str, str] | None = None,
    ) -> Exchange[Any]:
        answer = yield json_request(method, config.url(path), payload, self._auth(config), params)
        return self._answer(answer)

    def _list(
        self,
        config: BackendConfig,
        doctype: str,
        fields: list[str],
        filters: list[list[Any]],
        order_by: str | None = None,
    ) -> Exchange[list[dict[str, Any]]]:
        rows: list[dict[str, Any]] = []
        start = 0
        while True:
            body = yield from self._request(
                config,
                "GET",
                mapper.resource(doctype),
                params=mapper.list_params(
                    fields, filters, start=start, page=PAGE, order_by=order_by
                ),
            )
            page = body.get("data") if isinstance(body, dict) else None
            if not isinstance(page, list):
                raise CallRefused(
                    f"erpnext listed {doctype} as {str(body)[:200]}",
                    retry=False,
                    code="unreadable_answer",
                )
            rows.extend(page)
            if len(page) < PAGE:
                return rows
            start += PAGE

    def _find(
        self,
        config: BackendConfig,
        doctype: str,
        reference: str,
        extra: list[list[Any]] | None = None,
    ) -> Exchange[dict[str, Any] | None]:
        rows = yield from self._list(
            config,
            doctype,
            ["name", "docstatus"],
            [["po_no", "=", reference], *(extra or [])],
            order_by="creation asc",
        )
        live = [r for r in rows if int(r.get("docstatus") or 0) != 2]
        chosen = live or rows
        return chosen[0] if chosen else None

    def _book(
        self,
        config: BackendConfig,
        doctype: str,
        reference: str,
        body: dict[str, Any],
        extra: list[list[Any]] | None = None,
    ) -> Exchange[ErpRef]:
        found = yield from self._find(config, doctype, reference, extra)
        if found is None:
            created = yield from self._request(config, "POST", mapper.resource(doctype), body)
            found = created.get("data") if isinstance(created, dict) else None
            if not isinstance(found, dict) or "name" not in found:
                raise CallRefused(
                    f"erpnext created {doctype} without a name",
                    retry=False,
                    code="unreadable_answer",
                )
        elif int(found.get("docstatus") or 0) == 0:
            yield from self._request(
                config, "PUT", mapper.resource(doctype, found["name"]), {"docstatus": 1}
            )
            found = {**found, "docstatus": 1}
        name = str(found["name"])
        return ErpRef(reference, name, name, mapper.doc_state(found))

    # -- the port ------------------------------------------------------------------------------
    def create_sales_order(self, config: BackendConfig, doc: SalesOrderDoc) -> Exchange[ErpRef]:
        return (
            yield from self._book(
                config, mapper.SALES_ORDER, doc.reference, mapper.sales_order(config, doc)
            )
        )

    def cancel_sales_order(self, config: BackendConfig, reference: str) -> Exchange[ErpRef]:
        found = yield from self._find(config, mapper.SALES_ORDER, reference)
        if found is None:
            raise CallRefused(
                f"erpnext has no sales order {reference}", retry=False, code="not_found"
            )
        name = str(found["name"])
        status = int(found.get("docstatus") or 0)
        if status == 1:
            yield from self._request(
                config,
                "POST",
                "/api/method/frappe.client.cancel",
                {"doctype": mapper.SALES_ORDER, "name": name},
            )
        elif status == 0:
            yield from self._request(config, "DELETE", mapper.resource(mapper.SALES_ORDER, name))
        return ErpRef(reference, name, name, ErpDocState.CANCELLED)

    def post_return(self, config: BackendConfig, doc: ReturnDoc) -> Exchange[ErpRef]:
        return (
            yield from self._book(
                config,
                mapper.DELIVERY_NOTE,
                doc.reference,
                mapper.return_note(config, doc),
                [["is_return", "=", 1]],
            )
        )

    def stock_snapshot(
        self, config: BackendConfig, skus: Sequence[str] | None = None
    ) -> Exchange[StockSnapshot]:
        taken_at = datetime.now(UTC)
        filters: list[list[Any]] = []
        if skus:
            filters.append(["item_code", "in", sorted({config.item_code(s) for s in skus})])
        bins = yield from self._list(
            config, mapper.BIN, ["item_code", "warehouse", "actual_qty", "reserved_qty"], filters
        )
        lines, unmapped = self._read(mapper.snapshot_lines, config, bins)
        return StockSnapshot(config.code, taken_at, tuple(lines), tuple(unmapped))

    def item_costs(self, config: BackendConfig, skus: Sequence[str]) -> Exchange[list[ItemCost]]:
        if not skus:
            return []
        items = yield from self._list(
            config,
            mapper.ITEM,
            ["item_code", "valuation_rate"],
            [["item_code", "in", sorted({config.item_code(s) for s in skus})]],
        )
        return self._read(mapper.costs, config, items)

    def stock_documents(
        self, config: BackendConfig, since: datetime
    ) -> Exchange[list[StockDocument]]:
        documents: list[StockDocument] = []
        for doctype in (mapper.PURCHASE_RECEIPT, mapper.STOCK_RECONCILIATION):
            rows = yield from self._list(
                config,
                doctype,
                ["name"],
                [["docstatus", "=", 1], ["modified", ">=", mapper.site_time(config, since)]],
                order_by="modified asc",
            )
            for row in rows:
                body = yield from self._request(
                    config, "GET", mapper.resource(doctype, str(row["name"]))
                )
                doc = body.get("data") if isinstance(body, dict) else None
                documents.extend(self._read(mapper.documents, config, doc))
        return sorted(documents, key=occurred_at)

    # -- webhooks ------------------------------------------------------------------------------
    def parse_callback(self, config: BackendConfig, request: InboundRequest) -> list[StockDocument]:
        secret = config.credentials.get("webhook_secret")
        if not secret:
            raise ChannelRefused(
                f"{config.label}.credentials.webhook_secret is not set, so no "
                "webhook signature can be checked"
            )
        require_signature(
            request.header(signature.HEADER),
            signature.webhook_signature(secret, request.body),
            what="X-Frappe-Webhook-Signature",
        )
        doc = json_object(request.body, "webhook body")
        try:
            return mapper.documents(config, doc)
        except (KeyError, TypeError, ValueError) as exc:
            raise UnreadablePayload(f"the webhook document cannot be read: {exc}") from exc

    @staticmethod
    def _read(reader: Callable[..., T], config: BackendConfig, rows: Any) -> T:
        try:
            if rows is None:
                raise UnreadablePayload("the answer has no data")
            return reader(config, rows)
        except (UnreadablePayload, KeyError, TypeError) as exc:
            raise CallRefused(
                f"erpnext answered a document the adapter cannot read: {exc}",
                retry=False,
                code="unreadable_answer",
            ) from exc
