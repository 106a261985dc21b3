"""SQL repositories: rows in, domain objects out.

The statements of the hot paths (ingesting an order, reserving stock) are built once, here,
with bound parameters, and executed with parameter dicts: building one per call (coercing each
value, generating its cache key) cost several times what executing it does.
"""

from __future__ import annotations

import builtins
import hashlib
import threading
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from omnihub.adapters.db.tables import (
    audit_log,
    external_refs,
    inbound_log,
    locations,
    order_lines,
    order_transitions,
    orders,
    outbox,
    skus,
    stock_levels,
)
from omnihub.domain.catalog import ChannelMapping, Sku
from omnihub.domain.errors import AlreadyExists
from omnihub.domain.events import STOCK_CHANGED, Event
from omnihub.domain.inventory import StockLevel
from omnihub.domain.locations import DeliveryMode, Location, LocationType, Service
from omnihub.domain.orders import (
    Address,
    Buyer,
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    Transition,
)
from omnihub.domain.values import Money
from omnihub.ports import (
    AuditLog,
    CatalogRepository,
    ConcurrentUpdate,
    DuplicateOrder,
    InboundLog,
    LocationRepository,
    OrderPage,
    OrderRepository,
    Outbox,
)

SKU_REF = "sku"
ORDER_REF = "order"


def _now() -> datetime:
    return datetime.now(UTC)


def _is_unique_violation(exc: sa.exc.IntegrityError) -> bool:
    text = str(exc.orig).lower()
    return "unique" in text or "duplicate key" in text


_SKU = sa.select(skus).where(skus.c.code == sa.bindparam("code"))
_EXISTING_SKUS = sa.select(skus.c.code).where(
    skus.c.code.in_(sa.bindparam("codes", expanding=True))
)
_RESOLVE = sa.select(external_refs.c.external_id, external_refs.c.internal_id).where(
    external_refs.c.channel == sa.bindparam("channel"),
    external_refs.c.kind == SKU_REF,
    external_refs.c.external_id.in_(sa.bindparam("external_ids", expanding=True)),
)


class SqlCatalogRepository(CatalogRepository):
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add_sku(self, sku: Sku) -> None:
        if self.get_sku(sku.code) is not None:
            raise AlreadyExists(f"SKU {sku.code} already exists", details={"sku": sku.code})
        self.conn.execute(
            sa.insert(skus).values(
                code=sku.code,
                name=sku.name,
                barcode=sku.barcode,
                price_cents=sku.price.cents,
                currency=sku.price.currency,
                created_at=_now(),
            )
        )

    def get_sku(self, code: str) -> Sku | None:
        row = self.conn.execute(_SKU, {"code": code}).first()
        if row is None:
            return None
        return Sku(row.code, row.name, Money.from_cents(row.price_cents, row.currency), row.barcode)

    def existing(self, codes: Iterable[str]) -> set[str]:
        wanted = set(codes)
        if not wanted:
            return set()
        rows = self.conn.execute(_EXISTING_SKUS, {"codes": sorted(wanted)})
        return {code for (code,) in rows}

    def list_skus(self, after: str | None, limit: int) -> list[Sku]:
        query = sa.select(skus).order_by(skus.c.code).limit(limit)
        if after:
            query = query.where(skus.c.code > after)
        return [
            Sku(r.code, r.name, Money.from_cents(r.price_cents, r.currency), r.barcode)
            for r in self.conn.execute(query)
        ]

    def get_mapping(self, channel: str, channel_sku: str) -> ChannelMapping | None:
        row = self.conn.execute(
            sa.select(external_refs.c.internal_id).where(
                external_refs.c.channel == channel,
                external_refs.c.kind == SKU_REF,
                external_refs.c.external_id == channel_sku,
            )
        ).first()
        return None if row is None else ChannelMapping(channel, channel_sku, row.internal_id)

    def add_mapping(self, mapping: ChannelMapping) -> None:
        try:
            with self.conn.begin_nested():
                self.conn.execute(
                    sa.insert(external_refs).values(
                        channel=mapping.channel,
                        kind=SKU_REF,
                        external_id=mapping.channel_sku,
                        internal_id=mapping.sku,
                        created_at=_now(),
                    )
                )
        except sa.exc.IntegrityError as exc:
            if not _is_unique_violation(exc):
                raise
            raise AlreadyExists(
                f"{mapping.channel} listing {mapping.channel_sku} is already mapped",
                details={"channel": mapping.channel, "channel_sku": mapping.channel_sku},
            ) from exc

    def resolve(self, channel: str, channel_skus: Iterable[str]) -> dict[str, str]:
        wanted = sorted(set(channel_skus))
        if not wanted:
            return {}
        rows = self.conn.execute(_RESOLVE, {"channel": channel, "external_ids": wanted})
        return {ext: internal for ext, internal in rows}


