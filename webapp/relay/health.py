"""Live call health from segment timing: AI latency, dead air, talk ratio, interruptions.

Pure: figures from a :class:`Timeline` and the time ``now``; no I/O, no clock.

Two time axes meet here:

- **call time**: ``segment_start``/``segment_end``, seconds into the call, as
  Burki sends them. The open-source server may send null for either;
- **wall time**: when a segment's message was stamped (``at``, else its
  ``created_at``, else when the relay received it), seconds since the epoch.

A figure between two segments uses call time when both ends it needs are
known, else both segments' wall-time arrivals (its ``source`` then says
``arrival``); it never mixes the two axes and never makes a number up: a
segment without both timings adds no talk time and no interruption. When the
caller's and the assistant's call times are on two clocks (:func:`clock_skew`:
the open-source server's), every figure between two segments is by arrival,
and none is an interruption; ``latency.clock_skew`` says by how much they differ.

Definitions (segments in transcript order):

- **AI response latency**: from the end of the caller's last segment to the
  start of the assistant's answer right after it. An answer that starts before
  the caller stopped is an interruption, not a latency.
- **Silence** between two segments: from the furthest end so far to the next
  start; overlaps are no silence. **Running silence**: since the latest
  transcript activity (a final or an interim), or the call's start; none while
  someone is speaking (an interim newer than the last final, at most
  ``silence_warn`` old) or once the call has ended; none either for a call marked
  "no activity" (Burki keeps a call whose media never connected "ongoing"
  forever: a stuck record, not ten minutes of dead air on a live caller).
- **Interruption**: a segment that starts before the other speaker's
  previous segment ended.
- **Turns**: runs of segments by the same speaker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

ROUND = 1  # figures in tenths of a second


@dataclass(frozen=True, slots=True)
class Mark:
    """One final segment as health sees it: who, its call-time span, its wall-time arrival."""

    speaker: str
    start: float | None
    end: float | None
    arrived: float

    @property
    def timed(self) -> bool:
        return self.start is not None and self.end is not None and self.end >= self.start


@dataclass(frozen=True, slots=True)
class HealthConfig:
    """``HEALTH_*`` (built by ``webapp.configs``: no defaults here)."""

    silence_warn: float
    silence_alarm: float
    slow_response: float  # an AI answer slower than this is "slow"
    long_call: float  # seconds after which a call counts as long


@dataclass(frozen=True, slots=True)
class Timeline:
    """What health is measured from: the finals in order, and the call's wall-time moments."""

    marks: Sequence[Mark]
    started: float | None = None  # when the call started
    ended: float | None = None  # when it ended; None while it runs
    is_over: bool = False  # ended, even when Burki did not say when
    activity: float | None = None  # the latest transcript activity, interims included
    speaking: str | None = None  # the speaker of an interim newer than the last final
    dormant: bool = False  # "no activity": Burki keeps it ongoing, yet nothing is happening


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, ROUND)


CLOCK_SKEW = 1.0
"""Seconds by which the two speakers' segment clocks may seem apart before the timing is
distrusted: the caller's final comes a little after its end (the recogniser waits for
the pause), the assistant's at once; more than this is two clocks."""
SKEW_SAMPLES = 2  # timed segments of each speaker before the clocks are judged


def zero_of(mark: Mark) -> float | None:
    """Where ``mark``'s clock puts zero on the wall clock (its arrival less its end): the
    same for every segment of one clock, less a delivery delay."""
    return None if mark.end is None else mark.arrived - mark.end


def clock_skew(zeros: dict[str, float], samples: dict[str, int]) -> float | None:
    """How far the caller's segment clock runs ahead of the assistant's (s; negative:
    behind), when
    each side has enough timed segments and the gap is more than delivery explains.

    The open-source Burki times the caller's segments on the speech recogniser's
    stream clock and the assistant's in seconds since the call started; the two start
    at different moments. ``zeros``: each speaker's earliest :func:`zero_of` (the one
    with the least delivery delay)."""
    if any(samples.get(side, 0) < SKEW_SAMPLES for side in ("user", "assistant")):
        return None
    skew = zeros["assistant"] - zeros["user"]
    return skew if abs(skew) > CLOCK_SKEW else None


def between(
    prev: Mark, nxt: Mark, latest_end: float | None, by_arrival: bool = False
) -> tuple[float, str]:
    """The time from ``prev`` (or the furthest end so far) to ``nxt``'s start, and its axis
    (``by_arrival``: the segments' clocks disagree, so arrival times only)."""
    if by_arrival:
        return nxt.arrived - prev.arrived, "arrival"
    if prev.end is not None and nxt.start is not None and latest_end is not None:
        return nxt.start - latest_end, "timing"
    return nxt.arrived - prev.arrived, "arrival"


def further_end(latest_end: float | None, mark: Mark) -> float | None:
    """The furthest end so far once ``mark`` is past (what bounds the next silence)."""
    if mark.end is not None:
        return mark.end if latest_end is None else max(latest_end, mark.end)
    if mark.start is None:
        return None  # an untimed segment: what came before no longer bounds the gap
    return latest_end


