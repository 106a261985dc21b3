"""The Odoo adapter: JSON-RPC calls on ``/jsonrpc`` and their answers.

Each exchange logs in (``common.login``) unless ``credentials.uid`` is given, then works on
records it finds by our reference first, so a repeat finishes what an earlier attempt began:
create = find ``sale.order`` by ``client_order_ref`` → resolve products and the warehouse →
``create`` → ``action_confirm``; cancel = find → ``action_cancel`` with
``disable_cancel_warning`` in the context (else Odoo 17 answers with the cancel wizard
instead of cancelling).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from omnihub.adapters.backends.erp.odoo import mapper
from omnihub.adapters.backends.wire import decode, json_request, refuse_http
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
    ErpAdapter,
    Exchange,
    UnreadablePayload,
)

PAGE = 1000
PATH = "/jsonrpc"

T = TypeVar("T")


class OdooAdapter(ErpAdapter):
    name = "odoo"
    required_credentials = ("db", "login", "password")
    required_settings = ("customer",)

    def check_config(self, config: BackendConfig) -> list[str]:
        problems = []
        if not str(config.settings.get("customer", "")).isdigit():
            problems.append(
                f"{config.label}.settings.customer must be the partner id "
                "(res.partner) of the customer orders are booked for"
            )
        uid = config.credentials.get("uid")
        if uid is not None and not str(uid).isdigit():
            problems.append(f"{config.label}.credentials.uid must be a user id")
        return problems

    # -- the conversation ---------------------------------------------------------------------
    def _answer(self, answer: Answer) -> Any:
        refuse_http(answer, self.name)
        if answer.status >= 400:
            raise CallRefused(
                f"odoo answered HTTP {answer.status}", retry=False, code=f"http_{answer.status}"
            )
        return mapper.read_result(decode(answer, self.name))

    def _login(self, config: BackendConfig) -> Exchange[int]:
        if config.credentials.get("uid"):
            return int(config.credentials["uid"])
        answer = yield json_request("POST", config.url(PATH), mapper.login(config))
        return mapper.read_uid(self._answer(answer))

    def _kw(
        self,
        config: BackendConfig,
        uid: int,
        model: str,
        method: str,
        args: list[Any],
        kwargs: dict[str, Any] | None = None,
    ) -> Exchange[Any]:
        answer = yield json_request(
            "POST", config.url(PATH), mapper.execute_kw(config, uid, model, method, args, kwargs)
        )
        return self._answer(answer)

    def _search_read(
        self,
        config: BackendConfig,
        uid: int,
        model: str,
        domain: list[Any],
        fields: list[str],
        order: str | None = None,
    ) -> Exchange[list[dict[str, Any]]]:
        rows: list[dict[str, Any]] = []
        offset = 0
        while True:
            kwargs: dict[str, Any] = {"fields": fields, "offset": offset, "limit": PAGE}
            if order:
                kwargs["order"] = order
            page = yield from self._kw(config, uid, model, "search_read", [domain], kwargs)
            if not isinstance(page, list):
                raise CallRefused(
                    f"odoo search_read on {model} answered {page!r}",
                    retry=False,
                    code="unreadable_answer",
                )
            rows.extend(page)
            if len(page) < PAGE:
                return rows
            offset += PAGE

    def _find_order(
        self, config: BackendConfig, uid: int, reference: str
    ) -> Exchange[dict[str, Any] | None]:
        rows = yield from self._search_read(
            config,
            uid,
            "sale.order",
            [["client_order_ref", "=", reference]],
            ["id", "name", "state"],
            order="id asc",
        )
        return rows[0] if rows else None

    def _products(
        self, config: BackendConfig, uid: int, skus: Sequence[str]
    ) -> Exchange[dict[str, int]]:
        codes = sorted({config.item_code(sku) for sku in skus})
        rows = yield from self._search_read(
            config, uid, "product.product", [["default_code", "in", codes]], ["id", "default_code"]
        )
        found = mapper.products_by_code(rows)
        missing = [code for code in codes if code not in found]
        if missing:
            raise CallRefused(
                f"odoo has no product with default_code {', '.join(missing)}",
                retry=False,
                code="unknown_item",
            )
        return found

    def _warehouse(
        self, config: BackendConfig, uid: int, location: str
    ) -> Exchange[dict[str, Any]]:
        code = config.warehouse_of(location)
        rows = yield from self._search_read(
            config,
            uid,
            "stock.warehouse",
            [["code", "=", code]],
            ["id", "code", "lot_stock_id", "in_type_id"],
        )
        if not rows:
            raise CallRefused(
                f"odoo has no warehouse with code {code}", retry=False, code="unknown_warehouse"
            )
        return rows[0]

    def _warehouse_codes(self, config: BackendConfig, uid: int) -> Exchange[dict[int, str]]:
        rows = yield from self._search_read(config, uid, "stock.warehouse", [], ["id", "code"])
        return {int(row["id"]): str(row["code"]) for row in rows}

    def _codes(self, config: BackendConfig, uid: int, ids: set[int]) -> Exchange[dict[int, str]]:
        if not ids:
            return {}
        rows = yield from self._search_read(
            config, uid, "product.product", [["id", "in", sorted(ids)]], ["id", "default_code"]
        )
        return {int(row["id"]): str(row["default_code"]) for row in rows if row.get("default_code")}

    # -- the port ------------------------------------------------------------------------------
    def create_sales_order(self, config: BackendConfig, doc: SalesOrderDoc) -> Exchange[ErpRef]:
        uid = yield from self._login(config)
        found = yield from self._find_order(config, uid, doc.reference)
        if found is None:
            products = yield from self._products(config, uid, [line.sku for line in doc.lines])
            warehouse = yield from self._warehouse(config, uid, doc.location)
            values = mapper.order_values(config, doc, int(warehouse["id"]), products)
            order_id = yield from self._kw(config, uid, "sale.order", "create", [values])
            found = {"id": order_id, "name": None, "state": "draft"}
        if found["state"] in ("draft", "sent"):
            yield from self._kw(config, uid, "sale.order", "action_confirm", [[found["id"]]])
            found = yield from self._find_order(config, uid, doc.reference)
            if found is None:
                raise CallRefused(
                    f"odoo lost sales order {doc.reference}", retry=True, code="not_found"
                )
        return self._ref(doc.reference, found)

    def cancel_sales_order(self, config: BackendConfig, reference: str) -> Exchange[ErpRef]:
        uid = yield from self._login(config)
        found = yield from self._find_order(config, uid, reference)
        if found is None:
            raise CallRefused(f"odoo has no sales order {reference}", retry=False, code="not_found")
        if found["state"] != "cancel":
            result = yield from self._kw(
                config,
                uid,
                "sale.order",
                "action_cancel",
                [[found["id"]]],
                {"context": {"disable_cancel_warning": True}},
            )
            if isinstance(result, dict):  # a wizard: the order was not cancelled
                raise CallRefused(
                    f"odoo asked for the cancel wizard for {reference}",
                    retry=False,
                    code="cancel_wizard",
                )
            found = {**found, "state": "cancel"}
        return self._ref(reference, found)

    def post_return(self, config: BackendConfig, doc: ReturnDoc) -> Exchange[ErpRef]:
        uid = yield from self._login(config)
        rows = yield from self._search_read(
            config, uid, "stock.picking", [["origin", "=", doc.reference]], ["id", "name", "state"]
        )
        if not rows:
            products = yield from self._products(config, uid, [line.sku for line in doc.lines])
            warehouse = yield from self._warehouse(config, uid, doc.location)
            customers = yield from self._search_read(
                config, uid, "stock.location", [["usage", "=", "customer"]], ["id"]
            )
            if not customers:
                raise CallRefused(
                    "odoo has no customer location", retry=False, code="unknown_location"
                )
            values = mapper.return_values(
                config,
                doc.reference,
                doc.order_reference,
                doc.lines,
                mapper.many2one_id(warehouse["in_type_id"], "in_type_id"),
                int(customers[0]["id"]),
                mapper.many2one_id(warehouse["lot_stock_id"], "lot_stock_id"),
                products,
            )
            picking_id = yield from self._kw(config, uid, "stock.picking", "create", [values])
            rows = [{"id": picking_id, "name": None, "state": "draft"}]
        picking = rows[0]
        if picking["state"] == "draft":
            yield from self._kw(config, uid, "stock.picking", "action_confirm", [[picking["id"]]])
            read = yield from self._kw(
                config, uid, "stock.picking", "read", [[picking["id"]], ["id", "name", "state"]]
            )
            picking = read[0] if isinstance(read, list) and read else picking
        state = ErpDocState.CANCELLED if picking["state"] == "cancel" else ErpDocState.CONFIRMED
        return ErpRef(doc.reference, str(picking["id"]), picking.get("name") or None, state)

    def stock_snapshot(
        self, config: BackendConfig, skus: Sequence[str] | None = None
    ) -> Exchange[StockSnapshot]:
        uid = yield from self._login(config)
        taken_at = datetime.now(UTC)
        warehouses = yield from self._warehouse_codes(config, uid)
        domain: list[Any] = [["location_id.usage", "=", "internal"]]
        if skus:
            domain.append(
                ["product_id.default_code", "in", sorted({config.item_code(s) for s in skus})]
            )
        quants = yield from self._search_read(
            config,
            uid,
            "stock.quant",
            domain,
            ["product_id", "location_id", "warehouse_id", "quantity", "reserved_quantity"],
        )
        ids = {mapper.many2one_id(q["product_id"], "product_id") for q in quants}
        codes = yield from self._codes(config, uid, ids)
        lines, unmapped = self._read(mapper.snapshot_lines, config, quants, codes, warehouses)
        return StockSnapshot(config.code, taken_at, tuple(lines), tuple(unmapped))

    def item_costs(self, config: BackendConfig, skus: Sequence[str]) -> Exchange[list[ItemCost]]:
        if not skus:
            return []
        uid = yield from self._login(config)
        rows = yield from self._search_read(
            config,
            uid,
            "product.product",
            [["default_code", "in", sorted({config.item_code(s) for s in skus})]],
            ["id", "default_code", "standard_price"],
        )
        return self._read(mapper.costs, config, rows)

    def stock_documents(
        self, config: BackendConfig, since: datetime
    ) -> Exchange[list[StockDocument]]:
        uid = yield from self._login(config)
        warehouses = yield from self._warehouse_codes(config, uid)
        moves = yield from self._search_read(
            config,
            uid,
            "stock.move",
            [
                ["state", "=", "done"],
                ["date", ">=", mapper.odoo_time(since)],
                "|",
                ["picking_code", "=", "incoming"],
                ["is_inventory", "=", True],
            ],
            [
                "id",
                "reference",
                "date",
                "product_id",
                "quantity",
                "location_id",
                "location_dest_id",
                "is_inventory",
                "picking_code",
            ],
            order="date asc, id asc",
        )
        location_ids = sorted(
            {
                mapper.many2one_id(m[k], k)
                for m in moves
                for k in ("location_id", "location_dest_id")
            }
        )
        locations: dict[int, dict[str, Any]] = {}
        if location_ids:
            rows = yield from self._search_read(
                config,
                uid,
                "stock.location",
                [["id", "in", location_ids]],
                ["id", "usage", "warehouse_id"],
            )
            locations = {int(row["id"]): row for row in rows}
        codes = yield from self._codes(
            config, uid, {mapper.many2one_id(m["product_id"], "product_id") for m in moves}
        )
        documents = self._read(mapper.stock_documents, config, moves, locations, codes, warehouses)
        return sorted(documents, key=occurred_at)

    @staticmethod
    def _ref(reference: str, order: dict[str, Any]) -> ErpRef:
        return ErpRef(
            reference,
            str(order["id"]),
            order.get("name") or None,
            mapper.SALE_STATES.get(str(order["state"]), ErpDocState.DRAFT),
        )

    @staticmethod
    def _read(reader: Callable[..., T], config: BackendConfig, *rows: Any) -> T:
        try:
            return reader(config, *rows)
        except (UnreadablePayload, KeyError, TypeError) as exc:
            raise CallRefused(
                f"odoo answered records the adapter cannot read: {exc}",
                retry=False,
                code="unreadable_answer",
            ) from exc
