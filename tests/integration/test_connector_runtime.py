"""The connector runtime against real HTTP receivers on 127.0.0.1 and a real database.

The receivers are a threaded ``http.server``: one fails about half its calls at random (HTTP 500)
and answers some others only after the runtime's timeout (the event *was* applied, the
acknowledgement is lost), one always fails until it is "fixed". All of them keep the set of
``X-Omnihub-Event-Id`` they applied, as an idempotent receiver must, and check the signature.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from omnihub.adapters.db.integration import SqlIntegrationStores
from omnihub.adapters.http.connector import CircuitBreaker, ConnectorRuntime, RetryPolicy
from omnihub.ports import (
    DEAD,
    DELIVERED,
    PENDING,
    ChannelRecord,
    Delivery,
    IntegrationStores,
    NewDelivery,
    SystemClock,
)
from omnihub.services.recipients import Recipients
from omnihub.services.stock_sync import StockFlusher, flush_stock, remember_wanted

pytestmark = pytest.mark.integration

TIMEOUT = 0.3  # the runtime's timeout; slow answers come after twice that
SLOW_SECONDS = 2 * TIMEOUT
FAIL_SHARE = 0.45  # HTTP 500, nothing applied
SLOW_SHARE = 0.08  # applied, but the answer comes after the timeout
MAX_ATTEMPTS = 6
DRAIN_SECONDS = 120.0
SECRETS = {
    "webhook:erp": "erp-secret-0123456789",
    "channel:tmall": "tmall-secret-0123456789",
    "webhook:bi": "bi-secret-0123456789ab",
    "channel:jd": "jd-secret-0123456789ab",
    "channel:pdd": "pdd-secret-0123456789",
}


@dataclass
class Call:
    path: str
    event_id: str
    at: float
    signed: bool


@dataclass
class Receiver:
    """What the far side saw. ``/flaky/...`` fails at random, ``/broken/...`` always fails until
    ``fixed`` is set; ``/ok/...`` always applies. Every path applies an event id once."""

    secrets_by_path: dict[str, str]
    seed: int = 7
    fail_share: float = FAIL_SHARE
    slow_share: float = SLOW_SHARE
    url: str = ""
    fixed: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    applied: dict[str, dict[str, Any]] = field(default_factory=dict)
    applications: Counter[str] = field(default_factory=Counter)
    receipts: Counter[str] = field(default_factory=Counter)
    duplicates_dropped: int = 0
    calls: list[Call] = field(default_factory=list)
    bad_signatures: list[str] = field(default_factory=list)
    bad_headers: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def handle(self, path: str, headers: Any, body: bytes) -> tuple[int, bool]:
        """(status, answer late) for one call; applies the event when it should."""
        event_id = headers.get("X-Omnihub-Event-Id", "")
        signature = headers.get("X-Omnihub-Signature")
        timestamp = headers.get("X-Omnihub-Timestamp", "")
        secret = self.secrets_by_path[path]
        expected = (
            "sha256="
            + hmac.new(
                secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
            ).hexdigest()
        )
        payload = json.loads(body)
        with self.lock:
            self.calls.append(Call(path, event_id, time.monotonic(), signature is not None))
            self.receipts[event_id] += 1
            if signature is None or not hmac.compare_digest(signature, expected):
                self.bad_signatures.append(event_id)
                return 401, False
            if (
                headers.get("Idempotency-Key") != event_id
                or payload.get("id") != event_id
                or headers.get("X-Omnihub-Event") != payload.get("type")
                or headers.get("Content-Type") != "application/json"
            ):
                self.bad_headers.append(event_id)
            draw = self.rng.random()
            healthy = self.fixed.is_set() or path.startswith("/ok/")
            if path.startswith("/broken/") and not healthy:
                return 503, False
            flaky = path.startswith("/flaky/") and not healthy
            if flaky and draw < self.fail_share:
                return 500, False
            if event_id in self.applied:
                self.duplicates_dropped += 1  # a retry after a lost ack, or a replay
            else:
                self.applied[event_id] = payload
                self.applications[event_id] += 1
            late = flaky and draw < self.fail_share + self.slow_share
            return 200, late

    def times(self, path_prefix: str) -> list[float]:
        with self.lock:
            return sorted(c.at for c in self.calls if c.path.startswith(path_prefix))


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status, late = receiver.handle(self.path, self.headers, body)
            if late:
                receiver.stop.wait(SLOW_SECONDS)  # the receiver is slow, not the test
            with contextlib.suppress(OSError):  # the runtime may have hung up (timeout)
                answer = b'{"ok":true}' if status == 200 else b'{"error":"boom"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the runtimes open dozens of connections at once


@contextlib.contextmanager
def serving(receiver: Receiver) -> Iterator[Receiver]:
    server = _Server(("127.0.0.1", 0), _handler(receiver))
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield receiver
    finally:
        receiver.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


PATHS = {
    "webhook:erp": "/flaky/erp",
    "channel:tmall": "/flaky/tmall",
    "webhook:bi": "/broken/bi",
    "channel:jd": "/ok/jd",
    "channel:pdd": "/ok/pdd",
}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serving(Receiver({PATHS[e]: s for e, s in SECRETS.items()})) as running:
        yield running


@pytest.fixture
def store(engine: Engine) -> IntegrationStores:
    return SqlIntegrationStores.on(engine)


def _now() -> datetime:
    return datetime.now(UTC)


def deliveries_for(receiver: Receiver, endpoint: str, count: int) -> list[NewDelivery]:
    items = []
    for n in range(count):
        event_id = str(uuid.uuid4())
        envelope = {
            "id": event_id,
            "type": "stock.changed",
            "occurred_at": _now().isoformat(),
            "aggregate_id": f"SKU-{n % 17}",
            "version": n + 1,
            "data": {"sku": f"SKU-{n % 17}", "available": n, "note": "库存 ✓"},
        }
        items.append(
            NewDelivery(
                endpoint=endpoint,
                url=receiver.url + PATHS[endpoint],
                event_id=event_id,
                event_type="stock.changed",
                payload=envelope,
            )
        )
    return items


def runtime(
    store: IntegrationStores,
    *,
    max_attempts: int = MAX_ATTEMPTS,
    rate: float = 500.0,
    threshold: int = 5,
    cool_off: float = 0.2,
    seed: int = 1,
) -> ConnectorRuntime:
    connector = ConnectorRuntime(
        store.deliveries,
        policy=RetryPolicy(
            max_attempts=max_attempts, base_seconds=0.01, cap_seconds=0.2, timeout_seconds=TIMEOUT
        ),
        rate_per_second=rate,
        secrets=SECRETS.get,
        seed=seed,
    )
    for endpoint in SECRETS:  # the default cool-off (10 s) would only make the test slow
        connector.breakers[endpoint] = CircuitBreaker(threshold=threshold, cool_off=cool_off)
    return connector


def pending(store: IntegrationStores) -> list[Delivery]:
    return store.deliveries.recent(status=PENDING, limit=1000)


def drain(
    store: IntegrationStores, runtimes: Sequence[ConnectorRuntime], seconds: float = DRAIN_SECONDS
) -> float:
    """Run every runtime's loop (one thread each, like one per worker process) until nothing
    is pending; bounded in time. Returns the seconds it took."""
    stop = threading.Event()
    failures: list[BaseException] = []

    def loop(connector: ConnectorRuntime) -> None:
        while not stop.is_set():
            try:
                attempted = connector.run_due(_now())
            except BaseException as exc:  # surfaced below
                failures.append(exc)
                return
            if not attempted:
                stop.wait(0.01)

    threads = [threading.Thread(target=loop, args=(c,)) for c in runtimes]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        while time.monotonic() - started < seconds and not failures:
            if not pending(store):
                break
            stop.wait(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert not failures, failures
    left = pending(store)
    assert not left, f"{len(left)} deliveries still pending after {seconds:g} s: " + ", ".join(
        f"{d.endpoint} attempts={d.attempts} next={d.next_attempt_at}" for d in left[:5]
    )
    return time.monotonic() - started


def close_all(runtimes: Sequence[ConnectorRuntime]) -> None:
    for connector in runtimes:
        connector.close()


def by_id(store: IntegrationStores) -> dict[str, Delivery]:
    return {d.event_id: d for d in store.deliveries.recent(limit=10_000)}


def test_a_flaky_slow_receiver_gets_every_event_applied_exactly_once_and_dead_letters_replay(
    engine: Engine, store: IntegrationStores, receiver: Receiver
) -> None:
    flaky = deliveries_for(receiver, "webhook:erp", 100) + deliveries_for(
        receiver, "channel:tmall", 100
    )
    broken = deliveries_for(receiver, "webhook:bi", 8)
    everything = flaky + broken
    assert store.deliveries.enqueue(everything, _now()) == len(everything)
    assert store.deliveries.enqueue(everything, _now()) == 0  # the bus redelivered the whole batch
    runtimes = [runtime(store, seed=n) for n in range(3)]
    try:
        seconds = drain(store, runtimes)
        rows = by_id(store)
        assert len(rows) == len(everything)
        assert {d.status for d in rows.values()} <= {DELIVERED, DEAD}

        # attempts as the receiver saw them: no hidden extra sends, none missing
        attempts_made = sum(c.stats["attempts"] for c in runtimes)
        assert sum(receiver.receipts.values()) == attempts_made
        assert sum(d.attempts for d in rows.values()) == attempts_made
        assert receiver.bad_signatures == []
        assert receiver.bad_headers == []

        # delivered: acknowledged, within the attempts allowed
        delivered = {e for e, d in rows.items() if d.status == DELIVERED}
        assert all(1 <= rows[e].attempts <= MAX_ATTEMPTS for e in delivered)
        assert all(rows[e].last_error is None for e in delivered)
        assert delivered <= set(receiver.applied)
        # dead: only after every attempt, with why the last one failed
        dead = {e: d for e, d in rows.items() if d.status == DEAD}
        assert all(d.attempts == MAX_ATTEMPTS for d in dead.values())
        assert all(receiver.receipts[e] == MAX_ATTEMPTS for e in dead)
        for item in dead.values():
            assert item.last_error
            assert item.last_error.startswith(("HTTP 5", f"timed out after {TIMEOUT:g}s"))
            assert item.finished_at is not None
        assert {b.event_id for b in broken} <= set(dead)
        for b in broken:
            assert dead[b.event_id].last_error == 'HTTP 503: {"error":"boom"}'
            assert dead[b.event_id].last_status == 503

        # the flaky receiver really failed, timed out and was retried after lost acks
        errors = Counter(d.last_error.split(":")[0] for d in dead.values() if d.last_error)
        assert sum(c.stats["retried"] for c in runtimes) > 50
        assert receiver.duplicates_dropped > 0
        assert set(receiver.applications.values()) == {1}
        print(
            f"\n[{engine.dialect.name}] {len(everything)} deliveries, {attempts_made} "
            f"attempts in {seconds:.1f} s; {len(delivered)} delivered, {len(dead)} dead "
            f"({dict(errors)}), {receiver.duplicates_dropped} duplicates dropped"
        )

        # a person fixes the receiver, replays one dead letter, then the rest per endpoint
        receiver.fixed.set()
        first = rows[broken[0].event_id]
        assert store.deliveries.replay(_now(), delivery_id=first.id) == 1
        assert (
            store.deliveries.replay(_now(), delivery_id=first.id) == 0
        )  # not a dead letter any more
        replayed = store.deliveries.get(first.id)
        assert replayed is not None
        assert (replayed.status, replayed.attempts, replayed.finished_at) == (PENDING, 0, None)
        still_dead = {e: d for e, d in dead.items() if e != first.event_id}
        for endpoint in sorted({d.endpoint for d in still_dead.values()}):
            expected = sum(1 for d in still_dead.values() if d.endpoint == endpoint)
            assert store.deliveries.replay(_now(), endpoint=endpoint) == expected
        assert store.deliveries.recent(status=DEAD) == []
        drain(store, runtimes)
    finally:
        close_all(runtimes)

    rows = by_id(store)
    assert {d.status for d in rows.values()} == {DELIVERED}
    assert set(receiver.applied) == {item.event_id for item in everything}
    assert set(receiver.applications.values()) == {1}
    for item in everything:
        assert receiver.applied[item.event_id] == item.payload
    for event_id in dead:
        assert rows[event_id].attempts >= 1
        assert rows[event_id].last_error is None


def test_the_same_event_for_the_same_endpoint_is_queued_once_however_often_it_arrives(
    store: IntegrationStores, receiver: Receiver
) -> None:
    (item,) = deliveries_for(receiver, "channel:jd", 1)
    twin = replace(item, endpoint="channel:pdd", url=receiver.url + PATHS["channel:pdd"])
    assert store.deliveries.enqueue([item, item], _now()) == 1
    assert store.deliveries.enqueue([item], _now()) == 0
    # another endpoint: its own delivery
    assert store.deliveries.enqueue([item, twin], _now()) == 1
    rows = store.deliveries.recent(limit=100)
    assert sorted(d.endpoint for d in rows) == ["channel:jd", "channel:pdd"]
    runtimes = [runtime(store)]
    try:
        drain(store, runtimes, seconds=30)
    finally:
        close_all(runtimes)
    assert receiver.receipts[item.event_id] == 2  # once per endpoint
    # delivered: still not queued again
    assert store.deliveries.enqueue([item, twin], _now()) == 0
    assert {d.status for d in store.deliveries.recent(limit=100)} == {DELIVERED}


def test_the_rate_limit_keeps_calls_to_each_endpoint_under_its_rate(
    store: IntegrationStores, receiver: Receiver
) -> None:
    rate, count = 20.0, 60
    items = deliveries_for(receiver, "channel:jd", count) + deliveries_for(
        receiver, "channel:pdd", count
    )
    store.deliveries.enqueue(items, _now())
    connector = runtime(store, rate=rate)
    try:
        seconds = drain(store, [connector], seconds=60)
    finally:
        connector.close()
    assert {d.status for d in store.deliveries.recent(limit=1000)} == {DELIVERED}
    assert connector.stats["postponed"] > 0
    assert sum(d.attempts for d in store.deliveries.recent(limit=1000)) == 2 * count  # none counted
    for path in ("/ok/jd", "/ok/pdd"):
        times = receiver.times(path)
        assert len(times) == count
        # the token bucket's envelope: a burst of `rate`, then `rate` per second (arrival
        # times carry the scheduling jitter of a loaded machine: a quarter second of slack)
        for i in range(len(times)):
            for j in range(i, len(times)):
                allowed = rate + rate * (times[j] - times[i] + 0.25) + 1
                assert j - i + 1 <= allowed, (path, i, j, times[j] - times[i])
        span = times[-1] - times[0]
        assert span >= (count - rate) / rate * 0.9, span
    # both endpoints were paced at the same time: the limit is per endpoint, not global
    assert seconds < 2 * (count - rate) / rate + 5


def test_an_open_circuit_postpones_calls_without_counting_attempts(
    store: IntegrationStores, receiver: Receiver
) -> None:
    items = deliveries_for(receiver, "webhook:bi", 10)
    store.deliveries.enqueue(items, _now())
    connector = runtime(store, threshold=2, cool_off=60.0)
    breaker = connector.breakers["webhook:bi"]
    try:
        assert connector.run_due(_now()) == 10  # the circuit was closed: all ten tried at once
        assert breaker.state == "open"
        assert sum(receiver.receipts.values()) == 10
        # the retries fall due (tiny backoff); the open circuit sends none of them
        deadline = time.monotonic() + 10
        postponed = 0
        while postponed == 0 and time.monotonic() < deadline:
            before = connector.stats["postponed"]
            assert connector.run_due(_now()) == 0
            postponed = connector.stats["postponed"] - before
            if postponed == 0:
                receiver.stop.wait(0.01)
        assert postponed > 0
        later = _now() + timedelta(seconds=25)
        rows = store.deliveries.recent(limit=100)
        assert {(d.status, d.attempts) for d in rows} == {(PENDING, 1)}
        assert all(d.last_error and d.last_error.startswith("HTTP 503") for d in rows)
        assert sum(receiver.receipts.values()) == 10
        deadline = time.monotonic() + 10
        while connector.stats["postponed"] < 10 and time.monotonic() < deadline:
            connector.run_due(_now())
            receiver.stop.wait(0.01)
        assert connector.stats["postponed"] == 10
        assert all(d.next_attempt_at >= later for d in store.deliveries.recent(limit=100))
        assert sum(receiver.receipts.values()) == 10

        # the cool-off passes and the receiver is fixed: one trial, then the rest
        receiver.fixed.set()
        assert breaker.opened_at is not None
        breaker.opened_at -= breaker.cool_off
        for d in store.deliveries.recent(limit=100):
            store.deliveries.postpone(d.id, _now())
        assert connector.run_due(_now()) == 1
        assert breaker.state == "closed"
        assert sum(receiver.receipts.values()) == 11
        assert [d.attempts for d in store.deliveries.recent(status=DELIVERED)] == [2]
        for d in store.deliveries.recent(status=PENDING, limit=100):
            store.deliveries.postpone(d.id, _now())
        assert connector.run_due(_now()) == 9
    finally:
        connector.close()
    rows = store.deliveries.recent(limit=100)
    assert {(d.status, d.attempts) for d in rows} == {(DELIVERED, 2)}
    assert len(receiver.applied) == 10


def test_a_half_open_trial_held_back_by_the_rate_limit_does_not_wedge_the_circuit(
    store: IntegrationStores, receiver: Receiver
) -> None:
    store.deliveries.enqueue(deliveries_for(receiver, "webhook:bi", 2), _now())
    connector = runtime(store, rate=2.0, threshold=1, cool_off=60.0)
    breaker = connector.breakers["webhook:bi"]
    try:
        assert connector.run_due(_now()) == 2  # both fail and use the bucket's two tokens
        assert breaker.state == "open"
        receiver.fixed.set()
        assert breaker.opened_at is not None
        breaker.opened_at -= breaker.cool_off
        for item in store.deliveries.recent(limit=10):
            store.deliveries.postpone(item.id, _now())
        # the circuit allows a trial but the bucket is empty: the call waits for a token (half
        # a second at 2/s); once it comes, the circuit must let the trial through
        deadline = time.monotonic() + 10
        while not store.deliveries.recent(status=DELIVERED) and time.monotonic() < deadline:
            connector.run_due(_now())
            receiver.stop.wait(0.01)
        assert len(store.deliveries.recent(status=DELIVERED)) == 1
        assert breaker.state == "closed"
        # the other call was held back while the trial ran; closed now, it goes when due
        (other,) = store.deliveries.recent(status=PENDING)
        assert other.attempts == 1
        store.deliveries.postpone(other.id, _now())
        drain(store, [connector], seconds=10)
    finally:
        connector.close()
    rows = store.deliveries.recent(limit=10)
    assert {(d.status, d.attempts) for d in rows} == {(DELIVERED, 2)}
    assert breaker.state == "closed"


def test_timeouts_are_failures_with_the_timeout_as_last_error(
    store: IntegrationStores, receiver: Receiver
) -> None:
    # every answer is late: the receiver applies each event but no acknowledgement comes in time
    with receiver.lock:
        receiver.fail_share, receiver.slow_share = 0.0, 1.0
    items = deliveries_for(receiver, "webhook:erp", 3)
    store.deliveries.enqueue(items, _now())
    connector = runtime(store, max_attempts=2, threshold=100)
    try:
        drain(store, [connector], seconds=30)
    finally:
        connector.close()
    rows = store.deliveries.recent(limit=10)
    assert {(d.status, d.attempts, d.last_error) for d in rows} == {
        (DEAD, 2, f"timed out after {TIMEOUT:g}s")
    }
    assert {d.last_status for d in rows} == {None}
    assert set(receiver.applied) == {i.event_id for i in items}  # applied once each
    assert receiver.duplicates_dropped == 3
    assert set(receiver.receipts.values()) == {2}


# -- stock pushes: what the flusher queues, and in which order ------------------------------


def _channel(store: IntegrationStores, code: str, receiver: Receiver) -> None:
    store.directory.add(
        ChannelRecord(
            code=code, adapter="generic", endpoint=f"{receiver.url}/ok/{code}",
            secret=SECRETS.get(f"channel:{code}"), allocation_ratio=1.0, buffer=0, locations=(),
            created_at=_now(),
        )
    )  # fmt: skip


def flush(store: IntegrationStores, *, waiting_since: datetime | None = None) -> int:
    """The flusher's queueing of every waiting push (those waiting since ``waiting_since``)."""
    return flush_stock(store.stock_sync, store.directory.all(), _now(), waiting_since=waiting_since)


