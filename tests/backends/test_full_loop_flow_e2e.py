"""The full loop the demo runs, end to end: orders from a channel → the hub → the warehouse
(Qimen) or the store and its rider (Dada), booked in the ERP (Kingdee) → shipped and delivered
→ the channel told; the back-end simulators set up by ``entrypoints/backend_simulators.py`` and
running on their own clocks, as in ``omnihub demo``."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.backends.flow_hub import (
    STOCK,
    STORE,
    TEE,
    WAREHOUSE,
    BackendHub,
    ChannelInbox,
    Forwarder,
)
from tests.channels.harness import FAST, HubUnderTest, wait_until

from omnihub.domain.locations import Location, LocationType, Service
from omnihub.entrypoints.backend_simulators import BackendSimulators

pytestmark = pytest.mark.e2e

JINGAN = Location(
    STORE,
    "Jing'an store",
    LocationType.STORE,
    31.2304,
    121.4737,
    frozenset({Service.SHIP, Service.PICKUP, Service.SAME_DAY}),
)


@pytest.fixture
def sims() -> Iterator[BackendSimulators]:
    sims = BackendSimulators.start(
        warehouses=[WAREHOUSE],
        stores=[JINGAN],
        erp=[WAREHOUSE, STORE],
        partial_rate=0.5,
        duplicate_rate=0.3,
    )
    try:
        yield sims
    finally:
        sims.stop()


def test_orders_go_round_the_full_loop_from_the_channel_to_the_back_ends_and_back(
    sqlite_url: str, tmp_path: Path, sims: BackendSimulators
) -> None:
    sims.seed_stock((location, sku, qty) for (location, sku), qty in STOCK.items())
    with contextlib.ExitStack() as stack:
        forwarder = stack.enter_context(Forwarder())
        inbox = stack.enter_context(ChannelInbox())
        hub = HubUnderTest(
            sqlite_url,
            tmp_path,
            {
                **FAST,
                "OMNIHUB_RIDER_POLL_SECONDS": "0.3",
                "OMNIHUB_BACKENDS": json.dumps(sims.configs(forwarder.url)),
            },
        )
        stack.callback(hub.close)
        hub.start()
        hub.seed()
        hub.add_channel("app", "generic", inbox.url)
        forwarder.target = hub.base_url
        sims.connect(hub.base_url)
        running = BackendHub(hub, inbox, forwarder, tmp_path)
        sims.run_every(0.2)

        express = [running.order(f"LOOP-E{n}", [("MUG-CERAMIC-350", 6)])["id"] for n in range(3)]
        same_day = [
            running.order(f"LOOP-S{n}", [(TEE, 1)], delivery="same_day")["id"] for n in range(3)
        ]

        for order_id in express:
            wait_until(
                lambda o=order_id: inbox.statuses_of(o) == ["shipped"],
                what=f"{order_id} shipped by the warehouse and the channel told",
            )
        for order_id in same_day:
            wait_until(
                lambda o=order_id: inbox.statuses_of(o) == ["shipped", "delivered"],
                what=f"{order_id} delivered by a rider and the channel told",
            )
            tasks = running.routing(order_id)["deliveries"]
            assert [t["state"] for t in tasks] == ["delivered"]
            assert tasks[0]["track"], "the rider's track is on the order"
        wait_until(lambda: sims.summary()["sales_orders"] == 6, what="six sales orders booked")

    summary = sims.summary()
    assert summary["delivery_orders"] == {"DELIVERED": 3}
    assert summary["rider_tasks"] == {"delivered": 3}
    assert set(summary["callbacks"]) == {200}
