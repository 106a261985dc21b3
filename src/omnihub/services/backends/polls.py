"""What the hub does with its back ends on a schedule: the ERPs polled for receipts and
stock-takes (an overlapping cursor; the ledger's references make repeats harmless) and asked
to book the goods that came back, live rider tasks asked where their rider is (the track on
the order; a lost callback is caught up too), and the full stock compare. Several processes
share each turn by a lease in the pull cursors."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from omnihub.domain.backends import BackendKind
from omnihub.domain.errors import DomainError
from omnihub.ports import (
    BackendConfig,
    BackendGateway,
    CallRefused,
    Clock,
    DeliveryQueue,
    PullCursors,
    UnitOfWorkFactory,
)
from omnihub.services.backends.compare import compare_now
from omnihub.services.backends.erp import returns_to_book
from omnihub.services.backends.exports import delivery_adapter, erp_adapter, return_item
from omnihub.services.backends.inbound import receive_documents
from omnihub.services.backends.rules import CompareMode, backend_rules
from omnihub.services.routing import RoutingPolicy

log = logging.getLogger("omnihub.backends")

#: pages of return movements read in one turn at most (the rest waits for the next turn)
RETURN_PAGES = 20


@dataclass(frozen=True, slots=True)
class PollSchedule:
    poll_seconds: float
    """how often an ERP is polled (and its returns queued)"""
    poll_overlap_seconds: float
    """each poll reads again this far before its cursor"""
    rider_seconds: float
    """how often live rider tasks are asked where their rider is"""
    compare_seconds: float
    """how often each back end's stock is compared with the hub's"""


@dataclass
class BackendPolls:
    backends: Mapping[str, BackendConfig]
    gateway: BackendGateway
    uow_factory: UnitOfWorkFactory
    read_uow: UnitOfWorkFactory
    cursors: PullCursors
    deliveries: DeliveryQueue
    clock: Clock
    schedule: PollSchedule
    owner: str
    policy: RoutingPolicy | None = None
    stats: dict[str, int] = field(
        default_factory=lambda: {"polled": 0, "tracked": 0, "compared": 0, "errors": 0}
    )

    # -- leases -------------------------------------------------------------------------------
    def _take_turn(self, key: str, every: float) -> datetime | None:
        """The lease of one periodic job when it is due (its cursor is when it last ran),
        else None. The caller gives it back with ``_done``."""
        now = self.clock.now()
        lease = timedelta(seconds=max(120.0, every * 3))
        last = self.cursors.lease(key, self.owner, now - timedelta(seconds=every), now, lease)
        if last is None:
            return None
        if now - last < timedelta(seconds=every):
            self._done(key, None, 0, None)
            return None
        return now

    def _done(self, key: str, to: datetime | None, count: int, error: str | None) -> None:
        self.cursors.advance(
            key, self.owner, to=to, pulled=count, rejected=0, error=error, now=self.clock.now()
        )

    def _lease_poll(self, key: str, now: datetime) -> datetime | None:
        """Take the poll ``key`` (one poller at a time); where to read from: its cursor less
        the overlap (a first poll starts now), or None when another poller holds it."""
        lease = timedelta(seconds=max(120.0, self.schedule.poll_seconds * 6))
        cursor = self.cursors.lease(key, self.owner, now, now, lease)
        if cursor is None:
            return None
        return cursor - timedelta(seconds=self.schedule.poll_overlap_seconds)

    # -- ERPs ---------------------------------------------------------------------------------
    def poll_erps(self) -> int:
        for config in list(self.backends.values()):
            if config.kind is not BackendKind.ERP:
                continue
            if backend_rules(config).poll:
                self.poll_erp(config)
            self.book_returns(config)
        return 0

    def book_returns(self, config: BackendConfig) -> int:
        """Queue a return document for the ERP for the goods that came back into its locations
        since the last turn (less the overlap: a repeat is the same delivery, sent once)."""
        key = f"backend:{config.code}:returns"
        now = self.clock.now()
        since = self._lease_poll(key, now)
        if since is None:
            return 0
        queued, error, upto = 0, None, since
        try:
            for _ in range(RETURN_PAGES):
                docs, upto = returns_to_book(self.read_uow(), config, since, now)
                queued += self.deliveries.enqueue([return_item(config, d) for d in docs], now)
                if upto >= now:
                    break
                since = upto
        except DomainError as exc:
            error = f"{type(exc).__name__}: {exc}"[:1000]
            log.warning("returns for %s not queued: %s", config.code, error)
        self._done(key, upto if error is None else None, queued, error)
        return queued

    def poll_erp(self, config: BackendConfig) -> int:
        """Apply the receipts and stock-takes the ERP approved since the last poll (less the
        overlap); the cursor moves only when every document of the window was read."""
        key = f"backend:{config.code}"
        now = self.clock.now()
        since = self._lease_poll(key, now)
        if since is None:
            return 0
        adapter = erp_adapter(self.gateway, config)
        applied, error = 0, None
        try:
            documents = self.gateway.run(config, adapter.stock_documents(config, since))
            for document in documents:
                receive_documents(
                    self.uow_factory(), self.clock.now(), config.code, [document], None
                )
                applied += 1
        except (CallRefused, DomainError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:1000]
            self.stats["errors"] += 1
            log.warning("poll of %s stopped: %s", config.code, error)
        self._done(key, now if error is None else None, applied, error)
        self.stats["polled"] += applied
        return applied

    # -- riders -------------------------------------------------------------------------------
    def track_riders(self) -> int:
        for config in list(self.backends.values()):
            if config.kind is BackendKind.DELIVERY:
                self.track(config)
        return 0

    def track(self, config: BackendConfig) -> int:
        """Ask where each live task's rider is: the position joins the order's track, and a
        state whose callback was lost is applied."""
        key = f"rider-track:{config.code}"
        if self._take_turn(key, self.schedule.rider_seconds) is None:
            return 0
        adapter = delivery_adapter(self.gateway, config)
        rules = backend_rules(config)
        with self.read_uow() as uow:
            live = uow.backends.live_rider_tasks(config.code, 200)
        asked, errors = 0, []
        for task in live:
            try:
                status = self.gateway.run(config, adapter.task_status(config, task.reference))
                receive_documents(
                    self.uow_factory(),
                    self.clock.now(),
                    config.code,
                    [status],
                    None,
                    policy=self.policy,
                    rules=rules,
                )
                asked += 1
            except (CallRefused, DomainError) as exc:
                if not (isinstance(exc, CallRefused) and exc.code == "not_found"):
                    errors.append(f"{task.reference}: {exc}")
        self.stats["tracked"] += asked
        self.stats["errors"] += len(errors)
        self._done(key, self.clock.now(), asked, "; ".join(errors)[:1000] or None)
        return asked

    # -- stock compares -----------------------------------------------------------------------
    def compare_due(self) -> int:
        for config in list(self.backends.values()):
            if config.kind not in (BackendKind.ERP, BackendKind.WMS):
                continue
            if backend_rules(config).compare is CompareMode.OFF:
                continue
            key = f"compare:{config.code}"
            # the first compare runs one interval after the back end was first seen
            now = self.clock.now()
            every = self.schedule.compare_seconds
            lease = timedelta(seconds=max(600.0, every))
            last = self.cursors.lease(key, self.owner, now, now, lease)
            if last is None:
                continue
            if now - last < timedelta(seconds=every):
                self._done(key, None, 0, None)
                continue
            report = compare_now(config, self.gateway, self.uow_factory, self.read_uow, self.clock)
            self.stats["compared"] += 1
            # a compare that could not read the back end is tried again within ten minutes
            # (not a whole interval later); a good one waits for the next interval
            again = timedelta(seconds=min(every, 600.0))
            done = now if report.error is None else now - timedelta(seconds=every) + again
            self._done(key, done, len(report.differences), report.error)
        return 0
