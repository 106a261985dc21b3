"""ingest: canonical orders (3 lines, paid, express) per second end to end through
``POST /api/v1/orders`` (validated, deduplicated, stored, routed, reserved, outbox written) with
1, 8 and 32 concurrent clients, against ``omnihub serve`` in its own processes.

Baselines, measured in the same run, interleaved with the hub's runs:

* the storage floor: the rows one order writes, captured from the hub itself, inserted again by
  a minimal script (raw driver, one transaction per order, the same conditional stock UPDATEs)
  into the same database with the same number of concurrent connections;
* the HTTP floor: an empty FastAPI endpoint served by uvicorn exactly as the hub is, posted the
  same bodies by the same client (and the same endpoint validating the body with ``OrderIn``).
"""

from __future__ import annotations

import json
import time
from typing import Any

from omnihub.adapters.db.engine import create_engine
from omnihub.adapters.db.integration import SqlIntegrationStores
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
from omnihub.entrypoints.bench.databases import level_books, provisioned, raw_dsn
from omnihub.entrypoints.bench.storage_floor import floor_job, snapshot, with_variants

CHANNEL = "bench"
BOOKS_CHECK_LIMIT = 2_000  # orders; beyond, GET /api/v1/check takes minutes on SQLite
UNITS = 100_000_000  # per SKU and warehouse: no order ever waits for stock
PRICE = "59.00"
CREATED_AT = "2024-06-18T10:00:00+08:00"
BUYER_CITIES = {  # near each warehouse, so routing picks among them
    "Shanghai": ("Shanghai", "Huangpu", 31.24, 121.48),
    "Beijing": ("Beijing", "Dongcheng", 39.91, 116.41),
    "Guangzhou": ("Guangdong", "Tianhe", 23.14, 113.32),
    "Chengdu": ("Sichuan", "Jinjiang", 30.66, 104.08),
}


def order_bodies(skus: list[str]) -> tuple[list[str], list[tuple[str, str, str]]]:
    """One body per SKU: order n is body ``n % len(skus)`` with ``__N__`` set to n, three lines
    of three neighbouring SKUs, a buyer and address of its own in one of four cities."""
    if len(skus) < 3:
        raise BenchFailure("ingest needs at least 3 SKUs")
    bodies, triples = [], []
    cities = list(BUYER_CITIES.items())
    for i in range(len(skus)):
        triple = (skus[i], skus[(i + 1) % len(skus)], skus[(i + 2) % len(skus)])
        city, (province, district, lat, lon) = cities[i % len(cities)]
        body = {
            "channel": CHANNEL,
            "external_id": "BO-__N__",
            "status": "paid",
            "created_at": CREATED_AT,
            "buyer": {
                "channel_buyer_id": "buyer-__N__",
                "name": "Buyer __N__",
                "phone": "1380013__N__",
            },
            "ship_to": {
                "name": "Buyer __N__",
                "phone": "1380013__N__",
                "province": province,
                "city": city,
                "district": district,
                "address": "__N__ Bench Road",
                "postcode": "200001",
                "lat": lat,
                "lon": lon,
            },
            "delivery": "express",
            "lines": [{"sku": sku, "qty": 1, "unit_price": PRICE} for sku in triple],
            "shipping_fee": "0.00",
            "payment": {
                "provider": "alipay",
                "transaction_id": "PAY-__N__",
                "amount": "177.00",
                "paid_at": CREATED_AT,
            },
        }
        bodies.append(json.dumps(body, separators=(",", ":")))
        triples.append(triple)
    return bodies, triples


def _backlog(url: str) -> int:
    engine = create_engine(url)
    try:
        from datetime import UTC, datetime

        return SqlIntegrationStores.on(engine).outbox.backlog(datetime.now(UTC)).events
    finally:
        engine.dispose()


