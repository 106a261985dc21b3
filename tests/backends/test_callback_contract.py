"""The callback contract, shared by every adapter whose system calls the hub back (ERPNext
webhooks, Qimen confirmations, Dada status callbacks): signed callbacks become canonical
documents, the same callback twice the same document, anything forged, changed or unreadable
is refused before it is read. Each system's simulator sends real callbacks over HTTP to a
stand-in of the hub's receiver."""

from __future__ import annotations

import abc
import hashlib
import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from tests.backends.backend_world import (
    AT,
    BUYER,
    SH_STORE,
    SH_WH,
    TEE,
    CallbackReceiver,
    backend,
    client,
    line,
    run,
)

from omnihub.adapters.backends import adapter_for
from omnihub.adapters.backends.delivery.dada import signature as dada_signature
from omnihub.adapters.backends.erp.erpnext import signature as erpnext_signature
from omnihub.adapters.backends.wms.qimen import signature as qimen_signature
from omnihub.domain.backends import InboundReceipt, OutboundOrder, Position, RiderStatus, RiderTask
from omnihub.domain.values import Money
from omnihub.ports import (
    BackendAdapter,
    BackendConfig,
    ChannelRefused,
    InboundRequest,
    UnreadablePayload,
)
from omnihub.simulators.backends.base import Callback
from omnihub.simulators.backends.delivery.dada import DadaSimulator
from omnihub.simulators.backends.delivery.dada import protocol as dada_protocol
from omnihub.simulators.backends.erp.erpnext import ErpNextSimulator
from omnihub.simulators.backends.wms.qimen import QimenWmsSimulator
from omnihub.simulators.backends.wms.qimen import protocol as qimen_protocol

pytestmark = pytest.mark.integration


def as_received(callback: Callback) -> InboundRequest:
    """A callback as the hub's route hands it to the adapter."""
    query = dict(parse_qsl(urlsplit(callback.url).query))
    query.update(callback.params or {})
    return InboundRequest(callback.body, {k.lower(): v for k, v in callback.headers.items()}, query)


class CallbackWorld(abc.ABC):
    code: str
    adapter: BackendAdapter
    config: BackendConfig
    simulator: Any
    receiver: CallbackReceiver
    document: type

    @abc.abstractmethod
    def emit(self) -> None:
        """Make the system send one callback (a new document each time)."""

    @abc.abstractmethod
    def forge(self, callback: Callback) -> InboundRequest:
        """The callback signed with a secret that is not ours."""

    @abc.abstractmethod
    def tamper(self, callback: Callback) -> InboundRequest:
        """The callback with a signed field changed after signing."""

    @abc.abstractmethod
    def garbled(self) -> InboundRequest:
        """A body that cannot be read, signed as well as the scheme allows."""


class ErpNextWorld(CallbackWorld):
    code = "erp-next"
    adapter = adapter_for("erpnext")
    document = InboundReceipt

    def __init__(self, sim: ErpNextSimulator, receiver: CallbackReceiver) -> None:
        self.simulator, self.receiver = sim, receiver
        sim.add_item(TEE, "12.50")
        self.config = backend(
            {
                "code": self.code,
                "kind": "erp",
                "adapter": "erpnext",
                "endpoint": sim.url,
                "credentials": sim.credentials(),
                "locations": [SH_WH],
                "warehouses": {SH_WH: "Stores - SH"},
                "settings": {"customer": "Demo Customer"},
            }
        )
        receiver.backends[self.code] = self.config
        sim.webhook_url = receiver.url_for(self.code)
        self.emitted = 0

    def emit(self) -> None:
        self.emitted += 1
        self.simulator.submit_receipt("Stores - SH", {TEE: self.emitted})

    def _signed(self, body: bytes, secret: str) -> InboundRequest:
        return InboundRequest(
            body, {erpnext_signature.HEADER: erpnext_signature.webhook_signature(secret, body)}, {}
        )

    def forge(self, callback: Callback) -> InboundRequest:
        return self._signed(callback.body, "not-our-secret")

    def tamper(self, callback: Callback) -> InboundRequest:
        request = as_received(callback)
        body = callback.body.replace(b'"qty": 1.0', b'"qty": 100.0')
        assert body != callback.body
        return InboundRequest(body, request.headers, request.query)

    def garbled(self) -> InboundRequest:
        return self._signed(b"{not json", self.config.credential("webhook_secret"))


