"""flash-sale: one hot SKU with 1,000 units at one warehouse, 20,000 reservation attempts from
64 concurrent clients through ``POST /api/v1/reservations``: exactly 1,000 granted, the rest
refused with 409, nothing oversold, and the books balance (``GET /api/v1/check``).

Baseline, in the same run and the same database: a bare conditional UPDATE of one row (the
shape of ``stock_levels``), the same 1,000 units, 20,000 attempts and 64 clients, by a minimal
script.

Then the hot SKU's stock split into N bucket rows (DESIGN.md §7). omnihub has no buckets yet,
so this part is the harness's own, at the SQL level: a table with ``stock_levels``'s columns plus
a bucket number, and a reservation that takes a unit from a random bucket (else from the fullest
one still holding a unit) and writes its reservation and event rows in the same transaction.
It measures a design for the product; it is not a product feature.
"""

from __future__ import annotations

import json
from typing import Any

from omnihub.entrypoints.bench import drivers, processes, retailer
from omnihub.entrypoints.bench.buses import bus_url
from omnihub.entrypoints.bench.context import (
    BenchContext,
    BenchFailure,
    Row,
    measure,
    median,
    percentile,
)
from omnihub.entrypoints.bench.databases import (
    bucket_books,
    create_bucket_tables,
    provisioned,
    raw_dsn,
    split_stock,
)

LOCATION = "WH-SH"
THREADS_PER_PROCESS = 16  # 64 SQL clients: 4 processes of 16 threads (a GIL each)


