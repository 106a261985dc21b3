"""Load drivers: the client side of every benchmark, each in a process of its own.

``python -m omnihub.entrypoints.bench.drivers`` reads one JSON job on stdin, gets ready (builds
every request, opens every connection), prints ``ready``, waits for ``go``, runs the job and
prints one JSON line with what happened. :func:`drive` starts several such processes, releases
them together and merges their results, so a measure never includes a process start-up, an
import or a connect.

Two kinds of job:

* ``http``: a minimal HTTP/1.1 keep-alive client on asyncio (uvloop when present), one
  connection per concurrent client, requests built before the start. It spends a few tens of
  microseconds of CPU per request (reported as ``cpu_seconds``), so it can drive far more than
  the servers it measures; the suites report that figure next to each rate.
* ``sql``: threads with one raw DB-API connection each (sqlite3 or psycopg, no ORM): the
  "minimal script" baselines. ``hot_row`` is a bare conditional UPDATE of one row; ``buckets``
  a reservation taken from one of N rows of a split stock level; ``rows`` replays the rows one
  order wrote, with fresh keys, in one transaction per order.

This module imports nothing of omnihub, so a driver process starts in a fraction of a second.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import json
import os
import random
import resource
import secrets
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

READY, GO = "ready", "go"
DRIVER_TIMEOUT = 900.0


# -- the parent's side ---------------------------------------------------------------------
@dataclass
class Result:
    """The merged outcome of one load: every driver process's requests or transactions."""

    count: int = 0
    seconds: float = 0.0
    statuses: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    tracked: list[float] = field(default_factory=list)  # seconds after the start
    answered: dict[int, float] = field(default_factory=dict)  # request index -> epoch seconds
    cpu_seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_us_per_item(self) -> float:
        return 1e6 * self.cpu_seconds / self.count if self.count else 0.0


def split(start: int, stop: int, parts: int) -> list[tuple[int, int]]:
    """[start, stop) in ``parts`` contiguous ranges of nearly equal length."""
    size, rest = divmod(stop - start, parts)
    ranges, at = [], start
    for n in range(parts):
        end = at + size + (1 if n < rest else 0)
        ranges.append((at, end))
        at = end
    return ranges


def drive(jobs: Sequence[dict[str, Any]], timeout: float = DRIVER_TIMEOUT) -> Result:
    """Run each job in its own driver process, all released at once; merge what they did."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    processes = [
        subprocess.Popen(  # noqa: S603 - this module, fixed arguments
            [sys.executable, "-m", "omnihub.entrypoints.bench.drivers"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in jobs
    ]
    try:
        for process, job in zip(processes, jobs, strict=True):
            assert process.stdin is not None
            process.stdin.write(json.dumps(job) + "\n")
            process.stdin.flush()
        for process in processes:
            line = _readline(process, timeout=120.0)
            if line.strip() != READY:
                raise RuntimeError(f"a load driver did not get ready: {line!r}\n{_stderr(process)}")
        for process in processes:
            assert process.stdin is not None
            process.stdin.write(GO + "\n")
            process.stdin.flush()
        outputs = []
        # read every driver's output at once: one waiting on a full pipe stalls its result
        with concurrent.futures.ThreadPoolExecutor(len(processes)) as readers:
            try:
                answers = list(readers.map(lambda p: p.communicate(timeout=timeout), processes))
            except subprocess.TimeoutExpired as exc:
                raise RuntimeError(f"a load driver ran longer than {timeout:g} s") from exc
        for process, (out, err) in zip(processes, answers, strict=True):
            if process.returncode != 0 or not out.strip():
                raise RuntimeError(f"a load driver failed ({process.returncode}):\n{err[-3000:]}")
            outputs.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
    return _merge(outputs)


def _readline(process: subprocess.Popen[str], timeout: float) -> str:
    got: list[str] = []
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: got.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    return got[0] if got else ""


def _stderr(process: subprocess.Popen[str]) -> str:
    if process.poll() is None:
        process.kill()
    _, err = process.communicate(timeout=10)
    return err[-3000:]


def _merge(outputs: list[dict[str, Any]]) -> Result:
    result = Result()
    started = min(o["started"] for o in outputs)
    result.seconds = max(o["finished"] for o in outputs) - started
    for o in outputs:
        result.count += o["count"]
        result.statuses.update({str(k): v for k, v in o["statuses"].items()})
        result.latencies.extend(o["latencies"])
        result.tracked.extend(t - started for t in o["tracked"])
        result.answered.update({int(k): v for k, v in o.get("answered", {}).items()})
        result.cpu_seconds += o["cpu_seconds"]
        result.errors.extend(o["errors"])
    result.tracked.sort()
    return result


# -- the driver process --------------------------------------------------------------------
def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _wait_for_go() -> None:
    print(READY, flush=True)
    if sys.stdin.readline().strip() != GO:
        raise SystemExit("the parent went away")


# HTTP -------------------------------------------------------------------------------------
def _requests(job: dict[str, Any]) -> list[bytes]:
    """Every request of the job, whole: ``bodies`` cycled over the index range, ``__N__`` in a
    body replaced by the request's index (a unique order number, a unique reference)."""
    host = f"{job['host']}:{job['port']}"
    head = (
        f"{job['method']} {job['path']} HTTP/1.1\r\nHost: {host}\r\n"
        "Content-Type: application/json\r\nContent-Length: "
    ).encode()
    bodies: list[str] = job["bodies"]
    out = []
    for n in range(*job["indices"]):
        body = bodies[n % len(bodies)].replace("__N__", str(n)).encode()
        out.append(head + str(len(body)).encode() + b"\r\n\r\n" + body)
    return out


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, chunked, close = 0, False, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            close = b"close" in value.lower()
    if not chunked:
        return status, await reader.readexactly(length), close
    body = b""
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        chunk = await reader.readexactly(size + 2)
        if size == 0:
            return status, body, close
        body += chunk[:-2]


