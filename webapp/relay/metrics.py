"""Prometheus metrics: counters the relay increments, gauges read from the hub at scrape time.

Each app has its own registry, so several apps (tests) never share numbers.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
REDACTION_BUCKETS = (0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05)


class StreamView(Protocol):
    """What the gauges need to know of a live stream."""

    @property
    def kind(self) -> str: ...
    @property
    def connection_state(self) -> str: ...
    @property
    def viewer_count(self) -> int: ...


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.events_in = Counter(
            "burki_live_events_in", "Upstream events received, by stream kind", ["kind"], registry=r
        )
        self.events_out = Counter("burki_live_events_out", "Frames queued to viewers", registry=r)
        self.dedupe_drops = Counter(
            "burki_live_dedupe_drops", "Replayed or repeated segments dropped", registry=r
        )
        self.reconnects = Counter(
            "burki_live_upstream_reconnects", "Upstream reconnect attempts scheduled", registry=r
        )
        self.polls = Counter(
            "burki_live_polls", "REST polls made while a stream was in fallback", registry=r
        )
        self.poll_errors = Counter("burki_live_poll_errors", "REST polls that failed", registry=r)
        self.viewer_cuts = Counter(
            "burki_live_viewer_cuts",
            "Viewers disconnected for falling behind",
            ["reason"],
            registry=r,
        )
        self.viewer_sessions = Counter(
            "burki_live_viewer_sessions", "SSE connections opened", registry=r
        )
        self.redaction_seconds = Histogram(
            "burki_live_redaction_seconds",
            "Time to redact one transcript event before the call's state takes it",
            buckets=REDACTION_BUCKETS,
            registry=r,
        )

    def watch(self, streams: Callable[[], Iterable[StreamView]]) -> None:
        """Expose gauges computed from ``streams()`` at each scrape."""
        self.registry.register(_StreamGauges(streams))

    def watch_webhooks(self, dispatcher: WebhookStatus | None) -> None:
        """Expose each webhook endpoint's delivery counters at each scrape."""
        if dispatcher is not None:
            self.registry.register(_WebhookGauges(dispatcher))

    def watch_refused(self, refused: Mapping[str, int]) -> None:
        """Expose the entries a cluster node read from Redis and refused (forged, replayed,
        unreadable), by kind of key, at each scrape."""
        self.registry.register(_RefusedCounts(refused))

    def watch_history(self, recorder: HistoryStatus) -> None:
        """Expose the history's writer: records waiting, written, refused (its queue full)."""
        self.registry.register(_HistoryCounts(recorder))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class HistoryStatus(Protocol):
    """The history's writer (``webapp.store.recorder.Recorder``)."""

    @property
    def backlog(self) -> int: ...
    @property
    def written(self) -> int: ...
    @property
    def dropped(self) -> int: ...


class WebhookStatus(Protocol):
    def status(self) -> list[dict[str, Any]]: ...


class _WebhookGauges(Collector):
    FIELDS = ("queued", "delivered", "failed", "dropped", "retries", "lost")

    def __init__(self, dispatcher: WebhookStatus) -> None:
        self._dispatcher = dispatcher

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "burki_live_webhook",
            "Webhook deliveries per endpoint (and its organisation: all for a global route)",
            labels=["endpoint", "org", "count"],
        )
        for endpoint in self._dispatcher.status():
            # One URL may be two routes (two organisations'): the org keeps them apart.
            route = [str(endpoint["url"]), str(endpoint.get("org") or "all")]
            for name in self.FIELDS:
                family.add_metric([*route, name], float(endpoint.get(name, 0)))
        yield family


class _StreamGauges(Collector):
    def __init__(self, streams: Callable[[], Iterable[StreamView]]) -> None:
        self._streams = streams

    def collect(self) -> Iterator[Metric]:
        streams = list(self._streams())
        by_kind = Tally(s.kind for s in streams)
        by_state = Tally(s.connection_state for s in streams)
        count = GaugeMetricFamily("burki_live_streams", "Streams held, by kind", labels=["kind"])
        for kind in ("call", "campaign"):
            count.add_metric([kind], by_kind[kind])
        upstream = GaugeMetricFamily(
            "burki_live_upstream_state", "Streams by upstream connection state", labels=["state"]
        )
        for state in ("connecting", "live", "reconnecting", "polling", "ended", "error"):
            upstream.add_metric([state], by_state[state])
        viewers = GaugeMetricFamily(
            "burki_live_stream_viewers", "Viewers attached, summed over streams"
        )
        viewers.add_metric([], sum(s.viewer_count for s in streams))
        yield from (count, upstream, viewers)


class _RefusedCounts(Collector):
    def __init__(self, refused: Mapping[str, int]) -> None:
        self.refused = refused

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "burki_live_store_refused",
            "Entries read from the cluster's Redis that did not open (forged, replayed or "
            "unreadable) and were skipped, by key",
            labels=["what"],
        )
        for what, count in sorted(self.refused.items()):
            family.add_metric([what], count)
        yield family


class _HistoryCounts(Collector):
    def __init__(self, recorder: HistoryStatus) -> None:
        self.recorder = recorder

    def collect(self) -> Iterator[Metric]:
        r = self.recorder
        yield GaugeMetricFamily(
            "burki_live_history_waiting",
            "History records (alerts, actions, summaries) waiting in memory to be written",
            value=r.backlog,
        )
        yield CounterMetricFamily(
            "burki_live_history_written", "History records written to the database", r.written
        )
        yield CounterMetricFamily(
            "burki_live_history_dropped",
            "History records refused because the queue was full (the database away too long)",
            r.dropped,
        )
