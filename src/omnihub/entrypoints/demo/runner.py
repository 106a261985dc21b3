"""``omnihub demo``: seed a retailer, serve the hub, stream a multi-channel day, sum it up."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from omnihub.bootstrap import bootstrap
from omnihub.config import Settings
from omnihub.domain.catalog import ChannelMapping
from omnihub.domain.locations import LocationType
from omnihub.entrypoints.api.app import create_app
from omnihub.entrypoints.backend_simulators import ERP_CODE, WMS_CODE, BackendSimulators
from omnihub.entrypoints.demo import channels
from omnihub.entrypoints.demo.drivers import DRIVERS, NativeDriver
from omnihub.entrypoints.demo.platforms import Platform
from omnihub.entrypoints.demo.seed import (
    HOT_SKU,
    HOT_SKU_STOCK,
    VARIANTS_PER_CATEGORY,
    DemoCatalog,
    build_catalog,
    seed_retailer,
)

FLASH_SALE_BUYERS = 80

#: tables that fit 80 columns: one space between columns, none at the edges
COMPACT: dict[str, Any] = {
    "box": box.SIMPLE_HEAD,
    "padding": (0, 1),
    "pad_edge": False,
    "collapse_padding": True,
}


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


@dataclass
class DemoDay:
    """What one run of the demo saw (the summary prints it; tests read it)."""

    ok: bool
    orders: dict[str, dict[str, int]]
    """channel -> status -> orders the hub holds"""
    platforms: dict[str, dict[str, int]]
    """channel -> what its platform received from the hub (stock items, shipments, refused)"""
    native: dict[str, Counter[str]]
    """channel -> its platform's messages and the hub's answers (``_native``)"""
    story: dict[str, Counter[str]]
    """channel -> the demo's order messages and their outcomes"""
    other: Counter[str]
    backends: dict[str, Any]
    """what the back ends saw (``BackendSimulators.summary``) and the hub's deliveries to
    them by status"""


def run_demo(
    *, duration: float | None, port: int, rate: float, database: Path, seed: int, console: Console
) -> bool:
    return run_day(
        duration=duration, port=port, rate=rate, database=database, seed=seed, console=console
    ).ok


