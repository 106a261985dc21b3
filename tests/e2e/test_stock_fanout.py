"""Stock pushed to every channel, webhooks and dead letters, over HTTP against a real
``omnihub serve`` (issue 3): a burst of stock changes reaches each channel as a few coalesced
pushes whose final value is the hub's, webhook subscribers can mirror the hub's stock, and a
person can see and replay what failed.

The channels and subscribers are a threaded ``http.server`` on 127.0.0.1 that checks every
signature; the hub is a subprocess started (and stopped) with the helpers of tests/e2e.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import math
import random
import re
import statistics
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.e2e import server as hub_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REQUEST_TIMEOUT = 60.0
BURST_TIMEOUT = 1800.0
IN_FLIGHT = 32
LOCATIONS = {
    "WH-SH": ("warehouse", 31.23, 121.47),
    "WH-BJ": ("warehouse", 39.90, 116.40),
    "ST-01": ("store", 31.24, 121.48),
}
ENVELOPE_KEYS = {"id", "type", "occurred_at", "aggregate_id", "version", "data"}


@dataclass(frozen=True)
class Channel:
    code: str
    ratio: str  # as a person types it; the hub gets the float
    buffer: int
    locations: tuple[str, ...] = ()

    @property
    def secret(self) -> str:
        return f"{self.code}-channel-secret-000"

    def published(self, stock: dict[str, Any]) -> int:
        """floor(ratio × available over the channel's locations) − buffer, never below 0."""
        total = sum(
            lv["available"]
            for lv in stock["locations"]
            if not self.locations or lv["location"] in self.locations
        )
        return max(0, math.floor(Fraction(self.ratio) * total) - self.buffer)


CHANNELS = (
    Channel("tmall", "1.0", 0),
    Channel("jd", "0.8", 2),
    Channel("pdd", "0.5", 5),
    Channel("douyin", "0.29", 1),
    Channel("miniapp", "0.57", 0, ("ST-01", "WH-SH")),
)


# -- the far side: channels and webhook subscribers -------------------------------------------


@dataclass
class Far:
    """Every channel and subscriber the hub talks to, checking every signature. Channels apply
    a push as they receive it (the last push wins, as a channel's stock API does), a repeated
    event id once; subscribers apply an event id once and keep, per SKU, the event with the
    highest version. Names in ``broken`` answer 503; a ``flaky`` channel fails that share of
    its pushes with a 500."""

    secrets: dict[str, str] = field(default_factory=dict)  # path prefix -> secret
    broken: set[str] = field(default_factory=set)
    flaky: dict[str, float] = field(default_factory=dict)  # channel -> share of pushes failed
    rng: random.Random = field(default_factory=lambda: random.Random(13))
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    pushes: Counter[tuple[str, str]] = field(default_factory=Counter)
    push_ids: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    push_times: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    last: dict[tuple[str, str], int] = field(default_factory=dict)
    last_at: float = 0.0
    newest: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    applied: dict[str, Counter[str]] = field(default_factory=dict)  # hook -> event id -> times
    received: Counter[str] = field(default_factory=Counter)  # hook -> calls
    envelopes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    headers: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def handle(self, path: str, headers: Any, body: bytes) -> int:
        parts = path.strip("/").split("/")
        if len(parts) < 2 or parts[0] not in ("ch", "hook"):
            with self.lock:
                self.problems.append(f"unexpected path {path}")
            return 404
        name = parts[1]
        secret = self.secrets.get(f"/{parts[0]}/{name}")
        timestamp = headers.get("X-Omnihub-Timestamp", "")
        expected = (
            "sha256="
            + hmac.new(
                (secret or "").encode(), timestamp.encode() + b"." + body, hashlib.sha256
            ).hexdigest()
        )
        signature = headers.get("X-Omnihub-Signature") or ""
        with self.lock:
            if secret is None or not hmac.compare_digest(signature, expected):
                self.problems.append(f"bad signature on {path}")
                return 401
            if name in self.broken:
                self.received[name] += 1
                return 503
            payload = json.loads(body)
            if parts[0] == "ch":
                return self._push(name, parts[2:], payload, headers)
            return self._event(name, payload, headers)

    def _push(self, channel: str, rest: list[str], payload: dict[str, Any], headers: Any) -> int:
        if rest != ["stock"] or payload.get("channel") != channel:
            self.problems.append(f"unexpected push to {channel}/{'/'.join(rest)}: {payload}")
            return 400
        if self.rng.random() < self.flaky.get(channel, 0.0):
            return 500  # the channel's API is having a bad day: nothing applied
        key = (channel, payload["sku"])
        event_id = headers.get("X-Omnihub-Event-Id")
        if not event_id:
            self.problems.append(f"push to {channel} without an event id")
        self.last_at = time.monotonic()
        if event_id in self.push_ids.setdefault(key, set()):
            return 200  # a retry after a lost ack: already applied
        self.push_ids[key].add(event_id)
        self.push_times.setdefault(key, []).append(self.last_at)
        self.pushes[key] += 1
        self.last[key] = int(payload["quantity"])
        return 200

    def _event(self, hook: str, envelope: dict[str, Any], headers: Any) -> int:
        self.received[hook] += 1
        event_id = headers.get("X-Omnihub-Event-Id")
        if event_id != envelope.get("id") or headers.get("X-Omnihub-Event") != envelope.get("type"):
            self.problems.append(f"headers do not match the envelope: {dict(headers)}")
        seen = self.applied.setdefault(hook, Counter())
        if event_id in seen:
            return 200  # a retry after a lost ack, or a replay: already applied
        seen[event_id] += 1
        self.envelopes.setdefault(hook, []).append(envelope)
        self.headers.setdefault(hook, []).append(dict(headers))
        if envelope.get("type") == "stock.changed":
            key = (hook, envelope["data"]["sku"])
            current = self.newest.get(key)
            if current is None or envelope["version"] > current["version"]:
                self.newest[key] = envelope
        return 200

    def quiet_for(self) -> float:
        with self.lock:
            return time.monotonic() - self.last_at if self.last_at else 0.0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512


@contextlib.contextmanager
def far_side() -> Iterator[Far]:
    far = Far()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = far.handle(self.path, self.headers, body)
            with contextlib.suppress(OSError):
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

    server = _Server(("127.0.0.1", 0), Handler)
    far.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield far
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# -- the hub ---------------------------------------------------------------------------------


@contextlib.contextmanager
def hub_serving(
    database_url: str, workdir: Path, settings: dict[str, str], workers: int
) -> Iterator[str]:
    """``omnihub serve`` with these OMNIHUB_* settings (the shared helper clears them all), on a
    free port of 127.0.0.1; stopped (its whole process group) on exit."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = hub_server.free_port()
    base_url = f"http://127.0.0.1:{port}"
    out, err = workdir / "server.out", workdir / "server.err"
    env = {**hub_server._server_env(), **settings}
    command = [
        *hub_server.omnihub_command(),
        "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--database-url", database_url,
    ]  # fmt: skip
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
            command, cwd=workdir, env=env, stdout=stdout, stderr=stderr,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + hub_server.STARTUP_TIMEOUT_SECONDS
        up = False
        with httpx.Client(base_url=base_url, timeout=2.0, trust_env=False) as client:
            while not up and time.monotonic() < deadline and process.poll() is None:
                with contextlib.suppress(httpx.TransportError):
                    up = client.get("/health").status_code == 200
                if up and workers > 1:  # one worker: uvicorn serves in the process itself
                    running = hub_server._worker_count(process.pid)
                    up = running is None or running >= workers
                if not up:
                    time.sleep(0.1)  # bounded polling for start-up
        if not up:
            raise hub_server.ServerFailedToStart(
                f"omnihub serve on {base_url} did not come up:\n{hub_server._tail(err)}"
            )
        yield base_url
    finally:
        hub_server.stop(process)


def _client(base_url: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT, trust_env=False)


def _expect(response: httpx.Response, *statuses: int) -> Any:
    assert response.status_code in statuses, (
        f"{response.request.method} {response.request.url} -> {response.status_code}: "
        f"{response.text}"
    )
    return response.json()


def seed_catalog(client: httpx.Client, skus: list[str]) -> None:
    for code, (kind, lat, lon) in LOCATIONS.items():
        _expect(
            client.post(
                "/api/v1/locations",
                json={
                    "code": code,
                    "name": f"Location {code}",
                    "type": kind,
                    "lat": lat,
                    "lon": lon,
                    "services": ["ship", "pickup"] if kind == "store" else ["ship"],
                },
            ),
            201,
        )
    for sku in skus:
        _expect(
            client.post(
                "/api/v1/catalog/skus", json={"sku": sku, "name": f"Item {sku}", "price": "19.90"}
            ),
            201,
        )


def create_channel(client: httpx.Client, far: Far, channel: Channel) -> None:
    far.secrets[f"/ch/{channel.code}"] = channel.secret
    body = {
        "code": channel.code,
        # the far side takes the hub's own JSON pushes (a platform adapter would speak the
        # platform's API and push only the items mapped on that channel)
        "adapter": "generic",
        "endpoint": f"{far.url}/ch/{channel.code}",
        "secret": channel.secret,
        "allocation_ratio": float(channel.ratio),
        "buffer": channel.buffer,
        "locations": list(channel.locations),
    }
    created = _expect(client.post("/api/v1/channels", json=body), 201)
    assert created["code"] == channel.code


def subscribe(client: httpx.Client, far: Far, name: str, events: list[str]) -> str:
    secret = f"{name}-webhook-secret-0001"
    far.secrets[f"/hook/{name}"] = secret
    created = _expect(
        client.post(
            "/api/v1/webhooks",
            json={"url": f"{far.url}/hook/{name}", "events": events, "secret": secret},
        ),
        201,
    )
    assert created["events"] == events
    return str(created["endpoint"])


def movements(skus: list[str], count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` stock changes, SKU after SKU (a flash sale or a stock count works through one
    article at a time), each at a random location: receipts, positive adjustments and
    stock-takes (absolute counts, so stock goes down as well as up)."""
    rng = random.Random(seed)
    per_sku = count // len(skus)
    bodies = []
    for n in range(count):
        kind = rng.choices(["receipt", "adjustment", "stocktake"], weights=[5, 2, 3])[0]
        bodies.append(
            {
                "location": rng.choice(list(LOCATIONS)),
                "sku": skus[min(n // per_sku, len(skus) - 1)],
                "kind": kind,
                "qty": rng.randint(0, 400) if kind == "stocktake" else rng.randint(1, 9),
                "reference": f"DOC-{seed}-{n:06d}",
            }
        )
    return bodies


@dataclass
class Burst:
    statuses: Counter[int]
    seconds: float
    retried: int


def post_all(base_url: str, path: str, bodies: list[dict[str, Any]]) -> Burst:
    """POST every body, ``IN_FLIGHT`` at a time. A connection the server dropped is retried
    (a movement is idempotent by its reference: a repeat answers 200 "duplicate")."""
    retried = 0

    async def burst() -> Burst:
        nonlocal retried
        gate = asyncio.Semaphore(IN_FLIGHT)
        limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
        async with httpx.AsyncClient(
            base_url=base_url, limits=limits, trust_env=False, timeout=REQUEST_TIMEOUT
        ) as client:

            async def one(body: dict[str, Any]) -> int:
                nonlocal retried
                async with gate:
                    for attempt in range(4):
                        try:
                            response = await client.post(path, json=body)
                            break
                        except httpx.TransportError:
                            if attempt == 3:
                                raise
                            retried += 1
                    if response.status_code >= 300:
                        print(f"{path} {body} -> {response.status_code} {response.text[:200]}")
                    return response.status_code

            started = time.perf_counter()
            statuses = await asyncio.gather(*(one(b) for b in bodies))
            return Burst(Counter(statuses), time.perf_counter() - started, retried)

    return asyncio.run(asyncio.wait_for(burst(), BURST_TIMEOUT))


def assert_all_applied(burst: Burst, count: int) -> None:
    """Every movement recorded once: 201, or 200 "duplicate" for a retried one."""
    assert set(burst.statuses) <= {200, 201}, burst.statuses
    assert burst.statuses[201] + burst.statuses[200] == count
    assert burst.statuses[200] <= burst.retried


def wait_until(what: str, check: Callable[[], Any], seconds: float, every: float = 0.25) -> Any:
    """Bounded polling: ``check()`` until it returns something truthy, else fail saying what."""
    deadline = time.monotonic() + seconds
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"{what}: not within {seconds:g} s (last: {last!r})")


def metric_samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    samples = {}
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}(?:\{{(.*)\}})? (\S+)", line)
        if match:
            labels = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', match.group(1) or "")))
            samples[labels] = float(match.group(2))
    return samples


def outbox_backlog(client: httpx.Client) -> float:
    text = client.get("/metrics").text
    return metric_samples(text, "omnihub_outbox_backlog")[()]


def stock_of(client: httpx.Client, sku: str) -> dict[str, Any]:
    return dict(_expect(client.get(f"/api/v1/inventory/{sku}"), 200))


# -- the tests -------------------------------------------------------------------------------

FANOUT_SKUS = 100
FANOUT_CHANGES = 10_000
FLUSH_SECONDS = 1.0
FANOUT_WORKERS = 2
HANDFUL = 10  # pushes per (channel, SKU), typically
FANOUT_SETTINGS = {
    "OMNIHUB_STOCK_FLUSH_SECONDS": "1",
    "OMNIHUB_FULL_COMPARE_SECONDS": "3600",  # the test proves the push, not the repair
}


def test_a_burst_of_ten_thousand_stock_changes_reaches_five_channels_as_few_coalesced_pushes(
    database_url: str, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    skus = [f"SKU-{n:03d}" for n in range(FANOUT_SKUS)]
    with (
        far_side() as far,
        hub_serving(
            database_url, tmp_path / "hub", FANOUT_SETTINGS, workers=FANOUT_WORKERS
        ) as base_url,
        _client(base_url) as client,
    ):
        seed_catalog(client, skus)
        for channel in CHANNELS:
            create_channel(client, far, channel)
        listed = {c["code"]: c for c in _expect(client.get("/api/v1/channels"), 200)["items"]}
        assert set(listed) == {c.code for c in CHANNELS}
        assert listed["miniapp"]["locations"] == ["ST-01", "WH-SH"]

        burst = post_all(
            base_url, "/api/v1/inventory/movements", movements(skus, FANOUT_CHANGES, seed=5)
        )
        assert_all_applied(burst, FANOUT_CHANGES)
        burst_seconds = burst.seconds

        def quiet() -> bool:
            if outbox_backlog(client) != 0:
                return False
            for channel in CHANNELS:
                sync = _expect(client.get(f"/api/v1/channels/{channel.code}/sync"), 200)
                if sync["skus"] != FANOUT_SKUS or sync["behind"] != 0:
                    return False
            return far.quiet_for() > 2 * FLUSH_SECONDS

        started = time.monotonic()
        wait_until("every channel in sync with the hub", quiet, seconds=300, every=0.5)
        drain_seconds = time.monotonic() - started
        stock = {sku: stock_of(client, sku) for sku in skus}
        syncs = {
            c.code: _expect(client.get(f"/api/v1/channels/{c.code}/sync"), 200) for c in CHANNELS
        }
        metrics = client.get("/metrics").text

    database = database_url.split(":", 1)[0]
    pushes = {c.code: {sku: far.pushes[(c.code, sku)] for sku in skus} for c in CHANNELS}
    total_pushes = sum(sum(p.values()) for p in pushes.values())
    factor = FANOUT_CHANGES * len(CHANNELS) / total_pushes
    print(
        f"\n[{database}] {FANOUT_CHANGES} stock changes on {FANOUT_SKUS} SKUs posted in "
        f"{burst_seconds:.1f} s ({FANOUT_CHANGES / burst_seconds:.0f}/s); channels in sync "
        f"{drain_seconds:.1f} s after the last one; coalescing factor {factor:.1f} "
        "(changes x channels / pushes)"
    )
    for channel in CHANNELS:
        sync, mine = syncs[channel.code], pushes[channel.code]
        print(
            f"  {channel.code:8} ratio {channel.ratio:>4} buffer {channel.buffer:2} locations "
            f"{','.join(channel.locations) or 'all':13}: {sum(mine.values()):5} pushes (max "
            f"{max(mine.values())}/SKU), coalescing {FANOUT_CHANGES / sum(mine.values()):.1f}x, "
            f"lag p50 {sync['lag_ms_p50']} ms p99 {sync['lag_ms_p99']} ms"
        )
        record_property(f"{channel.code}_pushes", sum(mine.values()))
        record_property(f"{channel.code}_lag_ms_p50", sync["lag_ms_p50"])
        record_property(f"{channel.code}_lag_ms_p99", sync["lag_ms_p99"])
    record_property("burst_seconds", round(burst_seconds, 1))
    record_property("coalescing_factor", round(factor, 1))

    assert far.problems == []
    for channel in CHANNELS:
        # every SKU's final value on the channel is what the hub publishes for it
        wrong = {
            sku: (far.last.get((channel.code, sku)), channel.published(stock[sku]))
            for sku in skus
            if far.last.get((channel.code, sku)) != channel.published(stock[sku])
        }
        assert wrong == {}, f"{channel.code}: (received, hub) {dict(list(wrong.items())[:10])}"
        sync = syncs[channel.code]
        assert (sync["skus"], sync["in_sync"], sync["behind"]) == (FANOUT_SKUS, FANOUT_SKUS, 0)
        assert sync["lag_ms_p50"] is not None
        assert sync["lag_ms_p99"] is not None
        assert 0 <= sync["lag_ms_p50"] <= sync["lag_ms_p99"]
        assert sync["last_ack_at"]
        # 100 changes per SKU: a handful of pushes each, far fewer than the changes
        mine = pushes[channel.code]
        assert min(mine.values()) >= 1
        assert statistics.median(mine.values()) <= HANDFUL, sorted(Counter(mine.values()))
        assert sum(mine.values()) <= FANOUT_CHANGES / 5, channel.code
        # coalesced by the flush: never more than one push per flush of each worker process,
        # however long the hub took to work through a SKU's changes (a machine under load)
        for sku in skus:
            times = far.push_times[(channel.code, sku)]
            flushes = FANOUT_WORKERS * (math.ceil((times[-1] - times[0]) / FLUSH_SECONDS) + 1)
            assert len(times) <= flushes + 1, (channel.code, sku, len(times), times)

    # the operations view
    backlog = metric_samples(metrics, "omnihub_outbox_backlog")
    assert backlog == {(): 0.0}
    assert () in metric_samples(metrics, "omnihub_outbox_oldest_age_seconds")
    deliveries = metric_samples(metrics, "omnihub_deliveries")
    for channel in CHANNELS:
        key = (("endpoint", f"channel:{channel.code}"), ("status", "delivered"))
        assert deliveries[key] == sum(far.pushes[(channel.code, s)] for s in skus)
    lag = metric_samples(metrics, "omnihub_channel_sync_lag_ms")
    behind = metric_samples(metrics, "omnihub_channel_skus_behind")
    for channel in CHANNELS:
        for q in ("p50", "p99"):
            key = (("channel", channel.code), ("quantile", q))
            assert lag[key] == syncs[channel.code][f"lag_ms_{q}"]
        assert behind[(("channel", channel.code),)] == 0
    circuits = metric_samples(metrics, "omnihub_circuit_open")
    assert circuits, "no circuit-breaker state in /metrics"
    assert all(value == 0 for value in circuits.values())
    assert {dict(k)["state"] for k in circuits} == {"closed"}


def test_a_channel_created_on_a_live_hub_is_told_about_the_very_next_stock_change(
    database_url: str, tmp_path: Path
) -> None:
    skus = ["TEA-1", "TEA-2", "TEA-3"]
    early, late = CHANNELS[0], CHANNELS[1]
    with (
        far_side() as far,
        hub_serving(database_url, tmp_path / "hub", FANOUT_SETTINGS, workers=1) as base_url,
        _client(base_url) as client,
    ):
        seed_catalog(client, skus)
        create_channel(client, far, early)
        for n, sku in enumerate(skus):
            _expect(client.post("/api/v1/inventory/movements", json={
                "location": "WH-SH", "sku": sku, "kind": "receipt", "qty": 10 + n,
                "reference": f"GRN-{sku}"}), 201)  # fmt: skip

        def in_sync(*channels: Channel) -> bool:
            for channel in channels:
                sync = _expect(client.get(f"/api/v1/channels/{channel.code}/sync"), 200)
                if (sync["skus"], sync["behind"]) != (len(skus), 0):
                    return False
            return outbox_backlog(client) == 0

        wait_until("the first channel in sync", lambda: in_sync(early), seconds=60)
        # the hub is warm (its reactions have read the channel list); a channel joins and the
        # stock changes straight after
        create_channel(client, far, late)
        for sku in skus:
            _expect(client.post("/api/v1/inventory/movements", json={
                "location": "WH-BJ", "sku": sku, "kind": "receipt", "qty": 5,
                "reference": f"GRN-BJ-{sku}"}), 201)  # fmt: skip
        wait_until(
            "both channels in sync and quiet",
            lambda: in_sync(early, late) and far.quiet_for() > 2 * FLUSH_SECONDS,
            seconds=60,
        )
        stock = {sku: stock_of(client, sku) for sku in skus}
    assert far.problems == []
    for channel in (early, late):
        received = {sku: far.last.get((channel.code, sku)) for sku in skus}
        assert received == {sku: channel.published(stock[sku]) for sku in skus}, channel.code


DLQ_SETTINGS = {
    "OMNIHUB_STOCK_FLUSH_SECONDS": "1",
    "OMNIHUB_DELIVERY_MAX_ATTEMPTS": "3",
    "OMNIHUB_DELIVERY_BACKOFF_SECONDS": "0.05",
    "OMNIHUB_DELIVERY_TIMEOUT_SECONDS": "2",
}
MIRROR_SKUS = 20
MIRROR_CHANGES = 1000
GOOD_SECRET = "a-good-webhook-secret"


def omnihub_cli(database_url: str, *args: str, cwd: Path) -> str:
    """Run ``omnihub <args> --database-url <url>`` and return what it printed."""
    env = {**hub_server._server_env(), "COLUMNS": "200", "NO_COLOR": "1"}
    done = subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
        [*hub_server.omnihub_command(), *args, "--database-url", database_url],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"omnihub {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return done.stdout


def test_webhooks_mirror_the_hub_and_dead_letters_can_be_seen_replayed_and_discarded(
    database_url: str, tmp_path: Path
) -> None:
    skus = [f"MIR-{n:02d}" for n in range(MIRROR_SKUS)]
    with (
        far_side() as far,
        hub_serving(database_url, tmp_path / "hub", DLQ_SETTINGS, workers=1) as base_url,
        _client(base_url) as client,
    ):
        seed_catalog(client, skus)

        # -- bad subscriptions are refused with a message a person understands
        refused = [
            ({"url": "ftp://files.example.com/in", "events": ["stock.changed"],
              "secret": GOOD_SECRET}, "url must be an http:// or https:// address"),
            ({"url": f"{far.url}/hook/x", "events": ["stock.changed", "stock.exploded"],
              "secret": GOOD_SECRET}, "unknown event 'stock.exploded'"),
            ({"url": f"{far.url}/hook/x", "events": ["stock.changed"], "secret": "too-short"},
             "secret must be at least 16 characters"),
        ]  # fmt: skip
        for body, message in refused:
            response = client.post("/api/v1/webhooks", json=body)
            assert response.status_code == 422, response.text
            error = response.json()["error"]
            assert message in error["message"], error
            assert error["code"]
        assert _expect(client.get("/api/v1/webhooks"), 200)["items"] == []

        # -- a mirror of stock, and subscribers that are down
        mirror = subscribe(client, far, "mirror", ["stock.changed"])
        far.broken |= {"bi-a", "bi-b", "bi-c", "bi-d", "audit"}
        down = {name: subscribe(client, far, name, ["reservation.taken"])
                for name in ("bi-a", "bi-b", "bi-c", "bi-d")}  # fmt: skip
        down["audit"] = subscribe(client, far, "audit", ["reservation.*"])
        listed = _expect(client.get("/api/v1/webhooks"), 200)["items"]
        assert {item["endpoint"] for item in listed} == {mirror, *down.values()}

        burst = post_all(
            base_url, "/api/v1/inventory/movements", movements(skus, MIRROR_CHANGES, seed=9)
        )
        assert_all_applied(burst, MIRROR_CHANGES)
        _expect(client.post("/api/v1/inventory/movements", json={
            "location": "ST-01", "sku": skus[0], "kind": "receipt", "qty": 3,
            "reference": "GRN-RESERVE"}), 201)  # fmt: skip
        reservation = _expect(client.post("/api/v1/reservations", json={
            "sku": skus[0], "qty": 1, "location": "ST-01", "ttl_seconds": 600}), 201)  # fmt: skip
        _expect(client.delete(f"/api/v1/reservations/{reservation['id']}"), 200)

        # -- the mirror, keeping the newest version per SKU, ends equal to the hub
        def mirrored() -> list[str]:
            differ = []
            for sku in skus:
                hub = stock_of(client, sku)
                with far.lock:
                    newest = far.newest.get(("mirror", sku))
                seen = None if newest is None else newest["data"]
                wanted = {
                    "sku": sku,
                    "available": hub["available"],
                    "locations": sorted(
                        ({k: lv[k] for k in ("location", "on_hand", "reserved", "available")}
                         for lv in hub["locations"]),
                        key=lambda lv: lv["location"],
                    ),
                }  # fmt: skip
                got = None if seen is None else {
                    "sku": seen["sku"],
                    "available": seen["available"],
                    "locations": sorted(
                        ({k: lv[k] for k in ("location", "on_hand", "reserved", "available")}
                         for lv in seen["locations"]),
                        key=lambda lv: lv["location"],
                    ),
                }  # fmt: skip
                if got != wanted:
                    differ.append(sku)
            return differ

        wait_until("the mirror equal to the hub", lambda: not mirrored(), seconds=300, every=1)
        dead = wait_until(
            "six dead letters",
            lambda: (
                (items := _expect(client.get("/api/v1/dead-letters"), 200)["items"])
                and len(items) == 6
                and items
            ),
            seconds=120,
        )

        # -- what the mirror received: signed envelopes of stock.changed, each applied once.
        # Deliveries go out in parallel, so the newest value of a SKU may land before older
        # ones still in flight (receivers order by version): wait for all of them.
        wait_until(
            "every stock change delivered to the mirror",
            lambda: len(far.envelopes["mirror"]) >= MIRROR_CHANGES + 1,
            seconds=120,
        )
        envelopes = far.envelopes["mirror"]
        assert len(envelopes) >= MIRROR_CHANGES + 1

        def hub_counted_every_envelope() -> str | None:
            text = client.get("/metrics").text
            counted = metric_samples(text, "omnihub_deliveries")
            delivered = counted.get((("endpoint", mirror), ("status", "delivered")))
            return text if delivered == len(far.envelopes["mirror"]) else None

        # the receiver has an envelope a moment before the hub records its delivery
        metrics = wait_until(
            "the hub's count of the mirror's deliveries", hub_counted_every_envelope, seconds=30
        )
        assert set(far.applied["mirror"].values()) == {1}
        for envelope in envelopes:
            assert set(envelope) >= ENVELOPE_KEYS, envelope
            assert envelope["type"] == "stock.changed"
            data = envelope["data"]
            assert envelope["aggregate_id"] == data["sku"]
            assert isinstance(envelope["version"], int)
            assert {"sku", "available", "locations"} <= set(data)
            assert data["available"] == sum(lv["available"] for lv in data["locations"])
            for level in data["locations"]:
                assert {"location", "on_hand", "reserved", "available"} <= set(level)
        for headers in far.headers["mirror"]:
            assert headers["X-Omnihub-Event"] == "stock.changed"
            assert abs(int(headers["X-Omnihub-Timestamp"]) - time.time()) < 600
            assert headers["X-Omnihub-Signature"].startswith("sha256=")
        versions = [e["version"] for e in envelopes]
        assert len(set(versions)) == len(versions)  # one version per change

        # -- dead letters: only after every attempt, with the last error
        by_endpoint: dict[str, list[dict[str, Any]]] = {}
        for item in dead:
            by_endpoint.setdefault(item["endpoint"], []).append(item)
        assert {e: len(v) for e, v in by_endpoint.items()} == {
            **{down[n]: 1 for n in ("bi-a", "bi-b", "bi-c", "bi-d")},
            down["audit"]: 2,
        }
        for item in dead:
            assert item["status"] == "dead"
            assert item["attempts"] == 3
            assert item["last_status"] == 503
            assert item["last_error"].startswith("HTTP 503")
            assert item["finished_at"]
            assert item["payload"]["type"].startswith("reservation.")
        audit = _expect(client.get("/api/v1/dead-letters", params={"endpoint": down["audit"]}),
                        200)["items"]  # fmt: skip
        assert {i["event_type"] for i in audit} == {"reservation.taken", "reservation.released"}
        one = by_endpoint[down["bi-a"]][0]
        assert _expect(client.get(f"/api/v1/dead-letters/{one['id']}"), 200) == one
        assert client.get("/api/v1/dead-letters/987654321").status_code == 404

        # -- the operations view while they are down
        deliveries = metric_samples(metrics, "omnihub_deliveries")
        attempts = metric_samples(metrics, "omnihub_delivery_attempts")
        assert deliveries[(("endpoint", mirror), ("status", "delivered"))] == len(envelopes)
        assert deliveries[(("endpoint", down["audit"]), ("status", "dead"))] == 2
        assert attempts[(("endpoint", down["audit"]), ("status", "dead"))] == 6
        assert metric_samples(metrics, "omnihub_outbox_backlog")[()] >= 0
        circuits = metric_samples(metrics, "omnihub_circuit_open")
        audit_circuit = {dict(k)["state"]: v for k, v in circuits.items()
                         if dict(k)["endpoint"] == down["audit"]}  # fmt: skip
        assert audit_circuit in ({"open": 1.0}, {"half_open": 1.0}), circuits
        for name in ("bi-a", "bi-b", "bi-c", "bi-d"):
            assert circuits[(("endpoint", down[name]), ("state", "closed"))] == 0.0
        assert circuits[(("endpoint", mirror), ("state", "closed"))] == 0.0

        # -- the receivers are fixed: replay one, replay all of an endpoint, discard one
        far.broken.clear()
        replay_one = client.post(f"/api/v1/dead-letters/{one['id']}/replay")
        assert _expect(replay_one, 200) == {"replayed": 1}
        again = client.post(f"/api/v1/dead-letters/{one['id']}/replay")
        assert again.status_code == 404
        assert "not a dead letter" in again.json()["error"]["message"]
        replay_b = client.post("/api/v1/dead-letters/replay", json={"endpoint": down["bi-b"]})
        assert _expect(replay_b, 200) == {"replayed": 1}
        gone = by_endpoint[down["bi-c"]][0]
        assert _expect(client.post(f"/api/v1/dead-letters/{gone['id']}/discard"), 200) == {
            "discarded": gone["id"]
        }
        assert _expect(client.get(f"/api/v1/dead-letters/{gone['id']}"), 200)["status"] == (
            "discarded"
        )
        assert client.post(f"/api/v1/dead-letters/{gone['id']}/replay").status_code == 404
        assert client.post(f"/api/v1/dead-letters/{gone['id']}/discard").status_code == 404

        # -- and from the command line, on the same database
        listing = omnihub_cli(database_url, "dlq", "list", cwd=tmp_path)
        assert "3 dead letter(s)" in listing
        assert down["bi-d"] in listing
        assert "HTTP 503" in listing
        only_audit = omnihub_cli(database_url, "dlq", "list", "--endpoint", down["audit"],
                                 cwd=tmp_path)  # fmt: skip
        assert "2 dead letter(s)" in only_audit
        d_item = by_endpoint[down["bi-d"]][0]
        shown = json.loads(omnihub_cli(database_url, "dlq", "show", str(d_item["id"]),
                                       cwd=tmp_path))  # fmt: skip
        assert (shown["status"], shown["attempts"], shown["endpoint"]) == ("dead", 3, down["bi-d"])
        assert shown["last_error"].startswith("HTTP 503")
        replayed = omnihub_cli(database_url, "dlq", "replay", "--endpoint", down["audit"],
                               cwd=tmp_path)  # fmt: skip
        assert "2 dead letter(s) queued again" in replayed
        assert "1 dead letter(s) queued again" in omnihub_cli(
            database_url, "dlq", "replay", str(d_item["id"]), cwd=tmp_path
        )
        assert "0 dead letter(s)" in omnihub_cli(database_url, "dlq", "list", cwd=tmp_path)

        # -- the hub delivers what was replayed (the audit circuit first has to cool off)
        replayed_ids = {
            by_endpoint[down["bi-a"]][0]["event_id"]: "bi-a",
            by_endpoint[down["bi-b"]][0]["event_id"]: "bi-b",
            by_endpoint[down["bi-d"]][0]["event_id"]: "bi-d",
            **{i["event_id"]: "audit" for i in audit},
        }

        def all_delivered() -> bool:
            with far.lock:
                return all(e in far.applied.get(h, {}) for e, h in replayed_ids.items())

        wait_until("the replayed dead letters delivered", all_delivered, seconds=90)
        final = {
            d["id"]: d
            for d in _expect(client.get("/api/v1/deliveries", params={"limit": 1000}), 200)["items"]
        }
        assert _expect(client.get("/api/v1/dead-letters"), 200)["items"] == []

    assert far.problems == []
    for item in dead:
        expected = "discarded" if item["id"] == gone["id"] else "delivered"
        assert final[item["id"]]["status"] == expected, final[item["id"]]
    assert "bi-c" not in far.applied  # discarded: never sent again
    for hook in ("bi-a", "bi-b", "bi-d", "audit"):
        assert set(far.applied[hook].values()) == {1}


FLAKY_SETTINGS = {
    "OMNIHUB_STOCK_FLUSH_SECONDS": "1",
    "OMNIHUB_DELIVERY_BACKOFF_SECONDS": "0.5",
    "OMNIHUB_FULL_COMPARE_SECONDS": "3600",
}


def test_a_channel_failing_a_third_of_its_pushes_still_ends_equal_to_the_hub(
    database_url: str, tmp_path: Path
) -> None:
    skus = [f"FLK-{n:02d}" for n in range(20)]
    flaky, steady = CHANNELS[0], CHANNELS[1]
    with (
        far_side() as far,
        hub_serving(database_url, tmp_path / "hub", FLAKY_SETTINGS, workers=2) as base_url,
        _client(base_url) as client,
    ):
        seed_catalog(client, skus)
        far.flaky[flaky.code] = 1 / 3
        for channel in (flaky, steady):
            create_channel(client, far, channel)
        burst = post_all(base_url, "/api/v1/inventory/movements", movements(skus, 1000, seed=3))
        assert_all_applied(burst, 1000)

        def quiet() -> bool:
            for channel in (flaky, steady):
                sync = _expect(client.get(f"/api/v1/channels/{channel.code}/sync"), 200)
                if (sync["skus"], sync["behind"]) != (len(skus), 0):
                    return False
            pending = _expect(client.get("/api/v1/deliveries", params={"status": "pending"}), 200)
            return outbox_backlog(client) == 0 and not pending["items"] and far.quiet_for() > 2

        wait_until("both channels in sync and quiet", quiet, seconds=300, every=0.5)
        stock = {sku: stock_of(client, sku) for sku in skus}
    assert far.problems == []
    for channel in (flaky, steady):
        wrong = {
            sku: (far.last.get((channel.code, sku)), channel.published(stock[sku]))
            for sku in skus
            if far.last.get((channel.code, sku)) != channel.published(stock[sku])
        }
        assert wrong == {}, f"{channel.code}: (received, hub) {wrong}"
