"""Domain objects to JSON-ready dicts for responses."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from omnihub.domain.catalog import ChannelMapping, Sku
from omnihub.domain.inventory import Reservation, StockLevel
from omnihub.domain.locations import Location
from omnihub.domain.orders import Order
from omnihub.domain.routing.fulfilment import Fulfilment, MergeGroup
from omnihub.ports import CompareReport
from omnihub.services.inventory import SkuStock


def sku(item: Sku) -> dict[str, Any]:
    return {
        "sku": item.code,
        "name": item.name,
        "barcode": item.barcode,
        "price": str(item.price),
        "currency": item.price.currency,
    }


def mapping(item: ChannelMapping) -> dict[str, Any]:
    return {"channel": item.channel, "channel_sku": item.channel_sku, "sku": item.sku}


def location(item: Location) -> dict[str, Any]:
    return {
        "code": item.code,
        "name": item.name,
        "type": str(item.type),
        "lat": item.lat,
        "lon": item.lon,
        "services": sorted(str(s) for s in item.services),
        "channels": sorted(item.channels),
        "capacity_per_day": item.capacity_per_day,
        "priority": item.priority,
    }


def level(item: StockLevel) -> dict[str, Any]:
    return {
        "location": item.location,
        "on_hand": item.on_hand,
        "reserved": item.reserved,
        "safety": item.safety,
        "available": item.available,
    }


def stock(item: SkuStock) -> dict[str, Any]:
    return {
        "sku": item.sku,
        "available": item.available,
        "locations": [level(lv) for lv in item.levels],
    }


def reservation(item: Reservation) -> dict[str, Any]:
    return {
        "id": item.id,
        "sku": item.sku,
        "location": item.location,
        "qty": item.qty,
        "state": str(item.state),
        "order_id": item.order_id,
        "created_at": item.created_at.isoformat(),
        "expires_at": item.expires_at.isoformat() if item.expires_at else None,
    }


def fulfilment(item: Fulfilment) -> dict[str, Any]:
    return {
        "id": item.id,
        "order_id": item.order_id,
        "location": item.location,
        "status": str(item.status),
        "lines": item.lines,
        "shipment": item.shipment,
        "carrier": item.carrier,
        "tracking_number": item.tracking_number,
        "created_at": item.created_at.isoformat(),
        "updated_at": item.updated_at.isoformat(),
    }


def merge_group(item: MergeGroup) -> dict[str, Any]:
    return {
        "id": item.id,
        "state": str(item.state),
        "orders": item.order_ids,
        "created_at": item.created_at.isoformat(),
    }


def order_summary(item: Order) -> dict[str, Any]:
    return {
        "id": item.id,
        "channel": item.channel,
        "external_id": item.external_id,
        "status": str(item.status),
        "hold_reason": item.hold_reason,
        "delivery": str(item.delivery),
        "total": str(item.total),
        "currency": item.total.currency,
        "created_at": item.channel_created_at.isoformat(),
        "updated_at": item.channel_updated_at.isoformat(),
        "version": item.version,
    }


def order(item: Order, reservations: list[Reservation] | None = None) -> dict[str, Any]:
    body = order_summary(item)
    body.update(
        {
            "pickup_location": item.pickup_location,
            "held_from": str(item.held_from) if item.held_from else None,
            "cod": item.cod,
            "service_level": item.service_level,
            "merge_group": item.merge_group,
            "buyer": asdict(item.buyer),
            "ship_to": asdict(item.ship_to),
            "lines": [
                {
                    "line_no": ln.line_no,
                    "channel_sku": ln.channel_sku,
                    "sku": ln.sku,
                    "qty": ln.qty,
                    "unit_price": str(ln.unit_price),
                    "discount": str(ln.discount),
                    "amount": str(ln.amount),
                }
                for ln in item.lines
            ],
            "shipping_fee": str(item.shipping_fee),
            "payment": None
            if item.payment is None
            else {
                "provider": item.payment.provider,
                "transaction_id": item.payment.transaction_id,
                "amount": str(item.payment.amount),
                "paid_at": item.payment.paid_at.isoformat(),
            },
            "remark": item.remark,
            "transitions": [
                {
                    "from": str(t.from_status) if t.from_status else None,
                    "to": str(t.to_status),
                    "cause": t.cause,
                    "at": t.at.isoformat(),
                }
                for t in item.transitions
            ],
        }
    )
    if reservations is not None:
        body["reservations"] = [reservation(r) for r in reservations]
    return body


def compare_report(item: CompareReport) -> dict[str, Any]:
    """A full compare of the hub's stock with a back end's (differences and what was done)."""
    return {
        "id": item.id,
        "backend": item.backend,
        "taken_at": item.taken_at.isoformat(),
        "mode": item.mode,
        "compared": item.compared,
        "differences": item.differences,
        "skipped": item.skipped,
        "unmapped": item.unmapped,
        "corrected": item.corrected,
        "error": item.error,
    }
