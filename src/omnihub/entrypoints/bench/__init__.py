"""``omnihub bench``: every performance figure of omnihub, reproducible with one command, each
next to the raw limit of the same machine measured in the same run.

A suite is a module with ``run(ctx) -> {"suite.measure": {"value", "unit", "baseline",
"ratio", "params"}}``. Suites that need a server start ``omnihub serve`` as a process group of
their own on 127.0.0.1 and drive it from client processes of their own
(:mod:`omnihub.entrypoints.bench.drivers`); every load is bounded in count and time. See
docs/benchmarks.md for what each figure means and what limits it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from omnihub.entrypoints.bench.context import (
    FULL,
    QUICK,
    TINY,
    BenchContext,
    BenchFailure,
    Row,
    Sizes,
)

#: suite name -> module holding its ``run`` (imported only when the suite runs)
SUITES: dict[str, str] = {
    "ingest": "omnihub.entrypoints.bench.ingest",
    "flash-sale": "omnihub.entrypoints.bench.flash_sale",
    "routing": "omnihub.entrypoints.bench.routing",
    "fan-out": "omnihub.entrypoints.bench.fan_out",
    "relay": "omnihub.entrypoints.bench.relay",
}


def suite(name: str) -> Callable[[BenchContext], dict[str, Row]]:
    runner: Callable[[BenchContext], dict[str, Row]] = importlib.import_module(SUITES[name]).run
    return runner


__all__ = [
    "FULL",
    "QUICK",
    "SUITES",
    "TINY",
    "BenchContext",
    "BenchFailure",
    "Row",
    "Sizes",
    "suite",
]
