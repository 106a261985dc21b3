"""The connector runtime's policies (backoff, rate limit, circuit breaker, signature) and the pure
rules of webhook subscriptions and channel stock (issue 3, DESIGN.md §6-7)."""

from __future__ import annotations

import hashlib
import hmac
import math
import random
import statistics
import time
from datetime import UTC, datetime
from fractions import Fraction

import pytest

from omnihub.adapters.http.connector import CircuitBreaker, RetryPolicy, TokenBucket
from omnihub.adapters.omnihub_signature import signature as sign
from omnihub.domain.errors import InvalidInput
from omnihub.domain.integration import (
    MIN_SECRET_LENGTH,
    published_quantity,
    validate_subscription,
)
from omnihub.ports import Subscription

pytestmark = pytest.mark.unit

SAMPLES = 4000
GOOD_SECRET = "s" * MIN_SECRET_LENGTH


# -- backoff ---------------------------------------------------------------------------------


def test_backoff_draws_full_jitter_between_zero_and_a_ceiling_that_doubles_per_attempt() -> None:
    policy = RetryPolicy(base_seconds=0.5, cap_seconds=1000.0)
    rng = random.Random(3)
    for attempts in range(1, 9):
        ceiling = 0.5 * 2**attempts
        delays = [policy.delay(attempts, rng) for _ in range(SAMPLES)]
        assert all(0 <= d <= ceiling for d in delays), attempts
        # full jitter: uniform over the whole range, not "ceiling plus a little noise"
        assert min(delays) < 0.02 * ceiling
        assert max(delays) > 0.98 * ceiling
        assert statistics.fmean(delays) == pytest.approx(ceiling / 2, rel=0.05)


def test_backoff_mean_grows_exponentially_until_the_cap() -> None:
    policy = RetryPolicy(base_seconds=0.1, cap_seconds=5.0)
    rng = random.Random(11)
    means = [statistics.fmean(policy.delay(n, rng) for _ in range(SAMPLES)) for n in range(1, 6)]
    for before, after in zip(means, means[1:], strict=False):
        assert after / before == pytest.approx(2.0, rel=0.15)
    # 0.1 * 2**6 = 6.4 > cap: from here on the ceiling is the cap
    capped = [policy.delay(6, rng) for _ in range(SAMPLES)]
    assert max(capped) <= 5.0
    assert statistics.fmean(capped) == pytest.approx(2.5, rel=0.05)


@pytest.mark.parametrize("attempts", [10, 64, 1023, 1024, 5000, 100_000])
def test_backoff_never_exceeds_the_cap_however_many_attempts_were_made(attempts: int) -> None:
    policy = RetryPolicy(base_seconds=0.5, cap_seconds=300.0)
    rng = random.Random(attempts)
    delays = [policy.delay(attempts, rng) for _ in range(500)]
    assert all(0 <= d <= 300.0 for d in delays)
    assert max(delays) > 250.0


# -- rate limit ------------------------------------------------------------------------------


def test_token_bucket_lets_a_burst_through_then_asks_to_wait_one_token_interval() -> None:
    bucket = TokenBucket(rate=4.0, burst=10.0)
    assert [bucket.take() for _ in range(10)] == [0.0] * 10
    wait = bucket.take()
    assert 0 < wait <= 1 / 4.0
    assert wait == pytest.approx(1 / 4.0, abs=0.01)


def test_token_bucket_refills_at_its_rate_and_never_above_its_burst() -> None:
    bucket = TokenBucket(rate=4.0, burst=10.0)
    for _ in range(10):
        assert bucket.take() == 0.0
    bucket.stamp -= 1.0  # one second passes: four tokens
    assert [bucket.take() for _ in range(4)] == [0.0] * 4
    assert bucket.take() > 0
    bucket.stamp -= 3600.0  # an hour idle: a full bucket, not 14,400 calls at once
    granted = 0
    while bucket.take() == 0.0 and granted < 100:
        granted += 1
    assert granted == 10


def test_token_bucket_paces_callers_at_its_rate_after_the_burst() -> None:
    rate, burst = 50.0, 5.0
    bucket = TokenBucket(rate=rate, burst=burst)
    granted: list[float] = []
    started = time.monotonic()
    deadline = started + 0.6
    while time.monotonic() < deadline:
        wait = bucket.take()
        if wait == 0.0:
            granted.append(time.monotonic() - started)
        else:
            assert wait <= 1 / rate + 1e-9
            time.sleep(wait)  # bounded: the bucket says how long, at most one token interval
    elapsed = time.monotonic() - started
    assert len(granted) <= burst + rate * elapsed + 1
    assert len(granted) >= burst + rate * 0.6 * 0.7  # paced, not starved
    after_burst = granted[int(burst) :]
    gaps = [b - a for a, b in zip(after_burst, after_burst[1:], strict=False)]
    assert statistics.median(gaps) == pytest.approx(1 / rate, rel=0.3)