def _stock_event(sku: str, available: int, version: int) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()), "type": "stock.changed", "occurred_at": _now().isoformat(),
        "aggregate_id": sku, "version": version, "sequence": version,
        "data": {"sku": sku, "available": available,
                 "locations": [{"location": "WH-SH", "on_hand": available, "reserved": 0,
                                "available": available}]},
    }  # fmt: skip


def test_a_snapshot_taken_before_the_first_event_is_pushed_and_acknowledged(
    store: IntegrationStores, receiver: Receiver
) -> None:
    _channel(store, "jd", receiver)
    store.stock_sync.want("jd", "TEA-1", 7, 0, _now())  # the outbox was empty: version 0
    assert flush(store) == 1
    (push,) = store.deliveries.recent(limit=10)
    assert (push.event_id, push.payload["quantity"]) == ("stock:TEA-1:0", 7)
    store.stock_sync.acked("jd", "TEA-1", 7, 0, _now())
    status = store.stock_sync.status("jd")
    assert (status.skus, status.in_sync, status.behind) == (1, 1, 0)
    assert flush(store) == 0


def test_a_newer_value_waits_until_the_push_before_it_is_settled(
    store: IntegrationStores, receiver: Receiver
) -> None:
    _channel(store, "jd", receiver)
    store.stock_sync.want("jd", "TEA-1", 5, 10, _now())
    assert flush(store) == 1
    store.stock_sync.want("jd", "TEA-1", 3, 11, _now())
    store.stock_sync.want("jd", "TEA-1", 9, 9, _now())  # older than what is wanted: ignored
    # the push of version 10 is still waiting (e.g. retrying): 11 must not overtake it
    assert flush(store) == 0
    (first,) = store.deliveries.recent(limit=10)
    store.deliveries.succeeded(first.id, 200, 1.0, _now())
    store.stock_sync.acked("jd", "TEA-1", 5, 10, _now())
    assert flush(store) == 1
    newest = store.deliveries.recent(status=PENDING, limit=10)
    assert [(d.event_id, d.payload["quantity"]) for d in newest] == [("stock:TEA-1:11", 3)]
    # a push that died does not block the channel for ever either
    store.deliveries.failed(newest[0].id, "HTTP 500", 500, 1.0, None, _now())
    store.stock_sync.want("jd", "TEA-1", 4, 12, _now())
    assert flush(store) == 1


