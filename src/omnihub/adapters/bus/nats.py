"""NATS JetStream: a stream per event family, subjects carrying the partition key, the event id
as ``Nats-Msg-Id`` (the broker drops duplicates), durable pull consumers with explicit ack.

nats-py is asyncio; the bus runs its own event loop in a background thread so the synchronous
relay and workers can use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

from nats.aio.client import Client as NATS
from nats.errors import Error as NatsError
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig
from nats.js.errors import Error as JetStreamError

from omnihub.ports import BatchHandler, BusUnavailable, Envelope, EventBus, Handler

log = logging.getLogger("omnihub.bus")

PREFIX = "omnihub"
FAMILIES = ("order", "stock", "reservation")
PUBLISH_TIMEOUT = 10.0
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def subject_for(envelope: Envelope, prefix: str = PREFIX) -> str:
    """``<prefix>.<type>.<partition key>``: the SKU for stock, the order id for orders."""
    data = envelope.get("data") or {}
    key = data.get("sku") if envelope["type"].startswith(("stock.", "reservation.")) else None
    key = key or envelope.get("aggregate_id") or "_"
    return f"{prefix}.{envelope['type']}.{_UNSAFE.sub('_', str(key))[:120]}"


def pattern_subject(pattern: str, prefix: str = PREFIX) -> str:
    if pattern.endswith(".*") or pattern.endswith(".>"):
        return f"{prefix}.{pattern[:-2]}.>"
    return f"{prefix}.{pattern}.>"


class NatsBus(EventBus):
    def __init__(self, url: str, *, connect_timeout: float = 5.0) -> None:
        # nats://host:4222/<namespace>: streams and subjects of one hub installation. Stream
        # names are upper case, so the namespace is case-insensitive: "Shop" and "shop" must not
        # be two installations fighting over the subjects of one stream.
        base, _, namespace = url.partition("://")[2].partition("/")
        self.url = url.split("://")[0] + "://" + base
        self.prefix = _UNSAFE.sub("_", namespace.strip("/")).lower() or PREFIX
        self.connect_timeout = connect_timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="nats-bus", daemon=True)
        self._thread.start()
        self._nc: Any = None
        self._js: Any = None
        self._ready = False
        self._tasks: list[Future[None]] = []
        self._closing = False
        self._attempt: asyncio.Future[None] | None = None

    def _run(self, coro: Any, timeout: float) -> Any:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except BaseException:
            future.cancel()  # a timed-out call must not go on in the background
            raise

    async def _connect(self) -> None:
        """One connection per bus, shared by the publisher and every consumer; nats-py
        reconnects it after an outage. Callers that come while an attempt runs share it, so an
        unreachable server fails each of them within connect_timeout."""
        if self._ready and self._nc is not None and self._nc.is_connected:
            return
        if self._attempt is None or self._attempt.done():
            self._attempt = asyncio.ensure_future(self._open())
        await asyncio.shield(self._attempt)

    async def _open(self) -> None:
        nc = self._nc
        if nc is None or nc.is_closed:
            nc = NATS()
            try:
                # max_reconnect_attempts=-1 makes nats-py retry even the first connect forever
                options: dict[str, Any] = {
                    "connect_timeout": self.connect_timeout,
                    "allow_reconnect": True,
                    "max_reconnect_attempts": -1,
                    "reconnect_time_wait": 0.5,
                    "error_cb": self._on_error,
                }
                await asyncio.wait_for(nc.connect(self.url, **options), self.connect_timeout)
            except BaseException:
                with contextlib.suppress(Exception):
                    await nc.close()
                raise
            self._nc, self._js, self._ready = nc, nc.jetstream(), False
        elif not nc.is_connected:  # reconnecting by itself: wait a little, not forever
            deadline = asyncio.get_running_loop().time() + self.connect_timeout
            while not nc.is_connected:
                if nc.is_closed or asyncio.get_running_loop().time() > deadline:
                    raise ConnectionError(f"NATS at {self.url} is not connected")
                await asyncio.sleep(0.05)
        if self._ready:
            return
        for family in FAMILIES:
            config = StreamConfig(
                name=self.stream_for(family),
                subjects=[f"{self.prefix}.{family}.>"],
                duplicate_window=120.0,
            )
            try:
                await self._js.add_stream(config)
            except JetStreamError:
                await self._js.update_stream(config)
        self._ready = True

    async def _on_error(self, exc: Exception) -> None:
        log.debug("NATS at %s: %s", self.url, exc)

    def connect(self) -> None:
        try:
            self._run(self._connect(), self.connect_timeout + 5)
        except Exception as exc:  # any connection failure means: not now, try later
            self._ready = False
            raise BusUnavailable(f"NATS at {self.url} is unavailable: {exc}") from exc

    async def _publish(self, envelopes: Sequence[Envelope]) -> None:
        await self._connect()
        pending = [
            self._js.publish(
                subject_for(e, self.prefix),
                json.dumps(e, separators=(",", ":")).encode(),
                headers={"Nats-Msg-Id": str(e["id"])},
                timeout=PUBLISH_TIMEOUT,
            )
            for e in envelopes
        ]
        # published concurrently, acknowledgements awaited together
        await asyncio.gather(*pending)

    def publish(self, envelopes: Sequence[Envelope]) -> None:
        if not envelopes:
            return
        try:
            self._run(self._publish(envelopes), PUBLISH_TIMEOUT + self.connect_timeout + 5)
        except Exception as exc:  # timeouts, no responders, lost connection: all retried
            self._ready = False
            raise BusUnavailable(
                f"NATS did not acknowledge {len(envelopes)} event(s): {exc}"
            ) from exc

    def subscribe(self, durable: str, patterns: Sequence[str], handler: Handler) -> None:
        def each(envelopes: list[Envelope]) -> None:
            for envelope in envelopes:
                handler(envelope)

        self.subscribe_batch(durable, patterns, each)

    def subscribe_batch(self, durable: str, patterns: Sequence[str], handler: BatchHandler) -> None:
        for pattern in patterns:
            family = pattern.split(".", 1)[0]
            families = FAMILIES if family in ("*", ">") else (family,)
            for fam in families:
                subject = (
                    pattern_subject(pattern, self.prefix)
                    if family not in ("*", ">")
                    else (f"{self.prefix}.{fam}.>")
                )
                name = f"{durable}-{fam}-{_UNSAFE.sub('_', pattern)}"[:60]
                self._tasks.append(
                    asyncio.run_coroutine_threadsafe(
                        self._consume(name, self.stream_for(fam), subject, handler), self._loop
                    )
                )

    def stream_for(self, family: str) -> str:
        return f"{self.prefix.upper()}_{family.upper()}"

    async def _consume(
        self, durable: str, stream: str, subject: str, handler: BatchHandler
    ) -> None:
        loop = asyncio.get_running_loop()
        while not self._closing:
            try:
                await self._connect()
                sub = await self._js.pull_subscribe(
                    subject,
                    durable=durable,
                    stream=stream,
                    config=ConsumerConfig(
                        ack_policy=AckPolicy.EXPLICIT, ack_wait=30, max_deliver=-1
                    ),
                )
                while not self._closing:
                    try:
                        messages = await sub.fetch(100, timeout=1.0)
                    except TimeoutError:
                        continue
                    readable = []
                    for message in messages:
                        try:
                            readable.append((message, json.loads(message.data)))
                        except ValueError:  # never readable: redelivering it would loop
                            log.error("consumer %s dropped unreadable %s", durable, message.subject)
                            await message.term()
                    if not readable:
                        continue
                    try:
                        await loop.run_in_executor(None, handler, [e for _, e in readable])
                    except Exception:  # the batch is redelivered after a short pause
                        log.exception("consumer %s failed on a batch of %d", durable, len(readable))
                        for message, _ in readable:
                            await message.nak(delay=1.0)
                    else:
                        await asyncio.gather(*(message.ack() for message, _ in readable))
            except (NatsError, JetStreamError, OSError, TimeoutError) as exc:
                if self._closing:
                    return
                log.warning("consumer %s lost NATS (%s); reconnecting", durable, exc)
                self._ready = False
                await asyncio.sleep(1.0)

    def close(self) -> None:
        self._closing = True
        for task in self._tasks:
            task.cancel()
        if self._nc is not None:
            try:
                self._run(self._nc.close(), 5)
            except Exception:  # closing a dead connection: nothing more to do
                log.debug("closing NATS failed", exc_info=True)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