class QimenWorld(CallbackWorld):
    code = "wms"
    adapter = adapter_for("qimen")
    document = InboundReceipt

    def __init__(self, sim: QimenWmsSimulator, receiver: CallbackReceiver) -> None:
        self.simulator, self.receiver = sim, receiver
        self.config = backend(
            {
                "code": self.code,
                "kind": "wms",
                "adapter": "qimen",
                "endpoint": sim.endpoint,
                "credentials": sim.credentials(),
                "locations": [SH_WH],
                "warehouses": {SH_WH: "QM-SH-01"},
                "settings": {"owner_code": "OMNI"},
            }
        )
        receiver.backends[self.code] = self.config
        sim.callback_url = receiver.url_for(self.code)
        self.emitted = 0

    def emit(self) -> None:
        self.emitted += 1
        self.simulator.receive(f"PO-{self.emitted}", "QM-SH-01", {TEE: 23})

    def _signed(self, body: bytes, params: dict[str, str], secret: str) -> InboundRequest:
        params = {k: v for k, v in params.items() if k != "sign"}
        params["sign"] = qimen_signature.sign(secret, params, body)
        return InboundRequest(body, {"content-type": "text/xml"}, params)

    def forge(self, callback: Callback) -> InboundRequest:
        return self._signed(callback.body, dict(callback.params or {}), "not-our-secret")

    def tamper(self, callback: Callback) -> InboundRequest:
        request = as_received(callback)
        body = callback.body.replace(b"<actualQty>23</actualQty>", b"<actualQty>99</actualQty>")
        assert body != callback.body
        return InboundRequest(body, request.headers, request.query)

    def garbled(self) -> InboundRequest:
        params = {
            "method": "taobao.qimen.entryorder.confirm",
            "app_key": self.simulator.app_key,
            "customerId": self.simulator.customer_id,
            "timestamp": "2026-11-11 10:00:00",
            "format": "xml",
            "v": "2.0",
            "sign_method": "md5",
        }
        return self._signed(b"<request><entryOrder>", params, self.simulator.app_secret)


class DadaWorld(CallbackWorld):
    code = "dada"
    adapter = adapter_for("dada")
    document = RiderStatus

    def __init__(self, sim: DadaSimulator, receiver: CallbackReceiver) -> None:
        self.simulator, self.receiver = sim, receiver
        sim.add_shop("11047059", 31.22, 121.42)
        self.config = backend(
            {
                "code": self.code,
                "kind": "delivery",
                "adapter": "dada",
                "endpoint": sim.url,
                "credentials": sim.credentials(),
                "locations": [SH_STORE],
                "warehouses": {SH_STORE: "11047059"},
                "settings": {
                    "city_code": "021",
                    "callback_url": receiver.url_for(self.code),
                    "callback_token": "cb-token",
                },
            }
        )
        receiver.backends[self.code] = self.config
        self.emitted = 0

    def emit(self) -> None:
        self.emitted += 1
        task = RiderTask(
            f"FF-{self.emitted}",
            SH_STORE,
            AT,
            BUYER,
            Position(31.23, 121.44),
            Money.of("10.00"),
            (),
        )
        run(self.config, self.adapter.create_task(self.config, task))  # type: ignore[attr-defined]

    def forge(self, callback: Callback) -> InboundRequest:
        payload = json.loads(callback.body)
        payload["signature"] = "0" * 32
        request = as_received(callback)
        return InboundRequest(json.dumps(payload).encode(), request.headers, request.query)

    def tamper(self, callback: Callback) -> InboundRequest:
        payload = json.loads(callback.body)
        payload["order_id"] = "FF-SOMEONE-ELSES"
        request = as_received(callback)
        return InboundRequest(json.dumps(payload).encode(), request.headers, request.query)

    def garbled(self) -> InboundRequest:
        return InboundRequest(b"{", {"content-type": "application/json"}, {"token": "cb-token"})


class CallbackContract:
    @pytest.fixture
    def world(self) -> CallbackWorld:
        raise NotImplementedError

    def test_a_signed_callback_is_read_into_canonical_documents(self, world: CallbackWorld) -> None:
        world.emit()
        documents = world.receiver.documents(world.code)
        assert documents
        assert all(isinstance(d, world.document) for d in documents)
        assert world.receiver.rejected == []
        assert all(200 <= status < 300 for _, status in world.simulator.callbacks)

    def test_the_same_callback_twice_reads_as_the_same_document(self, world: CallbackWorld) -> None:
        world.simulator.faults.duplicate_rate = 1.0
        world.emit()
        documents = world.receiver.documents(world.code)
        assert len(documents) == 2
        assert documents[0] == documents[1]
        first = world.simulator.callback_log[-1]
        assert world.adapter.parse_callback(
            world.config, as_received(first)
        ) == world.adapter.parse_callback(world.config, as_received(first))

    def test_a_callback_signed_with_another_secret_is_refused(self, world: CallbackWorld) -> None:
        world.emit()
        with pytest.raises(ChannelRefused):
            world.adapter.parse_callback(
                world.config, world.forge(world.simulator.callback_log[-1])
            )

    def test_a_callback_changed_after_signing_is_refused(self, world: CallbackWorld) -> None:
        world.emit()
        with pytest.raises(ChannelRefused):
            world.adapter.parse_callback(
                world.config, world.tamper(world.simulator.callback_log[-1])
            )

    def test_an_unreadable_callback_is_refused_as_unreadable(self, world: CallbackWorld) -> None:
        with pytest.raises(UnreadablePayload):
            world.adapter.parse_callback(world.config, world.garbled())

    def test_a_forged_callback_sent_to_the_hub_is_refused_and_nothing_is_read(
        self, world: CallbackWorld
    ) -> None:
        world.emit()
        before = len(world.receiver.documents())
        forged = world.forge(world.simulator.callback_log[-1])
        answer = client().post(
            world.receiver.url_for(world.code),
            content=forged.body,
            headers=forged.headers,
            params=forged.query,
        )
        assert len(world.receiver.documents()) == before
        ((code, refusal),) = world.receiver.rejected
        assert code == world.code
        assert isinstance(refusal, ChannelRefused)
        assert answer.status_code in (200, 401)  # Qimen reads its flag, not the status

    def test_callbacks_out_of_order_are_each_read(self, world: CallbackWorld) -> None:
        world.simulator.faults.out_of_order = True
        world.emit()
        assert world.receiver.documents(world.code) == []  # held back
        world.emit()
        world.simulator.flush()
        documents = world.receiver.documents(world.code)
        assert len(documents) >= 2
        assert len({getattr(d, "message_id", None) for d in documents}) == len(documents)


