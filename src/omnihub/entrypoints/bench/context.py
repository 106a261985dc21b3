"""What every suite is given: the database and bus to run on, the sizes of the load, where to
keep its files; and the row every measure is reported as."""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Row = dict[str, Any]
Database = Literal["sqlite", "postgresql"]
Bus = Literal["memory", "nats"]

POSTGRES_ADMIN_URL = os.environ.get(
    "OMNIHUB_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
NATS_URL = os.environ.get("OMNIHUB_BENCH_NATS_URL", "nats://127.0.0.1:4222")


class BenchFailure(RuntimeError):
    """A suite could not run, or what it measured broke an invariant (an oversell, a lost
    push, books that do not balance): the figures of such a run mean nothing."""


@dataclass(frozen=True)
class Sizes:
    """How much load each suite drives; ``FULL`` is what the issue asks for."""

    runs: int
    warm_up: int  # requests before the first measured run, to warm every server process
    ingest_clients: tuple[int, ...]
    ingest_orders: tuple[int, ...]  # per run, for each entry of ingest_clients
    ingest_seconds: float  # a run stops sending after this long, whatever its count
    ingest_skus: int
    flash_units: int
    flash_attempts: int
    flash_clients: int
    flash_buckets: tuple[int, ...]
    fanout_skus: int
    fanout_changes: int
    fanout_channels: int
    relay_events: int
    routing_sizes: tuple[int, ...]
    routing_decisions: int


FULL = Sizes(
    runs=3,
    warm_up=100,
    ingest_clients=(1, 8, 32),
    ingest_orders=(300, 1500, 3000),
    ingest_seconds=20.0,
    ingest_skus=30,
    flash_units=1_000,
    flash_attempts=20_000,
    flash_clients=64,
    flash_buckets=(1, 2, 4, 8, 16),
    fanout_skus=100,
    fanout_changes=10_000,
    fanout_channels=5,
    relay_events=20_000,
    routing_sizes=(100, 1_000, 10_000),
    routing_decisions=2_000,
)

QUICK = Sizes(
    runs=1,
    warm_up=40,
    ingest_clients=(1, 8, 32),
    ingest_orders=(40, 150, 300),
    ingest_seconds=6.0,
    ingest_skus=30,
    flash_units=250,
    flash_attempts=5_000,
    flash_clients=64,
    flash_buckets=(1, 8),
    fanout_skus=10,
    fanout_changes=1_000,
    fanout_channels=5,
    relay_events=5_000,
    routing_sizes=(100, 1_000, 10_000),
    routing_decisions=200,
)

#: the smoke tests: every suite end to end, in seconds
TINY = Sizes(
    runs=1,
    warm_up=4,
    ingest_clients=(2,),
    ingest_orders=(10,),
    ingest_seconds=60.0,
    ingest_skus=6,
    flash_units=10,
    flash_attempts=100,
    flash_clients=8,
    flash_buckets=(1, 4),
    fanout_skus=4,
    fanout_changes=120,
    fanout_channels=5,
    relay_events=300,
    routing_sizes=(100, 1_000),
    routing_decisions=30,
)


def _no_progress(message: str) -> None:
    return


@dataclass
class BenchContext:
    workdir: Path
    sizes: Sizes = FULL
    db: Database = "sqlite"
    bus: Bus = "memory"
    server_workers: int = field(default_factory=lambda: max(1, os.cpu_count() or 1))
    postgres_admin_url: str = POSTGRES_ADMIN_URL
    nats_url: str = NATS_URL
    progress: Callable[[str], None] = _no_progress

    @property
    def label(self) -> str:
        return f"{self.db}+{self.bus}"


def measure(
    value: float | None,
    unit: str,
    baseline: float | None,
    params: dict[str, Any],
    *,
    digits: int = 1,
) -> Row:
    """One row of the report. ``ratio`` is value / baseline: for a rate, the share of the
    machine's floor the product reaches; for a latency, how many times the floor it takes."""
    ratio = None
    if value is not None and baseline:
        ratio = round(value / baseline, 3)
    return {
        "value": None if value is None else round(value, digits),
        "unit": unit,
        "baseline": None if baseline is None else round(baseline, digits),
        "ratio": ratio,
        "params": params,
    }


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest rank: the sample below which a share ``q`` of the samples lie."""
    if not samples:
        raise BenchFailure("no samples to take a percentile of")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))
