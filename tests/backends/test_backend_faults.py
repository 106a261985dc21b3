"""What goes wrong between the hub and a back end, against the simulators: slow and
unreachable systems, lost sessions, calls the system refuses to trust, and simulators driven
by their own clock or told their faults over HTTP."""

from __future__ import annotations

import socket

import pytest
from tests.backends.backend_world import (
    AT,
    BUYER,
    SH_WH,
    TEE,
    CallbackReceiver,
    backend,
    client,
    line,
    run,
)

from omnihub.adapters.backends import adapter_for
from omnihub.adapters.backends.transport import HttpSender
from omnihub.adapters.backends.transport import run as drive
from omnihub.domain.backends import DeliveryConfirmation, OutboundOrder
from omnihub.ports import Answer, BackendConfig, CallRefused, OutboundRequest
from omnihub.simulators.backends.delivery.dada import DadaSimulator
from omnihub.simulators.backends.erp.erpnext import ErpNextSimulator
from omnihub.simulators.backends.erp.kingdee import KingdeeSimulator
from omnihub.simulators.backends.wms.qimen import QimenWmsSimulator

pytestmark = pytest.mark.integration


def kingdee_config(sim: KingdeeSimulator, **credentials: str) -> BackendConfig:
    return backend(
        {
            "code": "erp",
            "kind": "erp",
            "adapter": "kingdee",
            "endpoint": sim.endpoint,
            "credentials": {**sim.credentials(), **credentials},
            "locations": [SH_WH],
            "warehouses": {SH_WH: "CK001"},
            "settings": {"sale_org": "100", "customer": "CUST0001"},
        }
    )


def qimen_config(sim: QimenWmsSimulator, **credentials: str) -> BackendConfig:
    return backend(
        {
            "code": "wms",
            "kind": "wms",
            "adapter": "qimen",
            "endpoint": sim.endpoint,
            "credentials": {**sim.credentials(), **credentials},
            "locations": [SH_WH],
            "warehouses": {SH_WH: "QM-SH-01"},
            "settings": {"owner_code": "OMNI"},
        }
    )


def delivery(reference: str = "FF-1") -> OutboundOrder:
    return OutboundOrder(reference, "OH-1", SH_WH, AT, (line(TEE, 2),), BUYER)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_system_slower_than_the_timeout_is_a_retry(qimen: QimenWmsSimulator) -> None:
    qimen.faults.slow_rate, qimen.faults.slow_seconds = 1.0, 0.4
    config = qimen_config(qimen)
    with pytest.raises(CallRefused) as refused:
        run(
            config,
            adapter_for("qimen").inventory(config, SH_WH, [TEE]),  # type: ignore[attr-defined]
            timeout=0.1,
        )
    assert (refused.value.retry, refused.value.code) == (True, "timeout")


def test_a_system_nobody_answers_for_is_a_retry() -> None:
    config = backend(
        {
            "code": "erp",
            "kind": "erp",
            "adapter": "erpnext",
            "endpoint": f"http://127.0.0.1:{free_port()}",
            "locations": [SH_WH],
            "credentials": {"api_key": "k", "api_secret": "s"},
            "warehouses": {SH_WH: "Stores - SH"},
            "settings": {"customer": "C"},
        }
    )
    with pytest.raises(CallRefused) as refused:
        run(config, adapter_for("erpnext").stock_snapshot(config))  # type: ignore[attr-defined]
    assert (refused.value.retry, refused.value.code) == (True, "unreachable")


def test_a_kingdee_session_lost_mid_exchange_is_a_retry_that_logs_in_again(
    kingdee: KingdeeSimulator,
) -> None:
    kingdee.add_material(TEE, "1")
    kingdee.add_warehouse("CK001")
    config = kingdee_config(kingdee)
    sender = HttpSender(client(), "kingdee")

    def expiring(request: OutboundRequest) -> Answer:
        answer = sender(request)
        if len(sender.sent) == 1:  # logged in; the ERP restarts before the next call
            kingdee.expire_sessions()
        return answer

    exchange = adapter_for("kingdee").stock_snapshot(config)  # type: ignore[attr-defined]
    with pytest.raises(CallRefused) as refused:
        drive(exchange, expiring)
    assert (refused.value.retry, refused.value.code) == (True, "session_lost")
    assert run(config, adapter_for("kingdee").stock_snapshot(config)).source == "erp"  # type: ignore[attr-defined]
    assert kingdee.logins == 2