# -- circuit breaker -------------------------------------------------------------------------


def _cool_off_passes(breaker: CircuitBreaker) -> None:
    assert breaker.opened_at is not None
    breaker.opened_at -= breaker.cool_off


def test_circuit_opens_after_threshold_failures_in_a_row_and_refuses_calls() -> None:
    breaker = CircuitBreaker(threshold=3, cool_off=30.0)
    assert breaker.state == "closed"
    breaker.failure()
    breaker.failure()
    assert breaker.state == "closed"
    assert breaker.allow()
    breaker.failure()
    assert breaker.state == "open"
    assert not breaker.allow()
    assert not breaker.allow()


def test_a_success_resets_the_count_of_failures_in_a_row() -> None:
    breaker = CircuitBreaker(threshold=3, cool_off=30.0)
    breaker.failure()
    breaker.failure()
    breaker.success()
    breaker.failure()
    breaker.failure()
    assert breaker.state == "closed"
    breaker.failure()
    assert breaker.state == "open"


def test_half_open_circuit_lets_exactly_one_trial_through_and_its_success_closes_it() -> None:
    breaker = CircuitBreaker(threshold=2, cool_off=30.0)
    breaker.failure()
    breaker.failure()
    assert breaker.state == "open"
    _cool_off_passes(breaker)
    assert breaker.state == "half_open"
    assert breaker.allow()
    assert [breaker.allow() for _ in range(5)] == [False] * 5
    breaker.success()
    assert breaker.state == "closed"
    assert all(breaker.allow() for _ in range(5))
    breaker.failure()
    assert breaker.state == "closed"  # the count started again from zero


def test_a_failed_trial_reopens_the_circuit_for_another_full_cool_off() -> None:
    breaker = CircuitBreaker(threshold=2, cool_off=30.0)
    breaker.failure()
    breaker.failure()
    _cool_off_passes(breaker)
    assert breaker.allow()
    breaker.failure()
    assert breaker.state == "open"
    assert not breaker.allow()
    _cool_off_passes(breaker)
    assert breaker.state == "half_open"
    assert breaker.allow()
    assert not breaker.allow()


def test_the_circuit_half_opens_by_itself_once_the_cool_off_has_elapsed() -> None:
    breaker = CircuitBreaker(threshold=1, cool_off=0.05)
    breaker.failure()
    assert breaker.state == "open"
    deadline = time.monotonic() + 2.0
    while breaker.state == "open" and time.monotonic() < deadline:
        time.sleep(0.005)
    assert breaker.state == "half_open"
    assert breaker.allow()
    assert not breaker.allow()


# -- signature -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "timestamp", "body"),
    [
        ("whsec_0123456789abcdef", "1718676000", b'{"id":"e1","type":"stock.changed"}'),
        ("秘密秘密秘密秘密秘密秘密秘密秘密", "1", '{"sku":"茶-1"}'.encode()),
        ("x" * 64, "1718676000", b""),
    ],
)
def test_signature_is_hmac_sha256_of_timestamp_dot_body_with_the_secret(
    secret: str, timestamp: str, body: bytes
) -> None:
    expected = hmac.new(
        secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    signature = sign(secret, timestamp, body)
    assert signature == f"sha256={expected}"
    assert hmac.compare_digest(signature, "sha256=" + expected)


def test_signature_changes_with_the_secret_the_timestamp_and_the_body() -> None:
    base = sign("a" * 16, "100", b"{}")
    assert sign("b" * 16, "100", b"{}") != base
    assert sign("a" * 16, "101", b"{}") != base
    assert sign("a" * 16, "100", b"{ }") != base


# -- webhook subscriptions -------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "example.com/hook",
        "http://",
        "nats://127.0.0.1:4222",
        "",
    ],
)
def test_a_subscription_url_that_is_not_http_or_https_is_refused(url: str) -> None:
    with pytest.raises(InvalidInput, match=r"url must be an http:// or https:// address"):
        validate_subscription(url, ["order.*"], GOOD_SECRET)