class TestErpNextWebhooks(CallbackContract):
    @pytest.fixture
    def world(self, erpnext: ErpNextSimulator, receiver: CallbackReceiver) -> CallbackWorld:
        return ErpNextWorld(erpnext, receiver)


class TestQimenCallbacks(CallbackContract):
    @pytest.fixture
    def world(self, qimen: QimenWmsSimulator, receiver: CallbackReceiver) -> CallbackWorld:
        return QimenWorld(qimen, receiver)


class TestDadaCallbacks(CallbackContract):
    @pytest.fixture
    def world(self, dada: DadaSimulator, receiver: CallbackReceiver) -> CallbackWorld:
        return DadaWorld(dada, receiver)


def test_a_dada_callback_signature_is_the_documented_one() -> None:
    """The simulator signs as the adapter checks (both follow the documented rule)."""
    assert dada_signature.callback_signature("1", "2", "3") == dada_signature.callback_signature(
        3, "1", 2
    )


def test_a_qimen_callback_without_a_sign_is_refused() -> None:
    config = backend(
        {
            "code": "wms",
            "kind": "wms",
            "adapter": "qimen",
            "endpoint": "http://127.0.0.1:9",
            "locations": [SH_WH],
            "credentials": {"app_key": "k", "app_secret": "s", "customer_id": "c"},
            "warehouses": {SH_WH: "QM"},
            "settings": {"owner_code": "O"},
        }
    )
    with pytest.raises(ChannelRefused, match="no sign"):
        adapter_for("qimen").parse_callback(config, InboundRequest(b"<request/>", {}, {}))


def test_a_delivery_order_confirmation_names_the_delivery_order(
    qimen: QimenWmsSimulator, receiver: CallbackReceiver
) -> None:
    world = QimenWorld(qimen, receiver)
    order = OutboundOrder("FF-9", "OH-9", SH_WH, AT, (line(TEE, 1),), BUYER)
    adapter = adapter_for("qimen")
    run(world.config, adapter.create_delivery_order(world.config, order))  # type: ignore[attr-defined]
    qimen.tick()
    (confirmation,) = receiver.documents("wms")
    assert (confirmation.reference, confirmation.lines) == ("FF-9", (line(TEE, 1),))


def test_the_simulator_and_the_adapter_written_apart_sign_a_dada_callback_alike() -> None:
    for values in (("1", "2", "3"), ("100000000001", "FF-1", "1762819201")):
        assert dada_protocol.callback_signature(*values) == dada_signature.callback_signature(
            *values
        )
    assert dada_protocol.callback_signature("b", "a", "c") == hashlib.md5(b"abc").hexdigest()


def test_a_qimen_sign_leaves_out_parameters_whose_value_is_empty_as_top_signs() -> None:
    params = {"app_key": "k", "method": "taobao.qimen.entryorder.confirm", "partner_id": ""}
    expected = hashlib.md5(b"sapp_keykmethodtaobao.qimen.entryorder.confirm<request/>s")
    assert qimen_protocol.sign("s", params, b"<request/>") == expected.hexdigest().upper()
    assert qimen_signature.sign("s", params, b"<request/>") == expected.hexdigest().upper()


def test_a_qimen_callback_carrying_an_empty_parameter_is_accepted(
    qimen: QimenWmsSimulator, receiver: CallbackReceiver
) -> None:
    world = QimenWorld(qimen, receiver)
    world.emit()
    sent = qimen.callback_log[-1]
    params = {**(sent.params or {}), "partner_id": ""}  # a gateway adds an empty parameter
    params["sign"] = qimen_protocol.sign(qimen.app_secret, params, sent.body)
    (receipt,) = world.adapter.parse_callback(
        world.config, InboundRequest(sent.body, {"content-type": "text/xml"}, params)
    )
    assert isinstance(receipt, InboundReceipt)
    assert receipt.lines == (line(TEE, 23),)
