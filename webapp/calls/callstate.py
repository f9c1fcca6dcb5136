"""The state of one call's stream: status, the transcript, and transcript dedupe.

Burki replays the whole transcript on every (re)connect, without segment ids,
and a live segment can arrive in the middle of that replay and also be part of
it. So a final segment is recognised as one we already hold by its identity:

- the same ``created_at`` (and speaker): how REST-polled segments, which have
  a ``created_at`` and no timing, meet the ones the socket delivered;
- or the same ``(speaker, content, segment_start, segment_end)`` when at least
  one of start and end is known.

A segment with neither can only be counted: within one upstream connection the
k-th occurrence of the same ``(speaker, content)`` is a duplicate only while
we already hold at least k such segments. The stream calls
:meth:`CallState.connection_started` whenever a new upstream connection goes
live, and before each REST poll batch (a poll returns the whole transcript too).

Finals are kept in ``created_at`` order where both neighbours have one: a
segment missed while disconnected, which only the next replay delivers, can
arrive after a newer live one and is then inserted before it. Its change says
where (``segment.index``); otherwise every final is appended.

Pure: no I/O, no tasks, no clock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, overload

from webapp.calls.change import Change, iso, json_safe
from webapp.calls.redactor import Redacted, Remasked, unredacted
from webapp.wire.callinfo import CallInfo
from webapp.wire.events import CallStatus, Speaker, Transcript

_Timing = tuple[Speaker, str, float | None, float | None]
_Words = tuple[Speaker, str]


def segment_payload(segment: Transcript, index: int | None) -> dict[str, Any]:
    """A segment as it travels in ``transcript`` changes and snapshots (index None: interim)."""
    return {
        "index": index,
        "speaker": segment.speaker,
        "content": segment.content,
        "is_final": segment.is_final,
        "confidence": segment.confidence,
        "start": segment.segment_start,
        "end": segment.segment_end,
        "created_at": iso(segment.created_at),
        "at": iso(segment.at),
    }


class Finals(Sequence[dict[str, Any]]):
    """A call's final segments as payloads, each built when it is read: a page view that
    redraws the last lines of a long call reads those, not the whole transcript (which
    made every frame of an hour's call cost a pass over it).

    It reads the state's own list as it is then: read it at once (a view renders within
    the step that built its context), never keep it.
    """

    __slots__ = ("_finals",)

    def __init__(self, finals: list[Transcript]) -> None:
        self._finals = finals

    def __len__(self) -> int:
        return len(self._finals)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        positions = range(len(self._finals))[index]  # IndexError past either end
        if isinstance(positions, int):
            return segment_payload(self._finals[positions], positions)
        return [segment_payload(self._finals[i], i) for i in positions]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (segment_payload(segment, i) for i, segment in enumerate(self._finals))


@dataclass(frozen=True, slots=True)
class SegmentShown:
    """A ``transcript`` or ``redacted`` change: ``segment`` (redacted where redaction is
    on) as the state holds it, the final at ``index``, or an interim (None)."""

    segment: Transcript
    index: int | None

    def json(self) -> dict[str, Any]:
        return {"segment": segment_payload(self.segment, self.index)}


@dataclass(frozen=True, slots=True)
class StatusShown:
    """A ``call_status`` change: the call's status and merged metadata at ``at``."""

    status: str
    metadata: dict[str, Any]  # the state's own (replaced, never changed in place)
    info: CallInfo  # the same, typed
    ended: bool
    no_activity: bool
    at: datetime | None

    def json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "metadata": dict(self.metadata),
            "ended": self.ended,
            "no_activity": self.no_activity,
            "at": iso(self.at),
        }


def _timing(segment: Transcript) -> _Timing | None:
    if segment.segment_start is None and segment.segment_end is None:
        return None
    return (segment.speaker, segment.content, segment.segment_start, segment.segment_end)


def _same(a: Transcript, b: Transcript) -> bool:
    """Equal but for the time the message was sent."""
    return replace(a, at=None) == replace(b, at=None)


