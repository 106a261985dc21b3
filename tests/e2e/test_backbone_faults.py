"""The integration backbone under faults, with real processes on 127.0.0.1 (bounded in time).

* The hub (``omnihub serve``) killed with SIGKILL in the middle of a burst and started again on
  the same database: every event of the outbox reaches the webhook receiver, duplicates only as
  redeliveries of the same event id.
* NATS JetStream unavailable when the hub starts: the events wait in the outbox and are all
  delivered once the server is up.
* NATS going away in the middle of a run and coming back (same store): every event ends
  delivered.

The webhook receiver is a small HTTP server in this process that records X-Omnihub-Event-Id and
checks the signature. The NATS servers are our own (``nats-server -js -sd <tmp>`` on a free
port), started and stopped by their pid.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from tests.e2e.server import _server_env, _tail, free_port, omnihub_command, stop

from omnihub.adapters.db.engine import create_engine
from omnihub.adapters.db.tables import deliveries, outbox

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

IN_CI = os.environ.get("CI", "").lower() == "true"
NATS_SERVER = os.environ.get("OMNIHUB_TEST_NATS_SERVER") or shutil.which(
    "nats-server", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/bin"])
)
SECRET = "backbone-test-secret-0123456789"
SKU_COUNT = 20
LOCATION = "WH-SH"
POLL_SECONDS = 0.1
STARTUP_SECONDS = 60.0  # a busy CI machine: several processes import, migrate, bind
#: a delivery claimed by a process that was killed is retried once its lease (60 s) runs out
DRAIN_SECONDS = 150.0


# -- the webhook receiver ------------------------------------------------------------------------
@dataclass
class Receiver:
    """Records every event id it is sent (and answers 200); counts bad signatures."""

    url: str = ""
    ids: list[str] = field(default_factory=list)
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self) -> list[str]:
        with self.lock:
            return list(self.ids)


@contextlib.contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    receiver = Receiver()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            timestamp = self.headers.get("X-Omnihub-Timestamp", "")
            expected = (
                "sha256="
                + hmac.new(
                    SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256
                ).hexdigest()
            )
            event_id = self.headers.get("X-Omnihub-Event-Id", "")
            with receiver.lock:
                if not hmac.compare_digest(expected, self.headers.get("X-Omnihub-Signature", "")):
                    receiver.bad_signatures += 1
                if json.loads(body).get("id") != event_id:
                    receiver.bad_signatures += 1
                receiver.ids.append(event_id)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as receiver:
        yield receiver


# -- our own nats-server -------------------------------------------------------------------------
def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class NatsServer:
    """One nats-server with JetStream on a fixed port and store dir; start/stop by its pid."""

    port: int
    store: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.process is None, "already running"
        assert NATS_SERVER is not None
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603 - fixed arguments
                [
                    NATS_SERVER,
                    "-a",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-js",
                    "-sd",
                    str(self.store),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + 15
        while not _port_open(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"nats-server on {self.port} did not start:\n{_tail(self.log)}")
            time.sleep(POLL_SECONDS)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A nats-server of this test (not started yet): a free port and an empty store dir."""
    if NATS_SERVER is None or not os.access(NATS_SERVER, os.X_OK):
        message = "nats-server is not installed (set OMNIHUB_TEST_NATS_SERVER to its path)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    store = tmp_path / "nats-store"
    store.mkdir()
    server = NatsServer(free_port(), store, tmp_path / "nats-server.log")
    try:
        yield server
    finally:
        server.stop()