async def _http(job: dict[str, Any]) -> dict[str, Any]:
    host, port = job["host"], int(job["port"])
    requests = _requests(job)
    concurrency = max(1, min(int(job["concurrency"]), len(requests) or 1))
    retry = bool(job.get("retry", False))
    track = {int(s) for s in job.get("track", [])}
    first = int(job["indices"][0])
    keep_times = bool(job.get("answered", False))
    answered: dict[int, float] = {}
    deadline_seconds = float(job.get("max_seconds", DRIVER_TIMEOUT))
    timeout = float(job.get("timeout", 120.0))
    connections = [await asyncio.open_connection(host, port) for _ in range(concurrency)]
    await asyncio.get_running_loop().run_in_executor(None, _wait_for_go)

    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    tracked: list[float] = []
    errors: list[str] = []
    pending = iter(range(len(requests)))  # shared by every client: each takes the next
    cpu_before = _cpu_seconds()
    started = time.monotonic()
    deadline = started + deadline_seconds

    async def client(slot: int) -> None:
        reader, writer = connections[slot]
        for i in pending:
            if time.monotonic() > deadline:
                return
            for attempt in range(2):
                sent = time.perf_counter()
                try:
                    writer.write(requests[i])
                    status, body, close = await asyncio.wait_for(_response(reader), timeout)
                except (asyncio.IncompleteReadError, ConnectionError, TimeoutError) as exc:
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    if retry and attempt == 0:
                        continue  # an idempotent request: send it again on a new connection
                    statuses["transport_error"] += 1
                    if len(errors) < 5:
                        errors.append(f"request {i}: {type(exc).__name__}: {exc}")
                    break
                latencies.append(time.perf_counter() - sent)
                statuses[str(status)] += 1
                if keep_times:
                    answered[first + i] = time.time()  # the wall clock: compared with the hub's
                if status in track:
                    tracked.append(time.monotonic())
                if status >= 500 and len(errors) < 5:
                    errors.append(f"request {i}: HTTP {status}: {body[:300]!r}")
                if close:
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                break

    await asyncio.gather(*(client(n) for n in range(concurrency)))
    finished = time.monotonic()
    for _, writer in connections:
        writer.close()
    return {
        "started": started,
        "finished": finished,
        "count": sum(statuses.values()),
        "statuses": statuses,
        "latencies": latencies,
        "tracked": tracked,
        "answered": answered,
        "cpu_seconds": _cpu_seconds() - cpu_before,
        "errors": errors,
    }


