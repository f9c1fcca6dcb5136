"""One call's health as its stream sees it: fed the call's changes, it emits ``metrics`` changes.

The figures themselves are :mod:`webapp.calls.health` (pure). This keeps the
call's timeline (one :class:`~webapp.calls.health.Mark` per final segment, at
the final's index, summed up as it grows by a :class:`~webapp.calls.healthtally.Tally`:
no pass over the whole call per segment), decides when a ``metrics`` change is due,
and notices dead air when no frame arrives: it owns **one** timer (a loop
``call_later`` handle, never more than one per call) set for the next moment a
figure crosses a threshold (silence warn, silence alarm, a long call). :meth:`close` cancels it;
the stream calls it when it closes.

A ``metrics`` change is emitted only when something a viewer sees changed:
the running seconds and the call's length tick in the page from ``since`` and
``started``, so they alone never cause one. Its JSON carries only the top-level
members that differ from the figures of the call's previous one (event shapes version
3, ``docs/api.md``): a viewer holds every earlier event (a snapshot's whole figures, then
each change merged in, and exact resume keeps it so), so it merges them as it reads.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from webapp.calls.callstate import SegmentShown, StatusShown
from webapp.calls.change import Change
from webapp.calls.health import HealthConfig, Mark, Timeline, measure, next_due, wall
from webapp.calls.healthtally import Tally

Assess = Callable[[dict[str, Any]], dict[str, Any]]
WATCHED = frozenset({"transcript", "call_status", "sentiment", "alert", "claim"})


@dataclass(frozen=True, slots=True)
class FiguresShown:
    """A ``metrics`` change: the call's health figures as measured once
    (:func:`~webapp.calls.health.measure`, with the attention score), what snapshots and
    renders read until the next (:meth:`CallHealth.current`). Viewers get ``changed``: the
    top-level members that differ from the previous change's figures (all of them first)."""

    figures: dict[str, Any]
    changed: dict[str, Any]

    @property
    def level(self) -> str:
        """The running silence's level (``ok``, ``warn``, ``alarm``)."""
        return str(self.figures["silence"]["level"])

    @property
    def score(self) -> int:
        """The attention score (0-100; 0 when no score is kept)."""
        return int(self.figures.get("attention", {}).get("score", 0))

    def json(self) -> dict[str, Any]:
        return self.changed


def changed(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, Any]:
    """The top-level members of ``after`` that differ from ``before`` (all, without one).

    :func:`~webapp.calls.health.measure` gives every call the same members, so a member
    never goes: merging the result into ``before`` gives ``after``."""
    if before is None:
        return after
    return {name: value for name, value in after.items() if before.get(name, _NONE) != value}


_NONE = object()


