"""The EventBus contract: what the relay and the hub's reactions rely on, whichever bus carries
the events.

One abstract suite, run against the in-process MemoryBus and against NATS JetStream (a real
server, at OMNIHUB_TEST_NATS_URL, default nats://127.0.0.1:4222). Every NATS test uses its own
namespace (its own streams and subjects) and deletes its streams afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from omnihub.adapters.bus.memory import MemoryBus
from omnihub.domain.values import new_id
from omnihub.ports import BusUnavailable, Envelope, EventBus

pytestmark = pytest.mark.integration

NATS_URL = os.environ.get("OMNIHUB_TEST_NATS_URL", "nats://127.0.0.1:4222").rstrip("/")
IN_CI = os.environ.get("CI", "").lower() == "true"
WAIT_SECONDS = 20.0
POLL_SECONDS = 0.02


# -- NATS availability ---------------------------------------------------------------------------
async def _jetstream_answers(url: str) -> None:
    import nats

    nc = await nats.connect(url, connect_timeout=2, allow_reconnect=False, max_reconnect_attempts=0)
    try:
        await nc.jetstream().account_info()
    finally:
        await nc.close()


@pytest.fixture(scope="session")
def nats_url() -> str:
    """The NATS server of the test run: FAILS under CI=true when unreachable, skips otherwise."""
    try:
        asyncio.run(asyncio.wait_for(_jetstream_answers(NATS_URL), 10))
    except Exception as exc:  # unreachable, no JetStream, nats-py missing: all the same to us
        message = (
            f"NATS JetStream is not reachable at {NATS_URL} ({type(exc).__name__}: {exc}). "
            "Start nats-server -js or set OMNIHUB_TEST_NATS_URL to run these tests."
        )
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return NATS_URL


async def _delete_streams(url: str, streams: Sequence[str]) -> None:
    import nats
    from nats.js.errors import NotFoundError

    nc = await nats.connect(url, connect_timeout=2, allow_reconnect=False, max_reconnect_attempts=0)
    try:
        js = nc.jetstream()
        for stream in streams:
            with contextlib.suppress(NotFoundError):
                await js.delete_stream(stream)
    finally:
        await nc.close()


async def _stored_subjects(url: str, stream: str) -> list[str]:
    """The subjects of every message a stream holds, in stream order."""
    import nats

    nc = await nats.connect(url, connect_timeout=2, allow_reconnect=False, max_reconnect_attempts=0)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        subjects = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            subjects.append((await js.get_msg(stream, seq)).subject)
        return subjects
    finally:
        await nc.close()


# -- helpers -------------------------------------------------------------------------------------
def event(type_: str, aggregate_id: str, data: dict[str, Any] | None = None) -> Envelope:
    return {
        "id": new_id(),
        "type": type_,
        "occurred_at": datetime.now(UTC).isoformat(),
        "aggregate_id": aggregate_id,
        "version": 1,
        "data": data or {},
    }


def stock_event(sku: str, type_: str = "stock.changed") -> Envelope:
    return event(type_, sku, {"sku": sku, "available": 1, "locations": []})


def reservation_event(type_: str, reservation_id: str, sku: str) -> Envelope:
    return event(type_, reservation_id, {"reservation_id": reservation_id, "sku": sku, "qty": 1})


class Inbox:
    """What one subscriber was handed, in order (thread-safe: NATS calls from an executor)."""

    def __init__(self, fail_first: Callable[[Envelope], bool] | None = None) -> None:
        self.received: list[Envelope] = []
        self.failures: list[str] = []
        self._fail_first = fail_first
        self._lock = threading.Lock()

    def __call__(self, envelope: Envelope) -> None:
        with self._lock:
            self.received.append(envelope)
            fails = self._fail_first is not None and self._fail_first(envelope)
            if fails and envelope["id"] not in self.failures:
                self.failures.append(envelope["id"])
                raise RuntimeError(f"receiver down for {envelope['id']}")

    def ids(self) -> list[str]:
        with self._lock:
            return [e["id"] for e in self.received]

    def types(self) -> set[str]:
        with self._lock:
            return {e["type"] for e in self.received}


def wait_until(condition: Callable[[], bool], what: str, timeout: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout:g} s: {what}")
        time.sleep(POLL_SECONDS)


def publish_like_the_relay(bus: EventBus, envelopes: list[Envelope]) -> int:
    """Publish until the bus takes the events, as the relay does: BusUnavailable means "keep
    them and try again"; any other exception escapes (the port allows no other)."""
    deadline = time.monotonic() + WAIT_SECONDS
    attempts = 0
    while True:
        attempts += 1
        try:
            bus.publish(envelopes)
        except BusUnavailable:
            if time.monotonic() > deadline:
                raise
            continue
        return attempts


