"""Redaction of one call's transcript as it streams, before anything stores or shows it.

A :class:`CallRedactor` sits where transcript events enter a call's state
(:meth:`~webapp.relay.callextras.CallExtras.apply`): everything after it (the state,
snapshots, every page view, exports, alerts, webhooks) sees redacted text only.

Across segment boundaries: a final segment that ends in a number that may go on
("my card is 4111 1111") is **held**, not shown, and joined with the same
speaker's next final; the joined text is redacted as one and each segment gets
its share of the markers. A held group is shown when it no longer ends in an
open number, or, still open, when the other speaker's final arrives, when the
call ends, when :meth:`release` is called (the stream's hold timer) or after
``max_held`` segments. Shown still open, a number of seven digits or more is
masked as ``[digits]`` (nothing can check it any more; "order 421" stays); after
``max_held`` segments any open number is. The number a shown segment ended in
stays as the speaker's *context*: their next segment is searched with it in
front, so a number finished after a long pause is still found in the new part
(and the start of a number masked as unchecked is masked too). So a viewer
never sees enough of a number that a later segment completes to rebuild it.

Interim segments are redacted with the speaker's held finals before them, and
an open number at their end is masked as ``[digits]`` until a final settles it.

Pure: no I/O, no tasks, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from webapp.relay.pii import Policy, Span, find, lead_run, mask, open_tail
from webapp.wire.events import CallStatus, Event, Speaker, Transcript

_FIELDS = tuple(f.name for f in fields(Transcript))
HOLD_DIGITS = 3  # a final ending in this many digits or more may go on in the next one
# An open number this long when its turn or hold ends is masked; shorter ones are shown
# (PCI DSS allows the first six digits of a card number to be displayed).
UNFINISHED_DIGITS = 7


@dataclass(frozen=True, slots=True)
class RedactedTranscript(Transcript):
    """A segment whose ``content`` is redacted; ``raw`` is what Burki sent, kept only when
    the text changed and some role may see it unredacted. Never in ``repr`` (log lines)."""

    raw: str | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class RedactionConfig:
    enabled: bool = True
    policy: Policy = field(default_factory=Policy)
    keep_raw: bool = True  # some role may switch a view to the unredacted text
    hold: float = 2.0  # seconds a held segment waits for the speaker's next one
    max_held: int = 4


def _starts(group: list[Transcript]) -> list[int]:
    """Where each segment starts in the group's text joined with spaces."""
    starts, at = [], 0
    for segment in group:
        starts.append(at)
        at += len(segment.content) + 1
    return starts


def unredacted(segment: Transcript) -> str:
    """The text Burki sent for ``segment``, where it was kept (else its content)."""
    raw = getattr(segment, "raw", None)
    return raw if isinstance(raw, str) else segment.content


@dataclass(frozen=True, slots=True)
class _Context:
    speaker: Speaker
    text: str  # the digits run as spoken
    masked: bool  # shown as [digits]: unchecked, so its continuation is masked too


