"""``omnihub demo``: seed a retailer, serve the hub, stream a multi-channel day, sum it up."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from omnihub.bootstrap import bootstrap
from omnihub.config import Settings
from omnihub.entrypoints.api.app import create_app
from omnihub.entrypoints.demo import channels
from omnihub.entrypoints.demo.drivers import DRIVERS, NativeDriver
from omnihub.entrypoints.demo.platforms import Platform
from omnihub.entrypoints.demo.seed import HOT_SKU, HOT_SKU_STOCK, build_catalog, seed_retailer

FLASH_SALE_BUYERS = 80


def _free_port(preferred: int) -> int:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            probe.bind(("127.0.0.1", 0))
            return int(probe.getsockname()[1])


class _Server:
    """The hub's API in a background thread of this process."""

    def __init__(self, app: Any, port: int) -> None:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="hub-api", daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the hub's API did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def run_demo(
    *, duration: float | None, port: int, rate: float, database: Path, seed: int, console: Console
) -> bool:
    rng = random.Random(seed)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    settings = Settings(
        database_url=f"sqlite:///{database}",
        sweep_interval_seconds=1.0,
        merge_window_seconds=3.0,
        pickup_pay_seconds=10.0,
        pickup_collect_seconds=20.0,
        delivery_max_attempts=4,
        delivery_backoff_seconds=0.2,
        delivery_timeout_seconds=1.0,
        stock_flush_seconds=1.0,
        full_compare_seconds=15.0,
    )
    hub = bootstrap(settings, migrate=True)
    demo = build_catalog(rng)
    actual_port = _free_port(port)
    base_url = f"http://127.0.0.1:{actual_port}"
    stores = [loc for loc in demo.locations if loc.code.startswith("ST-")]
    drivers = {
        code: DRIVERS[code](code, base_url, f"{code}-demo-secret-0001", stores)
        for code in channels.CHANNEL_SHARE
        if code in DRIVERS
    }
    for code, driver in drivers.items():  # each platform lists our SKUs under its own ids
        demo.listings[code] = {sku.code: driver.listing(sku.code, i)
                               for i, sku in enumerate(demo.skus)}
    started = time.monotonic()
    rows = seed_retailer(hub.uow(), hub.clock, demo, rng)
    console.print(
        f"[bold]omnihub demo[/]: {len(demo.locations)} locations "
        f"({sum(1 for loc in demo.locations if loc.code.startswith('ST-'))} stores), "
        f"{len(demo.skus)} SKUs, {len(demo.listings)} channels, {rows} stock rows seeded "
        f"in {time.monotonic() - started:.1f}s into {database}"
    )
    if actual_port != port:
        console.print(f"port {port} is busy; using {actual_port}")
    platform = Platform()
    platform.start()
    server = _Server(create_app(hub), actual_port)
    server.start()
    for driver in drivers.values():
        driver.start()
    _connect_receivers(base_url, platform, drivers)
    console.print(
        f"{len(drivers)} channels speak their platform's own protocol through local "
        f"simulators: {', '.join(sorted(drivers)) or 'none'}"
    )
    console.print(
        f"hub API on {base_url} (docs at {base_url}/docs); "
        f"streaming ~{rate:g} orders/s"
        + (f" for {duration:g}s" if duration else "; Ctrl-C to stop")
    )
    stats = channels.Stats()
    stop = threading.Event()
    common: dict[str, Any] = {"base_url": base_url, "stats": stats, "stop": stop}
    sims: list[channels.Simulator] = [
        channels.ChannelSimulator(name, rate * share, demo, drivers.get(name), seed=seed + i,
                                  **common)
        for i, (name, share) in enumerate(channels.CHANNEL_SHARE.items())
    ]
    sims += [
        channels.FulfilmentSimulator("fulfilment", seed=seed + 100, **common),
        channels.ErpSimulator(demo, seed=seed + 101, **common),
        channels.CartSimulator(demo, seed=seed + 102, **common),
    ]
    for sim in sims:
        sim.start()
    mapping_at = (duration or 60) / 3
    flash_at = (duration or 60) * 0.45
    mapped = flashed = fixed = False
    fix_at = (duration or 60) * 0.6
    bi_endpoint = next(
        f"webhook:{w['id']}"
        for w in httpx.get(f"{base_url}/api/v1/webhooks").json()["items"]
        if w["url"].endswith("/bi")
    )
    hub_stats: dict[str, Any] = {}
    client = httpx.Client(base_url=base_url, timeout=30)
    interrupted = False
    try:
        with Live(console=console, refresh_per_second=2, transient=False) as live:
            last_line = 0.0
            while True:
                elapsed = time.monotonic() - started
                if duration is not None and elapsed >= duration:
                    break
                if not mapped and elapsed >= mapping_at:
                    mapped = True
                    threading.Thread(
                        target=channels.add_missing_mappings,
                        args=(base_url, demo, stats),
                        daemon=True,
                    ).start()
                if not fixed and elapsed >= fix_at:
                    fixed = True  # the BI team fixed their endpoint: replay its dead letters
                    platform.refuses.pop("bi", None)
                    client.post("/api/v1/dead-letters/replay", json={"endpoint": bi_endpoint})
                if not flashed and elapsed >= flash_at:
                    flashed = True
                    threading.Thread(
                        target=channels.flash_sale,
                        args=(base_url, demo, stats, FLASH_SALE_BUYERS, seed,
                              drivers.get("douyin")),
                        daemon=True,
                    ).start()
                response = client.get("/api/v1/stats")
                hub_stats = response.json() if response.status_code == 200 else hub_stats
                live.update(
                    _dashboard(stats, hub_stats, elapsed, duration, _plumbing(hub, platform))
                )
                if not console.is_terminal and time.monotonic() - last_line >= 5:
                    last_line = time.monotonic()
                    console.print(_progress_line(stats, hub_stats, elapsed))
                time.sleep(0.5)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        stop.set()
        for sim in sims:
            sim.join(timeout=35)
    # let the sweeper pass once more and the deliveries drain, then read the final state
    time.sleep(1.5)
    drained = _drain(hub, timeout=30.0)
    hub_stats = client.get("/api/v1/stats").json()
    books = client.get("/api/v1/check").json()
    plumbing = _plumbing(hub, platform)
    platforms = _platforms(hub, drivers)
    client.close()
    server.stop()
    platform.stop()
    for driver in drivers.values():
        driver.stop()
    hub.close()
    ok = _summary(console, stats, hub_stats, books, time.monotonic() - started)
    ok = _plumbing_summary(console, plumbing, drained) and ok
    ok = _platforms_summary(console, platforms) and ok
    if interrupted:
        console.print("stopped by Ctrl-C")
    return ok