# -- the contract --------------------------------------------------------------------------------
class EventBusContract:
    @pytest.fixture
    def bus(self) -> EventBus:
        """Each backend provides the bus under test (and closes it)."""
        raise NotImplementedError

    def test_a_published_event_reaches_every_subscriber_whose_pattern_matches_and_no_other(
        self, bus: EventBus
    ) -> None:
        orders, stock, everything = Inbox(), Inbox(), Inbox()
        bus.subscribe("orders", ["order.*"], orders)
        bus.subscribe("stock", ["stock.changed"], stock)
        bus.subscribe("everything", ["*"], everything)
        batch = [
            event("order.ingested", "ORD-1"),
            stock_event("SKU-A"),
            event("order.status_changed", "ORD-1"),
            stock_event("SKU-A", "stock.repaired"),
            reservation_event("reservation.taken", "RES-1", "SKU-A"),
        ]
        publish_like_the_relay(bus, batch)
        # sentinels after the batch: once a subscriber has its sentinel, it has seen (in stream
        # order) everything of the batch it was ever going to see
        sentinels = [
            event("order.updated", "ORD-2"),
            stock_event("SKU-Z"),
            reservation_event("reservation.released", "RES-2", "SKU-Z"),
        ]
        publish_like_the_relay(bus, sentinels)
        wait_until(lambda: sentinels[0]["id"] in orders.ids(), "order.* got its sentinel")
        wait_until(lambda: sentinels[1]["id"] in stock.ids(), "stock.changed got its sentinel")
        wait_until(
            lambda: {e["id"] for e in batch + sentinels} <= set(everything.ids()),
            "* got every event",
        )

        ids = {e["id"]: e["type"] for e in batch}
        assert {ids[i] for i in orders.ids() if i in ids} == {
            "order.ingested",
            "order.status_changed",
        }
        assert {ids[i] for i in stock.ids() if i in ids} == {"stock.changed"}
        assert {ids[i] for i in everything.ids() if i in ids} == set(ids.values())
        assert orders.types() <= {"order.ingested", "order.status_changed", "order.updated"}
        assert stock.types() == {"stock.changed"}

    def test_an_event_arrives_as_it_was_published(self, bus: EventBus) -> None:
        inbox = Inbox()
        bus.subscribe("everything", ["*"], inbox)
        sent = stock_event("SKU-Ü 1/2")
        sent["data"]["locations"] = [
            {"location": "WH-SH", "on_hand": 5, "reserved": 1, "available": 4}
        ]
        publish_like_the_relay(bus, [sent])
        wait_until(lambda: sent["id"] in inbox.ids(), "the event arrived")
        assert inbox.received[0] == sent

    def test_a_subscriber_that_raises_gets_the_same_event_again(self, bus: EventBus) -> None:
        flaky = Inbox(fail_first=lambda e: e["type"] == "order.ingested")
        steady = Inbox()
        bus.subscribe("flaky", ["order.*"], flaky)
        bus.subscribe("steady", ["*"], steady)
        sent = [event("order.ingested", "ORD-7"), stock_event("SKU-B")]

        publish_like_the_relay(bus, sent)

        wait_until(lambda: flaky.ids().count(sent[0]["id"]) >= 2, "the failed event came back")
        wait_until(lambda: {e["id"] for e in sent} <= set(steady.ids()), "steady got both")
        assert flaky.failures == [sent[0]["id"]]
        assert all(e == sent[0] for e in flaky.received)

    def test_events_of_one_family_reach_a_subscriber_in_the_order_they_were_published(
        self, bus: EventBus
    ) -> None:
        inbox = Inbox()
        bus.subscribe("stock", ["stock.*"], inbox)
        sent = [stock_event(f"SKU-{n % 7}") for n in range(60)]
        publish_like_the_relay(bus, sent[:30])
        publish_like_the_relay(bus, sent[30:])
        wait_until(lambda: len(set(inbox.ids())) == len(sent), "every stock event arrived")
        first_seen = list(dict.fromkeys(inbox.ids()))
        assert first_seen == [e["id"] for e in sent]

    def test_publishing_nothing_is_a_no_op(self, bus: EventBus) -> None:
        inbox = Inbox()
        bus.subscribe("everything", ["*"], inbox)
        bus.publish([])
        sentinel = stock_event("SKU-S")
        publish_like_the_relay(bus, [sentinel])
        wait_until(lambda: sentinel["id"] in inbox.ids(), "the sentinel arrived")
        assert inbox.ids() == [sentinel["id"]]