class CallHealth:
    def __init__(
        self,
        config: HealthConfig,
        assess: Assess | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._assess = assess
        self._clock = clock
        self._tally = Tally(config)
        self._started: float | None = None
        self._ended: float | None = None
        self._over = False
        self._activity: float | None = None
        self._speaking: str | None = None
        self._dormant = False
        self._dirty = False
        self._last_key: str | None = None
        self._shown: dict[str, Any] | None = None  # the figures of the last change emitted
        # The wall time of the next threshold after the figures last published, and the
        # delay from then on this node's clock (None: nothing is due).
        self.due: float | None = None
        self.measured = 0  # how many times figures were published: the timer follows each
        # In a cluster every node must emit the same frames from the same inputs: figures
        # are then measured at the latest moment the inputs name, never a node's own clock.
        self.shared = False
        self._moment: float | None = None

    def observe(self, change: Change) -> None:
        """Learn from one change of the call (transcripts, status; alerts change the score).

        Segments and statuses are read as the call's state holds them (typed), never
        parsed back from their JSON; a claim's or an alert's moment is its ``at``."""
        if change.type not in WATCHED:
            return
        self._dirty = True
        match change.payload:
            case SegmentShown() as shown:
                self._segment(shown)
            case StatusShown() as shown:
                self._note(_wall(shown.at))
                self._status(shown)
            case _:
                self._note(wall(change.data.get("at")))

    def publish(self) -> list[Change]:
        """A ``metrics`` change if a viewer would see a difference; :attr:`due` moves."""
        if not self._dirty:
            return []
        self._dirty = False
        now = self._moment if self.shared and self._moment is not None else self._clock()
        figures = self.figures(now)
        key = _key(figures)
        self._arm(now)
        if key == self._last_key:
            return []
        self._last_key = key
        shown, self._shown = self._shown, figures
        return [Change("metrics", FiguresShown(figures, changed(shown, figures)))]

    def current(self) -> dict[str, Any]:
        """The figures as last published (what viewers were last sent), for snapshots and
        renders: measuring again for every frame would cost a pass over the whole call.

        Exactly what a viewer holds that merged every ``metrics`` change so far, so a
        snapshot and the changes after it add up (figures measured but not sent, their
        seconds alone moved, are not in it)."""
        return self._shown if self._shown is not None else self.figures()

    def figures(self, now: float | None = None) -> dict[str, Any]:
        """The health figures at ``now`` (default: the clock), with the attention score."""
        moment = self._clock() if now is None else now
        figures = measure(self.timeline(), moment, self.config, self._tally.summary())
        if self._assess is not None:
            figures["attention"] = self._assess(figures)
        return figures

    # -- inputs ------------------------------------------------------------------------------

    def tick(self, at: float) -> list[Change]:
        """A threshold is due at ``at`` (this node's timer, or the holder's, in a cluster)."""
        self._note(at)
        self._dirty = True
        return self.publish()

    def _note(self, moment: float | None) -> None:
        if moment is not None and (self._moment is None or moment > self._moment):
            self._moment = moment

    def _segment(self, shown: SegmentShown) -> None:
        segment, now = shown.segment, self._clock()
        stamped = _wall(segment.at) or _wall(segment.created_at)
        if self.shared:  # the inputs' own moments only: another node's clock may differ
            arrived = stamped if stamped is not None else self._moment or now
            latest = arrived
        else:  # alone, a stamp from a Burki whose clock runs ahead is not in the future
            arrived = stamped or now
            latest = min(arrived, now)
        self._note(arrived)
        self._activity = max(self._activity or arrived, latest)
        if not segment.is_final:
            self._speaking = str(segment.speaker)
            return
        self._speaking = None
        start, end = _num(segment.segment_start), _num(segment.segment_end)
        self._tally.insert(shown.index, Mark(str(segment.speaker), start, end, arrived))

    def _status(self, shown: StatusShown) -> None:
        info = shown.info
        started = _wall(info.started_at)
        if started is not None:
            self._started = started
        self._dormant = shown.no_activity
        if shown.ended:
            self._over = True
            ended = _wall(info.end)  # Burki's own length, whatever the clocks, else its end
            self._ended = ended if ended is not None else self._ended

    def _end(self) -> float | None:
        """When the call ended: as Burki said, else (until it says: the stream asks its
        REST) the last moment the call is known to have lived; never this node's clock,
        which for a call opened after its end is merely when the dashboard connected."""
        if self._ended is not None or not self._over:
            return self._ended
        known = [m for m in (self._activity, self._started) if m is not None]
        return max(known) if known else None

    def timeline(self) -> Timeline:
        """What the figures are measured from now (its marks are the call's own: read only)."""
        return Timeline(
            marks=self._tally.marks,
            started=self._started,
            ended=self._end(),
            is_over=self._over,
            activity=self._activity,
            speaking=self._speaking,
            dormant=self._dormant,
        )

    # -- when the next threshold is due --------------------------------------------------

    def _arm(self, measured: float) -> None:
        """The next threshold after ``measured`` (when the figures were measured). In a
        cluster that is the inputs' latest moment, which a node behind them has passed
        already: a threshold crossed in between is due at once (the timer's delay is
        never negative), never skipped (it would be announced only with the next frame)."""
        self.due = next_due(self.timeline(), measured, self.config)
        self.measured += 1

    def now(self) -> float:
        """This node's clock, as health reads it (a threshold found due is due now)."""
        return self._clock()

    def delay(self) -> float | None:
        """Seconds from now on this node's clock until :attr:`due` (None: nothing is due)."""
        return None if self.due is None else max(self.due - self._clock(), 0.0) + 0.05


def _wall(moment: datetime | None) -> float | None:
    """An aware (or naive = UTC) moment as wall-time seconds."""
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _key(figures: dict[str, Any]) -> str:
    """What a viewer sees of the figures: all but the ticking seconds and reason wording
    (an ended call's length no longer ticks: Burki's length, once known, is news)."""
    silence = {k: v for k, v in figures["silence"].items() if k != "seconds"}
    attention = figures.get("attention") or {}
    reasons = [r.get("code") for r in attention.get("reasons", [])]
    ticking = (
        ("silence", "attention") if figures.get("ended") else ("length", "silence", "attention")
    )
    seen = {k: v for k, v in figures.items() if k not in ticking}
    return json.dumps([seen, silence, attention.get("score"), reasons], sort_keys=True)
