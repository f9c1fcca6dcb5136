"""The monitors' figures on ``/metrics``, read at each scrape: one series per organisation
(label ``org``), as each organisation has its own monitor and cap."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from webapp.watch.monitor import Monitor


class MonitorGauges(Collector):
    """``monitors``: every organisation's monitor now (organisations come and go)."""

    def __init__(self, monitors: Callable[[], Iterable[Monitor]]) -> None:
        self.monitors = monitors

    def collect(self) -> Iterator[Metric]:
        held = GaugeMetricFamily(
            "burki_live_monitored_streams",
            "Streams monitored with no page open, by node (every node's, as the last look saw)",
            labels=["org", "node"],
        )
        left = GaugeMetricFamily(
            "burki_live_monitor_unmonitored",
            "Listed streams not monitored here: the cap (MONITOR_MAX_STREAMS) is reached",
            labels=["org"],
        )
        cap = GaugeMetricFamily(
            "burki_live_monitor_cap", "Most streams this node monitors", labels=["org"]
        )
        refused = CounterMetricFamily(
            "burki_live_monitor_refused",
            "Monitored streams Burki refused, left alone",
            labels=["org"],
        )
        for m in self.monitors():
            for node, count in sorted((m.counts or {m.placement.node: m.holding}).items()):
                held.add_metric([m.org, node], count)
            left.add_metric([m.org], len(m.unmonitored))
            cap.add_metric([m.org], m.config.max_streams if m.enabled else 0)
            refused.add_metric([m.org], m.refusals)
        yield from (held, left, cap, refused)