class CallRedactor:
    def __init__(self, config: RedactionConfig) -> None:
        self.config = config
        self._held: list[Transcript] = []  # one speaker's finals: a new speaker releases them
        # The number a speaker's last shown segment ended in: their next one may go on with it.
        self._context: _Context | None = None

    @property
    def holding(self) -> bool:
        return bool(self._held)

    def feed(self, event: Event) -> list[Event]:
        """The events to fold into the call's state in place of ``event`` (none while held)."""
        if isinstance(event, Transcript):
            return [*self._final(event)] if event.is_final else [self._interim(event)]
        if isinstance(event, CallStatus) and event.terminal:
            return [*self.release(), event]
        return [event]

    def release(self) -> list[Transcript]:
        """Every held segment, redacted, in order of arrival (the turn or the hold is over)."""
        group, self._held = self._held, []
        if not group:
            return []
        text, spans = self._find(group)
        return self._close(group, text, spans, open_tail(text, spans, UNFINISHED_DIGITS))

    def redact_all(self, segments: list[Transcript]) -> list[Transcript]:
        """A whole transcript at once (a REST fetch): the same result as streaming it."""
        out: list[Transcript] = []
        for segment in segments:
            out += self._final(segment) if segment.is_final else [self._interim(segment)]
        return out + self.release()

    def _final(self, segment: Transcript) -> list[Transcript]:
        out = self.release() if self._held and self._held[0].speaker != segment.speaker else []
        group = [*self._held, segment]
        text, spans = self._find(group)
        tail = open_tail(text, spans, HOLD_DIGITS)
        if tail is None:
            self._held = []
            return out + self._close(group, text, spans, None)
        # Segments wholly before the open number are settled: only the rest waits.
        first = max(i for i, at in enumerate(_starts(group)) if at <= tail[0])
        if len(group) - first < self.config.max_held:
            self._held = group[first:]
            if first:
                self._context = None  # it was the start of group[0], which is out now
            return out + self._parts(group, text, spans)[:first]
        self._held = []
        return out + self._close(group, text, spans, tail)

    def _close(
        self,
        group: list[Transcript],
        text: str,
        spans: list[Span],
        unchecked: tuple[int, int] | None,
    ) -> list[Transcript]:
        """``group`` redacted for good; ``unchecked``: a number ending it that nothing can
        check any more, masked as ``[digits]``. Whatever number the group ends in becomes
        the context of the speaker's next segment."""
        speaker = group[0].speaker
        context = self._context if self._context and self._context.speaker == speaker else None
        if unchecked is not None:
            spans.append(Span(*unchecked, "digits", "[digits]"))
            self._context = _Context(speaker, text[unchecked[0] : unchecked[1]], True)
        elif (end := open_tail(text, spans, 1)) is not None:
            self._context = _Context(speaker, text[end[0] : end[1]], False)
        elif context is not None and context.masked and lead_run(text) == len(text.rstrip()):
            # Nothing but more digits of an unchecked number: it may still go on.
            self._context = _Context(speaker, f"{context.text} {text}", True)
        elif context is not None:
            self._context = None
        return self._parts(group, text, spans)

    def _interim(self, segment: Transcript) -> Transcript:
        group = [*(s for s in self._held if s.speaker == segment.speaker), segment]
        text, spans = self._find(group)
        tail = open_tail(text, spans, 1)
        if tail is not None:
            spans.append(Span(*tail, "digits", "[digits]"))
        return self._parts(group, text, spans)[-1]

    def _find(self, group: list[Transcript]) -> tuple[str, list[Span]]:
        """The group's joined text and its spans, found with the speaker's context before it."""
        text = " ".join(segment.content for segment in group)
        context = self._context
        if context is None or context.speaker != group[0].speaker:
            return text, find(text, self.config.policy)
        offset = len(context.text) + 1
        spans = [
            Span(max(0, span.start - offset), span.end - offset, span.kind, span.marker)
            for span in find(f"{context.text} {text}", self.config.policy)
            if span.end > offset
        ]
        lead = lead_run(text) if context.masked else None
        if lead is not None and not any(span.start < lead for span in spans):
            spans.insert(0, Span(0, lead, "digits", "[digits]"))
        return text, spans

    def _parts(self, group: list[Transcript], text: str, spans: list[Span]) -> list[Transcript]:
        """Each segment of ``group`` with its share of ``spans`` masked (joined with spaces)."""
        spans = sorted(spans, key=lambda span: span.start)
        out, at = [], 0
        for segment in group:
            start, end = at, at + len(segment.content)
            own = [
                Span(max(s.start, start) - start, min(s.end, end) - start, s.kind, s.marker)
                for s in spans
                if s.start < end and start < s.end
            ]
            out.append(self._with(segment, mask(segment.content, own)))
            at = end + 1
        return out

    def _with(self, segment: Transcript, content: str) -> Transcript:
        values: dict[str, Any] = {name: getattr(segment, name) for name in _FIELDS}
        values["content"] = content
        raw = segment.content if self.config.keep_raw and content != segment.content else None
        return RedactedTranscript(**values, raw=raw)