def test_a_channel_added_while_the_hub_is_warm_is_told_the_very_next_change(
    store: IntegrationStores, receiver: Receiver
) -> None:
    recipients = Recipients(store.directory, store.webhooks)
    _channel(store, "jd", receiver)
    remember_wanted([_stock_event("TEA-1", 5, 1)], store.stock_sync, recipients, _now())
    assert recipients.channels() != []  # the channel list is now kept
    _channel(store, "pdd", receiver)
    remember_wanted([_stock_event("TEA-1", 8, 2)], store.stock_sync, recipients, _now())
    assert store.stock_sync.values("jd") == {"TEA-1": (8, None)}
    assert store.stock_sync.values("pdd") == {"TEA-1": (8, None)}


def test_the_full_compare_pushes_a_drifted_value_again_as_a_new_delivery(
    store: IntegrationStores, receiver: Receiver
) -> None:
    _channel(store, "jd", receiver)
    store.stock_sync.want("jd", "TEA-1", 5, 10, _now())
    assert flush(store) == 1
    (first,) = store.deliveries.recent(limit=10)
    store.deliveries.succeeded(first.id, 200, 1.0, _now())
    store.stock_sync.acked("jd", "TEA-1", 4, 10, _now())  # the channel kept another value
    assert flush(store) == 0
    assert store.stock_sync.requeue_drift() == 1
    assert flush(store) == 1
    again = store.deliveries.recent(status=PENDING, limit=10)
    assert [(d.event_id, d.payload["quantity"]) for d in again] == [("stock:TEA-1:10:r1", 5)]
    store.deliveries.succeeded(again[0].id, 200, 1.0, _now())
    store.stock_sync.acked("jd", "TEA-1", 5, 10, _now())
    assert store.stock_sync.requeue_drift() == 0


