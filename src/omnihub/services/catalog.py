"""Catalog use cases: master SKUs and channel listing mappings."""

from __future__ import annotations

from datetime import datetime

from omnihub.domain.catalog import ChannelMapping, Sku
from omnihub.domain.errors import AlreadyExists, ErrorCode, NotFound
from omnihub.ports import Clock, UnitOfWork
from omnihub.services import orders as order_services
from omnihub.services.routing import RoutingPolicy


def add_sku(uow: UnitOfWork, sku: Sku) -> Sku:
    with uow:
        uow.catalog.add_sku(sku)
        uow.commit()
    return sku


def add_mapping(
    uow: UnitOfWork,
    mapping: ChannelMapping,
    clock: Clock,
    actor: str = "api",
    policy: RoutingPolicy | None = None,
) -> tuple[ChannelMapping, list[str]]:
    """Bind a channel listing to a SKU and resume the orders that waited for it.

    Returns the mapping and the ids of the orders it released from the ``unmapped_sku`` hold.
    Binding the same listing to the same SKU again is harmless; to another SKU it is refused.
    """
    with uow:
        if uow.catalog.get_sku(mapping.sku) is None:
            raise NotFound(
                f"SKU {mapping.sku} does not exist; create it first", code=ErrorCode.UNKNOWN_SKU
            )
        existing = uow.catalog.get_mapping(mapping.channel, mapping.channel_sku)
        if existing is not None:
            if existing.sku == mapping.sku:
                return existing, []
            raise AlreadyExists(
                f"{mapping.channel} listing {mapping.channel_sku} is already mapped to "
                f"{existing.sku}",
                code=ErrorCode.MAPPING_CONFLICT,
                details={"mapped_to": existing.sku},
            )
        uow.catalog.add_mapping(mapping)
        now = clock.now()
        uow.audit.record(
            actor=actor,
            action="mapping.added",
            subject=f"sku:{mapping.sku}",
            details={"channel": mapping.channel, "channel_sku": mapping.channel_sku},
            at=now,
        )
        released = _release_waiting(uow, mapping, now, policy)
        uow.commit()
    return mapping, released


def _release_waiting(
    uow: UnitOfWork, mapping: ChannelMapping, now: datetime, policy: RoutingPolicy | None
) -> list[str]:
    released = []
    for order_id in uow.orders.waiting_for_mapping(mapping.channel, mapping.channel_sku):
        order = uow.orders.get(order_id)
        if order is None:
            continue
        if order_services.resolve_lines(uow, order) and order.hold_reason == "unmapped_sku":
            order.resume(f"mapping {mapping.channel_sku} -> {mapping.sku} added", now)
            order_services.allocate_if_paid(uow, order, now, policy)
            released.append(order.id)
        uow.orders.save(order)
    return released