# -- the hub process -----------------------------------------------------------------------------
@dataclass
class HubProcess:
    base_url: str
    process: subprocess.Popen[bytes]
    stderr: Path

    def kill(self) -> None:
        """SIGKILL the whole process group: the server, its workers, mid-whatever they do."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        stop(self.process, timeout=5)  # anything left of the group


class Hubs:
    """Starts ``omnihub serve`` processes; every one is stopped (by its group) at the end."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.started: list[HubProcess] = []

    def start(
        self, database_url: str, *, bus_url: str = "memory://", workers: int = 2
    ) -> HubProcess:
        port = free_port()
        n = len(self.started) + 1
        stdout, stderr = self.workdir / f"hub-{n}.out", self.workdir / f"hub-{n}.err"
        env = _server_env()
        env.update(
            OMNIHUB_BUS_URL=bus_url,
            OMNIHUB_ENDPOINT_RATE_PER_SECOND="5000",
            OMNIHUB_DELIVERY_BACKOFF_SECONDS="0.1",
            OMNIHUB_DELIVERY_MAX_ATTEMPTS="30",
            OMNIHUB_STOCK_FLUSH_SECONDS="0.2",
        )
        command = [
            *omnihub_command(),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--database-url",
            database_url,
        ]
        with stdout.open("wb") as out, stderr.open("wb") as err:
            process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
                command,
                cwd=self.workdir,
                env=env,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        hub = HubProcess(f"http://127.0.0.1:{port}", process, stderr)
        self.started.append(hub)
        deadline = time.monotonic() + STARTUP_SECONDS
        with httpx.Client(base_url=hub.base_url, timeout=2.0, trust_env=False) as client:
            while time.monotonic() < deadline and process.poll() is None:
                with contextlib.suppress(httpx.TransportError):
                    if client.get("/health").status_code == 200:
                        return hub
                time.sleep(POLL_SECONDS)
        status = process.poll()
        stop(process)
        pytest.fail(
            f"omnihub serve did not come up on {hub.base_url} within {STARTUP_SECONDS:g} s "
            f"(exit status {status}):\n--- stderr ---\n{_tail(stderr)}\n"
            f"--- stdout ---\n{_tail(stdout)}",
            pytrace=False,
        )

    def stop_all(self) -> None:
        for hub in reversed(self.started):
            stop(hub.process)


@pytest.fixture
def hubs(tmp_path: Path) -> Iterator[Hubs]:
    workdir = tmp_path / "hubs"
    workdir.mkdir()
    started = Hubs(workdir)
    try:
        yield started
    finally:
        started.stop_all()


# -- talking to the hub --------------------------------------------------------------------------
def client_for(hub: HubProcess) -> httpx.Client:
    return httpx.Client(base_url=hub.base_url, timeout=30.0, trust_env=False)


def set_up_hub(hub: HubProcess, receiver: Receiver) -> None:
    """A webhook for every event first (so no event precedes it), then a location and SKUs."""
    with client_for(hub) as client:
        created = [
            client.post(
                "/api/v1/webhooks",
                json={"url": receiver.url, "events": ["*"], "secret": SECRET},
            ),
            client.post(
                "/api/v1/locations",
                json={
                    "code": LOCATION,
                    "name": "Shanghai DC",
                    "type": "warehouse",
                    "lat": 31.23,
                    "lon": 121.47,
                    "services": ["ship"],
                },
            ),
            *[
                client.post(
                    "/api/v1/catalog/skus",
                    json={"sku": f"SKU-{n:03d}", "name": f"Item {n}", "price": "9.90"},
                )
                for n in range(SKU_COUNT)
            ],
        ]
    assert [r.status_code for r in created] == [201] * len(created), [r.text for r in created]


def movement(n: int) -> dict[str, Any]:
    return {
        "location": LOCATION,
        "sku": f"SKU-{n % SKU_COUNT:03d}",
        "kind": "receipt",
        "qty": 1 + n % 5,
        "reference": f"GRN-{n:05d}",
    }


class Burst:
    """Posts movements from a few threads; stops quietly when the server goes away."""

    def __init__(self, hub: HubProcess, numbers: range, threads: int = 4) -> None:
        self.hub = hub
        self.numbers = numbers
        self.threads = threads
        self.acknowledged: list[int] = []
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.failures: list[str] = []
        self._runner = threading.Thread(target=self._run, name="burst", daemon=True)

    def start(self) -> Burst:
        self._runner.start()
        return self

    def _post(self, client: httpx.Client, n: int) -> None:
        if self.stopped.is_set():
            return
        try:
            response = client.post("/api/v1/inventory/movements", json=movement(n))
        except httpx.TransportError:
            self.stopped.set()  # the server is gone: the rest of the burst is not sent
            return
        if response.status_code not in (200, 201):
            self.failures.append(f"{n}: {response.status_code} {response.text[:200]}")
            return
        with self.lock:
            self.acknowledged.append(n)

    def _run(self) -> None:
        with client_for(self.hub) as client, ThreadPoolExecutor(self.threads) as pool:
            list(pool.map(lambda n: self._post(client, n), self.numbers))

    def count(self) -> int:
        with self.lock:
            return len(self.acknowledged)

    def join(self, timeout: float = 120) -> None:
        self._runner.join(timeout)
        assert not self._runner.is_alive(), "the burst did not finish in time"
        assert self.failures == []


