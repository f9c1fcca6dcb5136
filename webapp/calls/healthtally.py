"""A call's health summary kept up to date a segment at a time, instead of a pass per segment.

Pure, like :mod:`webapp.calls.health`: no I/O, no clock. Every figure of a
:class:`~webapp.calls.health.Summary` depends only on a segment, the one before
it, and what came before in order (the furthest end, each speaker's last
segment). So a segment added at the end updates the running figures in
O(log n) (the sorted latencies) where a full pass over the call
costs O(n): measured per segment, that was O(n^2) over a call.

A segment inserted before the end (one missed while disconnected, delivered by
the next replay, see :mod:`webapp.calls.callstate`) changes its successors'
neighbours: the tally is then rebuilt from the start, once; so it is when the
speakers' clocks are found to disagree (or to agree again): every figure between
two segments is then measured on the other axis. Segments already
held are never offered again (the call state drops a replay's duplicates before
health sees them), so a replay counts nothing twice.

The figures must equal a full pass over the same segments exactly
(``tests/healthoracle.py``; ``tests/test_healthtally.py`` compares them).
"""

from __future__ import annotations

from bisect import insort

from webapp.calls.health import (
    HealthConfig,
    Mark,
    Summary,
    between,
    clock_skew,
    further_end,
    interrupts,
    talk_figures,
    zero_of,
)

SIDES = ("user", "assistant")


class Tally:
    """The running summary of one call's final segments, in transcript order."""

    def __init__(self, config: HealthConfig) -> None:
        self.config = config
        self.marks: list[Mark] = []
        self._skew: float | None = None  # the speakers' clocks disagree by this: by arrival
        self._reset()

    def _reset(self) -> None:
        self._waits: list[float] = []
        self._waits_sorted: list[float] = []
        self._sources: set[str] = set()
        self._latest_end: float | None = None
        self._longest: float | None = None
        self._warn = 0
        self._alarm = 0
        self._seconds = {"user": 0.0, "assistant": 0.0}
        self._untimed = 0
        self._cuts = {"user": 0, "assistant": 0}
        self._last: dict[str, Mark] = {}
        self._turns = 0
        self._zeros: dict[str, float] = {}  # each speaker's earliest clock zero
        self._samples = {"user": 0, "assistant": 0}

    def insert(self, index: int | None, mark: Mark) -> None:
        """Add ``mark`` at ``index`` (None, or past the end: append)."""
        if index is None or not 0 <= index < len(self.marks):
            self._add(self.marks[-1] if self.marks else None, mark)
            self.marks.append(mark)
        else:
            self.marks.insert(index, mark)
            self._rebuild()
        skew = clock_skew(self._zeros, self._samples)
        if (skew is None) != (self._skew is None):  # the axis changed: every figure again
            self._skew = skew
            self._rebuild()
        self._skew = skew

    def _rebuild(self) -> None:
        self._reset()
        prev: Mark | None = None
        for each in self.marks:
            self._add(prev, each)
            prev = each

    def summary(self) -> Summary:
        """The summary now. Its latency lists are this tally's own: read them before the
        next :meth:`insert` (copying them for every segment would cost O(n) again)."""
        sources = self._sources
        source = None if not sources else next(iter(sources)) if len(sources) == 1 else "mixed"
        return Summary(
            waits=self._waits,
            waits_sorted=self._waits_sorted,
            latency_source=source,
            longest_gap=self._longest,
            warn_gaps=self._warn,
            alarm_gaps=self._alarm,
            talk=talk_figures(self._seconds["user"], self._seconds["assistant"], self._untimed),
            interruptions=dict(self._cuts),
            turns=self._turns,
            segments=len(self.marks),
            clock_skew=self._skew,
        )

    def _add(self, prev: Mark | None, mark: Mark) -> None:
        """Fold ``mark``, the segment after ``prev``, into every running figure."""
        if prev is not None:
            self._latency(prev, mark)
            self._silence(prev, mark)
        self._latest_end = further_end(self._latest_end, mark)
        by_arrival = self._skew is not None
        if mark.speaker in self._cuts and interrupts(mark, self._last, by_arrival):
            self._cuts[mark.speaker] += 1
        zero = zero_of(mark)
        if zero is not None and mark.speaker in self._samples:
            self._samples[mark.speaker] += 1
            self._zeros[mark.speaker] = min(self._zeros.get(mark.speaker, zero), zero)
        self._last[mark.speaker] = mark
        if mark.timed and mark.speaker in self._seconds:
            assert mark.start is not None and mark.end is not None
            self._seconds[mark.speaker] += mark.end - mark.start
        else:
            self._untimed += 1
        if prev is None or prev.speaker != mark.speaker:
            self._turns += 1

    def _latency(self, prev: Mark, mark: Mark) -> None:
        if prev.speaker != "user" or mark.speaker != "assistant":
            return
        value, source = between(prev, mark, prev.end, self._skew is not None)
        if value >= 0:
            self._waits.append(value)
            insort(self._waits_sorted, value)
            self._sources.add(source)

    def _silence(self, prev: Mark, mark: Mark) -> None:
        value, _ = between(prev, mark, self._latest_end, self._skew is not None)
        if value <= 0:
            return
        self._longest = value if self._longest is None else max(self._longest, value)
        self._warn += value >= self.config.silence_warn
        self._alarm += value >= self.config.silence_alarm
