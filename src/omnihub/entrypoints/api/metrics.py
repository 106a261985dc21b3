"""``/metrics`` in the Prometheus text format: read from the database at scrape time (so every
process reports the same totals) plus this process's connector runtime."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from omnihub.bootstrap import Hub


class HubCollector(Collector):
    def __init__(self, hub: Hub, workers: Any = None) -> None:
        self.hub = hub
        self.workers = workers

    def collect(self) -> Iterator[GaugeMetricFamily]:
        stores = self.hub.integration
        now = self.hub.clock.now()
        backlog, oldest = stores.outbox.backlog(now)
        yield GaugeMetricFamily("omnihub_outbox_backlog", "Events not yet published", backlog)
        yield GaugeMetricFamily(
            "omnihub_outbox_oldest_age_seconds", "Age of the oldest unpublished event", oldest
        )
        deliveries = GaugeMetricFamily(
            "omnihub_deliveries", "Outbound deliveries", labels=["endpoint", "status"]
        )
        attempts = GaugeMetricFamily(
            "omnihub_delivery_attempts", "Attempts made", labels=["endpoint", "status"]
        )
        for endpoint, status, count, tries in stores.deliveries.counts():
            deliveries.add_metric([endpoint, status], count)
            attempts.add_metric([endpoint, status], tries)
        yield deliveries
        yield attempts
        lag = GaugeMetricFamily(
            "omnihub_channel_sync_lag_ms",
            "Stock change to channel acknowledgement",
            labels=["channel", "quantile"],
        )
        behind = GaugeMetricFamily(
            "omnihub_channel_skus_behind",
            "SKUs whose channel value differs from the hub's",
            labels=["channel"],
        )
        for channel in stores.directory.all():
            sync = stores.stock_sync.status(channel.code)
            for q, value in (("p50", sync.lag_ms_p50), ("p99", sync.lag_ms_p99)):
                if value is not None:
                    lag.add_metric([channel.code, q], value)
            behind.add_metric([channel.code], sync.behind)
        yield lag
        yield behind
        reservations = GaugeMetricFamily(
            "omnihub_reservations", "Reservations by state", labels=["state"]
        )
        with self.hub.read_uow() as uow:
            for state, count in uow.reservations.count_by_state().items():
                reservations.add_metric([state], count)
        yield reservations
        refused = GaugeMetricFamily(
            "omnihub_reservations_refused_total",
            "Reservations refused for lack of stock (this process)",
        )
        refused.add_metric([], self.hub.counters.get("reservations_refused", 0))
        yield refused
        if self.workers is not None:
            runtime = self.workers.runtime
            breaker = GaugeMetricFamily(
                "omnihub_circuit_open",
                "1 when the endpoint's circuit is open",
                labels=["endpoint", "state"],
            )
            for endpoint, item in runtime.breakers.items():
                breaker.add_metric([endpoint, item.state], 0 if item.state == "closed" else 1)
            yield breaker
            for name, value in runtime.stats.items():
                yield GaugeMetricFamily(
                    f"omnihub_connector_{name}", f"Connector runtime {name} (this process)", value
                )


def render(hub: Hub, workers: Any = None) -> bytes:
    registry = CollectorRegistry()
    registry.register(HubCollector(hub, workers))
    return bytes(generate_latest(registry))