def _location(row: Any) -> Location:
    return Location(
        code=row.code,
        name=row.name,
        type=LocationType(row.type),
        lat=row.lat,
        lon=row.lon,
        services=frozenset(Service(s) for s in row.services),
        channels=frozenset(row.channels),
        capacity_per_day=row.capacity_per_day,
        priority=row.priority,
    )


@dataclass(frozen=True, slots=True)
class _KnownLocations:
    """Every location of one database as a committed read found them, with the stamp
    (count, newest created_at) that tells whether the table has changed since."""

    stamp: tuple[Any, ...]
    locations: tuple[Location, ...]


# Per engine (one database): the list is read for every order routed, and changes rarely.
# Locations are only ever added, never changed, so the stamp changes whenever the list does,
# by this process or any other (or when the table is emptied and filled again).
_known_locations: weakref.WeakKeyDictionary[Engine, _KnownLocations] = weakref.WeakKeyDictionary()
_known_locations_lock = threading.Lock()

_LOCATION = sa.select(locations).where(locations.c.code == sa.bindparam("code"))
_LOCATIONS = sa.select(locations).order_by(locations.c.code)
_LOCATIONS_STAMP = sa.select(sa.func.count(), sa.func.max(locations.c.created_at)).select_from(
    locations
)
_INSERT_LOCATION = sa.insert(locations)


class SqlLocationRepository(LocationRepository):
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self._added = False  # rows of this transaction are not committed: keep them out

    def add(self, location: Location) -> None:
        if self.get(location.code) is not None:
            raise AlreadyExists(f"location {location.code} already exists")
        self._added = True
        self.conn.execute(
            _INSERT_LOCATION,
            {
                "code": location.code,
                "name": location.name,
                "type": str(location.type),
                "lat": location.lat,
                "lon": location.lon,
                "services": sorted(str(s) for s in location.services),
                "channels": sorted(location.channels),
                "capacity_per_day": location.capacity_per_day,
                "priority": location.priority,
                "created_at": _now(),
            },
        )

    def get(self, code: str) -> Location | None:
        row = self.conn.execute(_LOCATION, {"code": code}).first()
        return None if row is None else _location(row)

    def list(self) -> builtins.list[Location]:
        stamp = tuple(self.conn.execute(_LOCATIONS_STAMP).one())
        known = _known_locations.get(self.conn.engine)
        if known is not None and known.stamp == stamp and not self._added:
            return builtins.list(known.locations)
        found = [_location(row) for row in self.conn.execute(_LOCATIONS)]
        # read after the stamp: under READ COMMITTED a location committed in between is in
        # the rows but not the count, and such a pair is not kept
        if not self._added and len(found) == stamp[0]:
            with _known_locations_lock:
                _known_locations[self.conn.engine] = _KnownLocations(stamp, tuple(found))
        return found


def _json_buyer(buyer: Buyer) -> dict[str, Any]:
    body = {k: getattr(buyer, k) for k in Buyer.__slots__}
    body["masked"] = list(buyer.masked)
    return body