# SQL --------------------------------------------------------------------------------------
class _Connection:
    """A raw DB-API connection with the product's settings; statements use ``?``."""

    def __init__(self, dialect: str, dsn: str, synchronous: str = "FULL") -> None:
        self.dialect = dialect
        if dialect == "sqlite":
            import sqlite3

            self.raw: Any = sqlite3.connect(
                dsn, timeout=60, isolation_level=None, check_same_thread=False
            )
            for pragma in (
                "journal_mode=WAL",
                f"synchronous={synchronous}",
                "foreign_keys=ON",
                "busy_timeout=60000",
            ):
                self.raw.execute(f"PRAGMA {pragma}")
            self.begin_sql = "BEGIN IMMEDIATE"
        else:
            import psycopg

            for attempt in range(60):  # a shared server may be at max_connections for a moment
                try:
                    self.raw = psycopg.connect(dsn, autocommit=True)
                    break
                except psycopg.OperationalError as exc:
                    if "too many clients" not in str(exc) or attempt == 59:
                        raise
                    time.sleep(0.5)
            self.begin_sql = "BEGIN"
        self._sql: dict[str, str] = {}

    def sql(self, statement: str) -> str:
        if self.dialect == "sqlite":
            return statement
        if statement not in self._sql:
            self._sql[statement] = statement.replace("?", "%s")
        return self._sql[statement]

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Any:
        return self.raw.execute(self.sql(statement), params)

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if self.dialect == "sqlite":
            self.raw.executemany(statement, rows)
        else:
            with self.raw.cursor() as cursor:
                cursor.executemany(self.sql(statement), rows)

    def pipeline(self) -> contextlib.AbstractContextManager[Any]:
        """PostgreSQL: send the statements without waiting for each answer (one round trip
        at the end); SQLite runs in process and has no round trips to save."""
        return self.raw.pipeline() if self.dialect == "postgresql" else contextlib.nullcontext()

    def begin(self) -> None:
        self.raw.execute(self.begin_sql)

    def commit(self) -> None:
        self.raw.execute("COMMIT")

    def rollback(self) -> None:
        self.raw.execute("ROLLBACK")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.raw.close()


Transaction = Callable[[_Connection, int], str]


def _hot_row(job: dict[str, Any]) -> Transaction:
    """The bare conditional UPDATE of one row, committed by itself."""
    statement = (
        "UPDATE bench_stock_buckets SET reserved = reserved + 1 "
        "WHERE location = ? AND sku = ? AND bucket = 0 AND on_hand - reserved - safety >= 1"
    )
    params = (job["location"], job["sku"])

    def run(conn: _Connection, n: int) -> str:
        return "reserved" if conn.execute(statement, params).rowcount == 1 else "refused"

    return run


def _buckets(job: dict[str, Any]) -> Transaction:
    """A reservation from a stock level split into N bucket rows (DESIGN.md §7): the
    conditional UPDATE on a random bucket; when that one is empty, on the fullest bucket that
    still has a unit (re-read after each lost race); then the reservation and its event, in one
    transaction. Refused only when no bucket has a unit left."""
    location, sku, buckets = job["location"], job["sku"], int(job["buckets"])
    take = (
        "UPDATE bench_stock_buckets SET reserved = reserved + 1 "
        "WHERE location = ? AND sku = ? AND bucket = ? AND on_hand - reserved - safety >= 1"
    )
    fullest = (
        "SELECT bucket FROM bench_stock_buckets WHERE location = ? AND sku = ? "
        "AND on_hand - reserved - safety >= 1 ORDER BY on_hand - reserved - safety DESC LIMIT 1"
    )
    hold = (
        "INSERT INTO bench_reservations (id, location, sku, bucket, qty, state, created_at, "
        "expires_at) VALUES (?, ?, ?, ?, 1, 'active', ?, ?)"
    )
    event = (
        "INSERT INTO bench_events (event_id, type, aggregate_id, version, occurred_at, data) "
        "VALUES (?, 'reservation.taken', ?, 1, ?, ?)"
    )
    tag = secrets.token_hex(3)
    rng = random.Random()

    def run(conn: _Connection, n: int) -> str:
        conn.begin()
        try:
            bucket: int | None = rng.randrange(buckets)
            while bucket is not None:
                if conn.execute(take, (location, sku, bucket)).rowcount == 1:
                    break
                row = conn.execute(fullest, (location, sku)).fetchone()
                bucket = None if row is None else int(row[0])
            if bucket is None:
                conn.rollback()
                return "refused"
            now = time.strftime("%Y-%m-%d %H:%M:%S")
            ident = f"{tag}{n:020d}"
            conn.execute(hold, (ident, location, sku, bucket, now, now))
            data = json.dumps(
                {
                    "reservation_id": ident,
                    "sku": sku,
                    "location": location,
                    "bucket": bucket,
                    "qty": 1,
                }
            )
            conn.execute(event, (ident, sku, now, data))
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        return "reserved"

    return run


