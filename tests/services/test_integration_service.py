"""The hub's reactions to its own events and the channel use cases, on the in-memory fakes: the
handler table, the stock fan-out to channels, the webhook fan-out, the order status push, the
documents queued for the back ends, a new channel's first full push, and a channel's pull."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from retailer import HZ_WH, MUG, SH_STORE, SH_WH, TEE, tmall_order

from fakes import SINGLES_DAY, FakeUnitOfWork, FrozenClock
from fakes_integration import FakeIntegrationStores
from omnihub.adapters.channels import adapter_for
from omnihub.domain import events as ev
from omnihub.domain.backends import BackendKind
from omnihub.domain.errors import AlreadyExists, InvalidInput, NotFound
from omnihub.domain.orders import OrderStatus
from omnihub.ports import (
    STOCK_PUSH,
    BackendConfig,
    CallRefused,
    ChannelAdapter,
    ChannelConfig,
    ChannelRecord,
    ChannelTransport,
    Envelope,
    IntegrationStores,
    PulledPage,
    Subscription,
)
from omnihub.services import handlers
from omnihub.services.backends import exports
from omnihub.services.channels import ChannelPuller, CreateChannel, PullSchedule, create_channel
from omnihub.services.orders import OrderAction, apply_action, ingest_order
from omnihub.services.recipients import Recipients
from omnihub.services.routing import RoutingPolicy
from omnihub.services.stock_sync import flush_stock

pytestmark = pytest.mark.service

ORDER = "01JORDERA0000000000000000A"


@pytest.fixture
def stores(uow: FakeUnitOfWork) -> IntegrationStores:
    return FakeIntegrationStores.on(uow.database)


@pytest.fixture
def recipients(stores: IntegrationStores) -> Recipients:
    return Recipients(stores.directory, stores.webhooks)


def dependencies(
    uow: FakeUnitOfWork,
    stores: IntegrationStores,
    recipients: Recipients,
    clock: FrozenClock,
    backends: dict[str, BackendConfig] | None = None,
) -> handlers.Dependencies:
    return handlers.Dependencies(
        deliveries=stores.deliveries,
        stock_sync=stores.stock_sync,
        directory=stores.directory,
        recipients=recipients,
        channel_adapters=adapter_for,
        read_uow=lambda: uow,
        backends=backends or {},
        clock=clock,
    )


def a_channel(code: str, adapter: str = "generic", **fields: Any) -> ChannelRecord:
    values: dict[str, Any] = {
        "endpoint": f"http://127.0.0.1:9/{code}",
        "secret": f"{code}-secret-0123456789",
        "allocation_ratio": 1.0,
        "buffer": 0,
        "locations": (),
        "created_at": SINGLES_DAY,
    }
    values.update(fields)
    return ChannelRecord(code=code, adapter=adapter, **values)


def published(stores: IntegrationStores) -> list[Envelope]:
    """Every event committed so far, as the bus carries it."""
    got: list[Envelope] = []
    while stores.outbox.relay_batch(got.extend, SINGLES_DAY):
        pass
    return got


def react(durable: str, envelopes: list[Envelope], deps: handlers.Dependencies) -> None:
    """What the bus does with a batch for one consumer of the handler table."""
    consumer = next(c for c in handlers.HANDLERS if c.durable == durable)
    consumer.handle(envelopes, deps)


def stock_event(sku: str, version: int, *levels: tuple[str, int]) -> Envelope:
    return {
        "id": f"ev-{sku}-{version}", "type": ev.STOCK_CHANGED,
        "occurred_at": "2026-11-11T00:00:00+00:00",
        "aggregate_id": sku, "version": version, "sequence": version,
        "data": {"sku": sku, "available": sum(q for _, q in levels),
                 "locations": [{"location": loc, "on_hand": q, "reserved": 0, "available": q}
                               for loc, q in levels]},
    }  # fmt: skip


# -- the handler table ----------------------------------------------------------------------------


def test_the_handler_table_sends_each_event_type_to_its_handlers() -> None:
    assert handlers.handlers_for(ev.STOCK_CHANGED) == [
        handlers.to_webhooks,
        handlers.to_channel_stock,
    ]
    assert handlers.handlers_for(ev.STOCK_REPAIRED) == [handlers.to_webhooks]
    assert handlers.handlers_for(ev.ORDER_STATUS_CHANGED) == [
        handlers.to_webhooks,
        handlers.to_channel_status,
        handlers.to_backends,
    ]
    assert handlers.handlers_for(ev.ORDER_HELD) == [handlers.to_webhooks]
    assert handlers.handlers_for(ev.RESERVATION_TAKEN) == [handlers.to_webhooks]
    # the consumers the broker keeps: their names and subjects never change
    assert [(c.durable, c.patterns) for c in handlers.HANDLERS] == [
        ("webhooks", ("*",)),
        ("stock-sync", ("stock.*",)),
        ("order-status", ("order.*",)),
        ("backends", ("order.*",)),
    ]


def test_a_consumer_given_no_event_of_its_types_does_nothing(
    uow: FakeUnitOfWork, stores: IntegrationStores, recipients: Recipients, clock: FrozenClock
) -> None:
    stores.directory.add(a_channel("jd"))
    repaired = dict(stock_event(TEE, 3, (SH_WH, 1)), type=ev.STOCK_REPAIRED, data={})
    react("stock-sync", [repaired], dependencies(uow, stores, recipients, clock))
    assert stores.stock_sync.values("jd") == {}


# -- stock to the channels ------------------------------------------------------------------------


def test_a_stock_change_becomes_the_quantity_each_channel_should_show(
    uow: FakeUnitOfWork, stores: IntegrationStores, recipients: Recipients, clock: FrozenClock
) -> None:
    stores.directory.add(a_channel("jd"))
    stores.directory.add(a_channel("tmall", allocation_ratio=0.5, buffer=1, locations=(SH_WH,)))
    stores.directory.add(a_channel("pos", endpoint=None))  # nowhere to push to
    deps = dependencies(uow, stores, recipients, clock)

    react(
        "stock-sync",
        [
            stock_event(TEE, 5, (SH_WH, 9), (SH_STORE, 3)),
            stock_event(TEE, 7, (SH_WH, 8), (SH_STORE, 3)),  # the newest of the batch counts
            stock_event(TEE, 6, (SH_WH, 1), (SH_STORE, 1)),
            stock_event(MUG, 2, (HZ_WH, 4)),
        ],
        deps,
    )

    assert stores.stock_sync.values("jd") == {TEE: (11, None), MUG: (4, None)}
    assert stores.stock_sync.values("tmall") == {TEE: (3, None), MUG: (0, None)}
    assert stores.stock_sync.values("pos") == {}
    assert [w.since for w in stores.stock_sync.waiting()] == [clock.now()] * 4


def test_a_push_carries_the_newest_value_and_a_platform_channel_its_item_ids(
    uow: FakeUnitOfWork, stores: IntegrationStores, clock: FrozenClock
) -> None:
    stores.directory.add(a_channel("jd"))
    stores.directory.add(a_channel("tmall", adapter="tmall"))
    stores.stock_sync.want("jd", TEE, 5, 10, clock.now())
    stores.stock_sync.want("tmall", TEE, 5, 10, clock.now())
    stores.stock_sync.want("tmall", "NOT-LISTED", 1, 10, clock.now())

    assert flush_stock(stores.stock_sync, stores.directory.all(), clock.now()) == 2

    pushes = {d.endpoint: d for d in stores.deliveries.recent()}
    assert pushes["channel:jd"].url == "http://127.0.0.1:9/jd/stock"
    assert pushes["channel:jd"].payload == {
        "channel": "jd",
        "sku": TEE,
        "quantity": 5,
        "version": 10,
    }
    assert pushes["channel:tmall"].event_type == STOCK_PUSH
    assert pushes["channel:tmall"].payload["channel_skus"] == ["TM-TEE-M"]
    assert stores.stock_sync.waiting() == []  # the unlisted SKU counts as pushed


# -- webhooks -------------------------------------------------------------------------------------


def test_each_event_goes_once_to_every_subscriber_that_wants_it(
    uow: FakeUnitOfWork, stores: IntegrationStores, recipients: Recipients, clock: FrozenClock
) -> None:
    stores.webhooks.add(Subscription("erp", "http://erp/hook", ("order.*",), "e" * 16, clock.now()))
    stores.webhooks.add(Subscription("bi", "http://bi/hook", ("*",), "b" * 16, clock.now()))
    ingest_order(lambda: uow, tmall_order(), clock)
    events = published(stores)
    deps = dependencies(uow, stores, recipients, clock)

    react("webhooks", events, deps)
    react("webhooks", events, deps)  # the bus delivered the batch again

    deliveries = stores.deliveries.recent(limit=100)
    order_events = [e for e in events if e["type"].startswith("order.")]
    assert len([d for d in deliveries if d.endpoint == "webhook:erp"]) == len(order_events)
    assert len([d for d in deliveries if d.endpoint == "webhook:bi"]) == len(events)
    by_id = {e["id"]: e for e in events}
    assert all(d.payload == by_id[d.event_id] for d in deliveries)
    assert {d.url for d in deliveries} == {"http://erp/hook", "http://bi/hook"}


def test_the_secret_of_an_endpoint_is_its_subscription_or_channel_one_created_a_moment_ago_too(
    stores: IntegrationStores, recipients: Recipients, clock: FrozenClock
) -> None:
    assert recipients.secret_for("webhook:erp") is None
    assert recipients.subscriptions() == []  # the list is kept now
    stores.webhooks.add(Subscription("erp", "http://erp/hook", ("*",), "e" * 16, clock.now()))
    stores.directory.add(a_channel("jd", secret=None))
    assert recipients.secret_for("webhook:erp") == "e" * 16
    assert recipients.secret_for("channel:jd") is None
    assert recipients.secret_for("channel:pdd") is None


# -- order status to the channels -----------------------------------------------------------------


def status_event(to: str, channel: str = "jd", source: str | None = None) -> Envelope:
    data = {"order_id": ORDER, "channel": channel, "external_id": "JD-1", "status": to,
            "from": "released", "to": to, "cause": "shipped by SH-WH"}  # fmt: skip
    if source is not None:
        data["source"] = source
    return {"id": f"ev-{to}-{channel}", "type": ev.ORDER_STATUS_CHANGED, "aggregate_id": ORDER,
            "occurred_at": "2026-11-11T00:00:00+00:00", "version": 4, "data": data}  # fmt: skip


def test_a_generic_channel_is_told_the_statuses_pushed_and_not_what_it_said_itself(
    uow: FakeUnitOfWork, stores: IntegrationStores, recipients: Recipients, clock: FrozenClock
) -> None:
    stores.directory.add(a_channel("jd"))
    deps = dependencies(uow, stores, recipients, clock)

    react(
        "order-status",
        [
            status_event("shipped"),
            status_event("picked"),  # not pushed
            status_event("cancelled", source="jd"),  # the channel's own change
            status_event("shipped", channel="pdd"),  # no such channel
        ],
        deps,
    )

    [push] = stores.deliveries.recent()
    assert (push.endpoint, push.url, push.event_id) == (
        "channel:jd",
        "http://127.0.0.1:9/jd/orders/status",
        "ev-shipped-jd",
    )
    assert json.dumps(push.payload) == json.dumps(
        {"order_id": ORDER, "status": "shipped", "cause": "shipped by SH-WH",
         "occurred_at": "2026-11-11T00:00:00+00:00", "event_id": "ev-shipped-jd"}
    )  # fmt: skip


def test_a_platform_channel_is_told_what_its_platform_has_a_call_for_with_the_tracking(
    uow: FakeUnitOfWork, stores: IntegrationStores, recipients: Recipients, clock: FrozenClock
) -> None:
    stores.directory.add(a_channel("jd", adapter="jd"))
    deps = dependencies(uow, stores, recipients, clock)
    assert "shipped" in adapter_for("jd").pushes

    react("order-status", [status_event("shipped")], deps)

    [push] = stores.deliveries.recent()
    assert (push.endpoint, push.url) == ("channel:jd", "http://127.0.0.1:9/jd")
    assert push.payload == {
        "channel": "jd",
        "order_id": ORDER,
        "external_id": "JD-1",
        "status": "shipped",
        "carrier": None,
        "tracking_number": None,
    }


# -- documents for the back ends ------------------------------------------------------------------


def backend(code: str, kind: BackendKind, adapter: str, *locations: str) -> BackendConfig:
    return BackendConfig(
        code=code,
        kind=kind,
        adapter=adapter,
        endpoint=f"http://127.0.0.1:9/{code}",
        locations=locations,
        warehouses={location: f"W-{location}" for location in locations},
    )


def test_a_released_order_is_sent_to_the_wms_and_erp_of_its_node_and_a_withdrawn_one_taken_back(
    uow: FakeUnitOfWork, stores: IntegrationStores, recipients: Recipients, clock: FrozenClock
) -> None:
    backends = {
        "wms": backend("wms", BackendKind.WMS, "qimen", SH_WH),
        "erp": backend("erp", BackendKind.ERP, "kingdee", SH_WH, HZ_WH),
    }
    deps = dependencies(uow, stores, recipients, clock, backends)
    result = ingest_order(lambda: uow, tmall_order(), clock, RoutingPolicy(merge_window_seconds=0))
    assert result.order.status is OrderStatus.RELEASED

    react("backends", published(stores), deps)

    [part] = uow.database.state.fulfilments.values()
    queued = {d.endpoint: d for d in stores.deliveries.recent()}
    assert set(queued) == {"backend:wms", "backend:erp"}
    assert queued["backend:wms"].event_id == f"{exports.WMS_CREATE}:{part.id}"
    assert queued["backend:erp"].payload == {
        "backend": "erp", "operation": exports.ERP_CREATE, "fulfilment_id": part.id,
        "order_id": result.order.id, "location": SH_WH,
    }  # fmt: skip

    apply_action(uow, OrderAction(result.order.id, "cancel"), clock)
    react("backends", published(stores), deps)

    cancels = sorted(d.event_type for d in stores.deliveries.recent() if "cancel" in d.event_type)
    assert cancels == [exports.ERP_CANCEL, exports.WMS_CANCEL]


def test_no_back_end_configured_queues_nothing(
    uow: FakeUnitOfWork, stores: IntegrationStores, recipients: Recipients, clock: FrozenClock
) -> None:
    ingest_order(lambda: uow, tmall_order(), clock, RoutingPolicy(merge_window_seconds=0))
    react("backends", published(stores), dependencies(uow, stores, recipients, clock))
    assert stores.deliveries.recent() == []


# -- creating a channel ---------------------------------------------------------------------------


def test_a_new_channel_gets_its_current_stock_queued_for_a_first_full_push(
    uow: FakeUnitOfWork, stores: IntegrationStores, clock: FrozenClock
) -> None:
    position = stores.outbox.position()
    channel = create_channel(
        CreateChannel("jd", endpoint="http://127.0.0.1:9/jd", secret="s" * 16,
                      allocation_ratio=0.5, buffer=1, locations=(SH_WH, SH_STORE)),
        stores.directory, stores.outbox, stores.stock_sync, lambda: uow, clock,
    )  # fmt: skip

    assert stores.directory.get("jd") == channel
    assert channel.created_at == clock.now()
    # TEE: floor(0.5 × (10 + 3)) − 1; MUG is only at HZ_WH, which the channel does not sell
    assert stores.stock_sync.values("jd") == {TEE: (5, None), MUG: (0, None)}
    assert {r.wanted_version for r in stores.stock_sync.to_push(10)} == {position}


def test_a_channel_is_refused_when_it_exists_its_endpoint_is_bad_or_a_location_unknown(
    uow: FakeUnitOfWork, stores: IntegrationStores, clock: FrozenClock
) -> None:
    def create(command: CreateChannel) -> ChannelRecord:
        return create_channel(
            command, stores.directory, stores.outbox, stores.stock_sync, lambda: uow, clock
        )

    create(CreateChannel("pos"))  # no endpoint: nothing pushed
    assert stores.stock_sync.values("pos") == {}
    with pytest.raises(AlreadyExists):
        create(CreateChannel("pos"))
    with pytest.raises(InvalidInput):
        create(CreateChannel("jd", endpoint="ftp://jd.example"))
    with pytest.raises(NotFound):
        create(CreateChannel("jd", locations=("NO-SUCH-WH",)))
    assert [c.code for c in stores.directory.all()] == ["pos"]


# -- pulling a channel ----------------------------------------------------------------------------


class ScriptedTransport(ChannelTransport):
    """Hands out the pages it is given for any window (or raises what it is given), and keeps
    the windows it was asked for."""

    def __init__(self, pages: list[PulledPage] | Exception) -> None:
        self.script = pages
        self.windows: list[tuple[datetime, datetime]] = []

    def pages(
        self, adapter: ChannelAdapter, config: ChannelConfig, start: datetime, end: datetime
    ) -> Iterator[PulledPage]:
        self.windows.append((start, end))
        if isinstance(self.script, Exception):
            raise self.script
        yield from self.script

    def fetcher(
        self, adapter: ChannelAdapter, config: ChannelConfig
    ) -> Callable[[str], dict[str, Any]]:
        def fetch(external_id: str) -> dict[str, Any]:
            raise CallRefused(f"{external_id} cannot be fetched here", retry=False)

        return fetch


def a_puller(
    uow: FakeUnitOfWork, stores: IntegrationStores, clock: FrozenClock, transport: ChannelTransport
) -> ChannelPuller:
    return ChannelPuller(
        lambda: uow, clock, stores.directory, stores.cursors, transport, adapter_for,
        PullSchedule(start_hours=1.0, every_seconds=5.0, settle_seconds=2.0), owner="worker-a",
    )  # fmt: skip


def test_a_pull_reads_one_window_and_moves_the_cursor_to_its_end(
    uow: FakeUnitOfWork, stores: IntegrationStores, clock: FrozenClock
) -> None:
    stores.directory.add(a_channel("jd", adapter="jd"))
    stores.directory.add(a_channel("shop", adapter="shopify"))  # pushes its orders: not pulled
    transport = ScriptedTransport([PulledPage([], has_more=False)])
    puller = a_puller(uow, stores, clock, transport)

    assert puller.pull_all() == 0  # the first window (an hour) reaches up to now: not behind

    jd = adapter_for("jd")
    settled = clock.now() - timedelta(seconds=2)
    assert transport.windows == [(clock.now() - timedelta(hours=1) - jd.overlap, settled)]
    cursor = stores.cursors.get("jd")
    assert cursor is not None
    assert (cursor.cursor_at, cursor.pulled, cursor.last_error, cursor.lease_owner) == (
        settled,
        0,
        None,
        None,
    )
    assert stores.cursors.get("shop") is None


def test_a_pull_the_platform_refuses_keeps_the_cursor_and_says_why(
    uow: FakeUnitOfWork, stores: IntegrationStores, clock: FrozenClock
) -> None:
    stores.directory.add(a_channel("jd", adapter="jd"))
    puller = a_puller(
        uow, stores, clock, ScriptedTransport(CallRefused("rate limited", retry=True))
    )

    assert puller.pull_all() == 0

    cursor = stores.cursors.get("jd")
    assert cursor is not None
    assert cursor.cursor_at == clock.now() - timedelta(hours=1)
    assert cursor.last_error == "CallRefused: rate limited"


def test_a_channel_another_worker_pulls_is_left_to_it(
    uow: FakeUnitOfWork, stores: IntegrationStores, clock: FrozenClock
) -> None:
    stores.directory.add(a_channel("jd", adapter="jd"))
    stores.cursors.lease("jd", "worker-b", clock.now(), clock.now(), timedelta(minutes=1))
    transport = ScriptedTransport([PulledPage([], has_more=False)])

    assert a_puller(uow, stores, clock, transport).pull_all() == 0
    assert transport.windows == []