CHANNEL_RATIOS = {"tmall": 0.6, "taobao": 0.4, "jd": 0.5, "pdd": 0.3, "douyin": 0.3,
                  "shopify": 0.2, "woocommerce": 0.2, "miniapp": 1.0}


def _connect_receivers(
    base_url: str, platform: Platform, drivers: dict[str, NativeDriver]
) -> None:
    """Channels get stock and status pushes (in their platform's protocol when the demo has
    a driver for it); the ERP takes every event; the BI system takes order events but can't
    read `order.held` at first: those become dead letters until the BI team fixes it and they
    are replayed."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for driver in drivers.values():
            body = {"allocation_ratio": CHANNEL_RATIOS.get(driver.code, 1.0), "buffer": 2,
                    **driver.channel()}
            client.post("/api/v1/channels", json=body).raise_for_status()
        for name, ratio in CHANNEL_RATIOS.items():
            if name in drivers:
                continue
            client.post(
                "/api/v1/channels",
                json={
                    "code": name,
                    "adapter": "generic",  # the generic receiver: canonical JSON
                    "endpoint": f"{platform.url}/{name}",
                    "secret": f"{name}-demo-secret-0001",
                    "allocation_ratio": ratio,
                    "buffer": 2,
                },
            ).raise_for_status()
        client.post(
            "/api/v1/webhooks",
            json={
                "url": f"{platform.url}/erp",
                "events": ["*"],
                "secret": "erp-demo-secret-0001",
            },
        ).raise_for_status()
        client.post(
            "/api/v1/webhooks",
            json={
                "url": f"{platform.url}/bi",
                "events": ["order.*"],
                "secret": "bi-demo-secret-00001",
            },
        ).raise_for_status()
    platform.refuses["bi"] = "order.held"


def _plumbing(hub: Any, platform: Platform) -> dict[str, Any]:
    store = hub.integration
    backlog, _ = store.outbox_backlog(hub.clock.now())
    names = {f"webhook:{s['id']}": s["url"].rsplit("/", 1)[-1] for s in store.subscriptions()}
    counts: dict[str, Counter[str]] = {}
    attempts: Counter[str] = Counter()
    for endpoint, status, n, tries in store.delivery_counts():
        name = names.get(endpoint, endpoint)
        counts.setdefault(name, Counter())[status] += n
        attempts[name] += tries
    sync = {c["code"]: store.sync_status(c["code"]) for c in store.channels()}
    return {
        "outbox": store.outbox_totals(),
        "backlog": backlog,
        "deliveries": counts,
        "attempts": attempts,
        "sync": sync,
        "duplicates": dict(platform.duplicates),
    }


def _platforms(hub: Any, drivers: dict[str, NativeDriver]) -> dict[str, dict[str, int]]:
    """Per channel, what its platform received from the hub: stock values set (and how many
    differ from what the hub publishes), shipments, calls it refused."""
    report: dict[str, dict[str, int]] = {}
    for code, driver in drivers.items():
        on_platform = driver.stock()
        published = hub.integration.stock_rows(code)
        listings = {}
        for sku, (wanted, _) in published.items():
            for channel_sku in hub.integration.channel_skus(code, sku):
                listings[channel_sku] = wanted
        differ = sum(1 for k, v in listings.items() if k in on_platform and on_platform[k] != v)
        report[code] = {"stock_items": len(on_platform), "stock_differ": differ,
                        "shipments": driver.shipments(), "refused": driver.refused()}
    return report


def _platforms_summary(console: Console, report: dict[str, dict[str, int]]) -> bool:
    if not report:
        return True
    table = Table(title="What each platform received from the hub", show_lines=False)
    for column in ("channel", "stock items set", "differ from hub", "shipments", "refused"):
        table.add_column(column, justify="left" if column == "channel" else "right")
    for code, row in sorted(report.items()):
        table.add_row(code, str(row["stock_items"]), str(row["stock_differ"]),
                      str(row["shipments"]), str(row["refused"]))
    console.print(table)
    refused = sum(r["refused"] for r in report.values())
    if refused:
        console.print(f"[red]platforms refused {refused} calls of the hub (signature or shape)")
    return refused == 0


def _drain(hub: Any, timeout: float) -> bool:
    """Wait (bounded) until the outbox is published and no delivery is waiting to be retried."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        backlog, _ = hub.integration.outbox_backlog(hub.clock.now())
        pending = sum(
            n for _, status, n, _ in hub.integration.delivery_counts() if status == "pending"
        )
        if backlog == 0 and pending == 0:
            return True
        time.sleep(0.5)
    return False


