"""routing: the sourcing decision for a 5-line order over 100, 1,000 and 10,000 candidate
locations, in process (no database, no HTTP): p50 and p99 latency.

The baseline is the vectorised distance filter alone over the same locations, the floor of any
decision that looks at every node."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from omnihub.domain.locations import DeliveryMode, Location, LocationType, Service
from omnihub.domain.routing.sourcing import Need, NodeIndex, SourcingRequest, source
from omnihub.entrypoints.bench.context import BenchContext, Row, measure, percentile


def run(ctx: BenchContext) -> dict[str, Row]:
    rng = random.Random(42)
    sizes = ctx.sizes.routing_sizes
    decisions = ctx.sizes.routing_decisions
    rows: dict[str, Row] = {}
    services = frozenset({Service.SHIP, Service.SAME_DAY, Service.PICKUP})
    for size in sizes:
        locations = [
            Location(
                f"N{i:05d}",
                f"node {i}",
                LocationType.WAREHOUSE if i % 20 == 0 else LocationType.STORE,
                rng.uniform(22.0, 40.0),
                rng.uniform(104.0, 122.0),
                services,
            )
            for i in range(size)
        ]
        index = NodeIndex(locations)
        skus = [f"SKU-{k}" for k in range(5)]
        levels = {
            (loc.code, sku): rng.choice((0, 0, 0, 1, 2, 5, 10)) for loc in locations for sku in skus
        }
        available = index.availability(levels, skus)
        buyers = [(rng.uniform(22.0, 40.0), rng.uniform(104.0, 122.0)) for _ in range(decisions)]
        requests = [
            SourcingRequest(
                "tmall",
                DeliveryMode.EXPRESS,
                [Need(i + 1, sku, rng.randint(1, 2)) for i, sku in enumerate(skus)],
                lat,
                lon,
            )
            for lat, lon in buyers
        ]
        samples, cpu = _timed(partial(_decide, index=index, available=available), requests)
        floor, _ = _timed(partial(_distances, index=index), requests)
        for name, q in (("p50", 0.50), ("p99", 0.99)):
            params = {
                "locations": size,
                "lines": 5,
                "decisions": decisions,
                "baseline_is": "distance filter over the same locations",
                # CPU time of the deciding thread: what the wall clock shows minus the time
                # the machine gave to other processes (a shared machine preempts often)
                f"cpu_{name}_ms": round(percentile(cpu, q) * 1e3, 4),
            }
            rows[f"routing.{size}.{name}"] = measure(
                percentile(samples, q) * 1e3, "ms", percentile(floor, q) * 1e3, params, digits=4
            )
    return rows


def _decide(request: SourcingRequest, *, index: NodeIndex, available: Any) -> object:
    return source(request, index, available)


def _distances(request: SourcingRequest, *, index: NodeIndex) -> object:
    return index.distances_km(request.buyer_lat or 0.0, request.buyer_lon or 0.0)


def _timed(call: Callable[[Any], object], inputs: list[Any]) -> tuple[list[float], list[float]]:
    """Wall-clock and thread-CPU seconds of each call."""
    for item in inputs[:20]:
        call(item)  # warm up
    wall, cpu = [], []
    for item in inputs:
        started, started_cpu = time.perf_counter(), time.thread_time()
        call(item)
        cpu.append(time.thread_time() - started_cpu)
        wall.append(time.perf_counter() - started)
    return wall, cpu