def test_a_value_waits_since_its_first_change_and_the_changes_meanwhile_ride_on_its_push(
    store: IntegrationStores, receiver: Receiver
) -> None:
    _channel(store, "jd", receiver)
    first = _now() - timedelta(hours=1)
    store.stock_sync.want("jd", "TEA-1", 5, 10, first)
    store.stock_sync.want("jd", "TEA-1", 3, 11, first + timedelta(seconds=0.3))
    # not waited long enough yet: the second change did not restart the wait, nor end it
    assert flush(store, waiting_since=first - timedelta(milliseconds=1)) == 0
    assert store.stock_sync.waiting_since("jd", "TEA-1") == first
    assert flush(store, waiting_since=first) == 1
    (push,) = store.deliveries.recent(limit=10)
    assert (push.event_id, push.payload["quantity"]) == ("stock:TEA-1:11", 3)
    # the next change waits from when it came, not from the first one's time
    later = first + timedelta(seconds=5)
    store.deliveries.succeeded(push.id, 200, 1.0, _now())
    store.stock_sync.want("jd", "TEA-1", 8, 12, later)
    assert store.stock_sync.waiting_since("jd", "TEA-1") == later
    assert flush(store, waiting_since=first + timedelta(seconds=1)) == 0
    assert flush(store, waiting_since=later) == 1