def _rows(job: dict[str, Any]) -> Transaction:
    """The rows one order wrote, inserted again with fresh keys, and the stock it took, by
    the same conditional UPDATEs: one transaction per order."""
    tables: list[dict[str, Any]] = job["tables"]
    updates: list[dict[str, Any]] = job["updates"]
    keys: list[str] = job["keys"]
    tag = f"{secrets.token_hex(2)}{os.getpid() % 100:02d}"
    counter = itertools.count()
    lock = threading.Lock()

    def fresh(old: str) -> str:
        with lock:
            n = next(counter)
        width = max(len(old) - len(tag), 8)
        return f"{tag}{n:0{width}d}"

    variants: list[dict[str, str]] = job.get("variants") or [{}]

    def run(conn: _Connection, n: int) -> str:
        variant = variants[n % len(variants)]
        mapping = {**variant, **{old: fresh(old) for old in keys}}
        try:
            with conn.pipeline():
                conn.begin()
                for table in tables:
                    for row in table["rows"]:
                        conn.execute(
                            table["sql"],
                            [mapping.get(v, v) if isinstance(v, str) else v for v in row],
                        )
                taken = [
                    conn.execute(
                        update["sql"],
                        [variant.get(v, v) if isinstance(v, str) else v for v in update["params"]],
                    )
                    for update in updates
                ]
            if any(cursor.rowcount != 1 for cursor in taken):
                conn.rollback()
                return "refused"
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        return "stored"

    return run


_TRANSACTIONS: dict[str, Callable[[dict[str, Any]], Transaction]] = {
    "hot_row": _hot_row,
    "buckets": _buckets,
    "rows": _rows,
}


def _sql(job: dict[str, Any]) -> dict[str, Any]:
    start, stop = job["indices"]
    threads = max(1, min(int(job["threads"]), stop - start or 1))
    connections = [
        _Connection(job["dialect"], job["dsn"], job.get("synchronous", "FULL"))
        for _ in range(threads)
    ]
    transaction = _TRANSACTIONS[job["job"]](job)
    deadline_seconds = float(job.get("max_seconds", DRIVER_TIMEOUT))
    _wait_for_go()

    pending: Iterator[int] = iter(range(start, stop))
    lock = threading.Lock()
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    tracked: list[float] = []
    errors: list[str] = []
    cpu_before = _cpu_seconds()
    started = time.monotonic()
    deadline = started + deadline_seconds

    def worker(conn: _Connection) -> None:
        while time.monotonic() < deadline:
            with lock:
                n = next(pending, None)
            if n is None:
                return
            began = time.perf_counter()
            try:
                outcome = transaction(conn, n)
            except Exception as exc:  # counted and shown: a baseline that fails is no baseline
                outcome = "error"
                with lock:
                    if len(errors) < 5:
                        errors.append(f"{type(exc).__name__}: {exc}")
            took = time.perf_counter() - began
            with lock:
                statuses[outcome] += 1
                latencies.append(took)
                if outcome == "reserved":
                    tracked.append(time.monotonic())

    pool = [threading.Thread(target=worker, args=(c,), daemon=True) for c in connections]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    finished = time.monotonic()
    for conn in connections:
        conn.close()
    return {
        "started": started,
        "finished": finished,
        "count": sum(statuses.values()),
        "statuses": statuses,
        "latencies": latencies,
        "tracked": tracked,
        "cpu_seconds": _cpu_seconds() - cpu_before,
        "errors": errors,
    }


def main() -> None:
    job = json.loads(sys.stdin.readline())
    if job["kind"] == "http":
        run: Callable[[Any], dict[str, Any]] = asyncio.run
        with contextlib.suppress(ImportError):
            import uvloop

            run = uvloop.run
        result = run(_http(job))
    else:
        result = _sql(job)
    # the event loop may have left stdout non-blocking: a result larger than the pipe (its
    # reader is busy with another driver) would then be written in part
    os.set_blocking(sys.stdout.fileno(), True)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
