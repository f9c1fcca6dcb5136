"""The monitor's figures on ``/metrics``, read at each scrape."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from webapp.watch.monitor import Monitor


class MonitorGauges(Collector):
    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor

    def collect(self) -> Iterator[Metric]:
        m = self.monitor
        held = GaugeMetricFamily(
            "burki_live_monitored_streams",
            "Streams monitored with no page open, by node (every node's, as the last look saw)",
            labels=["node"],
        )
        for node, count in sorted((m.counts or {m.placement.node: m.holding}).items()):
            held.add_metric([node], count)
        left = GaugeMetricFamily(
            "burki_live_monitor_unmonitored",
            "Listed streams not monitored here: the cap (MONITOR_MAX_STREAMS) is reached",
        )
        left.add_metric([], len(m.unmonitored))
        cap = GaugeMetricFamily("burki_live_monitor_cap", "Most streams this node monitors")
        cap.add_metric([], m.config.max_streams if m.enabled else 0)
        refused = CounterMetricFamily(
            "burki_live_monitor_refused", "Monitored streams Burki refused, left alone"
        )
        refused.add_metric([], m.refusals)
        yield from (held, left, cap, refused)
