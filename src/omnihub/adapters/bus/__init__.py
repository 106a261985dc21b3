"""Event buses: in-process (the embedded default) and NATS JetStream (scale-out)."""

from __future__ import annotations

from omnihub.ports import EventBus


def create_bus(url: str) -> EventBus:
    if url.startswith("memory"):
        from omnihub.adapters.bus.memory import MemoryBus

        return MemoryBus()
    if url.startswith("nats://") or url.startswith("tls://"):
        from omnihub.adapters.bus.nats import NatsBus

        return NatsBus(url)
    raise ValueError(f"unknown bus URL {url!r}: use memory:// or nats://host:4222")