def _storage_jobs(
    url: str, job: dict[str, Any], indices: tuple[int, int], clients: int
) -> list[dict[str, Any]]:
    dialect, dsn = raw_dsn(url)
    processes_ = min(clients, 4)
    threads = -(-clients // processes_)
    return [
        {
            "kind": "sql",
            "dialect": dialect,
            "dsn": dsn,
            "threads": threads,
            "indices": list(part),
            **job,
        }
        for part in drivers.split(*indices, processes_)
    ]


def _timed(
    server: processes.Server | None, jobs: list[dict[str, Any]]
) -> tuple[drivers.Result, float, float]:
    """Run the jobs; with the server's CPU seconds and the machine's busy share meanwhile."""
    cpu_before = server.cpu_seconds() if server else 0.0
    busy_before, total_before = processes.machine_cpu()
    result = drivers.drive(jobs)
    busy_after, total_after = processes.machine_cpu()
    server_cpu = (server.cpu_seconds() - cpu_before) if server else 0.0
    total = total_after - total_before
    return result, server_cpu, (busy_after - busy_before) / total if total else 0.0


def run(ctx: BenchContext) -> dict[str, Row]:
    sizes = ctx.sizes
    skus = [f"BSKU-{i:03d}" for i in range(sizes.ingest_skus)]
    bodies, triples = order_bodies(skus)
    rows: dict[str, Row] = {}
    with provisioned(ctx, "ingest") as url, bus_url(ctx, "ingest") as bus:
        settings = {"OMNIHUB_BUS_URL": bus, "OMNIHUB_MERGE_WINDOW_SECONDS": "3600"}
        with (
            processes.serving(
                processes.hub_launch(
                    url,
                    workers=ctx.server_workers,
                    workdir=ctx.workdir / "ingest-hub",
                    settings=settings,
                ),
                processes.floor_launch(
                    workers=ctx.server_workers, workdir=ctx.workdir / "ingest-floor"
                ),
            ) as (hub, floor),
            retailer.client(hub.base_url) as api,
        ):
            ctx.progress("ingest: seeding the retailer")
            retailer.add_warehouses(api)
            retailer.add_skus(api, skus)
            for warehouse in retailer.WAREHOUSES:
                for sku in skus:
                    retailer.receive(api, warehouse, sku, UNITS, f"GRN-{warehouse}-{sku}")
            retailer.wait_until("the seed's events relayed", lambda: _backlog(url) == 0, 120)

            # the storage floor: what the hub wrote for one order, nothing else running
            before = snapshot(url)
            first = json.loads(bodies[0].replace("__N__", "0"))
            retailer.expect(api.post("/api/v1/orders", json=first), 201)
            retailer.wait_until("the order's events relayed", lambda: _backlog(url) == 0, 60)
            # order n takes body n % len(bodies): its SKUs, and the warehouse near its buyer
            warehouses = list(retailer.WAREHOUSES)
            job = with_variants(
                floor_job(before, snapshot(url)),
                [
                    {**dict(zip(triples[0], t, strict=True)), warehouses[0]: warehouses[i % 4]}
                    for i, t in enumerate(triples)
                ],
            )
            written = job.pop("written")

            ctx.progress("ingest: warming up")
            index = 1
            warm = sizes.warm_up
            drivers.drive(
                [
                    retailer.http_job(
                        hub.base_url, "/api/v1/orders", bodies, (index, index + warm), 8, retry=True
                    )
                ]
            )
            index += warm
            for path in ("/api/v1/orders", "/api/v1/orders/parse"):
                drivers.drive([retailer.http_job(floor.base_url, path, bodies, (0, warm), 8)])
            floored = drivers.drive(_storage_jobs(url, job, (0, warm), 2)).count
            posted = 1 + warm

            for clients, count in zip(sizes.ingest_clients, sizes.ingest_orders, strict=True):
                runs: dict[str, list[Any]] = {
                    "hub": [],
                    "empty": [],
                    "parse": [],
                    "storage": [],
                    "normal": [],
                }
                for n in range(sizes.runs):
                    ctx.progress(f"ingest: {clients} client(s), run {n + 1} of {sizes.runs}")
                    span = (index, index + count)
                    index += count
                    runs["hub"].append(
                        _timed(
                            hub,
                            [
                                retailer.http_job(
                                    hub.base_url,
                                    "/api/v1/orders",
                                    bodies,
                                    span,
                                    clients,
                                    retry=True,
                                    max_seconds=sizes.ingest_seconds,
                                )
                            ],
                        )
                    )
                    posted += runs["hub"][-1][0].count
                    span = (span[0], span[0] + runs["hub"][-1][0].count)  # the floors: as many
                    runs["empty"].append(
                        _timed(
                            floor,
                            [
                                retailer.http_job(
                                    floor.base_url, "/api/v1/orders", bodies, span, clients
                                )
                            ],
                        )
                    )
                    runs["parse"].append(
                        _timed(
                            floor,
                            [
                                retailer.http_job(
                                    floor.base_url, "/api/v1/orders/parse", bodies, span, clients
                                )
                            ],
                        )
                    )
                    runs["storage"].append(_timed(None, _storage_jobs(url, job, span, clients)))
                    floored += runs["storage"][-1][0].count
                    if ctx.db == "sqlite":  # what synchronous=NORMAL would buy the floor
                        normal = {**job, "synchronous": "NORMAL"}
                        runs["normal"].append(
                            _timed(None, _storage_jobs(url, normal, span, clients))
                        )
                        floored += runs["normal"][-1][0].count
                rows.update(_rows(ctx, clients, count, runs, written))

            stats = retailer.expect(api.get("/api/v1/stats"), 200)
            # GET /api/v1/check reads every order (see docs/benchmarks.md): affordable on a
            # small run only; the stock half of the books is checked below on every run
            checked = None
            if posted + floored <= BOOKS_CHECK_LIMIT:
                began = time.monotonic()
                retailer.require_balanced(api, "ingest")
                checked = round(time.monotonic() - began, 2)
        stock = level_books(url)
    # the storage floor's copies are orders of the same channel too
    all_orders = sum(stats["orders"].get(CHANNEL, {}).values())
    stored = all_orders - floored
    held = sum(stats["held"].values())
    if stored != posted:
        raise BenchFailure(f"ingest: {posted} orders posted, {stored} stored")
    if (
        stock["reserved_mismatches"]
        or stock["oversold"]
        or stock["units_held"] != 3 * (all_orders - held)
    ):
        raise BenchFailure(f"ingest: the stock does not add up for {all_orders} orders: {stock}")
    for row in rows.values():
        row["params"].update(
            orders_posted=posted,
            orders_stored=stored,
            orders_held=held,
            stock_books=stock,
            books_check_seconds=checked,
        )
    return rows


def _rows(
    ctx: BenchContext, clients: int, count: int, runs: dict[str, list[Any]], written: dict[str, int]
) -> dict[str, Row]:
    hub = [r for r, _, _ in runs["hub"]]
    for result in hub:
        bad = {s: n for s, n in result.statuses.items() if s not in ("201", "202")}
        if bad:
            raise BenchFailure(f"ingest: answers other than 201/202: {bad} {result.errors}")
    empty = [r for r, _, _ in runs["empty"]]
    parse = [r for r, _, _ in runs["parse"]]
    storage = [r for r, _, _ in runs["storage"]]
    for result in storage:
        if set(result.statuses) != {"stored"}:
            raise BenchFailure(f"ingest: storage floor {dict(result.statuses)} {result.errors}")
    rate = median([r.rate for r in hub])
    latencies = [x for r in hub for x in r.latencies]
    floor_latencies = [x for r in empty for x in r.latencies]
    seconds = sum(r.seconds for r in hub)
    common = {
        "clients": clients,
        "orders_per_run": [r.count for r in hub],
        "run_limits": {"orders": count, "seconds": ctx.sizes.ingest_seconds},
        "runs": len(hub),
        "lines": 3,
        "db": ctx.db,
        "bus": ctx.bus,
        "server_workers": ctx.server_workers,
        "run_rates": [round(r.rate, 1) for r in hub],
        "hub_cpu_cores": round(median([cpu / r.seconds for r, cpu, _ in runs["hub"]]), 2),
        "machine_busy": round(median([busy for _, _, busy in runs["hub"]]), 2),
        "client_cpu_us_per_request": round(
            sum(r.cpu_seconds for r in hub) * 1e6 / sum(r.count for r in hub), 1
        ),
        "client_cpu_share": round(sum(r.cpu_seconds for r in hub) / seconds, 3),
        "client_max_per_s_one_core": round(
            sum(r.count for r in empty) / sum(r.cpu_seconds for r in empty)
        ),
    }
    return {
        f"ingest.c{clients}": measure(
            rate,
            "orders/s",
            median([r.rate for r in storage]),
            {
                **common,
                "baseline_is": "storage floor: the same rows by a minimal script",
                "storage_floor_run_rates": [round(r.rate, 1) for r in storage],
                "storage_floor_sqlite_synchronous_normal_run_rates": [
                    round(r.rate, 1) for r, _, _ in runs["normal"]
                ],
                "storage_floor_sqlite_synchronous_normal_per_s": (
                    round(median([r.rate for r, _, _ in runs["normal"]]), 1)
                    if runs["normal"]
                    else None
                ),
                "rows_per_order": written,
            },
        ),
        f"ingest.c{clients}.vs_http": measure(
            rate,
            "orders/s",
            median([r.rate for r in empty]),
            {
                "clients": clients,
                "baseline_is": "empty FastAPI endpoint, same uvicorn settings",
                "http_floor_run_rates": [round(r.rate, 1) for r in empty],
                "parse_floor_per_s": round(median([r.rate for r in parse]), 1),
                "floor_cpu_cores": round(
                    median([cpu / r.seconds for r, cpu, _ in runs["empty"]]), 2
                ),
            },
        ),
        f"ingest.c{clients}.p50": measure(
            percentile(latencies, 0.50) * 1e3,
            "ms",
            percentile(floor_latencies, 0.50) * 1e3,
            {"clients": clients, "baseline_is": "empty FastAPI endpoint"},
            digits=2,
        ),
        f"ingest.c{clients}.p99": measure(
            percentile(latencies, 0.99) * 1e3,
            "ms",
            percentile(floor_latencies, 0.99) * 1e3,
            {"clients": clients, "baseline_is": "empty FastAPI endpoint"},
            digits=2,
        ),
    }
