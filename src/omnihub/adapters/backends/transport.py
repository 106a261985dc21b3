"""Runs an adapter's exchange over HTTP. The only place a back-end call leaves the process;
retries are the connector runtime's, not this module's."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import httpx

from omnihub.adapters.backends.registry import adapter_for
from omnihub.ports import (
    Answer,
    BackendAdapter,
    BackendConfig,
    BackendGateway,
    CallRefused,
    Exchange,
    OutboundRequest,
)

T = TypeVar("T")

Send = Callable[[OutboundRequest], Answer]


def run(exchange: Exchange[T], send: Send) -> T:
    """Drive ``exchange`` to its end: send each request it yields, hand it the answer."""
    try:
        request = next(exchange)
        while True:
            request = exchange.send(send(request))
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    finally:
        exchange.close()


class HttpSender:
    """Sends one request; ``CallRefused(retry=True)`` when the system can't be reached or
    does not answer in time (the exchange reads every answer, errors included)."""

    def __init__(self, client: httpx.Client, system: str, timeout: float | None = None) -> None:
        self.client = client
        self.system = system
        self.timeout = timeout
        self.sent: list[OutboundRequest] = []

    def __call__(self, request: OutboundRequest) -> Answer:
        self.sent.append(request)
        try:
            response = self.client.request(
                request.method,
                request.url,
                content=request.body or None,
                headers=request.headers,
                params=request.params,
                timeout=self.timeout if self.timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.TimeoutException as exc:
            raise CallRefused(
                f"{self.system}: no answer in time ({exc})", retry=True, code="timeout"
            ) from exc
        except httpx.HTTPError as exc:
            raise CallRefused(
                f"{self.system}: {type(exc).__name__}: {exc}", retry=True, code="unreachable"
            ) from exc
        return Answer(
            response.status_code,
            response.content,
            {k.lower(): v for k, v in response.headers.items()},
        )


def call(
    client: httpx.Client, exchange: Exchange[T], system: str, timeout: float | None = None
) -> T:
    """Run one exchange with ``client``."""
    return run(exchange, HttpSender(client, system, timeout))


class HttpBackendGateway(BackendGateway):
    """The back ends over HTTP with one client: the registry's adapter for each, and its
    exchanges run with the back end's timeout."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def adapter(self, config: BackendConfig) -> BackendAdapter:
        return adapter_for(config.adapter)

    def run(self, config: BackendConfig, exchange: Exchange[T]) -> T:
        return call(self.client, exchange, config.code, config.timeout_seconds)
