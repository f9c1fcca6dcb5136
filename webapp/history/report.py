"""The shift report's figures, from the history's rows: pure (no I/O).

:func:`shift` sums a time range: calls handled and how many needed attention (an
alert, or a peak attention score at the overview's threshold), alerts per hour by
severity, AI latency per assistant (p50 and p95 of the calls' median latencies),
dead air per assistant (episodes, and the longest silence), the worst calls by
peak attention, and who claimed, acknowledged and ended what.

The rows may be of one organisation or of several (a combined report): a call is
known by its organisation and id together, so one id in two organisations is two calls;
an assistant by its organisation and name (two organisations' "Support bot"s are two
rows); and :attr:`Shift.orgs` gives each organisation's own headline figures.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from webapp.store.records import ActionRecord, AlertRecord, CallSummary
from webapp.wire.streamkey import DEFAULT_ORG

SEVERITIES = ("high", "medium", "low")
WORST = 5  # calls listed by peak attention
MAX_BARS = 96  # bars of the alerts chart: an hour each, or more hours for a long range
NO_ASSISTANT = "(unknown)"


@dataclass(frozen=True, slots=True)
class Hour:
    start: datetime
    counts: dict[str, int]  # by severity

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True, slots=True)
class AssistantFigures:
    name: str
    calls: int
    p50: float | None  # seconds: of the calls' median AI latency
    p95: float | None
    dead_air: int  # silences past the warning, over its calls
    longest_silence: float | None
    org: str = DEFAULT_ORG  # whose assistant


@dataclass(frozen=True, slots=True)
class OrgFigures:
    """One organisation's headline figures in a report (a combined one has several)."""

    org: str
    calls: int
    needed_attention: int
    alerts: int
    unhandled: int


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    did: dict[str, int]  # claim, ack, release, end, campaign -> how many


@dataclass(slots=True)
class Shift:
    since: datetime
    until: datetime
    calls: int = 0
    needed_attention: int = 0
    alerts: int = 0
    unhandled: int = 0
    hours: list[Hour] = field(default_factory=list)
    assistants: list[AssistantFigures] = field(default_factory=list)
    worst: list[CallSummary] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    orgs: list[OrgFigures] = field(default_factory=list)  # by slug: each one's figures


def percentile(values: Sequence[float], p: float) -> float | None:
    """The nearest-rank ``p``-th percentile (0 < p <= 100); None of nothing."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def shift(
    since: datetime,
    until: datetime,
    calls: Sequence[CallSummary],
    alerts: Sequence[AlertRecord],
    actions: Sequence[ActionRecord],
    threshold: int,
) -> Shift:
    return Shift(
        since=since,
        until=until,
        calls=len(calls),
        needed_attention=needing_attention(calls, alerts, threshold),
        alerts=len(alerts),
        unhandled=sum(1 for a in alerts if a.handled_by is None),
        hours=per_hour(since, until, alerts),
        assistants=per_assistant(calls),
        worst=sorted((c for c in calls if c.peak_attention > 0), key=lambda c: -c.peak_attention)[
            :WORST
        ],
        people=per_person(actions),
        orgs=per_org(calls, alerts, threshold),
    )


def needing_attention(
    calls: Sequence[CallSummary], alerts: Sequence[AlertRecord], threshold: int
) -> int:
    """The calls that needed attention: an alert, or a peak score at ``threshold`` or more."""
    alerted = {(a.org, a.call_id) for a in alerts}  # a call is its organisation's
    return sum(
        1
        for c in calls
        if c.alerts or c.peak_attention >= threshold or (c.org, c.call_id) in alerted
    )


def per_org(
    calls: Sequence[CallSummary], alerts: Sequence[AlertRecord], threshold: int
) -> list[OrgFigures]:
    """Each organisation's calls, calls that needed attention, alerts and unhandled alerts."""
    slugs = sorted({c.org for c in calls} | {a.org for a in alerts})
    figures = []
    for org in slugs:
        its_calls = [c for c in calls if c.org == org]
        its_alerts = [a for a in alerts if a.org == org]
        figures.append(
            OrgFigures(
                org=org,
                calls=len(its_calls),
                needed_attention=needing_attention(its_calls, its_alerts, threshold),
                alerts=len(its_alerts),
                unhandled=sum(1 for a in its_alerts if a.handled_by is None),
            )
        )
    return figures


def per_hour(since: datetime, until: datetime, alerts: Sequence[AlertRecord]) -> list[Hour]:
    """Alerts by severity from ``since``'s hour to ``until``: one entry per hour, or per
    several hours (:func:`hours_per_bar`) so that a long range has at most ``MAX_BARS``."""
    first = since.replace(minute=0, second=0, microsecond=0)
    width = timedelta(hours=hours_per_bar(since, until))
    count = max(1, math.ceil((until - first) / width))
    buckets: list[Counter[str]] = [Counter() for _ in range(count)]
    for alert in alerts:
        n = int((alert.at - first) / width)
        if 0 <= n < count:
            buckets[n][alert.severity if alert.severity in SEVERITIES else "low"] += 1
    return [
        Hour(first + n * width, {s: bucket[s] for s in SEVERITIES})
        for n, bucket in enumerate(buckets)
    ]


def hours_per_bar(since: datetime, until: datetime) -> int:
    first = since.replace(minute=0, second=0, microsecond=0)
    return max(1, math.ceil((until - first) / timedelta(hours=1) / MAX_BARS))


def per_assistant(calls: Sequence[CallSummary]) -> list[AssistantFigures]:
    groups: dict[tuple[str, str], list[CallSummary]] = defaultdict(list)
    for call in calls:
        groups[(call.assistant or NO_ASSISTANT, call.org)].append(call)
    figures = []
    for (name, org), group in sorted(groups.items()):
        medians = [c.latency_median for c in group if c.latency_median is not None]
        silences = [c.longest_silence for c in group if c.longest_silence is not None]
        figures.append(
            AssistantFigures(
                name=name,
                calls=len(group),
                p50=percentile(medians, 50),
                p95=percentile(medians, 95),
                dead_air=sum(c.dead_air for c in group),
                longest_silence=max(silences) if silences else None,
                org=org,
            )
        )
    return figures


def per_person(actions: Sequence[ActionRecord]) -> list[Person]:
    """Who did what (an action counted once, by its outcome when it has one: done or asked)."""
    did: dict[str, Counter[str]] = defaultdict(Counter)
    for action in actions:
        if action.outcome in ("", "done"):
            did[action.who][action.what] += 1
    ranked = sorted(did.items(), key=lambda item: (-sum(item[1].values()), item[0]))
    return [Person(name, dict(counts)) for name, counts in ranked]
