"""Same-day delivery end to end: a real hub (``omnihub serve``) and the Dada simulator over HTTP.
A store order released to the Jing'an store becomes a rider task; the platform's signed status
callbacks move the order (shipped when the rider leaves the store, delivered at the buyer's
door, the channel told each time), and the hub asks where the rider is while the task is live,
so the rider's track is on the order. A task the provider cancels sends the order back to
routing (a new rider), and the next failure holds it with the reason."""

from __future__ import annotations

from typing import Any

import pytest
from tests.backends.flow_hub import (
    STORE,
    TEE,
    BackendHub,
    Forwarder,
    StartHub,
    dada_backend,
    kingdee_backend,
)
from tests.channels.harness import wait_until

from omnihub.simulators.backends.delivery.dada import DadaSimulator
from omnihub.simulators.backends.erp.kingdee import KingdeeSimulator

pytestmark = pytest.mark.e2e


def store_part(running: BackendHub, order_id: str) -> dict[str, Any]:
    parts = [p for p in running.routing(order_id)["fulfilments"] if p["status"] == "released"]
    assert [p["location"] for p in parts] == [STORE]
    return dict(parts[0])


def dispatched(dada: DadaSimulator, reference: str) -> Any:
    return wait_until(lambda: dada.tasks.get(reference), what=f"rider task {reference}")


def delivery_of(running: BackendHub, order_id: str) -> list[dict[str, Any]]:
    return list(running.routing(order_id)["deliveries"])


def test_a_same_day_order_is_delivered_by_a_rider_whose_track_is_on_the_order(
    database_url: str,
    start_hub: StartHub,
    forwarder: Forwarder,
    dada: DadaSimulator,
    kingdee: KingdeeSimulator,
) -> None:
    running = start_hub(database_url, [dada_backend(dada, forwarder), kingdee_backend(kingdee)])
    order_id = running.order("APP-SD-1", [(TEE, 2)], delivery="same_day")["id"]
    part = store_part(running, order_id)
    task = dispatched(dada, part["id"])
    assert task.shop_no == "DD-JINGAN"
    wait_until(
        lambda: kingdee.bill("SAL_SaleOrder", part["id"]) is not None,
        what="the store's sales order in the ERP",
    )

    def track() -> list[dict[str, Any]]:
        tasks = delivery_of(running, order_id)
        return list(tasks[0]["track"]) if tasks else []

    dada.tick()  # a rider accepts (callback), on the way to the store
    wait_until(lambda: any(p["state"] == "accepted" for p in track()), what="the rider seen")
    dada.tick()  # at the store
    dada.tick()  # the goods leave with the rider: shipped
    assert running.status(order_id) == "shipped"
    for leg in (1, 2):  # on the way: no callback, the hub sees the rider move by asking
        dada.tick()
        lat = round(task.position.lat, 6)
        wait_until(
            lambda la=lat: any(abs(p["lat"] - la) < 1e-6 for p in track()),
            what=f"the rider's position after leg {leg}",
        )
    dada.tick()  # at the buyer's door

    wait_until(lambda: running.status(order_id) == "delivered", what="the order delivered")
    (done,) = delivery_of(running, order_id)
    assert done["state"] == "delivered"
    assert done["rider"]["name"] == task.rider[1]
    assert (done["fee"], done["distance_m"]) == (f"{task.fee:.2f}", task.distance_m)
    states = [p["state"] for p in done["track"]]
    assert states[0] == "accepted", states
    assert states.count("delivering") >= 2, states
    assert len(done["track"]) >= 3
    assert [t["to"] for t in running.hub.get(f"/api/v1/orders/{order_id}")["transitions"]][-2:] == [
        "shipped",
        "delivered",
    ]
    assert wait_until(
        lambda: running.inbox.statuses_of(order_id) == ["shipped", "delivered"],
        what="the channel told shipped, then delivered",
    )
    assert running.level(STORE, TEE)["on_hand"] == 6
    assert dada.refused == []
    assert {status for _, status in dada.callbacks} == {200}
    assert running.hub.books_balance()


def test_a_rider_task_cancelled_by_the_provider_goes_back_to_routing_then_holds_with_the_reason(
    sqlite_url: str, start_hub: StartHub, forwarder: Forwarder, dada: DadaSimulator
) -> None:
    running = start_hub(sqlite_url, [dada_backend(dada, forwarder)])
    dada.faults.duplicate_rate = 1.0  # every status twice
    order_id = running.order("APP-SD-2", [(TEE, 1)], delivery="same_day")["id"]
    first = store_part(running, order_id)
    dispatched(dada, first["id"])
    dada.tick()  # accepted

    dada.provider_cancels(first["id"], "运力不足")

    second = wait_until(
        lambda: next(
            (
                p
                for p in running.routing(order_id)["fulfilments"]
                if p["status"] == "released" and p["id"] != first["id"]
            ),
            None,
        ),
        what="the order routed again",
    )
    dispatched(dada, second["id"])
    routing = running.routing(order_id)
    assert [d["outcome"] for d in routing["decisions"]][-2:] == ["rerouted", "allocated"]
    assert running.status(order_id) == "released"
    assert running.level(STORE, TEE)["reserved"] == 1
    cancelled = next(d for d in routing["deliveries"] if d["reference"] == first["id"])
    assert (cancelled["state"], cancelled["cancel_reason"], cancelled["cancelled_by"]) == (
        "cancelled",
        "运力不足",
        "provider",
    )

    dada.expire(second["id"])

    wait_until(lambda: running.status(order_id) == "held", what="the order held")
    held = running.hub.get(f"/api/v1/orders/{order_id}")
    assert held["hold_reason"] == "delivery_failed"
    assert held["transitions"][-1]["cause"] == (
        "rider task expired: 订单已过期 (provider); 2 rider task(s) failed, a person decides"
    )
    assert running.level(STORE, TEE)["reserved"] == 0
    assert len(dada.tasks) == 2  # no rider was sent for a held order
    assert running.deliveries("dada", "dead") == []
    assert running.hub.books_balance()