class CallState:
    """Everything a viewer of one call needs, changed only through :meth:`apply`.

    ``status`` starts ``"unknown"``; ``ended`` turns True with a terminal
    status and stays so (a later non-terminal status is stale and ignored).
    ``dedupe_drops`` counts final segments dropped as already held.
    """

    def __init__(self, call_sid: str) -> None:
        self.call_sid = call_sid
        self.status = "unknown"
        self.metadata: dict[str, Any] = {}  # merged as Burki sent it (the JSON's)
        self.info = CallInfo()  # the same, typed (``webapp.wire.callinfo``)
        self.ended = False
        self.no_activity = False  # nothing said for a long while, yet never ended
        self.dedupe_drops = 0
        self._finals: list[Transcript] = []
        self._interims: dict[Speaker, Transcript] = {}
        self._created: set[tuple[Speaker, datetime]] = set()
        self._timed: set[_Timing] = set()
        self._untimed_held: Counter[_Words] = Counter()
        self._untimed_seen: Counter[_Words] = Counter()  # this connection's occurrences

    @property
    def segments(self) -> list[dict[str, Any]]:
        """The final segments, in order, as payloads."""
        return [segment_payload(segment, i) for i, segment in enumerate(self._finals)]

    @property
    def finals(self) -> Finals:
        """The final segments, in order, as payloads built when read (see :class:`Finals`)."""
        return Finals(self._finals)

    @property
    def final_count(self) -> int:
        return len(self._finals)

    def segment(self, index: int) -> dict[str, Any] | None:
        """One final segment's payload (no list of them all is built)."""
        if not 0 <= index < len(self._finals):
            return None
        return segment_payload(self._finals[index], index)

    def unredacted_segments(self) -> list[dict[str, Any]]:
        """The final segments with the text Burki sent, where redaction kept it (audited use)."""
        return [
            {**segment_payload(segment, i), "content": unredacted(segment)}
            for i, segment in enumerate(self._finals)
        ]

    def connection_started(self) -> None:
        """A new upstream connection (or REST poll batch) starts: its replay is counted afresh."""
        self._untimed_seen.clear()

    def apply(self, event: Redacted) -> list[Change]:
        """Fold one event into the state; the changes viewers must see (often none)."""
        if isinstance(event, Remasked):
            return self._remask(event)
        if isinstance(event, CallStatus):
            return self._status(event)
        if isinstance(event, Transcript):
            return self._final(event) if event.is_final else self._interim(event)
        return []

    def snapshot(self, *, transcript: bool = True) -> dict[str, Any]:
        """The whole state, for a viewer that cannot resume: a fresh, JSON-able dict.

        ``transcript=False``: all but ``segments`` (a page view reads :attr:`finals`)."""
        shown: dict[str, Any] = {"status": self.status, "metadata": dict(self.metadata)}
        if transcript:
            shown["segments"] = self.segments
        return shown | {
            "interims": {s: segment_payload(seg, None) for s, seg in self._interims.items()},
            "ended": self.ended,
            "no_activity": self.no_activity,
        }

    def last_activity(self) -> datetime | None:
        """When something last happened on the call: its newest final segment, else its start."""
        times = [s.created_at or s.at for s in self._finals[-1:]]
        times.append(self.info.started_at)
        known = [t for t in times if t is not None]
        return max(known) if known else None

    def mark_quiet(self) -> list[Change]:
        """Nothing was said for too long: the call shows "no activity" (Burki keeps a call
        whose media never connected "ongoing" forever, and never says "failed")."""
        if self.ended or self.no_activity:
            return []
        self.no_activity = True
        return [self._status_change(None)]

    def _status(self, event: CallStatus) -> list[Change]:
        if self.ended and not event.terminal:
            return []
        # Merged, never replaced: Burki sends four metadata shapes (on connect, on
        # request_status, at media start, at the end) and a later, smaller one (or a
        # null field) must not erase what an earlier one told us.
        fresh = {k: v for k, v in json_safe(event.metadata).items() if v is not None}
        metadata = {**self.metadata, **fresh}
        if event.status == self.status and metadata == self.metadata:
            return []
        self.status, self.metadata = event.status, metadata
        self.info = CallInfo.of(metadata)
        self.ended = self.ended or event.terminal
        return [self._status_change(event.at)]

    def _status_change(self, at: datetime | None) -> Change:
        metadata, info = self.metadata, self.info
        shown = StatusShown(self.status, metadata, info, self.ended, self.no_activity, at)
        return Change("call_status", shown)

    def _final(self, segment: Transcript) -> list[Change]:
        if self._is_duplicate(segment):
            self.dedupe_drops += 1
            self._learn(segment)
            return []
        self._learn(segment)
        if _timing(segment) is None and segment.created_at is None:
            self._untimed_held[(segment.speaker, segment.content)] += 1
        index = self._position(segment)
        self._finals.insert(index, segment)
        self._interims.pop(segment.speaker, None)  # the final completes it
        changes = [Change("transcript", SegmentShown(segment, index))]
        if self.no_activity:  # someone spoke again
            self.no_activity = False
            changes.append(self._status_change(segment.at))
        return changes

    def _remask(self, item: Remasked) -> list[Change]:
        """A held final masked further (the redactor learnt it held part of a number): it
        is replaced in place, and a ``redacted`` change tells viewers. Its new identity is
        learnt beside the old one, so a replay of it is still recognised."""
        for index in range(len(self._finals) - 1, -1, -1):
            if self._finals[index] is item.shown:
                self._finals[index] = item.segment
                self._learn(item.segment)
                if _timing(item.segment) is None and item.segment.created_at is None:
                    self._untimed_held[(item.segment.speaker, item.segment.content)] += 1
                return [Change("redacted", SegmentShown(item.segment, index))]
        return []  # dropped as a duplicate when it came: nothing shows it

    def _interim(self, segment: Transcript) -> list[Change]:
        held = self._interims.get(segment.speaker)
        if self._known(segment) or (held is not None and _same(held, segment)):
            return []  # a repeat, or a late interim of a final we hold
        self._interims[segment.speaker] = segment
        return [Change("transcript", SegmentShown(segment, None))]

    def _known(self, segment: Transcript) -> bool:
        """Whether an identity of ``segment`` (created_at, timing) is one of a held final."""
        if (
            segment.created_at is not None
            and (segment.speaker, segment.created_at) in self._created
        ):
            return True
        timing = _timing(segment)
        return timing is not None and timing in self._timed

    def _is_duplicate(self, segment: Transcript) -> bool:
        """Whether a final is held already; counts an identity-less one's occurrence."""
        if self._known(segment):
            return True
        if _timing(segment) is not None or segment.created_at is not None:
            return False
        words = (segment.speaker, segment.content)
        self._untimed_seen[words] += 1
        return self._untimed_held[words] >= self._untimed_seen[words]

    def _learn(self, segment: Transcript) -> None:
        # A duplicate may carry an identity its held twin lacked (the live copy's
        # created_at can differ from the stored one): remember both.
        if segment.created_at is not None:
            self._created.add((segment.speaker, segment.created_at))
        timing = _timing(segment)
        if timing is not None:
            self._timed.add(timing)

    def _position(self, segment: Transcript) -> int:
        """Where a new final goes: the end, or before newer finals by ``created_at``."""
        index = len(self._finals)
        created = segment.created_at
        if created is None:
            return index
        while index > 0:
            before = self._finals[index - 1].created_at
            if before is None or before <= created:
                break
            index -= 1
        return index