def run_day(
    *,
    duration: float | None,
    port: int,
    rate: float,
    database: Path,
    seed: int,
    console: Console,
    variants: int = VARIANTS_PER_CATEGORY,
    drain_seconds: float = 60.0,
) -> DemoDay:
    """Seed a retailer with ``variants`` SKUs per category, serve the hub, stream the day for
    ``duration`` seconds (until Ctrl-C when None), give the hub up to ``drain_seconds`` to
    push what is due, and print the summary."""
    rng = random.Random(seed)
    for suffix in ("", "-wal", "-shm", ".writers.lock"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    demo = build_catalog(rng, variants)
    actual_port = _free_port(port)
    base_url = f"http://127.0.0.1:{actual_port}"
    backends = _start_backends(demo)
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
        pull_seconds=3.0,
        pull_settle_seconds=1.0,
        pull_start_hours=0.05,  # the platforms have no orders from before the demo
        backends=backends.configs(base_url, compare="report"),
        rider_poll_seconds=1.0,
        backend_poll_seconds=3.0,
        backend_poll_overlap_seconds=60.0,
        stock_compare_seconds=20.0,
    )
    hub = bootstrap(settings, migrate=True)
    stores = [loc for loc in demo.locations if loc.code.startswith("ST-")]
    drivers = {
        code: DRIVERS[code](code, base_url, f"{code}-demo-secret-0001", stores)
        for code in channels.CHANNEL_SHARE
        if code in DRIVERS
    }
    for code, driver in drivers.items():  # each platform lists our SKUs under its own ids
        demo.listings[code] = {
            sku.code: driver.listing(sku.code, i) for i, sku in enumerate(demo.skus)
        }
    # the listings nobody mapped yet are those platforms' own listings of the SKUs
    demo.unmapped = [
        ChannelMapping(m.channel, demo.listings[m.channel][m.sku], m.sku) for m in demo.unmapped
    ]
    started = time.monotonic()
    opening = seed_retailer(hub.uow(), hub.clock, demo, rng)
    backends.seed_stock(opening)  # the warehouse and the ERP hold what the hub holds
    console.print(
        f"[bold]omnihub demo[/]: {len(demo.locations)} locations "
        f"({sum(1 for loc in demo.locations if loc.code.startswith('ST-'))} stores), "
        f"{len(demo.skus)} SKUs, {len(demo.listings)} channels, {len(opening)} stock rows "
        f"seeded in {time.monotonic() - started:.1f}s into {database}"
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
    backends.connect(base_url)
    backends.run_every(1.0)
    console.print(
        f"{len(drivers)} channels speak their platform's own protocol through local "
        f"simulators: {', '.join(sorted(drivers)) or 'none'}"
    )
    console.print(
        f"back ends: Qimen WMS runs {', '.join(backends.warehouses)}; Dada riders deliver "
        f"the {len(backends.stores)} stores' same-day orders; the Kingdee ERP books "
        f"{', '.join(backends.erp)}"
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
        channels.ChannelSimulator(
            name, rate * share, demo, drivers.get(name), seed=seed + i, **common
        )
        for i, (name, share) in enumerate(channels.CHANNEL_SHARE.items())
    ]
    sims += [
        channels.FulfilmentSimulator(
            "fulfilment",
            seed=seed + 100,
            warehouses=set(backends.warehouses),
            riders={store.code for store in backends.stores},
            **common,
        ),
        channels.ErpSimulator(demo, seed=seed + 101, backends=backends, **common),
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
                        args=(
                            base_url,
                            demo,
                            stats,
                            FLASH_SALE_BUYERS,
                            seed,
                            drivers.get("douyin"),
                        ),
                        daemon=True,
                    ).start()
                response = client.get("/api/v1/stats")
                hub_stats = response.json() if response.status_code == 200 else hub_stats
                live.update(
                    _dashboard(
                        stats,
                        hub_stats,
                        elapsed,
                        duration,
                        _plumbing(hub, platform),
                        _native(hub, drivers),
                        backends.summary(),
                    )
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
    console.print(f"orders stopped; the hub pushes what is still due (up to {drain_seconds:g}s)...")
    time.sleep(1.5)
    drained = _drain(hub, timeout=drain_seconds)
    backends.stop()
    hub_stats = client.get("/api/v1/stats").json()
    books = client.get("/api/v1/check").json()
    plumbing = _plumbing(hub, platform)
    platforms = _platforms(hub, drivers)
    native = _native(hub, drivers)
    back = _backends(hub, backends, plumbing)
    client.close()
    server.stop()
    platform.stop()
    for driver in drivers.values():
        driver.stop()
    hub.close()
    ok = _summary(console, stats, hub_stats, books, time.monotonic() - started, native)
    ok = _plumbing_summary(console, plumbing, drained) and ok
    ok = _platforms_summary(console, platforms, drivers) and ok
    ok = _backends_summary(console, back) and ok
    if interrupted:
        console.print("stopped by Ctrl-C")
    per, other = stats.snapshot()
    return DemoDay(ok, hub_stats.get("orders", {}), platforms, native, per, other, back)


#: the warehouse a Qimen WMS runs
WMS_WAREHOUSE = "WH-SH"


def _start_backends(demo: DemoCatalog) -> BackendSimulators:
    """The retailer's back ends, each a local simulator speaking its system's protocol: a
    Qimen WMS runs the Shanghai warehouse, Dada riders take the stores' same-day orders, a
    Kingdee ERP books every warehouse (sales orders on release, receipts polled, a full
    stock compare that reports). Other nodes are worked through the hub's API."""
    backends = BackendSimulators.start(
        warehouses=[WMS_WAREHOUSE],
        stores=[loc for loc in demo.locations if loc.type is LocationType.STORE],
        erp=[loc.code for loc in demo.locations if loc.type is LocationType.WAREHOUSE],
    )
    backends.add_items(sku.code for sku in demo.skus)
    return backends


def _backends(hub: Any, backends: BackendSimulators, plumbing: dict[str, Any]) -> dict[str, Any]:
    """What the back ends saw, the hub's deliveries to them by status, how many delivered
    same-day orders carry their rider's track, and the newest stock compare per back end."""
    seen = backends.summary()
    delivered = backends.dada.delivered()
    tracked = 0
    compares: dict[str, dict[str, Any]] = {}
    with hub.read_uow() as uow:
        for reference in delivered:
            task = uow.backends.rider_task(reference)
            if task is not None and uow.backends.track(task.order_id):
                tracked += 1
        for code in (ERP_CODE, WMS_CODE):
            reports = uow.backends.compares(code, 1)
            if reports:
                report = reports[0]
                compares[code] = {
                    "compared": report.compared,
                    "differences": len(report.differences),
                    "error": report.error,
                }
    deliveries = {
        endpoint.split(":", 1)[1]: dict(counts)
        for endpoint, counts in plumbing["deliveries"].items()
        if endpoint.startswith("backend:")
    }
    return {
        **seen,
        "deliveries": deliveries,
        "riders_delivered": len(delivered),
        "tracked": tracked,
        "compares": compares,
    }


def _counts(c: dict[Any, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(c.items(), key=str)) or "none"


def _backends_summary(console: Console, back: dict[str, Any]) -> bool:
    """Print what the back ends did; the hub must have answered every callback (no server
    error, no connection refused) and sent every call (no dead letters to a back end)."""
    console.print(
        f"warehouse (Qimen WMS {WMS_WAREHOUSE}): delivery orders {_counts(back['delivery_orders'])}"
    )
    console.print(
        f"riders (Dada): tasks {_counts(back['rider_tasks'])}; {back['tracked']} of "
        f"{back['riders_delivered']} delivered orders carry their rider's track"
    )
    compares = "; ".join(
        f"{code} compared {c['compared']} levels, {c['differences']} differ"
        + (f" ({c['error']})" if c["error"] else "")
        for code, c in sorted(back["compares"].items())
    )
    console.print(
        f"ERP (Kingdee): {back['sales_orders']} sales orders booked; stock compares: "
        f"{compares or 'none yet'}"
    )
    console.print(
        "hub → back ends: "
        + (
            "; ".join(f"{code} {_counts(c)}" for code, c in sorted(back["deliveries"].items()))
            or "nothing sent"
        )
        + f"; back ends → hub callbacks answered: {_counts(back['callbacks'])}"
    )
    failed: int = sum(n for status, n in back["callbacks"].items() if not 0 < int(status) < 500)
    dead: int = sum(c.get("dead", 0) for c in back["deliveries"].values())
    if failed or dead:
        console.print(f"[red]back ends: {failed} callbacks failed, {dead} calls dead-lettered")
    return failed == 0 and dead == 0


CHANNEL_RATIOS = {
    "tmall": 0.6,
    "taobao": 0.4,
    "jd": 0.5,
    "pdd": 0.3,
    "douyin": 0.3,
    "shopify": 0.2,
    "woocommerce": 0.2,
    "miniapp": 1.0,
}


def _connect_receivers(base_url: str, platform: Platform, drivers: dict[str, NativeDriver]) -> None:
    """Channels get stock and status pushes (in their platform's protocol when the demo has
    a driver for it); the ERP takes every event; the BI system takes order events but can't
    read `order.held` at first: those become dead letters until the BI team fixes it and they
    are replayed."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for driver in drivers.values():
            body = {
                "allocation_ratio": CHANNEL_RATIOS.get(driver.code, 1.0),
                "buffer": 2,
                **driver.channel(),
            }
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
    stores = hub.integration
    backlog, _ = stores.outbox.backlog(hub.clock.now())
    names = {s.endpoint: s.url.rsplit("/", 1)[-1] for s in stores.webhooks.active()}
    counts: dict[str, Counter[str]] = {}
    attempts: Counter[str] = Counter()
    for endpoint, status, n, tries in stores.deliveries.counts():
        name = names.get(endpoint, endpoint)
        counts.setdefault(name, Counter())[status] += n
        attempts[name] += tries
    sync = {c.code: stores.stock_sync.status(c.code).to_dict() for c in stores.directory.all()}
    return {
        "outbox": stores.outbox.totals(),
        "backlog": backlog,
        "deliveries": counts,
        "attempts": attempts,
        "sync": sync,
        "duplicates": dict(platform.duplicates),
    }


def _native(hub: Any, drivers: dict[str, NativeDriver]) -> dict[str, Counter[str]]:
    """Per driven channel, its platform's messages: for a platform that pushes, the hub's
    answer to each (``messages`` in all); for one the hub pulls (``pulls``), the orders its
    pulls read (``messages``) and those it could not read (``rejected``)."""
    counts: dict[str, Counter[str]] = {}
    for code, driver in drivers.items():
        if driver.pulls:
            cursor = hub.integration.cursors.get(code)
            counts[code] = Counter(
                messages=cursor.pulled if cursor else 0,
                rejected=cursor.rejected if cursor else 0,
                pulls=1,
            )
        else:
            answered = driver.answered()
            counts[code] = answered + Counter(messages=sum(answered.values()))
    return counts


def _platforms(hub: Any, drivers: dict[str, NativeDriver]) -> dict[str, dict[str, int]]:
    """Per channel, what its platform received from the hub: stock values set (and how many
    differ from what the hub publishes), shipments, calls it refused (for their signature,
    credentials or shape) and calls that came too late (the order had moved on there)."""
    report: dict[str, dict[str, int]] = {}
    for code, driver in drivers.items():
        on_platform = driver.stock()
        published = hub.integration.stock_sync.values(code)
        listings = {}
        for sku, (wanted, _) in published.items():
            for channel_sku in hub.integration.directory.channel_skus(code, sku):
                listings[channel_sku] = wanted
        differ = sum(1 for k, v in listings.items() if k in on_platform and on_platform[k] != v)
        report[code] = {
            "stock_items": len(on_platform),
            "stock_differ": differ,
            "shipments": driver.shipments(),
            "refused": driver.refused(),
            "too_late": driver.too_late_calls(),
            "pulls": int(driver.pulls),
        }
    return report


def _platforms_summary(
    console: Console, report: dict[str, dict[str, int]], drivers: dict[str, NativeDriver]
) -> bool:
    if not report:
        return True
    table = Table(title="What each platform received from the hub", **COMPACT)
    for column in ("channel", "orders", "stock set", "differ", "shipments", "refused", "too late"):
        table.add_column(column, justify="left" if column in ("channel", "orders") else "right")
    for code, row in sorted(report.items()):
        table.add_row(
            code,
            "pulled" if row["pulls"] else "pushed",
            str(row["stock_items"]),
            str(row["stock_differ"]),
            str(row["shipments"]),
            str(row["refused"]),
            str(row["too_late"]),
        )
    console.print(table)
    console.print(
        "stock set: listings whose quantity the hub set on the platform; differ: those not "
        "at the quantity the hub publishes now; refused: calls the platform refused for their "
        "signature, credentials or shape; too late: calls for an order the buyer cancelled on "
        "the platform while the call was on its way (the platform refuses them, rightly)"
    )
    refused = sum(r["refused"] for r in report.values())
    if refused:
        console.print(f"[red]platforms refused {refused} calls of the hub:")
        for code, driver in sorted(drivers.items()):
            for why in driver.refusals()[:3]:
                console.print(f"  [red]{code}[/]: {why}")
    return refused == 0


def _drain(hub: Any, timeout: float) -> bool:
    """Wait (bounded) until the outbox is published, every channel's newest stock value is
    pushed and no delivery is waiting to be retried."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stores = hub.integration
        backlog, _ = stores.outbox.backlog(hub.clock.now())
        pending = sum(n for _, status, n, _ in stores.deliveries.counts() if status == "pending")
        if backlog == 0 and pending == 0 and not stores.stock_sync.to_push(1):
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
        receiver = "" if endpoint.startswith("backend:") else endpoint.split(":", 1)[-1]
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


OUTCOMES = ("created", "held", "duplicate", "stale", "updated", "rejected")


def _way(native: Counter[str] | None) -> str:
    """How a channel's orders reach the hub: its platform pushes them, the hub pulls them, or
    canonical JSON to the order API."""
    if native is None:
        return "API"
    return "pull" if native["pulls"] else "push"


def _dashboard(
    stats: channels.Stats,
    hub_stats: dict[str, Any],
    elapsed: float,
    duration: float | None,
    plumbing: dict[str, Any],
    native: dict[str, Counter[str]],
    backends: dict[str, Any],
) -> Group:
    """Per channel: the demo's order messages, and the platform's own messages to the hub
    with the hub's answers (webhook platforms) or the orders the hub's pulls read."""
    per, other = stats.snapshot()
    table = Table(
        title="Channels → hub",
        **COMPACT,
        caption="story: the demo's order messages; native: the platform's own messages, pushed "
        "(with the hub's answers: new, held, dup, stale, upd, rej) or read by the hub's pulls",
    )
    for column in (
        "channel",
        "by",
        "story",
        "native",
        "new",
        "held",
        "dup",
        "stale",
        "upd",
        "rej",
        "orders",
    ):
        table.add_column(column, justify="left" if column in ("channel", "by") else "right")
    orders = hub_stats.get("orders", {})
    for name in channels.CHANNEL_SHARE:
        story = per.get(name, Counter())
        c = native.get(name)
        if c is None:  # canonical JSON to POST /api/v1/orders
            messages, counts = "-", [str(story.get(o, 0)) for o in OUTCOMES]
        elif c["pulls"]:
            messages = str(c["messages"])
            counts = ["-"] * (len(OUTCOMES) - 1) + [str(c["rejected"])]
        else:
            messages, counts = str(c["messages"]), [str(c[o]) for o in OUTCOMES]
        table.add_row(
            name,
            _way(c),
            str(story.get("sent", 0)),
            messages,
            *counts,
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
        f"delivered {other['action_deliver']}; receipts {other['receipts']}; carts held "
        f"{other['cart_holds']}\n"
        f"back ends: WMS delivery orders {_counts(backends['delivery_orders'])}; rider tasks "
        f"{_counts(backends['rider_tasks'])}; ERP sales orders {backends['sales_orders']}\n"
        f"flash sale of {HOT_SKU} ({HOT_SKU_STOCK} units): won {other['flash_sale_won']}, "
        f"missed {other['flash_sale_missed']}; mappings added {other['mappings_added']} "
        f"(released {other['orders_released_by_mapping']} held orders)\n"
        f"server errors {other['server_errors'] + _failed(native)}, connection errors "
        f"{other['connection_errors']}, driver errors {other['driver_errors']}"
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


def _failed(native: dict[str, Counter[str]]) -> int:
    """Platform messages the hub answered with a 5xx."""
    return sum(c["failed"] for c in native.values())


def _summary(
    console: Console,
    stats: channels.Stats,
    hub_stats: dict[str, Any],
    books: dict[str, Any],
    elapsed: float,
    native: dict[str, Counter[str]],
) -> bool:
    per, other = stats.snapshot()
    orders = hub_stats.get("orders", {})
    names = [n for n in channels.CHANNEL_SHARE if n in orders or n in per]
    names += sorted(set(orders) - set(names))
    table = Table(title=f"Summary after {elapsed:.0f}s: orders per channel", **COMPACT)
    for column in ("channel", "by", "story", "native", "orders", "orders by status"):
        numeric = column in ("story", "native", "orders")
        table.add_column(column, justify="right" if numeric else "left")
    totals = Counter[str]()
    for name in names:
        counts = Counter(orders.get(name, {}))
        totals += counts
        c = native.get(name)
        table.add_row(
            name,
            _way(c),
            str(per.get(name, Counter()).get("sent", 0)),
            "-" if c is None else str(c["messages"]),
            str(sum(counts.values())),
            ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
        )
    table.add_row(
        "[bold]all[/]",
        "",
        str(sum(per.get(n, Counter()).get("sent", 0) for n in names)),
        str(sum(c["messages"] for c in native.values())),
        str(sum(totals.values())),
        ", ".join(f"{k} {v}" for k, v in sorted(totals.items())),
    )
    console.print(table)
    console.print(
        "story: the demo's order messages (placed, paid, cancelled, sent twice); native: the "
        "platform's own messages to the hub (pushed), or the orders the hub's pulls read "
        "(pulled: each pull reads its window again from a little before the last one)"
    )
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
    errors = other["server_errors"] + other["connection_errors"] + _failed(native)
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
    if other["driver_errors"]:
        console.print(f"[red]demo drivers failed {other['driver_errors']} times")
    ok = balanced and oversells == 0 and errors == 0 and other["driver_errors"] == 0
    console.print("[bold green]demo OK[/]" if ok else "[bold red]demo found problems[/]")
    return ok
