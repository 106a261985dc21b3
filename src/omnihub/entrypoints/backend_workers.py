"""The hub's work with its back ends (ERP, WMS, instant delivery), run with the other workers.

- **Reactions**: an order released to its nodes queues, per fulfilment, a delivery order for
  the WMS serving the node (express orders), a rider task for the delivery provider serving
  the store (same-day orders) and a sales order for the ERP serving it; an order cancelled,
  refunded or held takes back what had gone out. Each is a delivery to ``backend:<code>``.
- **perform**: the connector runtime's hook for those deliveries. It runs the adapter's
  exchange over HTTP (``adapters/backends/transport.py``) outside any transaction, then records
  the back end's id in a short one; the runtime retries, backs off, opens the circuit and
  keeps dead letters as for every other call.
- **Loops**: ERPs polled for receipts and stock-takes (an overlapping cursor; the ledger's
  references make repeats harmless), live rider tasks asked where their rider is (the track
  on the order; a lost callback is caught up too), and the full stock compare every
  ``stock_compare_seconds``. Several processes share each by a lease in ``channel_cursors``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from omnihub.adapters.backends import adapter_for
from omnihub.adapters.backends.config import serving
from omnihub.adapters.backends.transport import call
from omnihub.adapters.db.integration import DELIVERED, PENDING, Delivery, IntegrationStore
from omnihub.bootstrap import Hub
from omnihub.domain import events as ev
from omnihub.domain.backends import (
    RIDER_FINAL_STATES,
    BackendKind,
    ItemCost,
    Line,
    ReturnDoc,
    StockLine,
    StockSnapshot,
)
from omnihub.domain.errors import DomainError, InvalidInput, NotFound
from omnihub.domain.locations import DeliveryMode
from omnihub.domain.routing.fulfilment import FulfilmentStatus
from omnihub.domain.values import Money
from omnihub.ports import (
    BackendConfig,
    CallRefused,
    CompareReport,
    DeliveryAdapter,
    Envelope,
    ErpAdapter,
    EventBus,
    WmsAdapter,
)
from omnihub.services import backends as services
from omnihub.services.backends import CompareMode

log = logging.getLogger("omnihub.backends")

WMS_CREATE = "wms.create_delivery_order"
WMS_CANCEL = "wms.cancel_delivery_order"
ERP_CREATE = "erp.create_sales_order"
ERP_CANCEL = "erp.cancel_sales_order"
ERP_RETURN = "erp.post_return"
#: pages of return movements read in one turn at most (the rest waits for the next turn)
RETURN_PAGES = 20
RIDER_CREATE = "delivery.create_task"
RIDER_CANCEL = "delivery.cancel_task"
#: what takes back each create when the order is withdrawn
CANCELS = {WMS_CREATE: WMS_CANCEL, ERP_CREATE: ERP_CANCEL, RIDER_CREATE: RIDER_CANCEL}
#: order statuses after which what went out to the back ends is taken back
WITHDRAWN = frozenset({"cancelled", "refunded", "held"})
#: answers to a cancel that mean there is nothing (left) to cancel
NOTHING_TO_CANCEL = frozenset({"not_found", "ORDER_NOT_FOUND"})


def endpoint(code: str) -> str:
    return f"backend:{code}"


def event_id(operation: str, fulfilment_id: str) -> str:
    return f"{operation}:{fulfilment_id}"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class BackendReactions:
    """Turns order events into deliveries to the back ends (idempotent: one delivery per
    operation and fulfilment however often an event comes)."""

    hub: Hub
    store: IntegrationStore

    def order_status_many(self, envelopes: list[Envelope]) -> None:
        if not self.hub.backends:
            return
        items: list[dict[str, Any]] = []
        for envelope in envelopes:
            if envelope["type"] != ev.ORDER_STATUS_CHANGED:
                continue
            to = envelope["data"].get("to")
            if to == "released":
                items += self._released(envelope["data"]["order_id"])
            elif to in WITHDRAWN:
                items += self._withdrawn(envelope["data"]["order_id"])
        if items:
            self.store.enqueue(items, _now())

    def _read(self, order_id: str) -> tuple[Any, list[Any]]:
        with self.hub.read_uow() as uow:
            return uow.orders.get(order_id), uow.routing.fulfilments(order_id)

    def _released(self, order_id: str) -> list[dict[str, Any]]:
        order, parts = self._read(order_id)
        if order is None:
            return []
        items = []
        for part in parts:
            if part.status is not FulfilmentStatus.RELEASED:
                continue
            location = part.location
            rider = None
            if order.delivery is DeliveryMode.SAME_DAY:
                rider = serving(self.hub.backends, BackendKind.DELIVERY, location)
            wms = None
            if order.delivery is not DeliveryMode.PICKUP and rider is None:
                wms = serving(self.hub.backends, BackendKind.WMS, location)
            erp = serving(self.hub.backends, BackendKind.ERP, location)
            for config, operation in ((wms, WMS_CREATE), (rider, RIDER_CREATE), (erp, ERP_CREATE)):
                if config is not None:
                    items.append(self._item(config, operation, part.id, order_id, location))
        return items

    def _withdrawn(self, order_id: str) -> list[dict[str, Any]]:
        _, parts = self._read(order_id)
        items = []
        for part in parts:
            if part.status is not FulfilmentStatus.CANCELLED:
                continue
            for config in self.hub.backends.values():
                if not config.serves(part.location):
                    continue
                for create, cancel in CANCELS.items():
                    sent = self.store.delivery_status(
                        endpoint(config.code), event_id(create, part.id)
                    )
                    if sent is not None:
                        items.append(self._item(config, cancel, part.id, order_id, part.location))
        return items

    @staticmethod
    def _item(
        config: BackendConfig, operation: str, fulfilment_id: str, order_id: str, location: str
    ) -> dict[str, Any]:
        return {
            "endpoint": endpoint(config.code),
            "url": config.endpoint,
            "event_id": event_id(operation, fulfilment_id),
            "event_type": operation,
            "payload": {
                "backend": config.code,
                "operation": operation,
                "fulfilment_id": fulfilment_id,
                "order_id": order_id,
                "location": location,
            },
        }


@dataclass
class BackendWorkers:
    hub: Hub
    store: IntegrationStore
    owner: str = field(default_factory=lambda: f"{os.getpid()}-{threading.get_ident()}")
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))
    """for polls and compares (deliveries use the connector runtime's client)"""
    reactions: BackendReactions = field(init=False)
    stats: dict[str, int] = field(
        default_factory=lambda: {"polled": 0, "tracked": 0, "compared": 0, "errors": 0}
    )

    def __post_init__(self) -> None:
        self.reactions = BackendReactions(self.hub, self.store)

    def subscribe(self, bus: EventBus) -> None:
        bus.subscribe_batch("backends", ["order.*"], self.reactions.order_status_many)

    def loops(self) -> list[tuple[str, float, Callable[[], Any]]]:
        settings = self.hub.settings
        kinds = {config.kind for config in self.hub.backends.values()}
        loops: list[tuple[str, float, Callable[[], Any]]] = []
        if BackendKind.ERP in kinds:
            loops.append(("backend polls", settings.backend_poll_seconds, self.poll_erps))
        if BackendKind.DELIVERY in kinds:
            loops.append(("rider tracking", settings.rider_poll_seconds, self.track_riders))
        if kinds & {BackendKind.ERP, BackendKind.WMS}:
            every = min(settings.stock_compare_seconds, 60.0)
            loops.append(("stock compares", every, self.compare_due))
        return loops

    def close(self) -> None:
        self.client.close()

    # -- deliveries ---------------------------------------------------------------------------
    def perform(self, delivery: Delivery, client: httpx.Client) -> None:
        """Carry out one delivery to a back end (the connector runtime's hook)."""
        payload = delivery.payload
        config = self.hub.backends.get(payload["backend"])
        if config is None:
            raise CallRefused(
                f"back end {payload['backend']} is no longer configured",
                retry=False,
                code="unknown_backend",
            )
        operations: dict[str, Callable[[BackendConfig, dict[str, Any], httpx.Client], None]] = {
            WMS_CREATE: self._wms_create,
            WMS_CANCEL: self._wms_cancel,
            ERP_CREATE: self._erp_create,
            ERP_CANCEL: self._erp_cancel,
            ERP_RETURN: self._erp_return,
            RIDER_CREATE: self._rider_create,
            RIDER_CANCEL: self._rider_cancel,
        }
        operation = operations.get(payload["operation"])
        if operation is None:
            raise CallRefused(
                f"no back-end operation {payload['operation']}", retry=False, code="unknown"
            )
        operation(config, payload, client)

    @staticmethod
    def _adapter(config: BackendConfig, kind: type[Any]) -> Any:
        adapter = adapter_for(config.adapter)
        if not isinstance(adapter, kind):
            raise CallRefused(
                f"{config.label} ({config.adapter}) is not a {kind.__name__}",
                retry=False,
                code="wrong_kind",
            )
        return adapter

    def _wms_create(
        self, config: BackendConfig, payload: dict[str, Any], client: httpx.Client
    ) -> None:
        adapter: WmsAdapter = self._adapter(config, WmsAdapter)
        order, part = services.order_and_fulfilment(self.hub.read_uow(), payload["fulfilment_id"])
        if part.status is FulfilmentStatus.CANCELLED:
            return  # withdrawn before it went out: nothing to create (the cancel finds none)
        ref = call(
            client,
            adapter.create_delivery_order(config, services.outbound_order(order, part)),
            config.code,
            config.timeout_seconds,
        )
        services.record_sent(self.hub.uow(), self.hub.clock.now(), config.code, ref, order.id)

    def _erp_create(
        self, config: BackendConfig, payload: dict[str, Any], client: httpx.Client
    ) -> None:
        adapter: ErpAdapter = self._adapter(config, ErpAdapter)
        order, part = services.order_and_fulfilment(self.hub.read_uow(), payload["fulfilment_id"])
        if part.status is FulfilmentStatus.CANCELLED:
            return
        ref = call(
            client,
            adapter.create_sales_order(config, services.sales_order_doc(order, part)),
            config.code,
            config.timeout_seconds,
        )
        services.record_sent(self.hub.uow(), self.hub.clock.now(), config.code, ref, order.id)

    def _erp_return(
        self, config: BackendConfig, payload: dict[str, Any], client: httpx.Client
    ) -> None:
        adapter: ErpAdapter = self._adapter(config, ErpAdapter)
        body = payload["return"]
        doc = ReturnDoc(
            reference=body["reference"],
            order_reference=body["order_reference"],
            location=body["location"],
            returned_at=datetime.fromisoformat(body["returned_at"]),
            lines=tuple(
                Line(
                    line["sku"],
                    int(line["qty"]),
                    None if line["price"] is None else Money.of(line["price"], line["currency"]),
                )
                for line in body["lines"]
            ),
            reason=body.get("reason"),
        )
        ref = call(client, adapter.post_return(config, doc), config.code, config.timeout_seconds)
        services.record_return_booked(self.hub.uow(), self.hub.clock.now(), config.code, ref, doc)

    def _rider_create(
        self, config: BackendConfig, payload: dict[str, Any], client: httpx.Client
    ) -> None:
        adapter: DeliveryAdapter = self._adapter(config, DeliveryAdapter)
        order, part = services.order_and_fulfilment(self.hub.read_uow(), payload["fulfilment_id"])
        if part.status is not FulfilmentStatus.RELEASED:
            return  # withdrawn, or the goods already left: no rider to send
        try:
            task = services.rider_task(order, part)
        except DomainError as exc:
            raise CallRefused(exc.message, retry=False, code="no_destination") from exc
        ref = call(client, adapter.create_task(config, task), config.code, config.timeout_seconds)
        services.record_rider_task_sent(
            self.hub.uow(), self.hub.clock.now(), config.code, part, ref
        )

    def _cancel_needed(self, config: BackendConfig, create: str, fulfilment_id: str) -> bool:
        """Whether the create went out (a cancel waits while it is still being tried)."""
        sent = self.store.delivery_status(endpoint(config.code), event_id(create, fulfilment_id))
        if sent == PENDING:
            raise CallRefused(
                "the document is still being created; its cancel waits for it",
                retry=True,
                code="create_pending",
            )
        return sent == DELIVERED

    def _wms_cancel(
        self, config: BackendConfig, payload: dict[str, Any], client: httpx.Client
    ) -> None:
        adapter: WmsAdapter = self._adapter(config, WmsAdapter)
        if not self._cancel_needed(config, WMS_CREATE, payload["fulfilment_id"]):
            return
        try:
            call(
                client,
                adapter.cancel_delivery_order(
                    config, payload["fulfilment_id"], payload["location"]
                ),
                config.code,
                config.timeout_seconds,
            )
        except CallRefused as exc:
            if exc.code not in NOTHING_TO_CANCEL:
                raise  # e.g. ORDER_SHIPPED: a dead letter for a person, with the WMS's word

    def _erp_cancel(
        self, config: BackendConfig, payload: dict[str, Any], client: httpx.Client
    ) -> None:
        adapter: ErpAdapter = self._adapter(config, ErpAdapter)
        if not self._cancel_needed(config, ERP_CREATE, payload["fulfilment_id"]):
            return
        try:
            call(
                client,
                adapter.cancel_sales_order(config, payload["fulfilment_id"]),
                config.code,
                config.timeout_seconds,
            )
        except CallRefused as exc:
            if exc.code not in NOTHING_TO_CANCEL:
                raise

    def _rider_cancel(
        self, config: BackendConfig, payload: dict[str, Any], client: httpx.Client
    ) -> None:
        adapter: DeliveryAdapter = self._adapter(config, DeliveryAdapter)
        if not self._cancel_needed(config, RIDER_CREATE, payload["fulfilment_id"]):
            return
        with self.hub.read_uow() as uow:
            task = uow.backends.rider_task(payload["fulfilment_id"])
        if task is not None and task.state in RIDER_FINAL_STATES:
            return  # it ended by itself (the failure that sent the order back, for one)
        try:
            call(
                client,
                adapter.cancel_task(config, payload["fulfilment_id"], "the order was withdrawn"),
                config.code,
                config.timeout_seconds,
            )
        except CallRefused as exc:
            if exc.code not in NOTHING_TO_CANCEL:
                raise

    # -- periodic work --------------------------------------------------------------------------
    def _take_turn(self, key: str, every: float) -> datetime | None:
        """The lease of one periodic job when it is due (its cursor is when it last ran),
        else None. The caller gives it back with ``_done``."""
        now = self.hub.clock.now()
        lease = timedelta(seconds=max(120.0, every * 3))
        last = self.store.lease_cursor(key, self.owner, now - timedelta(seconds=every), now, lease)
        if last is None:
            return None
        if now - last < timedelta(seconds=every):
            self._done(key, None, 0, None)
            return None
        return now

    def _done(self, key: str, to: datetime | None, count: int, error: str | None) -> None:
        self.store.advance_cursor(
            key, self.owner, to=to, pulled=count, rejected=0, error=error, now=self.hub.clock.now()
        )

    def _lease_poll(self, key: str, now: datetime) -> datetime | None:
        """Take the poll ``key`` (one poller at a time); where to read from: its cursor less
        the overlap (a first poll starts now), or None when another poller holds it."""
        lease = timedelta(seconds=max(120.0, self.hub.settings.backend_poll_seconds * 6))
        cursor = self.store.lease_cursor(key, self.owner, now, now, lease)
        if cursor is None:
            return None
        return cursor - timedelta(seconds=self.hub.settings.backend_poll_overlap_seconds)

    def poll_erps(self) -> int:
        for config in list(self.hub.backends.values()):
            if config.kind is not BackendKind.ERP:
                continue
            if services.backend_rules(config).poll:
                self.poll_erp(config)
            self.book_returns(config)
        return 0

    def book_returns(self, config: BackendConfig) -> int:
        """Queue a return document for the ERP for the goods that came back into its locations
        since the last turn (less the overlap: a repeat is the same delivery, sent once)."""
        key = f"backend:{config.code}:returns"
        now = self.hub.clock.now()
        since = self._lease_poll(key, now)
        if since is None:
            return 0
        queued, error, upto = 0, None, since
        try:
            for _ in range(RETURN_PAGES):
                docs, upto = services.returns_to_book(self.hub.read_uow(), config, since, now)
                queued += self.store.enqueue([self._return_item(config, d) for d in docs], now)
                if upto >= now:
                    break
                since = upto
        except DomainError as exc:
            error = f"{type(exc).__name__}: {exc}"[:1000]
            log.warning("returns for %s not queued: %s", config.code, error)
        self._done(key, upto if error is None else None, queued, error)
        return queued

    @staticmethod
    def _return_item(config: BackendConfig, doc: ReturnDoc) -> dict[str, Any]:
        return {
            "endpoint": endpoint(config.code),
            "url": config.endpoint,
            "event_id": f"{ERP_RETURN}:{doc.reference}",
            "event_type": ERP_RETURN,
            "payload": {
                "backend": config.code,
                "operation": ERP_RETURN,
                "location": doc.location,
                "return": {
                    "reference": doc.reference,
                    "order_reference": doc.order_reference,
                    "location": doc.location,
                    "returned_at": doc.returned_at.isoformat(),
                    "reason": doc.reason,
                    "lines": [
                        {
                            "sku": line.sku,
                            "qty": line.qty,
                            "price": None
                            if line.unit_price is None
                            else str(line.unit_price.amount),
                            "currency": None
                            if line.unit_price is None
                            else line.unit_price.currency,
                        }
                        for line in doc.lines
                    ],
                },
            },
        }

    def poll_erp(self, config: BackendConfig) -> int:
        """Apply the receipts and stock-takes the ERP approved since the last poll (less the
        overlap); the cursor moves only when every document of the window was read."""
        key = f"backend:{config.code}"
        now = self.hub.clock.now()
        since = self._lease_poll(key, now)
        if since is None:
            return 0
        adapter: ErpAdapter = self._adapter(config, ErpAdapter)
        applied, error = 0, None
        try:
            documents = call(
                self.client,
                adapter.stock_documents(config, since),
                config.code,
                config.timeout_seconds,
            )
            for document in documents:
                services.receive_documents(
                    self.hub.uow(), self.hub.clock.now(), config.code, [document], None
                )
                applied += 1
        except (CallRefused, DomainError, httpx.HTTPError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:1000]
            self.stats["errors"] += 1
            log.warning("poll of %s stopped: %s", config.code, error)
        self._done(key, now if error is None else None, applied, error)
        self.stats["polled"] += applied
        return applied

    def track_riders(self) -> int:
        for config in list(self.hub.backends.values()):
            if config.kind is BackendKind.DELIVERY:
                self.track(config)
        return 0

    def track(self, config: BackendConfig) -> int:
        """Ask where each live task's rider is: the position joins the order's track, and a
        state whose callback was lost is applied."""
        key = f"rider-track:{config.code}"
        if self._take_turn(key, self.hub.settings.rider_poll_seconds) is None:
            return 0
        adapter: DeliveryAdapter = self._adapter(config, DeliveryAdapter)
        rules = services.backend_rules(config)
        with self.hub.read_uow() as uow:
            live = uow.backends.live_rider_tasks(config.code, 200)
        asked, errors = 0, []
        for task in live:
            try:
                status = call(
                    self.client,
                    adapter.task_status(config, task.reference),
                    config.code,
                    config.timeout_seconds,
                )
                services.receive_documents(
                    self.hub.uow(),
                    self.hub.clock.now(),
                    config.code,
                    [status],
                    None,
                    policy=self.hub.policy,
                    rules=rules,
                )
                asked += 1
            except (CallRefused, DomainError, httpx.HTTPError) as exc:
                if not (isinstance(exc, CallRefused) and exc.code == "not_found"):
                    errors.append(f"{task.reference}: {exc}")
        self.stats["tracked"] += asked
        self.stats["errors"] += len(errors)
        self._done(key, self.hub.clock.now(), asked, "; ".join(errors)[:1000] or None)
        return asked

    def compare_due(self) -> int:
        for config in list(self.hub.backends.values()):
            if config.kind not in (BackendKind.ERP, BackendKind.WMS):
                continue
            if services.backend_rules(config).compare is CompareMode.OFF:
                continue
            key = f"compare:{config.code}"
            # the first compare runs one interval after the back end was first seen
            now = self.hub.clock.now()
            every = self.hub.settings.stock_compare_seconds
            lease = timedelta(seconds=max(600.0, every))
            last = self.store.lease_cursor(key, self.owner, now, now, lease)
            if last is None:
                continue
            if now - last < timedelta(seconds=every):
                self._done(key, None, 0, None)
                continue
            report = compare_now(self.hub, config, self.client)
            self.stats["compared"] += 1
            # a compare that could not read the back end is tried again within ten minutes
            # (not a whole interval later); a good one waits for the next interval
            again = timedelta(seconds=min(every, 600.0))
            done = now if report.error is None else now - timedelta(seconds=every) + again
            self._done(key, done, len(report.differences), report.error)
        return 0


def snapshot_of(hub: Hub, config: BackendConfig, client: httpx.Client) -> StockSnapshot:
    """What the back end holds at its locations: an ERP's whole snapshot, or a WMS asked about
    every SKU the hub keeps at each of them."""
    adapter = adapter_for(config.adapter)
    if isinstance(adapter, ErpAdapter):
        return call(client, adapter.stock_snapshot(config), config.code, config.timeout_seconds)
    if not isinstance(adapter, WmsAdapter):
        raise CallRefused(f"{config.label} holds no stock to compare", retry=False)
    lines: list[StockLine] = []
    unmapped: list[str] = []
    taken_at = hub.clock.now()
    for location, skus in services.skus_at(hub.read_uow(), list(config.locations)).items():
        for start in range(0, len(skus), 100):
            part = call(
                client,
                adapter.inventory(config, location, skus[start : start + 100]),
                config.code,
                config.timeout_seconds,
            )
            lines.extend(part.lines)
            unmapped.extend(part.unmapped)
    return StockSnapshot(config.code, taken_at, tuple(lines), tuple(sorted(set(unmapped))))


def compare_now(hub: Hub, config: BackendConfig, client: httpx.Client) -> CompareReport:
    """Compare the hub's stock with the back end's now (outside any transaction), then list,
    and by rule correct, the differences in one; a back end that cannot be read is a
    report with its error."""
    rules = services.backend_rules(config)
    try:
        snapshot = snapshot_of(hub, config, client)
    except (CallRefused, DomainError, httpx.HTTPError) as exc:
        log.warning("compare with %s failed: %s", config.code, exc)
        return services.record_failed_compare(
            hub.uow(), hub.clock.now(), config, rules, f"{type(exc).__name__}: {exc}"
        )
    return services.compare_stock(hub.uow(), hub.clock.now(), config, snapshot, rules)


def costs_now(
    config: BackendConfig, skus: list[str], client: httpx.Client
) -> tuple[list[ItemCost], list[str]]:
    """The ERP's item costs of ``skus`` (our codes), read now, and the SKUs named that it
    keeps no cost for."""
    adapter = adapter_for(config.adapter)
    if not isinstance(adapter, ErpAdapter):
        raise NotFound(f"{config.label} is a {config.kind} back end; item costs come from an ERP")
    wanted = list(dict.fromkeys(sku.strip() for sku in skus if sku.strip()))
    if not wanted:
        raise InvalidInput("name the SKUs to cost: ?sku=TEE-WHITE-M&sku=MUG-CERAMIC-350")
    if len(wanted) > services.MAX_COST_SKUS:
        raise InvalidInput(
            f"{len(wanted)} SKUs named; ask for at most {services.MAX_COST_SKUS} at a time"
        )
    try:
        costs = call(
            client, adapter.item_costs(config, wanted), config.code, config.timeout_seconds
        )
    except (CallRefused, httpx.HTTPError) as exc:
        raise services.BackendUnavailable(
            f"{config.label} did not give its item costs: {exc}"
        ) from exc
    found = {cost.sku for cost in costs}
    return costs, [sku for sku in wanted if sku not in found]