def interrupts(mark: Mark, last: dict[str, Mark], by_arrival: bool = False) -> bool:
    """Whether ``mark`` starts inside the other speaker's latest segment (``last``: by
    speaker); never told when the speakers' clocks disagree (arrivals have no spans)."""
    other = last.get("assistant" if mark.speaker == "user" else "user")
    return (
        not by_arrival
        and other is not None
        and mark.start is not None
        and other.start is not None
        and other.end is not None
        and other.start <= mark.start < other.end
    )


def talk_figures(user: float, assistant: float, untimed: int) -> dict[str, Any]:
    """The talk figures from each side's seconds and the count of untimed segments."""
    total = user + assistant
    share = round(user / total, 2) if total > 0 else None
    return {"user": _r(user), "assistant": _r(assistant), "user_share": share, "untimed": untimed}


def silence_since(line: Timeline, now: float, config: HealthConfig) -> float | None:
    """When the running silence began (wall time); None while someone speaks, or after the end."""
    if line.is_over or line.ended is not None or line.dormant:
        return None
    since = line.activity if line.activity is not None else line.started
    if since is None:
        return None
    if line.speaking is not None and now - since < config.silence_warn:
        return None
    return min(since, now)


def level(seconds: float | None, config: HealthConfig) -> str:
    if seconds is None or seconds < config.silence_warn:
        return "ok"
    return "alarm" if seconds >= config.silence_alarm else "warn"


@dataclass(frozen=True, slots=True)
class Summary:
    """What the figures need of the segments: their latencies, silences, talk, turns.

    :class:`webapp.relay.healthtally.Tally` keeps one up to date a segment at a time (the
    one implementation of these rules; ``tests/healthoracle.py`` holds the full-pass
    reference the tally is tested against).
    """

    waits: Sequence[float] = ()  # every AI response latency, in order
    waits_sorted: Sequence[float] = ()  # the same, sorted (for the median)
    latency_source: str | None = None
    longest_gap: float | None = None
    warn_gaps: int = 0
    alarm_gaps: int = 0
    talk: dict[str, Any] = field(default_factory=lambda: talk_figures(0.0, 0.0, 0))
    interruptions: dict[str, int] = field(default_factory=lambda: {"user": 0, "assistant": 0})
    turns: int = 0
    segments: int = 0
    clock_skew: float | None = None  # the speakers' clocks disagree: measured by arrival


def _median(ordered: Sequence[float]) -> float:
    """The median of already sorted values, as :func:`statistics.median` computes it."""
    n = len(ordered)
    i = n // 2
    return ordered[i] if n % 2 else (ordered[i - 1] + ordered[i]) / 2


def measure(line: Timeline, now: float, config: HealthConfig, held: Summary) -> dict[str, Any]:
    """Every health figure of the call at ``now``, JSON-able; ``held`` summarizes
    ``line.marks`` (a :class:`~webapp.relay.healthtally.Tally` keeps it up to date)."""
    waits = held.waits
    since = silence_since(line, now, config)
    running = None if since is None else max(now - since, 0.0)
    length = None
    if line.started is not None:
        until = line.ended if line.ended is not None else now
        length = max(until - line.started, 0.0)
    by = held.interruptions
    latest = waits[-1] if waits else None
    return {
        "latency": {
            "latest": _r(latest),
            "median": _r(_median(held.waits_sorted)) if waits else None,
            "worst": _r(held.waits_sorted[-1]) if waits else None,
            "count": len(waits),
            "source": held.latency_source,
            "clock_skew": _r(held.clock_skew),
            "slow": latest is not None and latest >= config.slow_response,
        },
        "silence": {
            "since": iso(since),
            "seconds": _r(running),
            "level": level(running, config),
            "speaking": line.speaking if since is None and not line.is_over else None,
            "longest": _r(held.longest_gap),
            "warn_count": held.warn_gaps,
            "alarm_count": held.alarm_gaps,
            "warn_after": config.silence_warn,
            "alarm_after": config.silence_alarm,
        },
        "talk": dict(held.talk),
        "interruptions": {"total": by["user"] + by["assistant"], **by},
        "turns": held.turns,
        "segments": held.segments,
        "length": _r(length),
        "long": length is not None and length >= config.long_call,
        "started": iso(line.started),
        "ended": line.is_over,
        "ended_at": iso(line.ended) if line.is_over else None,  # the length stands still
        "dormant": line.dormant,
    }


def next_due(line: Timeline, now: float, config: HealthConfig) -> float | None:
    """The next wall time at which a figure crosses a threshold with no new event (or None)."""
    if line.is_over or line.ended is not None:
        return None
    moments = []
    since = line.activity if line.activity is not None else line.started
    if since is not None and not line.dormant:
        moments += [since + config.silence_warn, since + config.silence_alarm]
    if line.started is not None:
        moments.append(line.started + config.long_call)
    later = [m for m in moments if m > now]
    return min(later) if later else None


def iso(seconds: float | None) -> str | None:
    """Wall-time seconds as ISO 8601 UTC ending in ``Z`` (whole milliseconds)."""
    if seconds is None:
        return None
    moment = datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")
    return moment.replace("+00:00", "Z")


def wall(text: str | None) -> float | None:
    """An ISO 8601 time (naive = UTC) as wall-time seconds; None when absent or unreadable."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