@pytest.mark.parametrize("event", ["order.exploded", "stock", "stock.*.*", "parcel.*", "ORDER.*"])
def test_an_unknown_event_name_is_refused_with_the_list_of_known_ones(event: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_subscription("https://erp.example.com/hook", ["stock.changed", event], GOOD_SECRET)
    message = str(caught.value)
    assert f"unknown event {event!r}" in message
    assert "stock.changed" in message
    assert "order.*" in message


def test_a_subscription_without_events_is_refused() -> None:
    with pytest.raises(InvalidInput, match="at least one event"):
        validate_subscription("https://erp.example.com/hook", [], GOOD_SECRET)


@pytest.mark.parametrize("secret", ["", "short", "s" * (MIN_SECRET_LENGTH - 1)])
def test_a_secret_shorter_than_sixteen_characters_is_refused(secret: str) -> None:
    with pytest.raises(InvalidInput, match=r"secret must be at least 16 characters"):
        validate_subscription("https://erp.example.com/hook", ["order.*"], secret)


def test_a_valid_subscription_keeps_its_patterns_once_each_in_order() -> None:
    events = validate_subscription(
        "http://127.0.0.1:9000/hook",
        ["stock.changed", "order.*", "stock.changed", "reservation.expired"],
        GOOD_SECRET,
    )
    assert events == ["stock.changed", "order.*", "reservation.expired"]
    assert validate_subscription("https://x.example/h", ["*"], GOOD_SECRET) == ["*"]


# -- published quantity ----------------------------------------------------------------------

LEVELS = [
    {"location": "WH-SH", "available": 40},
    {"location": "WH-BJ", "available": 25},
    {"location": "ST-01", "available": 7},
]


def _expected(
    levels: list[dict[str, int | str]], served: list[str], ratio: str, buffer: int
) -> int:
    """The rule computed exactly, with the ratio as the decimal a person typed."""
    total = sum(int(lv["available"]) for lv in levels if not served or lv["location"] in served)
    return max(0, math.floor(Fraction(ratio) * total) - buffer)


@pytest.mark.parametrize(
    ("served", "ratio", "buffer", "expected"),
    [
        ([], "1.0", 0, 72),
        ([], "0.5", 0, 36),
        ([], "0.5", 6, 30),
        (["WH-SH"], "1.0", 0, 40),
        (["WH-SH", "ST-01"], "0.8", 2, 35),  # floor(37.6) - 2
        (["WH-BJ"], "0.33", 1, 7),  # floor(8.25) - 1
        (["ST-01"], "1.0", 7, 0),
        (["ST-01"], "1.0", 50, 0),  # never below zero
        ([], "0", 0, 0),
        (["WH-XX"], "1.0", 0, 0),  # no location of the channel holds the SKU
    ],
)
def test_published_quantity_is_floor_of_ratio_times_available_over_served_locations_less_buffer(
    served: list[str], ratio: str, buffer: int, expected: int
) -> None:
    assert _expected(LEVELS, served, ratio, buffer) == expected
    assert published_quantity(LEVELS, served, float(ratio), buffer) == expected


@pytest.mark.parametrize(
    ("ratio", "available", "expected"),
    [("0.29", 100, 29), ("0.57", 100, 57), ("0.7", 10, 7), ("0.1", 30, 3), ("0.35", 20, 7)],
)
def test_published_quantity_is_not_one_short_from_floating_point_error(
    ratio: str, available: int, expected: int
) -> None:
    levels = [{"location": "WH-SH", "available": available}]
    assert published_quantity(levels, [], float(ratio), 0) == expected


def test_published_quantity_ignores_locations_that_do_not_serve_the_channel_and_negatives() -> None:
    levels = [
        {"location": "WH-SH", "available": 10},
        {"location": "WH-BJ", "available": 1000},
        {"location": "ST-01", "available": 0},
    ]
    assert published_quantity(levels, ["WH-SH", "ST-01"], 1.0, 0) == 10
    assert published_quantity(levels, ["WH-SH", "ST-01"], 1.0, 10) == 0
    assert published_quantity(levels, ["WH-SH", "ST-01"], 1.0, 11) == 0
    assert published_quantity([], [], 1.0, 0) == 0


def test_a_subscription_wants_its_events_families_or_all() -> None:
    at = datetime(2026, 11, 11, tzinfo=UTC)
    sub = Subscription("S", "http://x", ("order.*", "stock.changed"), "s" * 16, at)
    assert sub.wants("order.held")
    assert sub.wants("stock.changed")
    assert not sub.wants("stock.repaired")
    assert not sub.wants("reservation.taken")
    assert Subscription("S", "http://x", ("*",), "s" * 16, at).wants("reservation.taken")