def _json_address(address: Address) -> dict[str, Any]:
    body = {k: getattr(address, k) for k in Address.__slots__}
    body["masked"] = list(address.masked)
    return body


def _buyer(data: dict[str, Any]) -> Buyer:
    return Buyer(**{**data, "masked": tuple(data.get("masked") or ())})


def _address(data: dict[str, Any]) -> Address:
    return Address(**{**data, "masked": tuple(data.get("masked") or ())})


def _json_payment(payment: Payment | None) -> dict[str, Any] | None:
    if payment is None:
        return None
    return {
        "provider": payment.provider,
        "transaction_id": payment.transaction_id,
        "amount": str(payment.amount.amount),
        "currency": payment.amount.currency,
        "paid_at": payment.paid_at.isoformat(),
    }


def _payment(data: dict[str, Any] | None) -> Payment | None:
    if not data:
        return None
    return Payment(
        data["provider"],
        data["transaction_id"],
        Money.of(data["amount"], data["currency"]),
        datetime.fromisoformat(data["paid_at"]),
    )


ORD = orders
REF = external_refs

_ORDERS = sa.select(ORD, REF.c.external_id).join(
    REF, sa.and_(REF.c.kind == ORDER_REF, REF.c.internal_id == ORD.c.id)
)
_ORDER = _ORDERS.where(ORD.c.id == sa.bindparam("order_id"))
_ORDER_BY_EXTERNAL = _ORDERS.where(
    REF.c.channel == sa.bindparam("channel"), REF.c.external_id == sa.bindparam("external_id")
)
_LINES_OF = (
    sa.select(order_lines)
    .where(order_lines.c.order_id.in_(sa.bindparam("order_ids", expanding=True)))
    .order_by(order_lines.c.order_id, order_lines.c.line_no)
)
_TRANSITIONS_OF = (
    sa.select(order_transitions)
    .where(order_transitions.c.order_id.in_(sa.bindparam("order_ids", expanding=True)))
    .order_by(order_transitions.c.id)
)
# A binding that exists already is not inserted (no error, so nothing to roll back): every
# unique key of the table counts, as the unique violation it replaces did.
_BIND_ORDER = {
    "postgresql": postgresql.insert(REF).on_conflict_do_nothing().returning(REF.c.id),
    "sqlite": sqlite.insert(REF).on_conflict_do_nothing().returning(REF.c.id),
}
_INSERT_ORDER = sa.insert(ORD)
_INSERT_LINES = sa.insert(order_lines)
_INSERT_TRANSITIONS = sa.insert(order_transitions)
_UPDATE_ORDER = sa.update(ORD).where(
    ORD.c.id == sa.bindparam("b_id"), ORD.c.version == sa.bindparam("b_version")
)
_UPDATE_LINE_SKU = (
    sa.update(order_lines)
    .where(
        order_lines.c.order_id == sa.bindparam("b_order_id"),
        order_lines.c.line_no == sa.bindparam("b_line_no"),
    )
    .values(sku=sa.bindparam("sku"))
)


