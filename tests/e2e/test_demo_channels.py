"""The demo end to end, in this process: every channel's platform simulator sells the day's
orders in its own format (pushed to the hub, or kept on the platform for the hub's pull) and
receives the hub's stock in its own calls. A small catalogue keeps the run under a minute."""

from __future__ import annotations

import io
import socket
from pathlib import Path

import pytest
from rich.console import Console

from omnihub.entrypoints.demo.channels import CHANNEL_SHARE
from omnihub.entrypoints.demo.runner import DemoDay, run_day

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> DemoDay:
    folder: Path = tmp_path_factory.mktemp("demo")
    output = io.StringIO()
    day = run_day(
        duration=20,
        port=free_port(),
        rate=6.0,
        database=folder / "demo.db",
        seed=7,
        console=Console(file=output, width=120),
        variants=3,
        drain_seconds=20,
    )
    (folder / "summary.txt").write_text(output.getvalue())  # for a person reading a failure
    return day


def test_every_channel_speaks_its_platforms_own_protocol(day: DemoDay) -> None:
    assert set(day.platforms) == set(CHANNEL_SHARE)
    pulled = {code for code, row in day.platforms.items() if row["pulls"]}
    assert pulled == {"tmall", "taobao", "jd", "pdd"}


def test_every_channels_native_orders_reach_the_hub(day: DemoDay) -> None:
    without = [code for code in CHANNEL_SHARE if not sum(day.orders.get(code, {}).values())]
    assert not without, f"no orders in the hub from {without}"
    silent = [code for code in CHANNEL_SHARE if not day.native[code]["messages"]]
    assert not silent, f"no native message read from {silent}"


def test_every_platform_gets_the_hubs_stock_and_refuses_no_call(day: DemoDay) -> None:
    without = [code for code, row in day.platforms.items() if not row["stock_items"]]
    assert not without, f"no stock set on {without}"
    refused = {code: row["refused"] for code, row in day.platforms.items() if row["refused"]}
    assert not refused, f"platforms refused calls of the hub: {refused}"


def test_the_day_ends_with_the_books_balanced_and_no_errors(day: DemoDay) -> None:
    assert day.other["server_errors"] == 0
    assert day.other["driver_errors"] == 0
    assert all(c["failed"] == 0 for c in day.native.values()), day.native
    assert day.ok


def test_the_back_ends_run_the_full_loop(day: DemoDay) -> None:
    """Released orders reach the warehouse's WMS and ship from its confirmations, the ERP
    books them, stores' same-day orders ride with a rider whose track the hub keeps, and the
    hub answers every callback and delivers every call."""
    back = day.backends
    shipped = back["delivery_orders"].get("DELIVERED", 0) + back["delivery_orders"].get(
        "PARTDELIVERED", 0
    )
    assert shipped > 0, back
    assert back["sales_orders"] > 0, back
    assert back["rider_tasks"], back
    assert back["tracked"] == back["riders_delivered"], back
    assert back["callbacks"], back
    assert all(0 < int(status) < 500 for status in back["callbacks"]), back
    assert not any(c.get("dead") for c in back["deliveries"].values()), back
    assert back["compares"].get("erp", {}).get("compared", 0) > 0, back
