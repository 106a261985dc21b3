"""The unit of work: one transaction over every repository; events collected at commit."""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Self

from omnihub.domain.events import Event
from omnihub.ports.repositories import (
    AuditLog,
    BackendRepository,
    CatalogRepository,
    InboundLog,
    LocationRepository,
    OrderRepository,
    Outbox,
    ReservationRepository,
    RoutingRepository,
    StockRepository,
)


class UnitOfWork(abc.ABC):
    """One transaction; rolled back on leaving the block unless ``commit()`` was called."""

    catalog: CatalogRepository
    locations: LocationRepository
    stock: StockRepository
    reservations: ReservationRepository
    orders: OrderRepository
    inbound: InboundLog
    audit: AuditLog
    outbox: Outbox
    routing: RoutingRepository
    backends: BackendRepository

    def __init__(self) -> None:
        self._events: list[Event] = []

    def __enter__(self) -> Self:
        self._events = []
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()

    def emit(self, *events: Event) -> None:
        self._events.extend(events)

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        """A block whose writes are undone, and whose row locks are let go, when it raises.

        A caller undoes its writes itself before raising: this default only runs the block, as
        does an adapter with no row locks to let go of (the in-memory fakes; SQLite, where a
        writer holds the whole database until commit), and each ends up in the same state.
        """
        yield

    def commit(self) -> None:
        for order in self.orders.seen.values():
            self._events.extend(order.events)
            order.events.clear()
        if self._events:
            self.outbox.add(self._events)
            self._events = []
        self._commit()

    @abc.abstractmethod
    def _commit(self) -> None: ...

    @abc.abstractmethod
    def rollback(self) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
