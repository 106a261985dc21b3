"""The canonical documents: what each asks of the hub's ledger, which back end serves a
location, and the rider-task transition table."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.backends.backend_world import AT, HZ_WH, MUG, SH_WH, TEE, backend, line

from omnihub.adapters.backends.config import serving
from omnihub.domain.backends import (
    RIDER_TRANSITIONS,
    BackendKind,
    InboundReceipt,
    ReceiptKind,
    RiderState,
    RiderStatus,
    StockAdjustment,
    StockTake,
    ledger_lines,
    supersedes,
)
from omnihub.domain.inventory import EXTERNAL_MOVEMENTS, MovementKind
from omnihub.ports import BackendConfig

pytestmark = pytest.mark.unit


def test_a_receipt_moves_each_line_in_under_the_messages_key() -> None:
    receipt = InboundReceipt(
        "wms", "PO-1", SH_WH, (line(TEE, 5), line(MUG, 2)), AT, message_id="IN-1-1"
    )
    assert ledger_lines(receipt) == [
        (SH_WH, TEE, MovementKind.RECEIPT, 5, "wms:IN-1-1"),
        (SH_WH, MUG, MovementKind.RECEIPT, 2, "wms:IN-1-1"),
    ]


@pytest.mark.parametrize(
    ("kind", "movement"),
    [
        (ReceiptKind.PURCHASE, MovementKind.RECEIPT),
        (ReceiptKind.OTHER, MovementKind.RECEIPT),
        (ReceiptKind.RETURN, MovementKind.RETURN),
        (ReceiptKind.TRANSFER, MovementKind.TRANSFER_IN),
    ],
)
def test_a_receipts_kind_chooses_the_movement(kind: ReceiptKind, movement: MovementKind) -> None:
    receipt = InboundReceipt("erp", "R-1", SH_WH, (line(TEE, 1),), AT, kind)
    ((_, _, chosen, _, reference),) = ledger_lines(receipt)
    assert (chosen, reference) == (movement, "erp:R-1")
    assert chosen in EXTERNAL_MOVEMENTS


def test_a_stock_take_sets_counts_including_zero() -> None:
    take = StockTake("erp", "PD-1", HZ_WH, AT, (line(MUG, 28), line(TEE, 0)))
    assert ledger_lines(take) == [
        (HZ_WH, MUG, MovementKind.STOCKTAKE, 28, "erp:PD-1"),
        (HZ_WH, TEE, MovementKind.STOCKTAKE, 0, "erp:PD-1"),
    ]


def test_an_adjustment_moves_signed_changes_and_skips_empty_ones() -> None:
    adjustment = StockAdjustment(
        "wms",
        "CHK-1",
        SH_WH,
        AT,
        (line(TEE, -2), line(MUG, 0)),
        reason="stocktake",
        message_id="M1",
    )
    assert ledger_lines(adjustment) == [(SH_WH, TEE, MovementKind.ADJUSTMENT, -2, "wms:M1")]


def config(code: str, kind: str, adapter: str, locations: list[str]) -> BackendConfig:
    credentials = {
        "erp": {"acct_id": "a", "username": "u", "password": "p"},
        "wms": {"app_key": "k", "app_secret": "s", "customer_id": "c"},
    }[kind]
    settings = {"erp": {"sale_org": "1", "customer": "C"}, "wms": {"owner_code": "O"}}[kind]
    return backend(
        {
            "code": code,
            "kind": kind,
            "adapter": adapter,
            "endpoint": "http://x",
            "credentials": credentials,
            "locations": locations,
            "warehouses": {loc: f"W-{loc}" for loc in locations},
            "settings": settings,
        }
    )


def test_the_backend_serving_a_location_is_found_by_kind() -> None:
    configs = {
        "erp": config("erp", "erp", "kingdee", [SH_WH, HZ_WH]),
        "wms-sh": config("wms-sh", "wms", "qimen", [SH_WH]),
    }
    assert serving(configs, BackendKind.WMS, SH_WH) is configs["wms-sh"]
    assert serving(configs, BackendKind.ERP, HZ_WH) is configs["erp"]
    assert serving(configs, BackendKind.WMS, HZ_WH) is None


def test_every_rider_state_has_its_moves_and_only_delivered_is_the_end() -> None:
    assert set(RIDER_TRANSITIONS) == set(RiderState)
    assert [s for s, moves in RIDER_TRANSITIONS.items() if not moves] == [RiderState.DELIVERED]
    assert {s for s in RiderState if s.failed} == {
        RiderState.CANCELLED,
        RiderState.EXPIRED,
        RiderState.RETURNED,
    }


def status(state: RiderState, minute: int) -> RiderStatus:
    return RiderStatus(
        "dada", "FF-1", "9", state, 0, AT + timedelta(minutes=minute), f"{state}:{minute}"
    )


def test_a_status_older_than_the_current_one_never_replaces_it() -> None:
    current = status(RiderState.ACCEPTED, 5)
    assert not supersedes(current, status(RiderState.WAITING, 4))  # stale, though allowed
    assert supersedes(current, status(RiderState.WAITING, 6))  # the rider gave up
    assert not supersedes(status(RiderState.DELIVERED, 9), status(RiderState.CANCELLED, 10))