def test_a_delivered_stock_push_is_the_channel_acknowledging_its_value(
    store: IntegrationStores, receiver: Receiver
) -> None:
    _channel(store, "jd", receiver)
    store.stock_sync.want("jd", "TEA-1", 5, 10, _now())
    assert flush(store) == 1
    (push,) = store.deliveries.recent(limit=10)
    store.deliveries.succeeded(push.id, 200, 1.0, _now())
    assert store.stock_sync.values("jd") == {"TEA-1": (5, 5)}
    assert store.stock_sync.status("jd").in_sync == 1


@dataclass
class Flusher:
    """A stock flusher and the wake-up signal the delivery loops wait on."""

    flusher: StockFlusher
    queued: threading.Event

    def flush(self) -> float:
        return self.flusher.flush()

    def acked(self, channel: str, sku: str) -> None:
        self.flusher.acked(channel, sku)

    @property
    def wait_seconds(self) -> float:
        return self.flusher.wait_seconds


def _flusher(store: IntegrationStores, wait: timedelta) -> Flusher:
    queued = threading.Event()
    recipients = Recipients(store.directory, store.webhooks)
    flusher = StockFlusher(store.stock_sync, recipients, wait, SystemClock(), queued=queued.set)
    return Flusher(flusher, queued)


def test_a_value_that_fell_due_during_its_push_goes_when_that_push_is_acknowledged(
    store: IntegrationStores, receiver: Receiver
) -> None:
    _channel(store, "jd", receiver)
    flusher = _flusher(store, timedelta(0))  # every waiting value is due at once
    store.stock_sync.want("jd", "TEA-1", 5, 10, _now())
    flusher.flush()
    assert flusher.queued.is_set()  # the delivery loops are woken for it
    flusher.queued.clear()
    (first,) = store.deliveries.recent(status=PENDING, limit=10)
    store.stock_sync.want("jd", "TEA-1", 3, 11, _now())
    flusher.flush()  # 10 is in flight: 11 may not overtake it
    assert [d.event_id for d in store.deliveries.recent(status=PENDING, limit=10)] == [
        first.event_id
    ]
    assert not flusher.queued.is_set()
    store.deliveries.succeeded(first.id, 200, 1.0, _now())
    flusher.acked("jd", "TEA-1")
    newest = store.deliveries.recent(status=PENDING, limit=10)
    assert [(d.event_id, d.payload["quantity"]) for d in newest] == [("stock:TEA-1:11", 3)]
    assert flusher.queued.is_set()


