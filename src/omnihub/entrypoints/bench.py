"""``omnihub bench``: benchmarks that print a table and write JSON.

Each suite returns ``{"name": {"value", "unit", "baseline", "ratio", "params"}}`` rows.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from omnihub.domain.locations import DeliveryMode, Location, LocationType, Service
from omnihub.domain.routing.sourcing import Need, NodeIndex, SourcingRequest, source

Row = dict[str, Any]


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def routing_suite(quick: bool = False) -> dict[str, Row]:
    """Sourcing decision latency, in process: a 5-line order over N candidate locations.

    The baseline is the cost of the vectorised distance filter alone over the same locations
    (the floor of any decision that looks at every node).
    """
    rng = random.Random(42)
    sizes = (100, 1_000, 10_000)
    decisions = 200 if quick else 2_000
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
        samples = _timed(partial(_decide, index=index, available=available), requests)
        floor = _timed(partial(_distances, index=index), requests)
        p50, p99 = _percentile(samples, 0.50), _percentile(samples, 0.99)
        base = statistics.median(floor)
        params = {"locations": size, "lines": 5, "decisions": decisions}
        rows[f"routing.{size}.p50"] = {
            "value": round(p50 * 1e3, 4),
            "unit": "ms",
            "baseline": round(base * 1e3, 4),
            "ratio": round(p50 / base, 2) if base else None,
            "params": params,
        }
        rows[f"routing.{size}.p99"] = {
            "value": round(p99 * 1e3, 4),
            "unit": "ms",
            "baseline": round(_percentile(floor, 0.99) * 1e3, 4),
            "ratio": None,
            "params": params,
        }
    return rows


def _decide(request: SourcingRequest, *, index: NodeIndex, available: Any) -> object:
    return source(request, index, available)


def _distances(request: SourcingRequest, *, index: NodeIndex) -> object:
    return index.distances_km(request.buyer_lat or 0.0, request.buyer_lon or 0.0)


def _timed(call: Callable[[Any], object], inputs: list[Any]) -> list[float]:
    for item in inputs[:20]:
        call(item)  # warm up
    samples = []
    for item in inputs:
        started = time.perf_counter()
        call(item)
        samples.append(time.perf_counter() - started)
    return samples


SUITES: dict[str, Callable[[bool], dict[str, Row]]] = {"routing": routing_suite}
