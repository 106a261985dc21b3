"""The storage floor of ingestion: exactly the rows the hub writes for one order, captured by
comparing every table before and after one order is ingested, then replayed by a minimal script
(one transaction per order, raw driver, fresh keys) at the same concurrency as the clients.

The capture is generic: it needs no knowledge of which tables an order touches, so the floor
follows the product when an order starts writing more (or fewer) rows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from omnihub.adapters.db.engine import create_engine
from omnihub.adapters.db.tables import metadata, stock_levels
from omnihub.entrypoints.bench.context import BenchFailure

Snapshot = dict[str, dict[tuple[Any, ...], dict[str, Any]]]


def snapshot(url: str) -> Snapshot:
    """Every row of every table of the schema, by primary key, as the driver returns it."""
    engine = create_engine(url)
    tables: Snapshot = {}
    try:
        existing = set(sa.inspect(engine).get_table_names())
        with engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:
            for table in metadata.sorted_tables:
                if table.name not in existing:
                    continue
                result = conn.exec_driver_sql(f'SELECT * FROM "{table.name}"')
                columns = list(result.keys())
                key = [columns.index(c.name) for c in table.primary_key.columns]
                tables[table.name] = {
                    tuple(row[i] for i in key): dict(zip(columns, row, strict=True))
                    for row in result
                }
    finally:
        engine.dispose()
    return tables


def _plain(value: Any) -> Any:
    """A value the driver process can take back from JSON and give to its own driver."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _unique_sets(table: sa.Table) -> list[list[str]]:
    sets = [[c.name for c in table.primary_key.columns]]
    sets += [
        [c.name for c in constraint.columns]
        for constraint in table.constraints
        if isinstance(constraint, sa.UniqueConstraint)
    ]
    sets += [[c.name for c in index.columns] for index in table.indexes if index.unique]
    return sets


def floor_job(before: Snapshot, after: Snapshot) -> dict[str, Any]:
    """The ``rows`` driver job that writes again what happened between two snapshots: the new
    rows (keys made fresh for every order; references to them follow) and, for every stock
    level that changed, the conditional UPDATE that reserves the same quantity."""
    tables: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    keys: set[str] = set()
    written: dict[str, int] = {}
    for table in metadata.sorted_tables:
        old, new = before.get(table.name, {}), after.get(table.name, {})
        inserted = [row for key, row in new.items() if key not in old]
        changed = [(old[key], row) for key, row in new.items() if key in old and old[key] != row]
        if inserted:
            written[table.name] = len(inserted)
            tables.append(_inserts(table, inserted, keys))
        for was, now in changed:
            written[f"{table.name} (updated)"] = written.get(f"{table.name} (updated)", 0) + 1
            updates.append(_update(table, was, now))
    if not tables:
        raise BenchFailure("the order wrote no rows: nothing to build the storage floor from")
    return {
        "job": "rows",
        "tables": tables,
        "updates": updates,
        "keys": sorted(keys),
        "written": written,
    }


def _inserts(table: sa.Table, rows: list[dict[str, Any]], keys: set[str]) -> dict[str, Any]:
    generated = table.autoincrement_column
    columns = [c for c in rows[0] if generated is None or c != generated.name]
    unique = [
        [c for c in s if generated is None or c != generated.name] for s in _unique_sets(table)
    ]
    out_rows = []
    for row in rows:
        values = dict(row)
        if table.name == "outbox":
            values["delivered_at"] = None  # as committed, before the relay marked it
        for names in unique:
            if not names:
                continue  # the generated key: the database gives a fresh one
            texts = [n for n in names if isinstance(values.get(n), str)]
            if any(values[n] in keys for n in texts):
                continue  # refers to a key made fresh already (an order's lines)
            if not texts:
                raise BenchFailure(f"no way to make a key of {table.name} fresh: {names}")
            keys.add(values[texts[-1]])
        out_rows.append([_plain(values[c]) for c in columns])
    listed = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    return {
        "table": table.name,
        "sql": f'INSERT INTO "{table.name}" ({listed}) VALUES ({marks})',
        "rows": out_rows,
    }


def _update(table: sa.Table, was: Mapping[str, Any], now: Mapping[str, Any]) -> dict[str, Any]:
    if table is stock_levels:
        qty = int(now["reserved"]) - int(was["reserved"])
        on_hand = int(now["on_hand"]) - int(was["on_hand"])
        if on_hand == 0 and qty > 0:
            return {
                "sql": "UPDATE stock_levels SET reserved = reserved + ? WHERE location = ? "
                "AND sku = ? AND on_hand - reserved - safety >= ?",
                "params": [qty, now["location"], now["sku"], qty],
            }
    key = [c.name for c in table.primary_key.columns]
    changed = [c for c in now if now[c] != was[c]]
    sets = ", ".join(f'"{c}" = ?' for c in changed)
    where = " AND ".join(f'"{c}" = ?' for c in key)
    return {
        "sql": f'UPDATE "{table.name}" SET {sets} WHERE {where}',
        "params": [_plain(now[c]) for c in changed] + [_plain(now[c]) for c in key],
    }


def with_variants(job: dict[str, Any], variants: Sequence[Mapping[str, str]]) -> dict[str, Any]:
    """The job with its SKUs replaced per order as the measured orders vary theirs (order n
    takes ``variants[n % len(variants)]``), so the floor spreads over the same stock rows."""
    return {**job, "variants": [dict(v) for v in variants]}
