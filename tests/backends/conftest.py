"""Fixtures of the back-end tests. Each simulator (and the hub stand-in receiving callbacks)
is a real HTTP server on 127.0.0.1, started once for the folder and reset before each test, so
a test sees an empty system with no faults. The end-to-end tests start a real hub with
``start_hub``; it and everything it started stop when the test ends."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.backends.backend_world import CallbackReceiver
from tests.backends.flow_hub import BackendHub, Forwarder, StartHub, start_backend_hub

from omnihub.simulators.backends.base import BackendSimulator
from omnihub.simulators.backends.delivery.dada import DadaSimulator
from omnihub.simulators.backends.erp.erpnext import ErpNextSimulator
from omnihub.simulators.backends.erp.kingdee import KingdeeSimulator
from omnihub.simulators.backends.erp.odoo import OdooSimulator
from omnihub.simulators.backends.wms.qimen import QimenWmsSimulator


def _served(simulator: BackendSimulator) -> Iterator[BackendSimulator]:
    simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture(scope="session")
def _receiver_server() -> Iterator[BackendSimulator]:
    yield from _served(CallbackReceiver())


@pytest.fixture(scope="session")
def _kingdee_server() -> Iterator[BackendSimulator]:
    yield from _served(KingdeeSimulator())


@pytest.fixture(scope="session")
def _odoo_server() -> Iterator[BackendSimulator]:
    yield from _served(OdooSimulator())


@pytest.fixture(scope="session")
def _erpnext_server() -> Iterator[BackendSimulator]:
    yield from _served(ErpNextSimulator())


@pytest.fixture(scope="session")
def _qimen_server() -> Iterator[BackendSimulator]:
    yield from _served(QimenWmsSimulator())


@pytest.fixture(scope="session")
def _dada_server() -> Iterator[BackendSimulator]:
    yield from _served(DadaSimulator())


@pytest.fixture
def receiver(_receiver_server: CallbackReceiver) -> CallbackReceiver:
    _receiver_server.reset()
    return _receiver_server


@pytest.fixture
def kingdee(_kingdee_server: KingdeeSimulator) -> KingdeeSimulator:
    _kingdee_server.reset()
    return _kingdee_server


@pytest.fixture
def odoo(_odoo_server: OdooSimulator) -> OdooSimulator:
    _odoo_server.reset()
    return _odoo_server


@pytest.fixture
def erpnext(_erpnext_server: ErpNextSimulator) -> ErpNextSimulator:
    _erpnext_server.reset()
    return _erpnext_server


@pytest.fixture
def qimen(_qimen_server: QimenWmsSimulator) -> QimenWmsSimulator:
    _qimen_server.reset()
    return _qimen_server


@pytest.fixture
def dada(_dada_server: DadaSimulator) -> DadaSimulator:
    _dada_server.reset()
    return _dada_server


@pytest.fixture
def stack() -> Iterator[contextlib.ExitStack]:
    with contextlib.ExitStack() as stack:
        yield stack


@pytest.fixture
def forwarder(stack: contextlib.ExitStack) -> Forwarder:
    """Where a provider that takes its callback address in the config (Dada) calls the hub."""
    return stack.enter_context(Forwarder())  # type: ignore[return-value]


@pytest.fixture
def start_hub(stack: contextlib.ExitStack, tmp_path: Path, forwarder: Forwarder) -> StartHub:
    def start(database_url: str, backends: list[dict[str, Any]], **settings: str) -> BackendHub:
        return start_backend_hub(stack, database_url, tmp_path, backends, forwarder, **settings)

    return start
