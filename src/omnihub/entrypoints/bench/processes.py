"""Servers under measurement, each a process group of its own on 127.0.0.1: ``omnihub serve``
and the empty FastAPI app of the HTTP floor. Stopping one signals its group only (uvicorn's
supervisor, its workers and multiprocessing's helper), SIGTERM first, SIGKILL after a grace."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from omnihub.entrypoints.bench.context import BenchFailure

STARTUP_SECONDS = 60.0
STOP_SECONDS = 10.0
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Server:
    base_url: str
    pid: int

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server and every process it started (its workers)."""
        return tree_cpu_seconds(self.pid)


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU of ``root`` and its descendants alive now (0 off Linux)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return 0.0
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat(int(entry.name))
        except (OSError, IndexError):
            continue  # gone while we looked
        parents[int(entry.name)] = int(fields[1])
        ticks[int(entry.name)] = int(fields[11]) + int(fields[12])
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += ticks.get(pid, 0)
        todo.extend(child for child, parent in parents.items() if parent == pid)
    return total / _TICKS


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, every core summed: the
    share busy over a run shows whether the machine (other people's work included) was full."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0, 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields) - idle) / _TICKS, sum(fields) / _TICKS


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def omnihub_command() -> list[str]:
    """The ``omnihub`` script next to this interpreter, else the CLI module run by it."""
    script = Path(sys.executable).with_name("omnihub")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "omnihub.entrypoints.cli"]


def _spawned_workers(pid: int) -> int | None:
    """How many uvicorn worker processes (multiprocessing spawns) ``pid`` has; None off Linux."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    count = 0
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == pid and b"multiprocessing.spawn" in (entry / "cmdline").read_bytes():
                count += 1
        except (OSError, ValueError, IndexError):
            continue  # the process went away while we looked
    return count


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def stop(process: subprocess.Popen[bytes]) -> None:
    pgid = process.pid  # start_new_session=True: the server leads its own group
    if process.poll() is None or _group_alive(pgid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_SECONDS)
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if process.poll() is None or _group_alive(pgid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        process.wait(timeout=STOP_SECONDS)


def _environment(settings: dict[str, str]) -> dict[str, str]:
    """The caller's environment without any OMNIHUB_* setting, plus the suite's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIHUB_")}
    return {**env, "PYTHONUNBUFFERED": "1", **settings}


@dataclass(frozen=True)
class Launch:
    """A server to start: its command line, port, worker processes and settings."""

    command: list[str]
    port: int
    workers: int
    workdir: Path
    settings: dict[str, str]


def hub_launch(
    database_url: str, *, workers: int, workdir: Path, settings: dict[str, str] | None = None
) -> Launch:
    """``omnihub serve`` on a free port with these OMNIHUB_* settings."""
    port = free_port()
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
    return Launch(command, port, workers, workdir, settings or {})


def floor_launch(*, workers: int, workdir: Path) -> Launch:
    """The empty FastAPI app (:mod:`omnihub.entrypoints.bench.floor_app`) on the same uvicorn
    settings as ``omnihub serve``."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "omnihub.entrypoints.bench.floor_app",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    return Launch(command, port, workers, workdir, {})


def _start(launch: Launch) -> tuple[subprocess.Popen[bytes], Path]:
    launch.workdir.mkdir(parents=True, exist_ok=True)
    log = launch.workdir / f"server-{launch.port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own programs, fixed arguments
            launch.command,
            cwd=launch.workdir,
            env=_environment(launch.settings),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return process, log


def _await_up(launch: Launch, process: subprocess.Popen[bytes], log: Path) -> Server:
    base_url = f"http://127.0.0.1:{launch.port}"
    deadline = time.monotonic() + STARTUP_SECONDS
    up = False
    with httpx.Client(base_url=base_url, timeout=2.0, trust_env=False) as client:
        while not up and time.monotonic() < deadline and process.poll() is None:
            with contextlib.suppress(httpx.TransportError):
                up = client.get("/health").status_code == 200
            if up and launch.workers > 1:  # one worker: uvicorn serves in the process itself
                running = _spawned_workers(process.pid)
                up = running is None or running >= launch.workers
            if not up:
                time.sleep(0.1)
    if not up:
        tail = log.read_text(errors="replace")[-3000:]
        raise BenchFailure(
            f"{' '.join(launch.command[:3])}... on {base_url} did not start:\n{tail}"
        )
    return Server(base_url, process.pid)


@contextlib.contextmanager
def serving(*launches: Launch) -> Iterator[list[Server]]:
    """Start every server at once, wait until each answers; stop them all on exit."""
    started: list[subprocess.Popen[bytes]] = []
    try:
        logs = []
        for launch in launches:
            process, log = _start(launch)
            started.append(process)
            logs.append(log)
        yield [
            _await_up(launch, process, log)
            for launch, process, log in zip(launches, started, logs, strict=True)
        ]
    finally:
        for process in started:
            stop(process)


@contextlib.contextmanager
def hub(
    database_url: str, *, workers: int, workdir: Path, settings: dict[str, str] | None = None
) -> Iterator[Server]:
    """``omnihub serve`` on a free port with these OMNIHUB_* settings, until the block ends."""
    launch = hub_launch(database_url, workers=workers, workdir=workdir, settings=settings)
    with serving(launch) as (server,):
        yield server
