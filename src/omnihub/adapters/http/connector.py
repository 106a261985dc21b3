"""The connector runtime: every outbound call of the hub goes through here.

Per endpoint: a rate limit (token bucket), a circuit breaker, a timeout, attempts with
exponential backoff and jitter, and after ``max_attempts`` failures the dead-letter list with the
last error. Receivers get the event id as an idempotency key, so a retry after a lost
acknowledgement, or a replay by a person, is harmless.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx

from omnihub.adapters.db.integration import Delivery, IntegrationStore

log = logging.getLogger("omnihub.connector")


@dataclass
class RetryPolicy:
    max_attempts: int = 8
    base_seconds: float = 0.5
    cap_seconds: float = 300.0
    timeout_seconds: float = 5.0

    def delay(self, attempts: int, rng: random.Random) -> float:
        """Exponential backoff with full jitter: uniform(0, min(cap, base * 2^attempts))."""
        return rng.uniform(0, min(self.cap_seconds, self.base_seconds * 2 ** attempts))


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

    def success(self) -> None:
        self.failures, self.opened_at, self.trial = 0, None, False

    def failure(self) -> None:
        self.failures += 1
        self.trial = False
        if self.failures >= self.threshold or self.opened_at is not None:
            self.opened_at = time.monotonic()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


Outcome = Callable[[Delivery, int], None]


class ConnectorRuntime:
    def __init__(self, store: IntegrationStore, *, policy: RetryPolicy | None = None,
                 rate_per_second: float = 50.0, secrets: Callable[[str], str | None],
                 on_delivered: Outcome | None = None, seed: int | None = None) -> None:
        self.store = store
        self.policy = policy or RetryPolicy()
        self.rate = rate_per_second
        self.secrets = secrets
        self.on_delivered = on_delivered
        self.breakers: dict[str, CircuitBreaker] = {}
        self.buckets: dict[str, TokenBucket] = {}
        self.rng = random.Random(seed)
        self.client = httpx.Client(timeout=self.policy.timeout_seconds)
        self.lock = threading.Lock()
        self.stats = {"attempts": 0, "delivered": 0, "retried": 0, "dead": 0, "postponed": 0}

    def close(self) -> None:
        self.client.close()

    def breaker(self, endpoint: str) -> CircuitBreaker:
        with self.lock:
            return self.breakers.setdefault(endpoint, CircuitBreaker())

    def run_due(self, now: datetime, limit: int = 100) -> int:
        """Attempt every due delivery once; returns how many were attempted."""
        attempted = 0
        for delivery in self.store.claim_due(now, limit):
            if self._attempt(delivery):
                attempted += 1
        return attempted

    def _attempt(self, delivery: Delivery) -> bool:
        endpoint = delivery.endpoint
        breaker = self.breaker(endpoint)
        now = datetime.now(delivery.created_at.tzinfo)
        if not breaker.allow():
            self.store.postpone(delivery.id, now + timedelta(seconds=breaker.cool_off / 2))
            self.stats["postponed"] += 1
            return False
        with self.lock:
            bucket = self.buckets.setdefault(endpoint, TokenBucket(self.rate, self.rate))
            wait = bucket.take()
        if wait > 0:
            self.store.postpone(delivery.id, now + timedelta(seconds=wait))
            self.stats["postponed"] += 1
            return False
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
            headers["X-Omnihub-Signature"] = sign(secret, timestamp, body)
        started = time.perf_counter()
        status: int | None = None
        self.stats["attempts"] += 1
        try:
            response = self.client.post(delivery.url, content=body, headers=headers)
            status = response.status_code
            error = None if 200 <= status < 300 else f"HTTP {status}: {response.text[:300]}"
        except httpx.TimeoutException:
            error = f"timed out after {self.policy.timeout_seconds:g}s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        latency = (time.perf_counter() - started) * 1000
        finished = datetime.now(delivery.created_at.tzinfo)
        if error is None:
            breaker.success()
            self.store.succeeded(delivery.id, status or 200, latency, finished)
            self.stats["delivered"] += 1
            if self.on_delivered is not None:
                self.on_delivered(delivery, status or 200)
            return True
        breaker.failure()
        attempts = delivery.attempts + 1
        if attempts >= self.policy.max_attempts:
            self.store.failed(delivery.id, error, status, latency, None, finished)
            self.stats["dead"] += 1
            log.warning("delivery %s to %s dead after %d attempts: %s", delivery.event_id,
                        endpoint, attempts, error,
                        extra={"event_id": delivery.event_id, "endpoint": endpoint})
        else:
            retry_at = finished + timedelta(seconds=self.policy.delay(attempts, self.rng))
            self.store.failed(delivery.id, error, status, latency, retry_at, finished)
            self.stats["retried"] += 1
        return True
