"""The retailer every suite serves, set up through the public API as an integrator would:
warehouses, SKUs, stock, channels; and the reads that prove the books after a load."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from omnihub.entrypoints.bench.context import BenchFailure

#: warehouses near four cities; buyers are spread over the same cities
WAREHOUSES = {
    "WH-SH": ("Shanghai", 31.23, 121.47),
    "WH-BJ": ("Beijing", 39.90, 116.40),
    "WH-GZ": ("Guangzhou", 23.13, 113.26),
    "WH-CD": ("Chengdu", 30.57, 104.07),
}


def client(base_url: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=120.0, trust_env=False)


def expect(response: httpx.Response, *statuses: int) -> Any:
    if response.status_code not in statuses:
        raise BenchFailure(
            f"{response.request.method} {response.request.url} answered "
            f"{response.status_code}: {response.text[:500]}"
        )
    return response.json()


def add_warehouses(api: httpx.Client, codes: Sequence[str] = tuple(WAREHOUSES)) -> None:
    for code in codes:
        city, lat, lon = WAREHOUSES[code]
        expect(
            api.post(
                "/api/v1/locations",
                json={
                    "code": code,
                    "name": f"{city} warehouse",
                    "type": "warehouse",
                    "lat": lat,
                    "lon": lon,
                    "services": ["ship"],
                },
            ),
            201,
        )


def add_skus(api: httpx.Client, skus: Sequence[str], price: str = "59.00") -> None:
    for sku in skus:
        expect(
            api.post(
                "/api/v1/catalog/skus", json={"sku": sku, "name": f"Item {sku}", "price": price}
            ),
            201,
        )


def receive(api: httpx.Client, location: str, sku: str, qty: int, reference: str) -> None:
    expect(
        api.post(
            "/api/v1/inventory/movements",
            json={
                "location": location,
                "sku": sku,
                "kind": "receipt",
                "qty": qty,
                "reference": reference,
            },
        ),
        201,
    )


def books(api: httpx.Client) -> dict[str, Any]:
    """GET /api/v1/check: the counters against the ledger and the reservations."""
    report: dict[str, Any] = expect(api.get("/api/v1/check"), 200)
    return report


def require_balanced(api: httpx.Client, suite: str) -> dict[str, Any]:
    report = books(api)
    if not report["balanced"] or report["oversells"]:
        raise BenchFailure(f"{suite}: the books do not balance after the load: {report}")
    return report


def wait_until(what: str, check: Callable[[], Any], seconds: float, every: float = 0.25) -> Any:
    """Bounded polling: ``check()`` until it returns something truthy, else BenchFailure."""
    deadline = time.monotonic() + seconds
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise BenchFailure(f"{what}: not within {seconds:g} s (last: {last!r})")


def http_job(
    base_url: str,
    path: str,
    bodies: Sequence[str],
    indices: tuple[int, int],
    concurrency: int,
    **options: Any,
) -> dict[str, Any]:
    """A driver job POSTing ``bodies`` (cycled; ``__N__`` becomes the request's index)."""
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    return {
        "kind": "http",
        "host": host,
        "port": int(port),
        "method": "POST",
        "path": path,
        "bodies": list(bodies),
        "indices": list(indices),
        "concurrency": concurrency,
        **options,
    }