def _plumbing_summary(console: Console, p: dict[str, Any], drained: bool) -> bool:
    outbox = p["outbox"]
    erp = p["deliveries"].get("erp", Counter())
    delivered, dead, pending = erp["delivered"], erp["dead"], erp["pending"]
    lost = outbox["events"] - delivered - dead - pending
    table = Table(title="Deliveries by endpoint (receivers apply each event id once)")
    for column in (
        "endpoint",
        "delivered",
        "dead letters",
        "pending",
        "attempts",
        "duplicates dropped",
    ):
        table.add_column(column, justify="left" if column == "endpoint" else "right")
    for endpoint, c in sorted(p["deliveries"].items()):
        receiver = endpoint.split(":", 1)[-1]
        table.add_row(
            endpoint,
            str(c["delivered"]),
            str(c["dead"]),
            str(c["pending"]),
            str(p["attempts"][endpoint]),
            str(p["duplicates"].get(receiver, 0)),
        )
    console.print(table)
    for code, s in sorted(p["sync"].items()):
        console.print(
            f"stock sync {code}: {s['in_sync']}/{s['skus']} SKUs in sync, lag p50 "
            f"{s['lag_ms_p50']} ms, p99 {s['lag_ms_p99']} ms"
        )
    console.print(
        f"events produced {outbox['events']} = delivered {delivered} + dead-lettered {dead}"
        + (f" + still retrying {pending}" if pending else "")
        + f"; lost {lost}"
        + ("" if drained else " (deliveries had not drained when the demo stopped)")
    )
    return bool(lost == 0)