def test_a_value_not_due_yet_is_left_to_the_flusher_when_the_push_before_it_is_acknowledged(
    store: IntegrationStores, receiver: Receiver
) -> None:
    _channel(store, "jd", receiver)
    flusher = _flusher(store, timedelta(hours=1))
    store.stock_sync.want("jd", "TEA-1", 5, 10, _now() - timedelta(hours=2))
    flusher.flush()
    (first,) = store.deliveries.recent(status=PENDING, limit=10)
    store.stock_sync.want("jd", "TEA-1", 3, 11, _now())
    store.deliveries.succeeded(first.id, 200, 1.0, _now())
    flusher.acked("jd", "TEA-1")
    assert store.deliveries.recent(status=PENDING, limit=10) == []
    # the flusher's next turn is when 11 has waited its hour, no later than the wait
    assert 0 < flusher.flush() <= flusher.wait_seconds
    assert store.deliveries.recent(status=PENDING, limit=10) == []


def test_an_idle_flusher_looks_again_within_its_wait(
    store: IntegrationStores, receiver: Receiver
) -> None:
    _channel(store, "jd", receiver)
    flusher = _flusher(store, timedelta(seconds=0.5))
    assert flusher.flush() == 0.5
    assert store.deliveries.recent(limit=10) == []


def test_the_full_compare_leaves_a_push_in_flight_to_its_acknowledgement(
    store: IntegrationStores, receiver: Receiver
) -> None:
    _channel(store, "jd", receiver)
    store.stock_sync.want("jd", "TEA-1", 5, 10, _now())
    assert flush(store) == 1
    # queued, not acknowledged: it looks drifted, but a second push beside it could land first
    assert store.stock_sync.requeue_drift() == 0
    store.stock_sync.want("jd", "TEA-1", 3, 11, _now())
    assert flush(store) == 0
    (first,) = store.deliveries.recent(status=PENDING, limit=10)
    assert first.event_id == "stock:TEA-1:10"
    store.deliveries.succeeded(first.id, 200, 1.0, _now())
    assert flush(store) == 1