class SqlOrderRepository(OrderRepository):
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self.seen: dict[str, Order] = {}
        self._loaded: dict[str, tuple[int, int, dict[int, str | None]]] = {}

    # -- reads ------------------------------------------------------------------------------
    def get(self, order_id: str) -> Order | None:
        row = self.conn.execute(_ORDER, {"order_id": order_id}).first()
        return None if row is None else self._hydrate([row])[0]

    def get_by_external(self, channel: str, external_id: str) -> Order | None:
        row = self.conn.execute(
            _ORDER_BY_EXTERNAL, {"channel": channel, "external_id": external_id}
        ).first()
        return None if row is None else self._hydrate([row])[0]

    def list(
        self,
        *,
        channel: str | None = None,
        status: OrderStatus | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> OrderPage:
        query = _ORDERS.order_by(ORD.c.id).limit(limit + 1)
        if channel:
            query = query.where(ORD.c.channel == channel)
        if status:
            query = query.where(ORD.c.status == str(status))
        if cursor:
            query = query.where(ORD.c.id > cursor)
        rows = list(self.conn.execute(query))
        more = len(rows) > limit
        items = self._hydrate(rows[:limit])
        return OrderPage(items, items[-1].id if more and items else None)

    def waiting_for_mapping(self, channel: str, channel_sku: str) -> builtins.list[str]:
        rows = self.conn.execute(
            sa.select(ORD.c.id)
            .distinct()
            .join(order_lines, order_lines.c.order_id == ORD.c.id)
            .where(
                ORD.c.channel == channel,
                ORD.c.status == str(OrderStatus.HELD),
                order_lines.c.channel_sku == channel_sku,
                order_lines.c.sku.is_(None),
            )
            .order_by(ORD.c.id)
        )
        return [order_id for (order_id,) in rows]

    def count_by(self) -> builtins.list[tuple[str, str, str | None, int]]:
        rows = self.conn.execute(
            sa.select(ORD.c.channel, ORD.c.status, ORD.c.hold_reason, sa.func.count()).group_by(
                ORD.c.channel, ORD.c.status, ORD.c.hold_reason
            )
        )
        return [(c, s, h, int(n)) for c, s, h, n in rows]

    def count_by_delivery(self) -> dict[str, int]:
        rows = self.conn.execute(
            sa.select(ORD.c.delivery, sa.func.count()).group_by(ORD.c.delivery)
        )
        return {mode: int(n) for mode, n in rows}

    def _hydrate(self, rows: Sequence[Any]) -> builtins.list[Order]:
        ids = [row.id for row in rows]
        if not ids:
            return []
        lines: dict[str, builtins.list[OrderLine]] = {i: [] for i in ids}
        currencies = {row.id: row.currency for row in rows}
        for ln in self.conn.execute(_LINES_OF, {"order_ids": ids}):
            currency = currencies[ln.order_id]
            lines[ln.order_id].append(
                OrderLine(
                    ln.line_no,
                    ln.channel_sku,
                    ln.qty,
                    Money.from_cents(ln.unit_price_cents, currency),
                    Money.from_cents(ln.discount_cents, currency),
                    ln.sku,
                )
            )
        history: dict[str, builtins.list[Transition]] = {i: [] for i in ids}
        for t in self.conn.execute(_TRANSITIONS_OF, {"order_ids": ids}):
            history[t.order_id].append(
                Transition(
                    OrderStatus(t.from_status) if t.from_status else None,
                    OrderStatus(t.to_status),
                    t.cause,
                    t.at,
                )
            )
        result = []
        for row in rows:
            order = Order(
                id=row.id,
                channel=row.channel,
                external_id=row.external_id,
                status=OrderStatus(row.status),
                delivery=DeliveryMode(row.delivery),
                lines=lines[row.id],
                channel_created_at=row.channel_created_at,
                channel_updated_at=row.channel_updated_at,
                buyer=_buyer(row.buyer),
                ship_to=_address(row.ship_to),
                pickup_location=row.pickup_location,
                shipping_fee=Money.from_cents(row.shipping_fee_cents, row.currency),
                total=Money.from_cents(row.total_cents, row.currency),
                payment=_payment(row.payment),
                remark=row.remark,
                hold_reason=row.hold_reason,
                held_from=OrderStatus(row.held_from) if row.held_from else None,
                cod=row.cod,
                service_level=row.service_level,
                reviewed=row.reviewed,
                merge_group=row.merge_group,
                version=row.version,
                transitions=history[row.id],
            )
            self.seen[order.id] = order
            self._loaded[order.id] = (
                order.version,
                len(order.transitions),
                {ln.line_no: ln.sku for ln in order.lines},
            )
            result.append(order)
        return result

    # -- writes -----------------------------------------------------------------------------
    def add(self, order: Order) -> None:
        now = _now()
        bound = self.conn.execute(
            _BIND_ORDER[self.conn.dialect.name],
            {
                "channel": order.channel,
                "kind": ORDER_REF,
                "external_id": order.external_id,
                "internal_id": order.id,
                "created_at": now,
            },
        ).first()
        if bound is None:
            raise DuplicateOrder(f"order {order.external_id} of {order.channel} is already known")
        order.version = 1
        self.conn.execute(_INSERT_ORDER, {"id": order.id, **self._row(order), "created_at": now})
        self.conn.execute(
            _INSERT_LINES,
            [
                {
                    "order_id": order.id,
                    "line_no": ln.line_no,
                    "channel_sku": ln.channel_sku,
                    "sku": ln.sku,
                    "qty": ln.qty,
                    "unit_price_cents": ln.unit_price.cents,
                    "discount_cents": ln.discount.cents,
                }
                for ln in order.lines
            ],
        )
        self._insert_transitions(order, order.transitions)
        self.seen[order.id] = order
        self._loaded[order.id] = (
            order.version,
            len(order.transitions),
            {ln.line_no: ln.sku for ln in order.lines},
        )

    def save(self, order: Order) -> None:
        version, n_transitions, line_skus = self._loaded[order.id]
        changed = self.conn.execute(
            _UPDATE_ORDER,
            self._row(order) | {"version": version + 1, "b_id": order.id, "b_version": version},
        ).rowcount
        if changed != 1:
            raise ConcurrentUpdate(f"order {order.id} was changed by someone else; try again")
        order.version = version + 1
        mapped = [
            {"b_order_id": order.id, "b_line_no": line.line_no, "sku": line.sku}
            for line in order.lines
            if line_skus.get(line.line_no) != line.sku
        ]
        if mapped:
            self.conn.execute(_UPDATE_LINE_SKU, mapped)
        self._insert_transitions(order, order.transitions[n_transitions:])
        self._loaded[order.id] = (
            order.version,
            len(order.transitions),
            {ln.line_no: ln.sku for ln in order.lines},
        )

    def _row(self, order: Order) -> dict[str, Any]:
        return {
            "channel": order.channel,
            "status": str(order.status),
            "delivery": str(order.delivery),
            "pickup_location": order.pickup_location,
            "buyer": _json_buyer(order.buyer),
            "ship_to": _json_address(order.ship_to),
            "shipping_fee_cents": order.shipping_fee.cents,
            "total_cents": order.total.cents,
            "currency": order.total.currency,
            "payment": _json_payment(order.payment),
            "remark": order.remark,
            "hold_reason": order.hold_reason,
            "held_from": str(order.held_from) if order.held_from else None,
            "cod": order.cod,
            "service_level": order.service_level,
            "reviewed": order.reviewed,
            "merge_group": order.merge_group,
            "channel_created_at": order.channel_created_at,
            "channel_updated_at": order.channel_updated_at,
            "version": order.version,
            "updated_at": _now(),
        }

    def _insert_transitions(self, order: Order, new: Sequence[Transition]) -> None:
        if not new:
            return
        self.conn.execute(
            _INSERT_TRANSITIONS,
            [
                {
                    "order_id": order.id,
                    "from_status": str(t.from_status) if t.from_status else None,
                    "to_status": str(t.to_status),
                    "cause": t.cause[:500],
                    "at": t.at,
                }
                for t in new
            ],
        )


_INSERT_INBOUND = sa.insert(inbound_log).returning(inbound_log.c.id)
_MARK_INBOUND = (
    sa.update(inbound_log)
    .where(inbound_log.c.id == sa.bindparam("b_id"))
    .values(result=sa.bindparam("result"), order_id=sa.bindparam("order_id"))
)


class SqlInboundLog(InboundLog):
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def record(
        self,
        *,
        channel: str,
        kind: str,
        body: str,
        received_at: datetime,
        result: str,
        order_id: str | None = None,
        error: str | None = None,
    ) -> int:
        row = self.conn.execute(
            _INSERT_INBOUND,
            {
                "channel": channel[:64],
                "kind": kind,
                "body": body,
                "body_sha256": hashlib.sha256(body.encode("utf-8", "replace")).hexdigest(),
                "received_at": received_at,
                "result": result,
                "order_id": order_id,
                "error": error,
            },
        ).one()
        return int(row.id)

    def mark(self, entry_id: int, *, result: str, order_id: str | None = None) -> None:
        self.conn.execute(_MARK_INBOUND, {"b_id": entry_id, "result": result, "order_id": order_id})

    def recent(self, limit: int, result: str | None = None) -> list[dict[str, Any]]:
        query = sa.select(inbound_log).order_by(inbound_log.c.id.desc()).limit(limit)
        if result:
            query = query.where(inbound_log.c.result == result)
        return [dict(row._mapping) for row in self.conn.execute(query)]


_INSERT_AUDIT = sa.insert(audit_log)


class SqlAuditLog(AuditLog):
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def record(
        self, *, actor: str, action: str, subject: str, details: dict[str, Any], at: datetime
    ) -> None:
        self.conn.execute(
            _INSERT_AUDIT,
            {"actor": actor, "action": action, "subject": subject, "details": details, "at": at},
        )


_INSERT_OUTBOX = sa.insert(outbox)
_LOCK_SKUS = (
    sa.select(skus.c.code)
    .where(skus.c.code.in_(sa.bindparam("codes", expanding=True)))
    .order_by(skus.c.code)
    .with_for_update(key_share=True)
)
_LEVELS_OF = (
    sa.select(stock_levels)
    .where(stock_levels.c.sku.in_(sa.bindparam("skus", expanding=True)))
    .order_by(stock_levels.c.sku, stock_levels.c.location)
)


class SqlOutbox(Outbox):
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, events: Sequence[Event]) -> None:
        rows = [
            {
                "event_id": e.id,
                "type": e.type,
                "aggregate_id": e.aggregate_id,
                "version": e.version,
                "occurred_at": e.occurred_at,
                "data": e.data,
            }
            for e in events
        ]
        self._current_stock(rows)
        self.conn.execute(_INSERT_OUTBOX, rows)

    def _current_stock(self, rows: list[dict[str, Any]]) -> None:
        """PostgreSQL: changes of one SKU at two locations lock two different level rows, so
        each transaction may have read the other location as it was before the other commits,
        and the newest ``stock.changed`` would then miss a change. Here, after every level lock
        of the transaction, the SKUs are locked (in order; NO KEY UPDATE, so foreign-key checks
        are not blocked) and their levels read again: each SKU's events are numbered in commit
        order and carry the stock as it is at commit."""
        changed = sorted({r["aggregate_id"] for r in rows if r["type"] == STOCK_CHANGED})
        if not changed or self.conn.dialect.name != "postgresql":
            return  # SQLite: writers are serialised, what was read is what is committed
        self.conn.execute(_LOCK_SKUS, {"codes": changed})
        levels: dict[str, list[dict[str, Any]]] = {sku: [] for sku in changed}
        for lv in self.conn.execute(_LEVELS_OF, {"skus": changed}):
            levels[lv.sku].append(
                {
                    "location": lv.location,
                    "on_hand": lv.on_hand,
                    "reserved": lv.reserved,
                    "available": StockLevel(
                        lv.location, lv.sku, lv.on_hand, lv.reserved, lv.safety
                    ).available,
                }
            )
        for row in rows:
            if row["type"] == STOCK_CHANGED:
                locations = levels[row["aggregate_id"]]
                row["data"] = {
                    **row["data"],
                    "locations": locations,
                    "available": sum(lv["available"] for lv in locations),
                }