def test_a_qimen_call_signed_with_the_wrong_secret_is_refused_for_good(
    qimen: QimenWmsSimulator,
) -> None:
    config = qimen_config(qimen, app_secret="not-the-secret")
    with pytest.raises(CallRefused) as refused:
        run(config, adapter_for("qimen").create_delivery_order(config, delivery()))  # type: ignore[attr-defined]
    assert (refused.value.retry, refused.value.code) == (False, "sign-check-failure")
    assert qimen.refused == [("/router/qimen/service", "bad sign")]
    assert qimen.delivery_orders == {}


def test_a_dada_call_signed_with_the_wrong_secret_is_refused_for_good(
    dada: DadaSimulator, receiver: CallbackReceiver
) -> None:
    config = backend(
        {
            "code": "dada",
            "kind": "delivery",
            "adapter": "dada",
            "endpoint": dada.url,
            "credentials": {**dada.credentials(), "app_secret": "guess"},
            "locations": ["ST-1"],
            "warehouses": {"ST-1": "1"},
            "settings": {"city_code": "021", "callback_url": receiver.url_for("d")},
        }
    )
    with pytest.raises(CallRefused) as refused:
        run(config, adapter_for("dada").task_status(config, "FF-1"))  # type: ignore[attr-defined]
    assert (refused.value.retry, refused.value.code) == (False, "2003")


def test_an_erpnext_token_that_is_not_ours_is_refused_for_good(erpnext: ErpNextSimulator) -> None:
    config = backend(
        {
            "code": "erp",
            "kind": "erp",
            "adapter": "erpnext",
            "endpoint": erpnext.url,
            "credentials": {"api_key": "k", "api_secret": "wrong"},
            "locations": [SH_WH],
            "warehouses": {SH_WH: "Stores - SH"},
            "settings": {"customer": "Demo Customer"},
        }
    )
    with pytest.raises(CallRefused) as refused:
        run(config, adapter_for("erpnext").stock_snapshot(config))  # type: ignore[attr-defined]
    assert (refused.value.retry, refused.value.code) == (False, "auth")


def test_a_warehouse_on_its_own_clock_ships_without_being_told(
    qimen: QimenWmsSimulator, receiver: CallbackReceiver
) -> None:
    config = qimen_config(qimen)
    receiver.backends["wms"] = config
    qimen.callback_url = receiver.url_for("wms")
    run(config, adapter_for("qimen").create_delivery_order(config, delivery()))  # type: ignore[attr-defined]
    qimen.run_every(0.02)
    try:
        (confirmation,) = receiver.wait_for(1, timeout=5)
    finally:
        qimen.stop_clock()
    assert isinstance(confirmation, DeliveryConfirmation)
    assert confirmation.reference == "FF-1"


def test_faults_can_be_set_over_http_like_on_any_simulator(
    qimen: QimenWmsSimulator, receiver: CallbackReceiver
) -> None:
    config = qimen_config(qimen)
    receiver.backends["wms"] = config
    qimen.callback_url = receiver.url_for("wms")
    answer = client().post(
        qimen.url + "/_sim/faults", json={"partial_rate": 1.0, "duplicate_rate": 0.0}
    )
    assert answer.status_code == 200
    assert client().post(qimen.url + "/_sim/faults", json={"typo": 1}).status_code == 400
    run(config, adapter_for("qimen").create_delivery_order(config, delivery()))  # type: ignore[attr-defined]
    qimen.tick()
    qimen.tick()
    assert [c.final for c in receiver.documents("wms")] == [False, True]


def test_an_exchange_stops_at_the_first_refusal_and_sends_nothing_more(
    kingdee: KingdeeSimulator,
) -> None:
    config = kingdee_config(kingdee, password="wrong")
    sender = HttpSender(client(), "kingdee")
    with pytest.raises(CallRefused):
        drive(adapter_for("kingdee").stock_snapshot(config), sender)  # type: ignore[attr-defined]
    assert len(sender.sent) == 1  # the login, nothing after it
