"""A real hub (``omnihub serve`` on a database) wired to the back-end simulators by a TOML
back-end config (``OMNIHUB_BACKENDS``), with the channel harness's small retailer: the Shanghai
warehouse WH-SH, the Jing'an store ST-SH-JINGAN and three SKUs with stock. The simulators are
seeded with the same stock under their own codes, and call the hub back.

A provider that takes its callback address in the config (Dada) is given a forwarder's: the
hub's port is only known once it serves, after the config was read."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import httpx
from tests.channels.harness import CAP, FAST, MUG, STOCK, STORE, TEE, WAREHOUSE, HubUnderTest

from omnihub.simulators.backends.delivery.dada import DadaSimulator
from omnihub.simulators.backends.erp.erpnext import ErpNextSimulator
from omnihub.simulators.backends.erp.kingdee import KingdeeSimulator
from omnihub.simulators.backends.wms.qimen import QimenWmsSimulator
from omnihub.simulators.base import PlatformSimulator, SimRequest, SimResponse

__all__ = ["CAP", "MUG", "STORE", "TEE", "WAREHOUSE"]

QM_WAREHOUSE, DADA_SHOP = "QM-SH-01", "DD-JINGAN"
ERP_WAREHOUSES = {WAREHOUSE: "CK001", STORE: "CK101"}
ERPNEXT_WAREHOUSES = {WAREHOUSE: "Stores - SH", STORE: "Jingan - SH"}
#: a buyer 2.4 km from the Jing'an store
BUYER = {
    "name": "王小明",
    "phone": "13800138000",
    "province": "上海市",
    "city": "上海市",
    "district": "静安区",
    "address": "南京西路1266号",
    "lat": 31.2286,
    "lon": 121.4482,
}
#: the back ends' loops, fast (the compare is asked for by POST unless a test says otherwise)
BACKEND_FAST = {
    "OMNIHUB_RIDER_POLL_SECONDS": "0.2",
    "OMNIHUB_BACKEND_POLL_SECONDS": "0.3",
    "OMNIHUB_BACKEND_POLL_OVERLAP_SECONDS": "30",
    "OMNIHUB_STOCK_COMPARE_SECONDS": "3600",
}


class Forwarder(PlatformSimulator):
    """Passes every request on to ``target`` (the hub), answering with the hub's answer."""

    name = "forwarder"

    def __init__(self) -> None:
        super().__init__()
        self.target = ""

    def handle(self, request: SimRequest) -> SimResponse:
        answer = self.client.request(
            request.method,
            self.target + request.path,
            params=request.query,
            content=request.body,
            headers={"content-type": request.headers.get("content-type", "application/json")},
        )
        return SimResponse(
            answer.status_code,
            answer.content,
            {"content-type": answer.headers.get("content-type", "text/plain")},
        )


class ChannelInbox(PlatformSimulator):
    """A channel on the canonical API: it keeps the order statuses the hub pushes to it."""

    name = "channel"

    def __init__(self) -> None:
        super().__init__()
        self.statuses: list[dict[str, Any]] = []
        self.route("POST", "/orders/status", self._status)
        self.route("POST", "/stock", self._stock)

    def _status(self, request: SimRequest) -> SimResponse:
        with self.lock:
            self.statuses.append(request.json())
        return SimResponse.json({"ok": True})

    def _stock(self, request: SimRequest) -> SimResponse:
        push = request.json()
        with self.lock:
            self.stock[push["sku"]] = int(push["quantity"])
        return SimResponse.json({"ok": True})

    def statuses_of(self, order_id: str) -> list[str]:
        with self.lock:
            return [s["status"] for s in self.statuses if s["order_id"] == order_id]


def _toml(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)


def backends_toml(items: list[dict[str, Any]]) -> str:
    """``[[backends]]`` tables, as a person would write them."""
    return "\n".join(
        "[[backends]]\n" + "".join(f"{key} = {_toml(value)}\n" for key, value in item.items())
        for item in items
    )


# -- the back ends, configured and seeded ------------------------------------------------------
def qimen_backend(sim: QimenWmsSimulator, **settings: Any) -> dict[str, Any]:
    for (location, sku), qty in STOCK.items():
        if location == WAREHOUSE:
            sim.put_stock(QM_WAREHOUSE, sku, qty)
    return {
        "code": "wms",
        "kind": "wms",
        "adapter": "qimen",
        "endpoint": sim.endpoint,
        "credentials": sim.credentials(),
        "locations": [WAREHOUSE],
        "warehouses": {WAREHOUSE: QM_WAREHOUSE},
        "settings": {"owner_code": "OMNI", **settings},
    }


def dada_backend(sim: DadaSimulator, forwarder: Forwarder, **settings: Any) -> dict[str, Any]:
    sim.add_shop(DADA_SHOP, 31.2304, 121.4737)
    return {
        "code": "dada",
        "kind": "delivery",
        "adapter": "dada",
        "endpoint": sim.url,
        "credentials": sim.credentials(),
        "locations": [STORE],
        "warehouses": {STORE: DADA_SHOP},
        "settings": {
            "city_code": "021",
            "callback_token": "cb-token-1",
            "callback_url": f"{forwarder.url}/api/v1/backends/dada/callbacks",
            **settings,
        },
    }


