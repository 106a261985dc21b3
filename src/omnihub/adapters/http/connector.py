"""The connector runtime: every outbound call of the hub goes through here.

Per endpoint: a rate limit (token bucket), a circuit breaker, a timeout, attempts with
exponential backoff and jitter, and after ``max_attempts`` failures the dead-letter list with the
last error. Receivers get the event id as an idempotency key, so a retry after a lost
acknowledgement, or a replay by a person, is harmless.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

from omnihub.adapters.omnihub_signature import SIGNATURE, signature
from omnihub.ports import CallRefused, Delivery, DeliveryQueue, OutboundRequest, Outcome

log = logging.getLogger("omnihub.connector")


@dataclass
class RetryPolicy:
    max_attempts: int = 8
    base_seconds: float = 0.5
    cap_seconds: float = 300.0
    timeout_seconds: float = 5.0

    def delay(self, attempts: int, rng: random.Random) -> float:
        """Exponential backoff with full jitter: uniform(0, min(cap, base * 2^attempts))."""
        # a bounded float power: many attempts reach the cap instead of overflowing to an error
        growth = 2.0 ** min(attempts, 1000)
        return rng.uniform(0, min(self.cap_seconds, self.base_seconds * growth))


@dataclass
class TokenBucket:
    rate: float
    burst: float
    tokens: float = -1.0
    stamp: float = field(default_factory=time.monotonic)

    def take(self) -> float:
        """0 if a call may go now, else the seconds to wait for a token."""
        now = time.monotonic()
        if self.tokens < 0:
            self.tokens = self.burst
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


@dataclass
class CircuitBreaker:
    """Closed → open after ``threshold`` failures in a row; half-open after ``cool_off``
    seconds lets one call through; its success closes the circuit, its failure reopens it."""

    threshold: int = 5
    cool_off: float = 10.0
    failures: int = 0
    opened_at: float | None = None
    trial: bool = False

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half_open" if time.monotonic() - self.opened_at >= self.cool_off else "open"

    def allow(self) -> bool:
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self.trial:
            self.trial = True
            return True
        return False

    def cancel(self) -> None:
        """The call just allowed is not made (held back by the rate limit): a half-open
        circuit's trial is free again, or the circuit would stay half-open for ever."""
        self.trial = False

    def success(self) -> None:
        self.failures, self.opened_at, self.trial = 0, None, False

    def failure(self) -> None:
        self.failures += 1
        self.trial = False
        if self.failures >= self.threshold or self.opened_at is not None:
            self.opened_at = time.monotonic()


Delivered = Callable[[Delivery, int], None]
Render = Callable[[Delivery], "list[OutboundRequest] | None"]
"""A platform's own calls for a delivery (a channel adapter's), or None to send the hub's
JSON envelope as it is."""
Judge = Callable[[Delivery, int, bytes], None]
"""Reads a platform's answer; raises ``CallRefused`` for an error hidden in a 200."""
Perform = Callable[[Delivery, httpx.Client], None]
"""Carries out a delivery that is a whole conversation with a back end (log in, look the
document up, save, submit...: its adapter's exchange) with the runtime's client; returns when
it is done, raises ``CallRefused`` (``retry`` False: a dead letter at once) when it is not."""


