"""``omnihub bench`` in a tiny configuration: every suite runs end to end against real server
processes and proves what its figures rest on (every order stored once, exactly the units of a
flash sale granted and none oversold, every channel ending on the hub's value, every event
relayed). No timing is asserted: the figures themselves belong to docs/benchmarks.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from omnihub.entrypoints.bench import TINY, BenchContext, Row, suite
from omnihub.entrypoints.bench.fan_out import Receiver, lags
from omnihub.entrypoints.cli import app

pytestmark = pytest.mark.e2e
ROW_KEYS = {"value", "unit", "baseline", "ratio", "params"}


def assert_rows(rows: dict[str, Row], prefix: str) -> None:
    assert rows
    for name, row in rows.items():
        assert name.startswith(prefix), name
        assert set(row) == ROW_KEYS, name
        assert row["value"] is not None, (name, row)
        assert row["value"] >= 0, (name, row)
        assert row["baseline"] is not None, (name, row)
        assert row["baseline"] > 0, (name, row)
        assert row["ratio"] is not None, (name, row)
        json.dumps(row)  # the report is JSON


def test_ingest_stores_each_posted_order_once_and_the_books_balance(tiny: BenchContext) -> None:
    rows = suite("ingest")(tiny)

    assert_rows(rows, "ingest.")
    assert set(rows) == {
        f"ingest.c{c}{m}" for c in TINY.ingest_clients for m in ("", ".vs_http", ".p50", ".p99")
    }
    for row in rows.values():
        # the order the floor is copied from, the warm-up and the measured runs
        assert row["params"]["orders_posted"] > 1 + sum(TINY.ingest_orders)
        assert row["params"]["orders_stored"] == row["params"]["orders_posted"]
        assert row["params"]["orders_held"] == 0
        assert row["params"]["books_check_seconds"] is not None  # GET /api/v1/check passed
        stock = row["params"]["stock_books"]
        assert (stock["reserved_mismatches"], stock["oversold"]) == (0, 0)
    # the storage floor writes what one order wrote: the order, 3 lines, 3 reservations taken
    # by 3 conditional UPDATEs of stock levels, and its events
    written = rows[f"ingest.c{TINY.ingest_clients[0]}"]["params"]["rows_per_order"]
    assert written["orders"] == 1
    assert written["order_lines"] == 3
    assert written["reservations"] == 3
    assert written["stock_levels (updated)"] == 3
    assert written["outbox"] >= 1


def test_a_flash_sale_grants_exactly_its_units_and_oversells_nothing(tiny: BenchContext) -> None:
    rows = suite("flash-sale")(tiny)

    assert_rows(rows, "flash_sale.")
    api = rows["flash_sale.api"]["params"]
    assert (api["granted"], api["refused"]) == (
        TINY.flash_units,
        TINY.flash_attempts - TINY.flash_units,
    )
    assert api["oversold"] == 0
    assert api["books_balanced"] is True
    for buckets in TINY.flash_buckets:
        split = rows[f"flash_sale.buckets.{buckets}"]["params"]
        assert (split["buckets"], split["granted"], split["oversold"]) == (
            buckets,
            TINY.flash_units,
            0,
        )
    assert rows["flash_sale.buckets.1"]["ratio"] == 1.0


def test_routing_reports_p50_and_p99_for_each_number_of_locations(tiny: BenchContext) -> None:
    rows = suite("routing")(tiny)

    assert_rows(rows, "routing.")
    assert set(rows) == {f"routing.{n}.{q}" for n in TINY.routing_sizes for q in ("p50", "p99")}
    for n in TINY.routing_sizes:
        assert rows[f"routing.{n}.p50"]["value"] <= rows[f"routing.{n}.p99"]["value"]


def test_fan_out_leaves_every_channel_on_the_hubs_value_with_fewer_pushes_than_changes(
    tiny: BenchContext,
) -> None:
    rows = suite("fan-out")(tiny)

    assert_rows(rows, "fan_out.")
    params = rows["fan_out.coalescing"]["params"]
    assert params["final_values_equal"] is True
    assert params["changes"] == TINY.fanout_changes
    assert params["channels"] == TINY.fanout_channels
    assert 0 < params["pushes"] < TINY.fanout_changes * TINY.fanout_channels
    lagged = rows["fan_out.lag.p50"]["params"]["lags_measured"]
    assert lagged == TINY.fanout_changes * TINY.fanout_channels


def test_relay_publishes_every_event_through_the_in_process_bus(tiny: BenchContext) -> None:
    rows = suite("relay")(tiny)

    assert_rows(rows, "relay.")
    assert set(rows) == {"relay.sqlite.memory"}
    assert rows["relay.sqlite.memory"]["params"]["events"] == TINY.relay_events


@pytest.mark.postgres
@pytest.mark.nats
def test_on_postgresql_and_nats_a_flash_sale_is_exact_and_the_relay_reaches_jetstream(
    tiny: BenchContext, postgres_admin: Engine, bench_nats_url: str
) -> None:
    tiny.db, tiny.bus = "postgresql", "nats"
    tiny.postgres_admin_url = postgres_admin.url.render_as_string(hide_password=False)
    tiny.nats_url = bench_nats_url

    flash = suite("flash-sale")(tiny)
    relay = suite("relay")(tiny)

    assert_rows(flash, "flash_sale.")
    assert flash["flash_sale.api"]["params"]["oversold"] == 0
    assert flash["flash_sale.api"]["params"]["granted"] == TINY.flash_units
    assert flash["flash_sale.api"]["params"]["bus"] == "nats"
    assert_rows(relay, "relay.")
    assert set(relay) == {"relay.postgresql.memory", "relay.postgresql.nats"}
    assert relay["relay.postgresql.nats"]["params"]["events"] == TINY.relay_events


# -- the parts that need no server -----------------------------------------------------------
def test_a_change_waits_for_the_first_push_of_a_version_at_least_as_new() -> None:
    receiver = Receiver()
    receiver.arrivals = {
        ("tmall", "A"): [(10.0, 5), (11.0, 9)],
        ("jd", "A"): [(10.5, 9), (10.2, 3)],  # arrival order is not version order
    }
    changes = [("A", 3, 9.0), ("A", 7, 9.5), ("A", 9, 9.9)]

    every, per_channel, missing = lags(changes, receiver, ["tmall", "jd"])

    assert missing == 0
    assert per_channel["tmall"] == pytest.approx([1.0, 1.5, 1.1])
    assert per_channel["jd"] == pytest.approx([1.2, 1.0, 0.6])
    assert len(every) == 6


def test_a_change_no_channel_acknowledged_is_counted_as_missing() -> None:
    receiver = Receiver()
    receiver.arrivals = {("tmall", "A"): [(10.0, 5)]}

    _, _, missing = lags([("A", 6, 9.0), ("B", 1, 9.0)], receiver, ["tmall"])

    assert missing == 2


def test_the_command_writes_the_report_as_json_and_refuses_an_unknown_suite(
    tmp_path: Path,
) -> None:
    runner = CliRunner()
    out = tmp_path / "bench.json"

    done = runner.invoke(app, ["bench", "--suite", "routing", "--quick", "--json", str(out)])
    refused = runner.invoke(app, ["bench", "--suite", "teleport"])

    assert done.exit_code == 0, done.output
    report: dict[str, Any] = json.loads(out.read_text())
    assert report
    for row in report.values():
        assert set(row) == ROW_KEYS
    assert refused.exit_code == 2
    assert "unknown suite" in refused.output
