"""Fixtures of the benchmark smoke tests: a tiny load, servers on 127.0.0.1, NATS when asked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from omnihub.entrypoints.bench import TINY, BenchContext, BenchFailure
from omnihub.entrypoints.bench.buses import nats_admin

NATS_URL = os.environ.get("OMNIHUB_TEST_NATS_URL", "nats://127.0.0.1:4222").rstrip("/")
IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture
def tiny(tmp_path: Path) -> BenchContext:
    """Every suite's load cut to seconds; one server process (the fastest to start)."""
    return BenchContext(workdir=tmp_path, sizes=TINY, server_workers=1)


@pytest.fixture(scope="session")
def bench_nats_url() -> str:
    """NATS JetStream for the tests marked ``nats``: FAILS under CI=true when unreachable."""
    try:
        nats_admin(NATS_URL)
    except BenchFailure as exc:
        if IN_CI:
            pytest.fail(str(exc), pytrace=False)
        pytest.skip(str(exc))
    return NATS_URL
