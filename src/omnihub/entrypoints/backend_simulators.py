"""Back ends to try the hub with: a Qimen warehouse (WMS), a Dada-style delivery platform and
a Kingdee ERP, each a real local HTTP simulator on 127.0.0.1, seeded with the hub's stock
under its own codes, and the back-end config (``Settings.backends``) that points the hub at
them. ``omnihub demo`` runs the full loop with these: channel → hub → warehouse or store →
rider → delivered → channel.

    sims = BackendSimulators.start(warehouses=["WH-SH"], stores=stores, erp=["WH-SH", ...])
    sims.add_items(every_sku)                     # the ERP's materials
    sims.seed_stock(levels)                       # (location, sku, qty) as the hub holds them
    settings = Settings(..., backends=sims.configs(hub_url))
    ... start the hub on hub_url ...
    sims.connect(hub_url)                         # the WMS's callback address
    sims.run_every(1.0)                           # warehouses ship, riders ride
    ...
    sims.stop()
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from omnihub.domain.locations import Location
from omnihub.simulators.backends.delivery.dada import DadaSimulator
from omnihub.simulators.backends.erp.kingdee import KingdeeSimulator
from omnihub.simulators.backends.wms.qimen import QimenWmsSimulator

WMS_CODE, DELIVERY_CODE, ERP_CODE = "wms", "dada", "erp"


def wms_warehouse(location: str) -> str:
    return f"QM-{location}"


def rider_shop(location: str) -> str:
    return f"DD-{location}"


def erp_warehouse(location: str) -> str:
    return f"CK-{location}"


@dataclass
class BackendSimulators:
    warehouses: list[str]
    """our locations the WMS runs"""
    stores: list[Location]
    """the stores riders pick up at"""
    erp: list[str]
    """our locations the ERP books"""
    qimen: QimenWmsSimulator
    dada: DadaSimulator
    kingdee: KingdeeSimulator
    skus: set[str] = field(default_factory=set)

    @classmethod
    def start(
        cls,
        *,
        warehouses: Sequence[str],
        stores: Sequence[Location],
        erp: Sequence[str] = (),
        seed: int = 7,
        partial_rate: float = 0.1,
        duplicate_rate: float = 0.05,
    ) -> BackendSimulators:
        """Start the three simulators (each a thread serving on 127.0.0.1), with a few of the
        faults real systems have: partial shipments, callbacks sent twice."""
        qimen = QimenWmsSimulator(seed=seed)
        dada = DadaSimulator(seed=seed + 1)
        kingdee = KingdeeSimulator(seed=seed + 2)
        for sim in (qimen, dada, kingdee):
            sim.start()
        qimen.faults.partial_rate = partial_rate
        qimen.faults.duplicate_rate = duplicate_rate
        dada.faults.duplicate_rate = duplicate_rate
        for store in stores:
            dada.add_shop(rider_shop(store.code), store.lat, store.lon)
        for location in erp:
            kingdee.add_warehouse(erp_warehouse(location))
        return cls(list(warehouses), list(stores), list(erp), qimen, dada, kingdee)

    def add_items(self, skus: Iterable[str]) -> None:
        """The ERP's materials: every SKU an order may carry (the ERP refuses others)."""
        for sku in skus:
            if sku not in self.skus:
                self.kingdee.add_material(sku, "10.00")
                self.skus.add(sku)

    def seed_stock(self, levels: Iterable[tuple[str, str, int]]) -> None:
        """The systems hold what the hub holds: (location, sku, on hand)."""
        for location, sku, qty in levels:
            self.add_items([sku])
            if location in self.warehouses:
                self.qimen.put_stock(wms_warehouse(location), sku, qty)
            if location in self.erp:
                self.kingdee.put_stock(erp_warehouse(location), sku, qty)

    def configs(self, hub_url: str, *, compare: str = "correct") -> list[dict[str, Any]]:
        """``Settings.backends`` for a hub serving at ``hub_url``."""
        callback = f"{hub_url.rstrip('/')}/api/v1/backends/{DELIVERY_CODE}/callbacks"
        configs: list[dict[str, Any]] = []
        if self.warehouses:
            configs.append(
                {
                    "code": WMS_CODE,
                    "kind": "wms",
                    "adapter": "qimen",
                    "endpoint": self.qimen.endpoint,
                    "credentials": self.qimen.credentials(),
                    "locations": self.warehouses,
                    "warehouses": {loc: wms_warehouse(loc) for loc in self.warehouses},
                    "settings": {"owner_code": "OMNI", "compare": compare, "correct_max_units": 50},
                }
            )
        if self.stores:
            configs.append(
                {
                    "code": DELIVERY_CODE,
                    "kind": "delivery",
                    "adapter": "dada",
                    "endpoint": self.dada.url,
                    "credentials": self.dada.credentials(),
                    "locations": [store.code for store in self.stores],
                    "warehouses": {store.code: rider_shop(store.code) for store in self.stores},
                    "settings": {
                        "city_code": "021",
                        "callback_url": callback,
                        "callback_token": "demo-callback-token",
                        "reroute_attempts": 1,
                    },
                }
            )
        if self.erp:
            configs.append(
                {
                    "code": ERP_CODE,
                    "kind": "erp",
                    "adapter": "kingdee",
                    "endpoint": self.kingdee.endpoint,
                    "credentials": self.kingdee.credentials(),
                    "locations": self.erp,
                    "warehouses": {loc: erp_warehouse(loc) for loc in self.erp},
                    "settings": {"sale_org": "100", "customer": "CUST0001", "compare": "report"},
                }
            )
        return configs

    def connect(self, hub_url: str) -> None:
        """Point the WMS's callbacks at the hub (Dada's address is in its config)."""
        self.qimen.callback_url = f"{hub_url.rstrip('/')}/api/v1/backends/{WMS_CODE}/callbacks"

    def run_every(self, seconds: float) -> None:
        """Warehouses pick, pack and ship; riders accept, fetch and ride, on their clocks."""
        self.qimen.run_every(seconds)
        self.dada.run_every(seconds)

    def receive(self, location: str, lines: dict[str, int], number: str) -> None:
        """Goods arrive: a WMS entry order (callback) or an audited ERP receipt (polled)."""
        if location in self.warehouses:
            self.qimen.receive(number, wms_warehouse(location), lines)
        elif location in self.erp:
            self.kingdee.approve_receipt(number, erp_warehouse(location), lines)

    def summary(self) -> dict[str, Any]:
        """What the back ends saw: delivery orders by status, rider tasks by state, sales
        orders booked, callbacks the hub answered (by HTTP status)."""
        with self.kingdee.lock:
            sales_orders = len(self.kingdee.bills.get("SAL_SaleOrder", {}))
        callbacks = Counter(
            status for sim in (self.qimen, self.dada) for _, status in list(sim.callbacks)
        )
        return {
            "delivery_orders": self.qimen.orders_by_status(),
            "rider_tasks": self.dada.tasks_by_state(),
            "sales_orders": sales_orders,
            "callbacks": dict(callbacks),
        }

    def stop(self) -> None:
        for sim in (self.qimen, self.dada, self.kingdee):
            sim.stop()