def _totals(hub_stats: dict[str, Any]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for per in hub_stats.get("orders", {}).values():
        for status, count in per.items():
            totals[status] = totals.get(status, 0) + count
    return totals


def _progress_line(stats: channels.Stats, hub_stats: dict[str, Any], elapsed: float) -> str:
    per, _ = stats.snapshot()
    sent = sum(c["sent"] for c in per.values())
    totals = _totals(hub_stats)
    return f"[{elapsed:5.0f}s] messages sent {sent}, orders {sum(totals.values())}: " + ", ".join(
        f"{k} {v}" for k, v in sorted(totals.items())
    )


def _dashboard(
    stats: channels.Stats,
    hub_stats: dict[str, Any],
    elapsed: float,
    duration: float | None,
    plumbing: dict[str, Any],
) -> Group:
    per, other = stats.snapshot()
    table = Table(title="Channels → hub", expand=False)
    for column in (
        "channel",
        "sent",
        "new",
        "held",
        "duplicate",
        "stale",
        "updated",
        "rejected",
        "orders in hub",
    ):
        table.add_column(column, justify="right" if column != "channel" else "left")
    orders = hub_stats.get("orders", {})
    for name in channels.CHANNEL_SHARE:
        c = per.get(name, Counter())
        table.add_row(
            name,
            str(c.get("sent", 0)),
            str(c.get("created", 0)),
            str(c.get("held", 0)),
            str(c.get("duplicate", 0)),
            str(c.get("stale", 0)),
            str(c.get("updated", 0)),
            str(c.get("rejected", 0)),
            str(sum(orders.get(name, {}).values())),
        )
    totals = _totals(hub_stats)
    status_line = ", ".join(f"{k} {v}" for k, v in sorted(totals.items())) or "-"
    held = ", ".join(f"{k} {v}" for k, v in sorted(hub_stats.get("held", {}).items())) or "none"
    res = ", ".join(f"{k} {v}" for k, v in sorted(hub_stats.get("reservations", {}).items()))
    clock = f"{elapsed:.0f}s" + (f" / {duration:g}s" if duration else "")
    body = (
        f"orders by status: {status_line}\nheld now: {held}\nreservations: {res or '-'}\n"
        f"fulfilment: shipments {other['fulfilments_shipped']}, picked up at stores "
        f"{other['action_pickup']}, "
        f"delivered {other['action_deliver']}; ERP receipts {other['receipts']} "
        f"(+{other['receipts_duplicate']} resent, ignored); carts held {other['cart_holds']}\n"
        f"flash sale of {HOT_SKU} ({HOT_SKU_STOCK} units): won {other['flash_sale_won']}, "
        f"missed {other['flash_sale_missed']}; mappings added {other['mappings_added']} "
        f"(released {other['orders_released_by_mapping']} held orders)\n"
        f"server errors {other['server_errors']}, connection errors {other['connection_errors']}"
    )
    delivered = sum(c["delivered"] for c in plumbing["deliveries"].values())
    dead = sum(c["dead"] for c in plumbing["deliveries"].values())
    pending = sum(c["pending"] for c in plumbing["deliveries"].values())
    retries = sum(plumbing["attempts"].values()) - delivered - dead
    lags = ", ".join(
        f"{code} {s['lag_ms_p50'] or '-'}/{s['lag_ms_p99'] or '-'} ms ({s['behind']} behind)"
        for code, s in sorted(plumbing["sync"].items())
    )
    body += (
        f"\noutbox: {plumbing['outbox']['events']} events, backlog {plumbing['backlog']}; "
        f"deliveries: {delivered} delivered, {pending} waiting, {max(retries, 0)} retried "
        f"attempts, {dead} dead letters\nstock sync lag p50/p99: {lags}"
    )
    return Group(table, Panel(body, title=f"omnihub demo · {clock}"))


def _summary(
    console: Console,
    stats: channels.Stats,
    hub_stats: dict[str, Any],
    books: dict[str, Any],
    elapsed: float,
) -> bool:
    per, other = stats.snapshot()
    orders = hub_stats.get("orders", {})
    names = sorted(orders)
    table = Table(title=f"Summary after {elapsed:.0f}s: orders per channel")
    table.add_column("status")
    for name in names:
        table.add_column(name, justify="right")
    table.add_column("all", justify="right")
    statuses = sorted({s for counts in orders.values() for s in counts})
    for status in statuses:
        row = [orders[name].get(status, 0) for name in names]
        table.add_row(status, *(str(n) for n in row), str(sum(row)))
    totals = [sum(orders[name].values()) for name in names]
    table.add_row("[bold]orders[/]", *(str(n) for n in totals), str(sum(totals)))
    messages = [per.get(name, Counter()).get("sent", 0) for name in names]
    table.add_row("messages sent", *(str(n) for n in messages), str(sum(messages)))
    console.print(table)
    held = hub_stats.get("held", {})
    console.print(
        "held and why: " + (", ".join(f"{k} {v}" for k, v in sorted(held.items())) or "none")
    )
    console.print(
        "reservations: "
        + ", ".join(f"{k} {v}" for k, v in sorted(hub_stats.get("reservations", {}).items()))
    )
    modes = hub_stats.get("delivery", {})
    routed = hub_stats.get("routing", {})
    console.print(
        "orders by delivery mode: "
        + (", ".join(f"{k} {v}" for k, v in sorted(modes.items())) or "none")
    )
    console.print(
        f"routing: {routed.get('split_orders', 0)} orders split over several nodes, "
        f"{routed.get('merged_orders', 0)} orders merged into "
        f"{routed.get('merged_groups', 0)} shipments"
    )
    console.print(
        f"store pickup (BOPIS): {routed.get('picked_up_with_code', 0)} picked up with the code, "
        f"{routed.get('pickup_expired', 0)} expired (stock released)"
    )
    console.print(
        f"flash sale of {HOT_SKU}: {other['flash_sale_won']} won, "
        f"{other['flash_sale_missed']} missed, {HOT_SKU_STOCK} units in stock"
    )
    errors = other["server_errors"] + other["connection_errors"]
    oversells = int(books.get("oversells", 0))
    balanced = bool(books.get("balanced"))
    console.print(f"oversells: {oversells}")
    console.print(
        "books balance: "
        + (
            "[green]yes[/] (on hand == ledger sum, reserved == active "
            "reservations, every allocated order holds its lines)"
            if balanced
            else "[red]NO[/]"
        )
        + f" over {books.get('levels_checked', 0)} stock levels"
    )
    for violation in books.get("violations", [])[:20]:
        console.print(
            f"  [red]{violation['rule']}[/] {violation['subject']}: {violation['message']}"
        )
    console.print(f"server errors: {errors}")
    ok = balanced and oversells == 0 and errors == 0
    console.print("[bold green]demo OK[/]" if ok else "[bold red]demo found problems[/]")
    return ok
