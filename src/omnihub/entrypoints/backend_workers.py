"""The hub's work with its back ends (ERP, WMS, instant delivery), run with the other workers:
the wiring of the use cases in ``services/backends`` and their loops.

- **Reactions** (``services/handlers.py``, ``services/backends/exports.py``): an order
  released to its nodes queues deliveries to ``backend:<code>`` (delivery order, rider task,
  sales order); one withdrawn takes back what had gone out.
- **perform**: the connector runtime's hook for those deliveries, with the runtime's HTTP
  client; it runs the adapter's exchange outside any transaction, then records the back end's
  id in a short one. The runtime retries, backs off, opens the circuit and keeps dead letters
  as for every other call.
- **Loops** (``services/backends/polls.py``): ERPs polled for receipts and stock-takes and
  asked to book returns, live rider tasks asked where their rider is, and the full stock
  compare every ``stock_compare_seconds``. Several processes share each by a lease in
  ``channel_cursors``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from omnihub.adapters.backends.transport import HttpBackendGateway
from omnihub.bootstrap import Hub
from omnihub.domain.backends import BackendKind
from omnihub.ports import Delivery, IntegrationStores
from omnihub.services.backends.exports import Exporter, perform
from omnihub.services.backends.polls import BackendPolls, PollSchedule


@dataclass
class BackendWorkers:
    hub: Hub
    stores: IntegrationStores
    owner: str = field(default_factory=lambda: f"{os.getpid()}-{threading.get_ident()}")
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))
    """for polls and compares (deliveries use the connector runtime's client)"""
    polls: BackendPolls = field(init=False)

    def __post_init__(self) -> None:
        settings = self.hub.settings
        self.polls = BackendPolls(
            backends=self.hub.backends,
            gateway=HttpBackendGateway(self.client),
            uow_factory=self.hub.uow,
            read_uow=self.hub.read_uow,
            cursors=self.stores.cursors,
            deliveries=self.stores.deliveries,
            clock=self.hub.clock,
            schedule=PollSchedule(
                poll_seconds=settings.backend_poll_seconds,
                poll_overlap_seconds=settings.backend_poll_overlap_seconds,
                rider_seconds=settings.rider_poll_seconds,
                compare_seconds=settings.stock_compare_seconds,
            ),
            owner=self.owner,
            policy=self.hub.policy,
        )

    def loops(self) -> list[tuple[str, float, Callable[[], Any]]]:
        settings = self.hub.settings
        kinds = {config.kind for config in self.hub.backends.values()}
        loops: list[tuple[str, float, Callable[[], Any]]] = []
        if BackendKind.ERP in kinds:
            loops.append(("backend polls", settings.backend_poll_seconds, self.polls.poll_erps))
        if BackendKind.DELIVERY in kinds:
            loops.append(("rider tracking", settings.rider_poll_seconds, self.polls.track_riders))
        if kinds & {BackendKind.ERP, BackendKind.WMS}:
            every = min(settings.stock_compare_seconds, 60.0)
            loops.append(("stock compares", every, self.polls.compare_due))
        return loops

    def perform(self, delivery: Delivery, client: httpx.Client) -> None:
        """Carry out one delivery to a back end with the connector runtime's client."""
        perform(
            delivery,
            Exporter(
                backends=self.hub.backends,
                gateway=HttpBackendGateway(client),
                uow_factory=self.hub.uow,
                read_uow=self.hub.read_uow,
                deliveries=self.stores.deliveries,
                clock=self.hub.clock,
            ),
        )

    def close(self) -> None:
        self.client.close()