class TestMemoryBus(EventBusContract):
    @pytest.fixture
    def bus(self) -> Iterator[EventBus]:
        bus = MemoryBus()
        yield bus
        bus.close()

    def test_a_subscriber_that_raises_makes_the_publish_fail_with_bus_unavailable(self) -> None:
        """In process, publishing *is* delivering: the relay must keep the events (and back
        off), which the port spells BusUnavailable."""
        bus = MemoryBus()
        bus.subscribe("flaky", ["*"], Inbox(fail_first=lambda e: True))
        with pytest.raises(BusUnavailable, match="receiver down"):
            bus.publish([stock_event("SKU-C")])
        bus.close()


@pytest.mark.nats
class TestNatsBus(EventBusContract):
    @pytest.fixture
    def namespace(self) -> str:
        return f"t{uuid.uuid4().hex[:16]}"

    @pytest.fixture
    def bus(self, nats_url: str, namespace: str) -> Iterator[EventBus]:
        from omnihub.adapters.bus.nats import FAMILIES, NatsBus

        bus = NatsBus(f"{nats_url}/{namespace}")
        try:
            yield bus
        finally:
            bus.close()
            asyncio.run(_delete_streams(nats_url, [bus.stream_for(family) for family in FAMILIES]))

    def test_the_namespace_in_the_url_names_its_own_streams_and_subjects(
        self, bus: EventBus, namespace: str
    ) -> None:
        from omnihub.adapters.bus.nats import NatsBus

        assert isinstance(bus, NatsBus)
        assert bus.prefix == namespace.lower()
        assert bus.stream_for("stock") == f"{namespace.upper()}_STOCK"
        assert bus.url == NATS_URL

    def test_the_same_event_id_published_twice_is_delivered_once(
        self, bus: EventBus, nats_url: str
    ) -> None:
        inbox = Inbox()
        bus.subscribe("everything", ["*"], inbox)
        twice = stock_event("SKU-D")
        publish_like_the_relay(bus, [twice])
        publish_like_the_relay(bus, [dict(twice)])  # the relay died before marking it
        sentinel = stock_event("SKU-D")
        publish_like_the_relay(bus, [sentinel])
        wait_until(lambda: sentinel["id"] in inbox.ids(), "the sentinel arrived")
        assert inbox.ids() == [twice["id"], sentinel["id"]]
        stored = asyncio.run(_stored_subjects(nats_url, bus.stream_for("stock")))  # type: ignore[attr-defined]
        assert len(stored) == 2

    def test_subjects_carry_the_partition_key_sku_for_stock_order_id_for_orders(
        self, bus: EventBus, nats_url: str, namespace: str
    ) -> None:
        from omnihub.adapters.bus.nats import subject_for

        order = event("order.ingested", "01J0ORDER")
        stock = stock_event("TEE-WHITE-M")
        taken = reservation_event("reservation.taken", "01J0RES", "MUG.CLASSIC")
        assert subject_for(order, namespace) == f"{namespace}.order.ingested.01J0ORDER"
        assert subject_for(stock, namespace) == f"{namespace}.stock.changed.TEE-WHITE-M"
        # a dot or a wildcard in a key must not split or widen the subject
        assert subject_for(taken, namespace) == f"{namespace}.reservation.taken.MUG_CLASSIC"
        assert subject_for(stock_event("A*B>C D"), namespace).endswith(".A_B_C_D")

        publish_like_the_relay(bus, [order, stock, taken])
        assert asyncio.run(_stored_subjects(nats_url, bus.stream_for("stock"))) == [  # type: ignore[attr-defined]
            f"{namespace}.stock.changed.TEE-WHITE-M"
        ]
        assert asyncio.run(_stored_subjects(nats_url, bus.stream_for("order"))) == [  # type: ignore[attr-defined]
            f"{namespace}.order.ingested.01J0ORDER"
        ]
        assert asyncio.run(_stored_subjects(nats_url, bus.stream_for("reservation"))) == [  # type: ignore[attr-defined]
            f"{namespace}.reservation.taken.MUG_CLASSIC"
        ]

    def test_two_buses_with_the_same_durable_share_the_work_instead_of_doubling_it(
        self, bus: EventBus, nats_url: str, namespace: str
    ) -> None:
        """Two hub processes run the same reactions: each event is handled by one of them."""
        from omnihub.adapters.bus.nats import NatsBus

        other = NatsBus(f"{nats_url}/{namespace}")
        try:
            first, second = Inbox(), Inbox()
            bus.subscribe("webhooks", ["*"], first)
            other.subscribe("webhooks", ["*"], second)
            sent = [stock_event(f"SKU-{n}") for n in range(40)]
            publish_like_the_relay(bus, sent)
            wait_until(
                lambda: {e["id"] for e in sent} <= set(first.ids()) | set(second.ids()),
                "every event was handled by one of the two processes",
            )
            assert len(first.ids()) + len(second.ids()) == len(sent)
        finally:
            other.close()

    def test_namespaces_that_differ_only_in_letter_case_do_not_break_each_other(
        self, nats_url: str, namespace: str
    ) -> None:
        """Stream names are upper case: "Shop" and "shop" name the same streams, so they must
        be the same installation, not two rewriting each other's stream subjects."""
        from omnihub.adapters.bus.nats import FAMILIES, NatsBus

        upper = NatsBus(f"{nats_url}/{namespace.upper()}")
        lower = NatsBus(f"{nats_url}/{namespace}")
        try:
            inbox = Inbox()
            lower.subscribe("everything", ["*"], inbox)
            sent = [stock_event("SKU-1"), stock_event("SKU-2"), stock_event("SKU-3")]
            for bus, envelope in zip([upper, lower, upper], sent, strict=True):
                bus.publish([envelope])  # BusUnavailable here is the bug
            wait_until(lambda: {e["id"] for e in sent} <= set(inbox.ids()), "all three arrived")
        finally:
            upper.close()
            lower.close()
            asyncio.run(_delete_streams(nats_url, [lower.stream_for(f) for f in FAMILIES]))

    def test_an_unreachable_server_is_bus_unavailable_not_a_hang(self) -> None:
        import socket

        from omnihub.adapters.bus.nats import NatsBus

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        bus = NatsBus(f"nats://127.0.0.1:{port}/t{uuid.uuid4().hex[:8]}", connect_timeout=1.0)
        try:
            started = time.monotonic()
            with pytest.raises(BusUnavailable):
                bus.publish([stock_event("SKU-E")])
            assert time.monotonic() - started < 10.0
        finally:
            bus.close()
