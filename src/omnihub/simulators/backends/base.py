"""What every back-end simulator adds to the channel simulators' base: routes by path prefix
(``/api/resource/Sales Order/SO-0001``), callbacks to the hub with the faults real systems
have (sent twice, sent out of order, sent before the call that caused them is answered), and
a clock that moves the simulated world on: :meth:`BackendSimulator.tick` in tests (no
sleeps), :meth:`BackendSimulator.run_every` in the demo.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx

from omnihub.simulators.base import Faults, Handler, PlatformSimulator, SimRequest, SimResponse

__all__ = ["BackendFaults", "BackendSimulator", "Callback", "SimRequest", "SimResponse"]


@dataclass
class BackendFaults(Faults):
    """The channel faults plus the back ends' own. ``duplicate_rate`` and ``out_of_order``
    apply to callbacks."""

    partial_rate: float = 0.0
    """a warehouse ships part of an order first and the rest later"""
    callback_before_answer: bool = False
    """the callback for a new document is sent before the call that created it is answered"""


@dataclass(frozen=True, slots=True)
class Callback:
    label: str
    url: str
    body: bytes
    headers: dict[str, str]
    params: dict[str, str] | None = None


class BackendSimulator(PlatformSimulator):
    def __init__(self, *, secret: str = "sim-secret", seed: int = 7) -> None:
        super().__init__(secret=secret, seed=seed)
        self.seed = seed
        # the base serves with the default half-second poll: stopping would take that long
        self.thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.1},
            daemon=True,
            name=f"{self.name}-simulator",
        )
        # answers go out as two writes (head, body): without TCP_NODELAY the second waits for
        # the client's delayed acknowledgement, some 40 ms a call
        accept = self.server.get_request

        def get_request() -> tuple[socket.socket, Any]:
            connection, address = accept()
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return connection, address

        self.server.get_request = get_request  # type: ignore[method-assign]
        self.faults: BackendFaults = BackendFaults()
        self.prefixes: list[tuple[str, str]] = []
        self.callbacks: list[tuple[str, int]] = []
        """(label, hub's HTTP status) of every callback sent, in sending order"""
        self.callback_log: list[Callback] = []
        self._held: Callback | None = None
        self._ticker: threading.Thread | None = None
        self._stopping = threading.Event()
        self.callback_attempts = 3

    def reset(self) -> None:
        """Forget everything (data, faults, what was sent and received) but keep serving: a
        started simulator is reused by many tests."""
        self.stop_clock()
        with self.lock:
            self.faults = BackendFaults()
            self.rng.seed(self.seed)
            self.calls.clear()
            self.refused.clear()
            self.callbacks.clear()
            self.callback_log.clear()
            self._held = None
            self.fresh()

    def fresh(self) -> None:
        """Set the simulated system's data to its empty state (subclasses)."""

    # -- routing ------------------------------------------------------------------------------
    def route_prefix(self, method: str, prefix: str, handler: Handler) -> None:
        """Serve every path under ``prefix``; the rest of the path is ``query["_rest"]``."""
        self.prefixes.append((method, prefix))
        self.route(method, prefix, handler)

    def handle(self, request: SimRequest) -> SimResponse:
        request.path = unquote(request.path)
        if (request.method, request.path) not in self.routes:
            for method, prefix in self.prefixes:
                if method == request.method and request.path.startswith(prefix + "/"):
                    request.query["_rest"] = request.path[len(prefix) + 1 :]
                    request.path = prefix
                    break
        return super().handle(request)

    # -- callbacks to the hub -----------------------------------------------------------------
    def send(self, callback: Callback) -> None:
        """Send a callback as the system would, with the configured faults: twice
        (``duplicate_rate``), or held back and sent after the next one (``out_of_order``)."""
        if self.faults.out_of_order:
            with self.lock:
                held, self._held = self._held, None
                if held is None:
                    self._held = callback
                    return
            self._post(callback)
            self._post(held)
            return
        self._post(callback)
        if self.roll(self.faults.duplicate_rate):
            self._post(callback)

    def flush(self) -> None:
        """Send a callback held back by ``out_of_order``."""
        with self.lock:
            held, self._held = self._held, None
        if held is not None:
            self._post(held)

    def _post(self, callback: Callback) -> None:
        status = 0
        for attempt in range(self.callback_attempts):
            try:
                status = self.client.post(
                    callback.url,
                    content=callback.body,
                    headers=callback.headers,
                    params=callback.params,
                ).status_code
            except httpx.HTTPError:
                status = 0
            if status and status < 500:
                break
            time.sleep(0.05 * (attempt + 1))
        with self.lock:
            self.callbacks.append((callback.label, status))
            self.callback_log.append(callback)

    # -- the simulated clock --------------------------------------------------------------------
    def tick(self) -> int:
        """Move the world one step; returns how many things changed."""
        return 0

    def run_every(self, seconds: float) -> None:
        """Tick in the background (the demo) until ``stop_clock()`` or ``stop()``."""
        self.stop_clock()
        stopping = self._stopping = threading.Event()

        def loop() -> None:
            while not stopping.wait(seconds):
                try:
                    self.tick()
                except Exception:  # a simulator keeps going, like the real thing  # noqa: BLE001
                    continue

        self._ticker = threading.Thread(target=loop, daemon=True, name=f"{self.name}-clock")
        self._ticker.start()

    def stop_clock(self) -> None:
        self._stopping.set()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
            self._ticker = None

    def stop(self) -> None:
        self.stop_clock()
        super().stop()