def _sql_jobs(
    url: str, job: str, sku: str, attempts: int, clients: int, **extra: Any
) -> list[dict[str, Any]]:
    dialect, dsn = raw_dsn(url)
    parts = max(1, clients // THREADS_PER_PROCESS)
    return [
        {
            "kind": "sql",
            "job": job,
            "dialect": dialect,
            "dsn": dsn,
            "location": LOCATION,
            "sku": sku,
            "threads": -(-clients // parts),
            "indices": list(span),
            **extra,
        }
        for span in drivers.split(0, attempts, parts)
    ]


def _sale(result: drivers.Result, units: int) -> dict[str, Any]:
    """What a sale did: attempts per second, and the pace of the grants until sold out."""
    sold_out = result.tracked[units - 1] if len(result.tracked) >= units else None
    return {
        "attempts_per_s": result.rate,
        "sold_out_after_s": sold_out,
        "granted_per_s": units / sold_out if sold_out else None,
        "p99_ms": percentile(result.latencies, 0.99) * 1e3,
    }


def _exact(
    what: str, result: drivers.Result, granted: str, refused: str, units: int, attempts: int
) -> None:
    statuses = dict(result.statuses)
    if statuses.get(granted, 0) != units or statuses.get(refused, 0) != attempts - units:
        raise BenchFailure(
            f"flash-sale {what}: {units} units, {attempts} attempts, got {statuses} {result.errors}"
        )


def run(ctx: BenchContext) -> dict[str, Row]:
    s = ctx.sizes
    units, attempts, clients = s.flash_units, s.flash_attempts, s.flash_clients
    api_runs: list[dict[str, Any]] = []
    bare_runs: list[dict[str, Any]] = []
    split_runs: dict[int, list[dict[str, Any]]] = {n: [] for n in s.flash_buckets}
    with provisioned(ctx, "flash-sale") as url, bus_url(ctx, "flash-sale") as bus:
        create_bucket_tables(url)
        with (
            processes.hub(
                url,
                workers=ctx.server_workers,
                workdir=ctx.workdir / "flash-sale-hub",
                settings={"OMNIHUB_BUS_URL": bus},
            ) as hub,
            retailer.client(hub.base_url) as api,
        ):
            ctx.progress("flash-sale: seeding")
            skus = [f"FLASH-{n}" for n in range(s.runs)]
            retailer.add_warehouses(api, [LOCATION])
            retailer.add_skus(api, [*skus, "FLASH-WARM"])
            retailer.receive(api, LOCATION, "FLASH-WARM", s.warm_up, "GRN-FLASH-WARM")
            for sku in skus:
                retailer.receive(api, LOCATION, sku, units, f"GRN-{sku}")
            warm = json.dumps(
                {"sku": "FLASH-WARM", "qty": 1, "location": LOCATION, "ttl_seconds": 3600}
            )
            drivers.drive(
                [
                    retailer.http_job(
                        hub.base_url, "/api/v1/reservations", [warm], (0, 2 * s.warm_up), clients
                    )
                ]
            )
            for n, sku in enumerate(skus):
                ctx.progress(f"flash-sale: run {n + 1} of {s.runs} through the API")
                body = json.dumps({"sku": sku, "qty": 1, "location": LOCATION, "ttl_seconds": 3600})
                result = drivers.drive(
                    [
                        retailer.http_job(
                            hub.base_url,
                            "/api/v1/reservations",
                            [body],
                            (0, attempts),
                            clients,
                            track=[201],
                        )
                    ]
                )
                _exact("through the API", result, "201", "409", units, attempts)
                level = retailer.expect(api.get(f"/api/v1/inventory/{sku}"), 200)
                if (level["available"], level["locations"][0]["reserved"]) != (0, units):
                    raise BenchFailure(f"flash-sale: {sku} after the sale: {level}")
                api_runs.append(_sale(result, units))
            report = retailer.require_balanced(api, "flash-sale")

        # the hub is stopped: nothing else runs on the database, and its connection pools are
        # closed (64 clients and two pools of a busy hub exceed PostgreSQL's 100 connections)
        for n in range(s.runs):
            ctx.progress(f"flash-sale: run {n + 1} of {s.runs}, bare UPDATE of one row")
            hot = f"HOT-{n}"
            split_stock(url, LOCATION, hot, units, 1)
            result = drivers.drive(_sql_jobs(url, "hot_row", hot, attempts, clients))
            _exact("bare UPDATE", result, "reserved", "refused", units, attempts)
            bare_runs.append(_sale(result, units))
            for buckets in s.flash_buckets:
                ctx.progress(f"flash-sale: run {n + 1} of {s.runs}, {buckets} bucket(s)")
                sku = f"SPLIT-{buckets}-{n}"
                split_stock(url, LOCATION, sku, units, buckets)
                result = drivers.drive(
                    _sql_jobs(url, "buckets", sku, attempts, clients, buckets=buckets)
                )
                _exact(f"{buckets} buckets", result, "reserved", "refused", units, attempts)
                held = bucket_books(url, LOCATION, sku)
                if (held["reserved"], held["reservations"], held["oversold"]) != (units, units, 0):
                    raise BenchFailure(f"flash-sale: {buckets} buckets do not add up: {held}")
                split_runs[buckets].append(_sale(result, units))

    return _rows(ctx, api_runs, bare_runs, split_runs, report)


def _med(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in runs if r[key] is not None]
    return median(values) if values else None


def _rows(
    ctx: BenchContext,
    api_runs: list[dict[str, Any]],
    bare_runs: list[dict[str, Any]],
    split_runs: dict[int, list[dict[str, Any]]],
    report: dict[str, Any],
) -> dict[str, Row]:
    s = ctx.sizes
    common = {
        "units": s.flash_units,
        "attempts": s.flash_attempts,
        "clients": s.flash_clients,
        "runs": s.runs,
        "db": ctx.db,
        "bus": ctx.bus,
        "server_workers": ctx.server_workers,
    }
    exact = {
        "granted": s.flash_units,
        "refused": s.flash_attempts - s.flash_units,
        "oversold": report["oversells"],
        "books_balanced": report["balanced"],
    }
    rows = {
        "flash_sale.api": measure(
            _med(api_runs, "attempts_per_s"),
            "attempts/s",
            _med(bare_runs, "attempts_per_s"),
            {
                **common,
                **exact,
                "baseline_is": "bare conditional UPDATE of one row, same units/attempts/clients",
                "run_rates": [round(r["attempts_per_s"], 1) for r in api_runs],
                "baseline_run_rates": [round(r["attempts_per_s"], 1) for r in bare_runs],
                "granted_per_s_until_sold_out": _rounded(_med(api_runs, "granted_per_s")),
                "baseline_granted_per_s_until_sold_out": _rounded(_med(bare_runs, "granted_per_s")),
                "sold_out_after_s": _rounded(_med(api_runs, "sold_out_after_s"), 3),
            },
        ),
        "flash_sale.api.p99": measure(
            _med(api_runs, "p99_ms"),
            "ms",
            _med(bare_runs, "p99_ms"),
            {**common, "baseline_is": "bare conditional UPDATE"},
            digits=2,
        ),
    }
    one = _med(split_runs.get(1, []), "granted_per_s") if split_runs.get(1) else None
    for buckets, runs in split_runs.items():
        rows[f"flash_sale.buckets.{buckets}"] = measure(
            _med(runs, "granted_per_s"),
            "granted/s",
            one,
            {
                **common,
                "buckets": buckets,
                "granted": s.flash_units,
                "oversold": 0,
                "baseline_is": "the same harness with 1 bucket (granted/s until sold out)",
                "attempts_per_s": _rounded(_med(runs, "attempts_per_s")),
                "run_granted_per_s": [_rounded(r["granted_per_s"]) for r in runs],
                "p99_ms": _rounded(_med(runs, "p99_ms"), 2),
                "implemented_in": "bench harness, SQL level (not a product feature)",
            },
        )
    return rows


def _rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)