def post_all(hub: HubProcess, numbers: range) -> None:
    burst = Burst(hub, numbers).start()
    burst.join()
    assert burst.count() == len(numbers), "every movement was acknowledged"


def metric(hub: HubProcess, name: str) -> float:
    with client_for(hub) as client:
        text = client.get("/metrics").text
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics:\n{text[:2000]}")


def pending_deliveries(hub: HubProcess) -> int:
    with client_for(hub) as client:
        response = client.get("/api/v1/deliveries", params={"status": "pending", "limit": 1000})
    assert response.status_code == 200, response.text
    return len(response.json()["items"])


def wait_for(condition: Callable[[], bool], what: str, timeout: float) -> float:
    """Poll until ``condition`` holds; the seconds it took. Fails the test after ``timeout``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            pytest.fail(f"not within {timeout:g} s: {what}", pytrace=False)
        time.sleep(POLL_SECONDS)
    return time.monotonic() - started


def drained(hub: HubProcess) -> bool:
    """Nothing left in the outbox and no delivery still pending."""
    return metric(hub, "omnihub_outbox_backlog") == 0 and pending_deliveries(hub) == 0


def all_delivered(hub: HubProcess, database_url: str, receiver: Receiver) -> bool:
    """Drained, and the receiver has every event of the outbox: an event the relay handed to
    NATS is not in the backlog any more, but it is not delivered until a consumer took it."""
    return drained(hub) and set(books(database_url).events) <= set(receiver.received())


@dataclass
class Books:
    events: list[str]
    undelivered: int
    deliveries: Counter[str]
    delivery_status: Counter[str]


def books(database_url: str) -> Books:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            events = [r.event_id for r in conn.execute(sa.select(outbox).order_by(outbox.c.id))]
            undelivered = conn.execute(
                sa.select(sa.func.count()).where(outbox.c.delivered_at.is_(None))
            ).scalar_one()
            rows = list(conn.execute(sa.select(deliveries.c.event_id, deliveries.c.status)))
    finally:
        engine.dispose()
    return Books(
        events,
        int(undelivered),
        Counter(r.event_id for r in rows),
        Counter(r.status for r in rows),
    )


def assert_every_event_reached_the_receiver(database_url: str, receiver: Receiver) -> Books:
    state = books(database_url)
    received = receiver.received()
    assert state.undelivered == 0
    missing = set(state.events) - set(received)
    assert not missing, f"{len(missing)} of {len(state.events)} events never reached the receiver"
    assert set(received) <= set(state.events), "the receiver got an event the hub never recorded"
    assert receiver.bad_signatures == 0
    # one delivery per (webhook, event), however often the bus handed the event over
    assert set(state.deliveries.values()) == {1}
    assert set(state.deliveries) == set(state.events)
    assert state.delivery_status == Counter({"delivered": len(state.events)})
    return state


def report(line: str, capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        print(f"\n{line}")


# -- (a) the relay killed mid-burst ---------------------------------------------------------------
def test_a_hub_killed_mid_burst_and_restarted_delivers_every_event_of_its_outbox(
    sqlite_url: str, receiver: Receiver, hubs: Hubs, capsys: pytest.CaptureFixture[str]
) -> None:
    total = 500
    first = hubs.start(sqlite_url, workers=2)
    set_up_hub(first, receiver)

    burst = Burst(first, range(total)).start()
    wait_for(
        lambda: (
            burst.count() >= total * 2 // 5
            and (len(receiver.received()) > 0 or burst.count() >= total * 3 // 5)
        ),
        "part of the burst was recorded (and delivery had begun)",
        timeout=60,
    )
    first.kill()
    burst.stopped.set()
    burst.join()
    at_kill = books(sqlite_url)
    assert 0 < len(at_kill.events) < total, "the kill came in the middle of the burst"

    second = hubs.start(sqlite_url, workers=2)
    started = time.monotonic()
    post_all(second, range(total))  # movements are idempotent: the ones recorded say so
    took = wait_for(
        lambda: all_delivered(second, sqlite_url, receiver), "every event delivered", DRAIN_SECONDS
    )

    state = assert_every_event_reached_the_receiver(sqlite_url, receiver)
    assert len(state.events) == total, "each movement recorded exactly once"
    received = Counter(receiver.received())
    redelivered = sum(n - 1 for n in received.values())
    report(
        f"(a) SIGKILL mid-burst on SQLite: {len(at_kill.events)} of {total} events recorded and "
        f"{len(at_kill.events) - at_kill.undelivered} relayed at the kill; after restart all "
        f"{total} delivered in {time.monotonic() - started:.1f} s (drain wait {took:.1f} s), "
        f"{redelivered} redelivered",
        capsys,
    )


# -- (b) NATS unavailable at start ----------------------------------------------------------------
def test_events_wait_in_the_outbox_while_nats_is_down_at_start_and_all_arrive_once_it_is_up(
    database_url: str,
    receiver: Receiver,
    nats_server: NatsServer,
    hubs: Hubs,
    capsys: pytest.CaptureFixture[str],
) -> None:
    total = 120
    bus_url = f"{nats_server.url}/t{uuid.uuid4().hex[:12]}"
    hub = hubs.start(database_url, bus_url=bus_url, workers=2)  # NATS is not running
    set_up_hub(hub, receiver)
    post_all(hub, range(total))

    assert metric(hub, "omnihub_outbox_backlog") == total
    assert books(database_url).undelivered == total
    assert receiver.received() == []

    nats_server.start()
    took = wait_for(
        lambda: all_delivered(hub, database_url, receiver),
        "every event delivered once NATS was up",
        DRAIN_SECONDS,
    )

    state = assert_every_event_reached_the_receiver(database_url, receiver)
    assert len(state.events) == total
    report(
        f"(b) NATS down at start, {database_url.split(':')[0]}: {total} events waited, all "
        f"delivered {took:.1f} s after nats-server started",
        capsys,
    )


# -- (c) NATS going away mid-run ------------------------------------------------------------------
def test_every_event_is_delivered_when_nats_goes_away_mid_run_and_comes_back(
    database_url: str,
    receiver: Receiver,
    nats_server: NatsServer,
    hubs: Hubs,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first, second = range(150), range(150, 300)  # posted before/while, and during the outage
    total = len(first) + len(second)
    nats_server.start()
    bus_url = f"{nats_server.url}/t{uuid.uuid4().hex[:12]}"
    hub = hubs.start(database_url, bus_url=bus_url, workers=2)
    set_up_hub(hub, receiver)

    burst = Burst(hub, first, threads=2).start()
    wait_for(
        lambda: burst.count() >= len(first) // 3 and len(receiver.received()) > 0,
        "events flow through NATS",
        timeout=60,
    )
    nats_server.stop(signal.SIGKILL)  # while the first burst is still being posted
    seen_at_outage = burst.count()
    burst.join()
    post_all(hub, second)
    backlog_in_outage = metric(hub, "omnihub_outbox_backlog")
    assert backlog_in_outage >= len(second), "the events of the outage wait in the outbox"

    nats_server.start()  # same port, same store dir
    took = wait_for(
        lambda: all_delivered(hub, database_url, receiver),
        "every event delivered after NATS came back",
        DRAIN_SECONDS,
    )

    state = assert_every_event_reached_the_receiver(database_url, receiver)
    assert len(state.events) == total
    report(
        f"(c) NATS killed mid-run, {database_url.split(':')[0]}: outage after {seen_at_outage} "
        f"movements, backlog reached {backlog_in_outage:.0f}; all {total} delivered "
        f"{took:.1f} s after NATS came back",
        capsys,
    )