class ConnectorRuntime:
    def __init__(
        self,
        queue: DeliveryQueue,
        *,
        policy: RetryPolicy | None = None,
        rate_per_second: float = 50.0,
        secrets: Callable[[str], str | None],
        on_delivered: Delivered | None = None,
        render: Render | None = None,
        judge: Judge | None = None,
        performers: dict[str, Perform] | None = None,
        seed: int | None = None,
        concurrency: int = 16,
    ) -> None:
        self.queue = queue
        self.policy = policy or RetryPolicy()
        self.rate = rate_per_second
        self.secrets = secrets
        self.on_delivered = on_delivered
        self.render = render
        self.judge = judge
        self.performers = performers or {}
        """by the endpoint's kind (``backend`` for ``backend:<code>``)"""
        self.breakers: dict[str, CircuitBreaker] = {}
        self.buckets: dict[str, TokenBucket] = {}
        self.rng = random.Random(seed)
        self.client = httpx.Client(
            timeout=self.policy.timeout_seconds,
            limits=httpx.Limits(
                max_connections=concurrency * 2, max_keepalive_connections=concurrency
            ),
        )
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="connector")
        self.lock = threading.Lock()
        self.stats = {"attempts": 0, "delivered": 0, "retried": 0, "dead": 0, "postponed": 0}

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.client.close()

    def breaker(self, endpoint: str) -> CircuitBreaker:
        with self.lock:
            return self.breakers.setdefault(endpoint, CircuitBreaker())

    def run_due(self, now: datetime, limit: int = 200) -> int:
        """Attempt every due delivery once, in parallel; returns how many were attempted."""
        due = self.queue.claim_due(now, limit)
        if not due:
            return 0
        ready: list[Delivery] = []
        outcomes: list[Outcome] = []
        for delivery in due:
            wait = self._gate(delivery.endpoint)
            if wait:
                outcomes.append(
                    Outcome(delivery.id, now, postpone_until=now + timedelta(seconds=wait))
                )
                self.stats["postponed"] += 1
            else:
                ready.append(delivery)
        results = list(self.pool.map(self._send, ready))
        outcomes.extend(results)
        self.queue.record(outcomes)
        if self.on_delivered is not None:
            for delivery, outcome in zip(ready, results, strict=True):
                if outcome.error is None:
                    self.on_delivered(delivery, outcome.status or 200)
        return len(ready)

    def _gate(self, endpoint: str) -> float:
        """0 when a call may go now; else seconds to wait (circuit open or over the rate)."""
        breaker = self.breaker(endpoint)
        if not breaker.allow():
            return breaker.cool_off / 2
        with self.lock:
            bucket = self.buckets.setdefault(endpoint, TokenBucket(self.rate, self.rate))
            wait = bucket.take()
        if wait:
            breaker.cancel()
        return wait

    def _send(self, delivery: Delivery) -> Outcome:
        started = time.perf_counter()
        perform = self.performers.get(delivery.endpoint.partition(":")[0])
        if perform is not None:
            return self._perform(delivery, perform, started)
        try:
            calls = self.render(delivery) if self.render is not None else None
        except Exception as exc:  # a payload the adapter can't turn into a call: never will
            log.exception("cannot build the call for delivery %s", delivery.event_id)
            return self._result(
                delivery, started, f"cannot build the call: {exc}", None, final=True
            )
        if calls is None:
            return self._send_envelope(delivery)
        status: int | None = None
        error: str | None = None
        final = False
        for call in calls:  # a delivery may take several calls (one per mapped item): all must
            try:
                response = self.client.request(
                    call.method,
                    call.url,
                    content=call.body or None,
                    headers=call.headers,
                    params=call.params,
                )
                status = response.status_code
                if self.judge is not None:
                    self.judge(delivery, status, response.content)
                elif not 200 <= status < 300:
                    error = f"HTTP {status}: {response.text[:300]}"
            except httpx.TimeoutException:
                error = f"timed out after {self.policy.timeout_seconds:g}s"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            except CallRefused as exc:
                error = f"{exc.code + ': ' if exc.code else ''}{exc}"[:500]
                final = not exc.retry
            if error is not None:
                break
        return self._result(delivery, started, error, status, final=final)

    def _perform(self, delivery: Delivery, perform: Perform, started: float) -> Outcome:
        """A back end's exchange: retries, backoff, breaker and dead letters as for any call."""
        error: str | None = None
        final = False
        try:
            perform(delivery, self.client)
        except CallRefused as exc:
            error = f"{exc.code + ': ' if exc.code else ''}{exc}"[:500]
            final = not exc.retry
        except Exception as exc:  # a fault of ours: retried, and a dead letter in the end
            log.exception("delivery %s to %s failed", delivery.event_id, delivery.endpoint)
            error = f"{type(exc).__name__}: {exc}"[:500]
        return self._result(delivery, started, error, None if error else 200, final=final)

    def _send_envelope(self, delivery: Delivery) -> Outcome:
        endpoint = delivery.endpoint
        body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Omnihub-Event": delivery.event_type,
            "X-Omnihub-Event-Id": delivery.event_id,
            "X-Omnihub-Timestamp": timestamp,
            "Idempotency-Key": delivery.event_id,
        }
        secret = self.secrets(endpoint)
        if secret:
            headers[SIGNATURE] = signature(secret, timestamp, body)
        started = time.perf_counter()
        status: int | None = None
        try:
            response = self.client.post(delivery.url, content=body, headers=headers)
            status = response.status_code
            error = None if 200 <= status < 300 else f"HTTP {status}: {response.text[:300]}"
        except httpx.TimeoutException:
            error = f"timed out after {self.policy.timeout_seconds:g}s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        return self._result(delivery, started, error, status)

    def _result(
        self,
        delivery: Delivery,
        started: float,
        error: str | None,
        status: int | None,
        *,
        final: bool = False,
    ) -> Outcome:
        """Count the attempt; delivered, retried later, or dead (after the last attempt, or
        at once for an answer no retry can change)."""
        endpoint = delivery.endpoint
        latency = (time.perf_counter() - started) * 1000
        finished = datetime.now(UTC)
        breaker = self.breaker(endpoint)
        with self.lock:
            self.stats["attempts"] += 1
            if error is None:
                breaker.success()
                self.stats["delivered"] += 1
            else:
                breaker.failure()
        if error is None:
            return Outcome(delivery.id, finished, status=status, latency_ms=latency)
        attempts = delivery.attempts + 1
        if attempts >= self.policy.max_attempts or final:
            with self.lock:
                self.stats["dead"] += 1
            log.warning(
                "delivery %s to %s dead after %d attempts: %s",
                delivery.event_id,
                endpoint,
                attempts,
                error,
                extra={"event_id": delivery.event_id, "endpoint": endpoint},
            )
            return Outcome(delivery.id, finished, error=error, status=status, latency_ms=latency)
        with self.lock:
            self.stats["retried"] += 1
            delay = self.policy.delay(attempts, self.rng)
        return Outcome(
            delivery.id,
            finished,
            error=error,
            status=status,
            latency_ms=latency,
            retry_at=finished + timedelta(seconds=delay),
        )
