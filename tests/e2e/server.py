"""Start a real ``omnihub serve`` as a subprocess on 127.0.0.1 and stop exactly what was started.

The server runs in its own session (so its own process group): uvicorn's supervisor, its worker
processes and multiprocessing's resource tracker all share that group, and stopping sends SIGTERM
to that group only, then SIGKILL to whatever is left after a grace period.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

STARTUP_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
_POLL_SECONDS = 0.1
_PORT_ATTEMPTS = 3


class ServerFailedToStart(RuntimeError):
    pass


def omnihub_command() -> list[str]:
    """The ``omnihub`` script next to this interpreter, else the CLI module run by it."""
    script = Path(sys.executable).with_name("omnihub")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "omnihub.entrypoints.cli"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_env(settings: dict[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without any OMNIHUB_* setting that could redirect the server,
    plus the test's own ``settings`` (OMNIHUB_* names)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIHUB_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(settings or {})
    return env


def _worker_count(pid: int) -> int | None:
    """How many uvicorn worker processes (multiprocessing spawns) ``pid`` has; None off Linux."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    count = 0
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid != pid:
                continue
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue  # the process went away while we looked
        if b"multiprocessing.spawn" in cmdline:
            count += 1
    return count


def _tail(path: Path, limit: int = 4000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no output)"
    return text[-limit:] or "(empty)"


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a pid reused by someone else's group: not ours any more
        return False
    return True


def stop(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """SIGTERM the server's process group, SIGKILL it if anything is left after ``timeout``."""
    pgid = process.pid  # start_new_session=True made the server the leader of its own group
    if process.poll() is None or _group_alive(pgid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=max(0.0, deadline - time.monotonic()))
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(_POLL_SECONDS)
    if process.poll() is None or _group_alive(pgid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        process.wait(timeout=timeout)


def _start_once(
    database_url: str,
    workers: int,
    workdir: Path,
    timeout: float,
    settings: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    stdout = workdir / f"server-{port}.out"
    stderr = workdir / f"server-{port}.err"
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
            cwd=workdir,
            env=_server_env(settings),
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    healthy = False
    try:
        with httpx.Client(base_url=base_url, timeout=2.0, trust_env=False) as client:
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    break
                if not healthy:
                    with contextlib.suppress(httpx.TransportError):
                        healthy = client.get("/health").status_code == 200
                if healthy:
                    # one worker runs in the server process itself: nothing spawned to count
                    running = _worker_count(process.pid) if workers > 1 else None
                    if running is None or running >= workers:
                        return process, base_url
                time.sleep(_POLL_SECONDS)
    except BaseException:
        stop(process)
        raise
    stop(process)
    why = (
        f"exited with status {process.returncode}"
        if process.returncode is not None and not healthy
        else f"did not answer GET /health with {workers} worker(s) up within {timeout:g} s"
    )
    raise ServerFailedToStart(
        f"omnihub serve on {base_url} {why}.\ncommand: {' '.join(command)}\n"
        f"--- stderr ---\n{_tail(stderr)}\n--- stdout ---\n{_tail(stdout)}"
    )


@contextlib.contextmanager
def running_server(
    database_url: str,
    *,
    workers: int = 4,
    workdir: Path,
    startup_timeout: float = STARTUP_TIMEOUT_SECONDS,
    settings: dict[str, str] | None = None,
) -> Iterator[str]:
    """Serve ``database_url`` with ``workers`` processes; yields the base URL, stops on exit."""
    workdir.mkdir(parents=True, exist_ok=True)
    last: ServerFailedToStart | None = None
    for _ in range(_PORT_ATTEMPTS):  # the free port may be taken between probe and bind
        try:
            process, base_url = _start_once(
                database_url, workers, workdir, startup_timeout, settings
            )
        except ServerFailedToStart as exc:
            if "address already in use" not in str(exc).lower():
                raise
            last = exc
            continue
        try:
            yield base_url
        finally:
            stop(process)
        return
    assert last is not None
    raise last
