"""A local stand-in of an Odoo server's external JSON-RPC API (``/jsonrpc``): one database and
user, products, warehouses with their stock locations, quants, sales orders and pickings,
done stock moves for receipts and inventory adjustments. ``execute_kw`` runs ``search``,
``search_read``, ``read``, ``create``, ``write``, ``action_confirm`` and ``action_cancel``
on the models of Odoo 17's ``sale`` and ``stock`` modules an integration uses, written from
Odoo's external API documents and those models, not from the adapter. Domains support ``=``,
``!=``, ``in``, ``not in``, ``>=``, ``<=``, ``>``, ``<``, the prefix operators ``|``, ``&``,
``!`` and dotted paths through many2one fields (``location_id.usage``). Errors come as Odoo's
``{"error": {"data": {"name": "odoo.exceptions.UserError", ...}}}``; ``action_cancel`` on a
confirmed order without ``disable_cancel_warning`` answers with the cancel wizard, as Odoo 17
does.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from omnihub.platforms.local_time import utc_now
from omnihub.simulators.backends.base import BackendSimulator, SimRequest, SimResponse

#: many2one fields: (model, field) -> the model it points at
RELATIONS: dict[tuple[str, str], str] = {
    ("sale.order", "warehouse_id"): "stock.warehouse",
    ("sale.order.line", "order_id"): "sale.order",
    ("sale.order.line", "product_id"): "product.product",
    ("stock.quant", "product_id"): "product.product",
    ("stock.quant", "location_id"): "stock.location",
    ("stock.quant", "warehouse_id"): "stock.warehouse",
    ("stock.location", "warehouse_id"): "stock.warehouse",
    ("stock.warehouse", "lot_stock_id"): "stock.location",
    ("stock.warehouse", "in_type_id"): "stock.picking.type",
    ("stock.move", "product_id"): "product.product",
    ("stock.move", "location_id"): "stock.location",
    ("stock.move", "location_dest_id"): "stock.location",
    ("stock.move", "picking_id"): "stock.picking",
    ("stock.picking", "picking_type_id"): "stock.picking.type",
    ("stock.picking", "location_id"): "stock.location",
    ("stock.picking", "location_dest_id"): "stock.location",
}
MODELS = (
    "product.product",
    "stock.warehouse",
    "stock.location",
    "stock.quant",
    "sale.order",
    "sale.order.line",
    "stock.move",
    "stock.picking",
    "stock.picking.type",
)


#: how Odoo's ORM writes a Datetime field: UTC, without an offset
DATETIME = "%Y-%m-%d %H:%M:%S"


def odoo_datetime(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(DATETIME)


class OdooError(Exception):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message


def user_error(message: str) -> OdooError:
    return OdooError("odoo.exceptions.UserError", message)


class OdooSimulator(BackendSimulator):
    name = "odoo"

    def __init__(
        self, *, db: str = "sim", login: str = "api", password: str = "sim-key", seed: int = 7
    ) -> None:
        super().__init__(secret=password, seed=seed)
        self.db, self.login, self.password = db, login, password
        self.uid = 2
        self.fresh()
        self.route("POST", "/jsonrpc", self._jsonrpc)

    def fresh(self) -> None:
        self.records: dict[str, dict[int, dict[str, Any]]] = {m: {} for m in MODELS}
        self._ids = itertools.count(1)
        self.customer_location = self._create(
            "stock.location",
            {"name": "Partners/Customers", "usage": "customer", "warehouse_id": False},
        )
        self.inventory_location = self._create(
            "stock.location",
            {
                "name": "Virtual Locations/Inventory adjustment",
                "usage": "inventory",
                "warehouse_id": False,
            },
        )
        self.partners = {7}

    # -- the ERP's data ---------------------------------------------------------------------
    def credentials(self) -> dict[str, str]:
        return {"db": self.db, "login": self.login, "password": self.password}

    def _create(self, model: str, values: dict[str, Any]) -> int:
        record_id = next(self._ids)
        self.records[model][record_id] = {"id": record_id, **values}
        return record_id

    def add_product(self, code: str, cost: str = "0") -> int:
        with self.lock:
            return self._create(
                "product.product",
                {"default_code": code, "name": f"[{code}] {code}", "standard_price": float(cost)},
            )

    def add_warehouse(self, code: str) -> int:
        with self.lock:
            warehouse = self._create("stock.warehouse", {"code": code, "name": code})
            stock = self._create(
                "stock.location",
                {"name": f"{code}/Stock", "usage": "internal", "warehouse_id": warehouse},
            )
            receipts = self._create(
                "stock.picking.type",
                {"name": "Receipts", "code": "incoming", "warehouse_id": warehouse},
            )
            self.records["stock.warehouse"][warehouse].update(
                lot_stock_id=stock, in_type_id=receipts
            )
            return warehouse

    def product(self, code: str) -> int:
        return next(
            i for i, r in self.records["product.product"].items() if r["default_code"] == code
        )

    def stock_location(self, warehouse_code: str) -> int:
        warehouse = next(
            r for r in self.records["stock.warehouse"].values() if r["code"] == warehouse_code
        )
        return int(warehouse["lot_stock_id"])

    def quantity(self, warehouse_code: str, code: str) -> float:
        location, product = self.stock_location(warehouse_code), self.product(code)
        return float(
            sum(
                q["quantity"]
                for q in self.records["stock.quant"].values()
                if q["location_id"] == location and q["product_id"] == product
            )
        )

    def _add_quant(self, warehouse_code: str, code: str, delta: float) -> None:
        location, product = self.stock_location(warehouse_code), self.product(code)
        for quant in self.records["stock.quant"].values():
            if quant["location_id"] == location and quant["product_id"] == product:
                quant["quantity"] += delta
                return
        warehouse = self.records["stock.location"][location]["warehouse_id"]
        self._create(
            "stock.quant",
            {
                "product_id": product,
                "location_id": location,
                "warehouse_id": warehouse,
                "quantity": float(delta),
                "reserved_quantity": 0.0,
            },
        )

    def put_stock(self, warehouse_code: str, code: str, qty: int) -> None:
        with self.lock:
            self._add_quant(warehouse_code, code, qty - self.quantity(warehouse_code, code))

    def _done_move(
        self,
        reference: str,
        code: str,
        qty: float,
        source: int,
        dest: int,
        at: datetime,
        **extra: Any,
    ) -> None:
        self._create(
            "stock.move",
            {
                "reference": reference,
                "product_id": self.product(code),
                "quantity": float(qty),
                "location_id": source,
                "location_dest_id": dest,
                "state": "done",
                "date": odoo_datetime(at),
                "is_inventory": False,
                "picking_code": False,
                **extra,
            },
        )

    def receive(
        self, reference: str, warehouse_code: str, lines: dict[str, int], at: datetime | None = None
    ) -> None:
        """A validated receipt (WH/IN/...): done incoming moves, stock up."""
        with self.lock:
            for code, qty in lines.items():
                self._done_move(
                    reference,
                    code,
                    qty,
                    self.customer_location,
                    self.stock_location(warehouse_code),
                    at or utc_now(),
                    picking_code="incoming",
                )
                self._add_quant(warehouse_code, code, qty)

    def count(
        self, warehouse_code: str, code: str, counted: int, at: datetime | None = None
    ) -> None:
        """An applied inventory adjustment: one done move from or to the adjustment
        location for the difference."""
        with self.lock:
            diff = counted - self.quantity(warehouse_code, code)
            stock = self.stock_location(warehouse_code)
            source, dest = (
                (self.inventory_location, stock) if diff >= 0 else (stock, self.inventory_location)
            )
            self._done_move(
                "Product Quantity Updated",
                code,
                abs(diff),
                source,
                dest,
                at or utc_now(),
                is_inventory=True,
            )
            self._add_quant(warehouse_code, code, diff)

    def sales_orders(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(r) for r in self.records["sale.order"].values()]

    def order_lines(self, order_id: int) -> list[dict[str, Any]]:
        with self.lock:
            return [
                dict(r)
                for r in self.records["sale.order.line"].values()
                if r["order_id"] == order_id
            ]

    # -- JSON-RPC -----------------------------------------------------------------------------
    @staticmethod
    def _error(name: str, message: str, call_id: Any = None) -> SimResponse:
        return SimResponse.json(
            {
                "jsonrpc": "2.0",
                "id": call_id,
                "error": {
                    "code": 200,
                    "message": "Odoo Server Error",
                    "data": {"name": name, "message": message, "arguments": [message], "debug": ""},
                },
            }
        )

    def rate_limit_answer(self, request: SimRequest) -> SimResponse:
        return SimResponse.json({"error": "Too many requests"}, 429)

    def error_answer(self, request: SimRequest) -> SimResponse:
        return self._error(
            "psycopg2.errors.SerializationFailure",
            "could not serialize access due to concurrent update",
        )

    def _jsonrpc(self, request: SimRequest) -> SimResponse:
        try:
            body = request.json()
            params = body["params"]
            service, method, args = params["service"], params["method"], list(params["args"])
        except (ValueError, KeyError, TypeError):
            return self._error("werkzeug.exceptions.BadRequest", "Invalid JSON-RPC request")
        call_id = body.get("id")
        try:
            with self.lock:
                result = self._dispatch(service, method, args)
        except OdooError as exc:
            return self._error(exc.name, exc.message, call_id)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            return self._error("builtins.TypeError", f"{type(exc).__name__}: {exc}", call_id)
        return SimResponse.json({"jsonrpc": "2.0", "id": call_id, "result": result})

    def _dispatch(self, service: str, method: str, args: list[Any]) -> Any:
        if service == "common" and method == "login":
            db, login, password = args[:3]
            ok = (db, login, password) == (self.db, self.login, self.password)
            return self.uid if ok else False
        if service != "object" or method != "execute_kw":
            raise OdooError("odoo.exceptions.UserError", f"unknown {service}.{method}")
        db, uid, password, model, name = args[:5]
        call_args = args[5] if len(args) > 5 else []
        kwargs = args[6] if len(args) > 6 else {}
        if (db, uid, password) != (self.db, self.uid, self.password):
            raise OdooError("odoo.exceptions.AccessDenied", "Access Denied")
        if model not in self.records:
            raise OdooError("builtins.KeyError", f"Object {model} doesn't exist")
        return self._method(model, name, call_args, kwargs)

    def _method(self, model: str, name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        if name == "search_read":
            domain = args[0] if args else kwargs.get("domain", [])
            rows = self._search(model, domain)
            if "date" in (kwargs.get("order") or ""):
                rows.sort(key=lambda r: (r.get("date") or "", r["id"]))
            offset, limit = kwargs.get("offset", 0), kwargs.get("limit") or len(rows)
            return [
                self._read(model, r, kwargs.get("fields")) for r in rows[offset : offset + limit]
            ]
        if name == "search":
            return [r["id"] for r in self._search(model, args[0])]
        if name == "read":
            fields = args[1] if len(args) > 1 else kwargs.get("fields")
            return [
                self._read(model, self.records[model][i], fields)
                for i in args[0]
                if i in self.records[model]
            ]
        if name == "create":
            return self._create_record(model, args[0])
        if name == "write":
            for record_id in args[0]:
                self.records[model][record_id].update(args[1])
            return True
        if name == "action_confirm":
            return self._confirm(model, args[0])
        if name == "action_cancel":
            return self._cancel(model, args[0], kwargs.get("context") or {})
        raise OdooError(
            "builtins.AttributeError", f"The method '{name}' does not exist on the model '{model}'"
        )

    # -- the ORM, small ---------------------------------------------------------------------
    def _value(self, model: str, record: dict[str, Any], path: str) -> Any:
        head, _, rest = path.partition(".")
        value = record.get(head)
        if not rest:
            return value
        target = RELATIONS.get((model, head))
        if target is None or not value:
            return None
        return self._value(target, self.records[target].get(value, {}), rest)

    def _term(self, model: str, record: dict[str, Any], term: list[Any]) -> bool:
        path, op, wanted = term
        value = self._value(model, record, path)
        if op == "=":
            return bool(value == wanted)
        if op == "!=":
            return bool(value != wanted)
        if op == "in":
            return value in wanted
        if op == "not in":
            return value not in wanted
        if value is None or value is False:
            return False
        comparisons = {
            ">=": value >= wanted,
            "<=": value <= wanted,
            ">": value > wanted,
            "<": value < wanted,
        }
        if op not in comparisons:
            raise OdooError("builtins.ValueError", f"Invalid domain operator {op!r}")
        return bool(comparisons[op])

    def _matches(self, model: str, record: dict[str, Any], domain: list[Any]) -> bool:
        """Polish notation: implicit '&' between terms."""
        position = 0

        def parse() -> bool:
            nonlocal position
            token = domain[position]
            position += 1
            if token == "|":
                left, right = parse(), parse()
                return left or right
            if token == "&":
                left, right = parse(), parse()
                return left and right
            if token == "!":
                return not parse()
            if not isinstance(token, list | tuple) or len(token) != 3:
                raise OdooError("builtins.ValueError", f"Invalid leaf {token!r}")
            return self._term(model, record, list(token))

        result = True
        while position < len(domain):
            result = parse() and result
        return result

    def _search(self, model: str, domain: list[Any]) -> list[dict[str, Any]]:
        return [
            r for _, r in sorted(self.records[model].items()) if self._matches(model, r, domain)
        ]

    def _read(self, model: str, record: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in fields or list(record):
            value = record.get(name, False)
            target = RELATIONS.get((model, name))
            if target and value:
                value = [value, self.records[target].get(value, {}).get("name", str(value))]
            out[name] = value
        out["id"] = record["id"]
        return out

    def _create_record(self, model: str, values: dict[str, Any]) -> int:
        if model == "sale.order":
            return self._create_order(values)
        if model == "stock.picking":
            return self._create_picking(values)
        raise OdooError("odoo.exceptions.AccessError", f"create on {model} is not allowed")

    def _check_product(self, product_id: Any) -> None:
        if product_id not in self.records["product.product"]:
            raise OdooError(
                "odoo.exceptions.MissingError",
                f"Record does not exist or has been deleted: product {product_id}",
            )

    def _create_order(self, values: dict[str, Any]) -> int:
        if values.get("partner_id") not in self.partners:
            raise OdooError("odoo.exceptions.ValidationError", "The customer does not exist")
        if values.get("warehouse_id") not in self.records["stock.warehouse"]:
            raise OdooError("odoo.exceptions.ValidationError", "The warehouse does not exist")
        lines = values.get("order_line") or []
        if not lines:
            raise user_error("An order needs at least one line")
        order_id = self._create(
            "sale.order",
            {
                "name": f"S{len(self.records['sale.order']) + 1:05d}",
                "state": "draft",
                **{k: v for k, v in values.items() if k != "order_line"},
            },
        )
        for command in lines:
            if command[0] != 0:
                raise user_error(f"Unsupported command {command[0]}")
            self._check_product(command[2].get("product_id"))
            self._create("sale.order.line", {"order_id": order_id, **command[2]})
        return order_id

    def _create_picking(self, values: dict[str, Any]) -> int:
        moves = values.get("move_ids") or []
        picking_id = self._create(
            "stock.picking",
            {
                "name": f"IN/{len(self.records['stock.picking']) + 1:05d}",
                "state": "draft",
                **{k: v for k, v in values.items() if k != "move_ids"},
            },
        )
        for command in moves:
            self._check_product(command[2].get("product_id"))
            self._create(
                "stock.move",
                {
                    "picking_id": picking_id,
                    "state": "draft",
                    "reference": self.records["stock.picking"][picking_id]["name"],
                    "is_inventory": False,
                    "picking_code": "incoming",
                    "date": False,
                    "quantity": 0.0,
                    **command[2],
                },
            )
        return picking_id

    def _confirm(self, model: str, ids: list[int]) -> bool:
        for record_id in ids:
            record = self.records[model][record_id]
            if model == "sale.order":
                if record["state"] not in ("draft", "sent"):
                    raise user_error("Some orders are not in a state requiring confirmation.")
                record["state"] = "sale"
            elif model == "stock.picking":
                record["state"] = "assigned"
        return True

    def _cancel(self, model: str, ids: list[int], context: dict[str, Any]) -> Any:
        records = [self.records[model][i] for i in ids]
        if (
            model == "sale.order"
            and not context.get("disable_cancel_warning")
            and any(r["state"] != "draft" for r in records)
        ):
            return {
                "type": "ir.actions.act_window",
                "res_model": "sale.order.cancel",
                "view_mode": "form",
                "target": "new",
            }
        for record in records:
            if record["state"] == "done":
                raise user_error("You cannot cancel a locked order.")
            record["state"] = "cancel"
        return True
