"""The bus a suite's hub runs on: the in-process bus, or NATS JetStream under a namespace of the
suite's own whose streams are deleted afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator, Sequence

from omnihub.entrypoints.bench.context import BenchContext, BenchFailure


async def _admin(url: str, prefixes: Sequence[str] = ()) -> None:
    import nats
    from nats.js.errors import NotFoundError

    nc = await nats.connect(url, connect_timeout=2, allow_reconnect=False, max_reconnect_attempts=0)
    try:
        js = nc.jetstream()
        await js.account_info()
        if prefixes:
            for info in await js.streams_info():
                if info.config.name and info.config.name.startswith(tuple(prefixes)):
                    with contextlib.suppress(NotFoundError):
                        await js.delete_stream(info.config.name)
    finally:
        await nc.close()


def nats_admin(url: str, delete_prefixes: Sequence[str] = ()) -> None:
    """Check that JetStream answers at ``url``; delete the streams whose names start so."""
    try:
        asyncio.run(asyncio.wait_for(_admin(url, delete_prefixes), 15))
    except Exception as exc:  # unreachable, no JetStream: the same to a benchmark
        raise BenchFailure(
            f"NATS JetStream is not reachable at {url} ({type(exc).__name__}: {exc})"
        ) from exc


def stream_prefix(bus_url: str) -> str:
    """What the streams of a namespaced bus URL are called, up to the event family."""
    return bus_url.partition("://")[2].partition("/")[2].upper() + "_"


@contextlib.contextmanager
def bus_url(ctx: BenchContext, name: str) -> Iterator[str]:
    """``memory://``, or a NATS URL with a fresh namespace (streams deleted on exit)."""
    if ctx.bus == "memory":
        yield "memory://"
        return
    base = ctx.nats_url.rstrip("/")
    nats_admin(base)
    url = f"{base}/bench_{name.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
    try:
        yield url
    finally:
        nats_admin(base, [stream_prefix(url)])