def kingdee_backend(sim: KingdeeSimulator, **settings: Any) -> dict[str, Any]:
    for sku in (TEE, MUG, CAP):
        sim.add_material(sku, "10.00")
    for (location, sku), qty in STOCK.items():
        sim.put_stock(ERP_WAREHOUSES[location], sku, qty)
    return {
        "code": "erp",
        "kind": "erp",
        "adapter": "kingdee",
        "endpoint": sim.endpoint,
        "credentials": sim.credentials(),
        "locations": [WAREHOUSE, STORE],
        "warehouses": ERP_WAREHOUSES,
        "settings": {"sale_org": "100", "customer": "CUST0001", **settings},
    }


def erpnext_backend(sim: ErpNextSimulator, **settings: Any) -> dict[str, Any]:
    for sku in (TEE, MUG, CAP):
        sim.add_item(sku, "10.00")
    for (location, sku), qty in STOCK.items():
        sim.put_stock(ERPNEXT_WAREHOUSES[location], sku, qty)
    return {
        "code": "erpnext",
        "kind": "erp",
        "adapter": "erpnext",
        "endpoint": sim.url,
        "credentials": sim.credentials(),
        "locations": [WAREHOUSE, STORE],
        "warehouses": ERPNEXT_WAREHOUSES,
        "settings": {"customer": "Demo Customer", **settings},
    }


@dataclass
class BackendHub:
    """The hub under test and how to reach what it holds about its back ends."""

    hub: HubUnderTest
    inbox: ChannelInbox
    forwarder: Forwarder
    config_path: Path
    _orders: int = field(default=0)

    @property
    def base_url(self) -> str:
        return self.hub.base_url

    def callback_url(self, code: str) -> str:
        return f"{self.hub.base_url}/api/v1/backends/{code}/callbacks"

    def order(
        self,
        external_id: str,
        lines: list[tuple[str, int]],
        *,
        delivery: str = "express",
        expected: tuple[int, ...] = (201,),
    ) -> dict[str, Any]:
        """A paid order on the ``app`` channel (the canonical API), to the Jing'an buyer."""
        now = datetime.now(UTC).isoformat()
        total = sum(qty * 59 for _, qty in lines)
        return dict(
            self.hub.post(
                "/api/v1/orders",
                {
                    "channel": "app",
                    "external_id": external_id,
                    "status": "paid",
                    "created_at": now,
                    "buyer": {"name": BUYER["name"], "phone": BUYER["phone"]},
                    "ship_to": BUYER,
                    "delivery": delivery,
                    "lines": [
                        {"sku": sku, "qty": qty, "unit_price": "59.00"} for sku, qty in lines
                    ],
                    "payment": {
                        "provider": "alipay",
                        "transaction_id": f"T-{external_id}",
                        "amount": f"{total}.00",
                        "paid_at": now,
                    },
                },
                *expected,
            )
        )

    def routing(self, order_id: str) -> dict[str, Any]:
        return dict(self.hub.get(f"/api/v1/orders/{order_id}/routing"))

    def status(self, order_id: str) -> str:
        return str(self.hub.get(f"/api/v1/orders/{order_id}")["status"])

    def level(self, location: str, sku: str) -> dict[str, Any]:
        stock = self.hub.get(f"/api/v1/inventory/{sku}")
        return next(
            (lv for lv in stock["locations"] if lv["location"] == location),
            {"on_hand": 0, "reserved": 0},
        )

    def deliveries(self, code: str, status: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"endpoint": f"backend:{code}", "limit": 500}
        if status:
            params["status"] = status
        return list(self.hub.get("/api/v1/deliveries", **params)["items"])


def start_backend_hub(
    stack: contextlib.ExitStack,
    database_url: str,
    workdir: Path,
    backends: list[dict[str, Any]],
    forwarder: Forwarder,
    **settings: str,
) -> BackendHub:
    """Write the config, start the hub on it, seed the retailer, open the app channel."""
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "backends.toml"
    config_path.write_text(backends_toml(backends), encoding="utf-8")
    inbox = stack.enter_context(ChannelInbox())  # type: ignore[arg-type]
    hub = HubUnderTest(
        database_url,
        workdir,
        {
            **FAST,
            **BACKEND_FAST,
            "OMNIHUB_BACKENDS": str(config_path),
            **settings,
        },
    )
    stack.callback(hub.close)
    hub.start()
    hub.seed()
    hub.add_channel("app", "generic", inbox.url)
    forwarder.target = hub.base_url
    return BackendHub(hub, inbox, forwarder, config_path)


class StartHub(Protocol):
    """Starts a hub on ``database_url`` with these back ends (the ``start_hub`` fixture)."""

    def __call__(
        self, database_url: str, backends: list[dict[str, Any]], **settings: str
    ) -> BackendHub: ...


@contextlib.contextmanager
def forwarding() -> Iterator[Forwarder]:
    with Forwarder() as forwarder:
        yield forwarder  # type: ignore[misc]


def http() -> httpx.Client:
    return httpx.Client(timeout=10, trust_env=False)
