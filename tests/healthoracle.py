"""The full-pass reference for the call health rules: each figure recomputed over the
whole call. Production keeps them a segment at a time (:mod:`webapp.calls.healthtally`);
the tests pin these on hand-made timelines and compare the tally with them."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from webapp.calls.health import (
    HealthConfig,
    Mark,
    Summary,
    Timeline,
    between,
    clock_skew,
    further_end,
    interrupts,
    talk_figures,
    zero_of,
)
from webapp.calls.health import measure as measure_held


def _source(sources: set[str]) -> str | None:
    if not sources:
        return None
    return sources.pop() if len(sources) == 1 else "mixed"


def skew(marks: Sequence[Mark]) -> float | None:
    """How far the speakers' segment clocks disagree (None: they agree, or too few)."""
    zeros: dict[str, float] = {}
    samples = {"user": 0, "assistant": 0}
    for mark in marks:
        zero = zero_of(mark)
        if zero is not None and mark.speaker in samples:
            samples[mark.speaker] += 1
            zeros[mark.speaker] = min(zeros.get(mark.speaker, zero), zero)
    return clock_skew(zeros, samples)


def latencies(marks: Sequence[Mark]) -> tuple[list[float], str | None]:
    """Every AI response latency in order, and the axis they were measured on."""
    found: list[float] = []
    sources: set[str] = set()
    by_arrival = skew(marks) is not None
    for prev, nxt in pairwise(marks):
        if prev.speaker != "user" or nxt.speaker != "assistant":
            continue
        value, source = between(prev, nxt, prev.end, by_arrival)
        if value >= 0:
            found.append(value)
            sources.add(source)
    return found, _source(sources)


def silences(marks: Sequence[Mark]) -> list[float]:
    """Every silence between two segments, in order (overlaps are none)."""
    found: list[float] = []
    latest_end: float | None = None
    by_arrival = skew(marks) is not None
    for i, mark in enumerate(marks):
        if i:
            value, _ = between(marks[i - 1], mark, latest_end, by_arrival)
            if value > 0:
                found.append(value)
        latest_end = further_end(latest_end, mark)
    return found


def interruptions(marks: Sequence[Mark]) -> dict[str, int]:
    """Segments that started before the other speaker's previous one ended, by interrupter."""
    counts = {"user": 0, "assistant": 0}
    last: dict[str, Mark] = {}
    by_arrival = skew(marks) is not None
    for mark in marks:
        if mark.speaker in counts and interrupts(mark, last, by_arrival):
            counts[mark.speaker] += 1
        last[mark.speaker] = mark
    return counts


def talk(marks: Sequence[Mark]) -> dict[str, Any]:
    """Seconds each side spoke (timed segments only) and the caller's share."""
    seconds = {"user": 0.0, "assistant": 0.0}
    untimed = 0
    for mark in marks:
        if mark.timed and mark.speaker in seconds:
            assert mark.start is not None and mark.end is not None
            seconds[mark.speaker] += mark.end - mark.start
        else:
            untimed += 1
    return talk_figures(seconds["user"], seconds["assistant"], untimed)


def turns(marks: Sequence[Mark]) -> int:
    return sum(1 for i, m in enumerate(marks) if i == 0 or marks[i - 1].speaker != m.speaker)


def summarize(marks: Sequence[Mark], config: HealthConfig) -> Summary:
    """The summary of ``marks`` in full passes (the reference a :class:`Tally` must equal)."""
    waits, source = latencies(marks)
    gaps = silences(marks)
    return Summary(
        waits=waits,
        waits_sorted=sorted(waits),
        latency_source=source,
        longest_gap=max(gaps) if gaps else None,
        warn_gaps=sum(1 for g in gaps if g >= config.silence_warn),
        alarm_gaps=sum(1 for g in gaps if g >= config.silence_alarm),
        talk=talk(marks),
        interruptions=interruptions(marks),
        turns=turns(marks),
        segments=len(marks),
        clock_skew=skew(marks),
    )


def measure(line: Timeline, now: float, config: HealthConfig) -> dict[str, Any]:
    """The figures measured the full-pass way: the marks summarized in one pass."""
    return measure_held(line, now, config, summarize(line.marks, config))
