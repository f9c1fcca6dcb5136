"""Redaction of one call's transcript as it streams, before anything stores or shows it.

A :class:`CallRedactor` sits where transcript events enter a call's state
(:meth:`~webapp.relay.callextras.CallExtras.apply`): everything after it (the state,
snapshots, every page view, exports, alerts, webhooks) sees redacted text only.

People read numbers in pieces: "4111" / "1111" / "1111" / "1111", seconds apart, the
other speaker saying "mm-hm" between them. So the redactor follows each speaker's
*chain* (:mod:`webapp.relay.numbers`): their latest segments one number runs through
(each but the last ends in digits, the next starts with digits), whatever the other
speaker said between them and however long the pause, up to ``MAX_CHAIN`` segments.
Each final is searched with its chain in front of it, and each segment of the chain
gets its share of what is found. Masks only grow:

- a final that ends in an open number (three or more digits not masked yet) is
  **held**, so that the common two-part card shows masked from the start; it is shown
  when its number is closed or found, when the other speaker's final arrives, when the
  call ends, when :meth:`release` is called (the stream's hold timer) or after
  ``max_held`` segments (then its open number is masked whatever its length);
- a number that crossed a segment boundary, or is shown still open, is masked after its
  sixth digit unless it is found as something (PCI DSS allows a card's first six);
- when a later segment shows that segments already shown held part of a card, SSN,
  phone number or the like, each of those is masked again: a :class:`Remasked` for it,
  which the state applies in place (so snapshots and exports hold the masked text) and
  viewers get as a ``redacted`` event;
- a card's security code (or expiry) said within a few words after it is masked too.

Interim segments are redacted with the speaker's chain before them, and a number at
their end that could be the start of a card, SSN or phone number (three digits or more,
the chain's included) is masked as ``[digits]`` until a final settles it; a lone "42" or
"three" is shown, as its final will be.

Pure: no I/O, no tasks, no clock.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from dataclasses import dataclass, field, fields
from typing import Any

from webapp.relay import numbers
from webapp.relay.numbers import Chain, ends_in_digits, joined, starts_with_digits
from webapp.relay.pii import Policy, Span, digit_runs, mask, open_tail
from webapp.wire.events import CallStatus, Event, Speaker, Transcript

_FIELDS = tuple(f.name for f in fields(Transcript))
HOLD_DIGITS = 3  # a final ending in this many digits or more may go on in the next one
MAX_CHAIN = 24  # segments a number is followed through (a card read digit by digit: 19)
_WORD = re.compile(r"\S+")
# Which marker wins where two masks overlap (masks only grow: they are merged).
_RANK = {"card": 0, "ssn": 1, "iban": 2, "phone": 3, "email": 4, "code": 5, "digits": 6}


@dataclass(frozen=True, slots=True)
class RedactedTranscript(Transcript):
    """A segment whose ``content`` is redacted; ``raw`` is what Burki sent, kept only when
    the text changed and some role may see it unredacted. Never in ``repr`` (log lines)."""

    raw: str | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Remasked:
    """A final already shown, masked further: ``segment`` replaces ``shown`` (the very
    object emitted before) wherever that is kept."""

    shown: Transcript
    segment: Transcript


Redacted = Event | Remasked


@dataclass(frozen=True, slots=True)
class RedactionConfig:
    """``REDACTION_*`` (built by ``webapp.configs``: no defaults here but fixed tuning)."""

    enabled: bool
    policy: Policy
    keep_raw: bool  # some role may switch a view to the unredacted text
    hold: float  # seconds a held segment waits for the speaker's next one
    max_held: int = 4  # no setting


def unredacted(segment: Transcript) -> str:
    """The text Burki sent for ``segment``, where it was kept (else its content)."""
    raw = getattr(segment, "raw", None)
    return raw if isinstance(raw, str) else segment.content


@dataclass(slots=True)
class _Shown:
    segment: Transcript | None = None  # a final as last emitted; None while held


@dataclass(slots=True)
class _Entry:
    original: Transcript
    spans: list[Span] = field(default_factory=list)  # masked so far, in its own text
    box: _Shown = field(default_factory=_Shown)

    @property
    def shown(self) -> Transcript | None:
        return self.box.segment

    @shown.setter
    def shown(self, segment: Transcript) -> None:
        self.box.segment = segment


@dataclass(slots=True)
class _Voice:
    """One speaker's chain, and what of a card said before it may still follow."""

    chain: list[_Entry] = field(default_factory=list)
    carried: int = 0  # digits of the chain's number in segments dropped from its front
    code_lead: int = 0  # words at the chain's start that may hold an earlier card's code
    code_after: int = 0  # words after the chain that may

    @property
    def held(self) -> int:
        return sum(entry.shown is None for entry in self.chain)

    def chain_of(self, extra: tuple[str, ...] = ()) -> Chain:
        texts = tuple(entry.original.content for entry in self.chain) + extra
        return Chain(texts, self.carried, self.code_lead)


class CallRedactor:
    def __init__(self, config: RedactionConfig) -> None:
        self.config = config
        self._voices: dict[Speaker, _Voice] = {}
        # Every final seen, by identity (its text as a digest, never the text): Burki replays
        # the transcript on each reconnect, and a replayed final must neither join a chain
        # again nor come out masked otherwise than the first time (the state would not
        # recognise it). A replayed final comes out as it is shown now.
        self._seen: dict[tuple[object, ...], _Shown] = {}

    @property
    def holding(self) -> bool:
        return any(voice.held for voice in self._voices.values())

    def feed(self, event: Event) -> list[Redacted]:
        """What to fold into the call's state in place of ``event`` (none while held)."""
        if isinstance(event, Transcript):
            return [*self._final(event)] if event.is_final else [self._interim(event)]
        if isinstance(event, CallStatus) and event.terminal:
            return [*self.release(), event]
        return [event]

    def release(self) -> list[Redacted]:
        """Every held segment, redacted, in order of arrival (the turn or the hold is over)."""
        out: list[Redacted] = []
        for voice in self._voices.values():
            if voice.held:
                out += self._settle(voice, open_end=True)
        return out

    def redact_all(self, segments: list[Transcript]) -> list[Transcript]:
        """A whole transcript at once (a REST fetch): the same result as streaming it."""
        out: list[Transcript] = []
        for segment in segments:
            _take(out, self._final(segment) if segment.is_final else [self._interim(segment)])
        _take(out, self.release())
        return out

    def _final(self, segment: Transcript) -> list[Redacted]:
        keys = _identities(segment)
        box = next((self._seen[key] for key in keys if key in self._seen), None)
        if box is not None:  # a replay: as shown now, or nothing while it is held
            self._seen.update(dict.fromkeys(keys, box))
            return [box.segment] if box.segment is not None else []
        out: list[Redacted] = []
        for speaker, voice in self._voices.items():
            if speaker != segment.speaker and voice.held:  # the turn changed
                out += self._settle(voice, open_end=True)
        voice = self._voices.setdefault(segment.speaker, _Voice())
        entry = _Entry(segment)
        self._seen.update(dict.fromkeys(keys, entry.box))
        if voice.chain and _goes_on(voice.chain[-1].original.content, segment.content):
            voice.chain.append(entry)
            _bound(voice)
        else:
            if voice.held:  # its number is closed: the new segment starts with words
                out += self._settle(voice, open_end=False)
            voice.chain, voice.carried = [entry], 0
            voice.code_lead = max(0, voice.code_after)
        chain = voice.chain_of()
        found = numbers.found(chain, self.config.policy)
        tail = open_tail(joined(chain), found, HOLD_DIGITS)
        if tail is not None and voice.held < self.config.max_held:
            return out + self._settle(voice, open_end=True, emit=False, found=found)
        return out + self._settle(voice, open_end=True, force=tail is not None, found=found)

    def _settle(
        self,
        voice: _Voice,
        open_end: bool,
        emit: bool = True,
        force: bool = False,
        found: list[Span] | None = None,
    ) -> list[Redacted]:
        """Mask the voice's chain: its held segments shown (``emit``), the shown ones
        masked again where more is known now."""
        chain = voice.chain_of()
        text = joined(chain)
        found = numbers.found(chain, self.config.policy) if found is None else found
        spans = _merge(found + numbers.unchecked(chain, text, found, open_end, force))
        voice.code_after = _code_after(voice, text, found)
        out: list[Redacted] = []
        for entry, start in zip(voice.chain, chain.starts, strict=True):
            entry.spans = _merge(_share(spans, start, len(entry.original.content)) + entry.spans)
            if entry.shown is None and not emit:
                continue
            content = mask(entry.original.content, entry.spans)
            if entry.shown is None:
                shown = self._with(entry.original, content)
                entry.shown = shown
                out.append(shown)
            elif content != entry.shown.content:
                remasked = Remasked(entry.shown, self._with(entry.original, content))
                entry.shown = remasked.segment
                out.append(remasked)
        return out

    def _interim(self, segment: Transcript) -> Transcript:
        voice = self._voices.get(segment.speaker) or _Voice()
        goes_on = bool(voice.chain) and _goes_on(voice.chain[-1].original.content, segment.content)
        if goes_on:
            chain = voice.chain_of((segment.content,))
        else:
            chain = Chain((segment.content,), 0, max(0, voice.code_after))
        text = joined(chain)
        found = numbers.found(chain, self.config.policy)
        spans = found + numbers.unchecked(chain, text, found, True, False)
        start = chain.starts[-1]
        tail = open_tail(text, found, HOLD_DIGITS)  # could start a card, an SSN, a phone
        if tail is not None and tail[1] > start:
            spans.append(Span(max(tail[0], start), tail[1], "digits", "[digits]"))
        return self._with(
            segment, mask(segment.content, _share(_merge(spans), start, len(segment.content)))
        )

    def _with(self, segment: Transcript, content: str) -> Transcript:
        values: dict[str, Any] = {name: getattr(segment, name) for name in _FIELDS}
        values["content"] = content
        raw = segment.content if self.config.keep_raw and content != segment.content else None
        return RedactedTranscript(**values, raw=raw)


def _identities(segment: Transcript) -> list[tuple[object, ...]]:
    """What tells a final apart from any other (as the state's dedupe does): its timing with
    its text, or its ``created_at``. None: it cannot be told from a repeat of itself."""
    keys: list[tuple[object, ...]] = []
    if segment.segment_start is not None or segment.segment_end is not None:
        digest = hashlib.blake2b(segment.content.encode(), digest_size=16).digest()
        keys.append((segment.speaker, digest, segment.segment_start, segment.segment_end))
    if segment.created_at is not None:
        keys.append((segment.speaker, segment.created_at))
    return keys


def _goes_on(before: str, text: str) -> bool:
    """Whether a number ending ``before`` may go on at the start of ``text``."""
    return ends_in_digits(before) and starts_with_digits(text)


def _bound(voice: _Voice) -> None:
    """Drop the oldest shown segments of a chain longer than ``MAX_CHAIN``, counting the
    digits they held of its number (so what follows stays masked)."""
    while len(voice.chain) > MAX_CHAIN and voice.chain[0].shown is not None:
        content = voice.chain.pop(0).original.content
        runs = digit_runs(content)
        whole = len(runs) == 1 and not content[: runs[0][0]].strip()
        voice.carried = (voice.carried if whole else 0) + len(runs[-1][2])
        voice.code_lead = 0


def _code_after(voice: _Voice, text: str, found: list[Span]) -> int:
    """How many words after the chain may still hold the code of a card said in it or
    before (0 or less: none; only that matters, so words are counted no further)."""
    cards = [span for span in found if span.kind == "card"]
    if cards:
        return numbers.CODE_WORDS - _words(text, cards[-1].end, numbers.CODE_WORDS)
    return voice.code_lead - _words(text, 0, voice.code_lead)


def _words(text: str, start: int, limit: int) -> int:
    """The words in ``text[start:]``, counted up to ``limit`` (then ``limit``)."""
    return sum(1 for _ in itertools.islice(_WORD.finditer(text, start), max(0, limit)))


def _share(spans: list[Span], start: int, length: int) -> list[Span]:
    """The part of ``spans`` (in a joined text) that falls in ``start:start+length``, in
    that stretch's own coordinates."""
    end = start + length
    return [
        Span(max(s.start, start) - start, min(s.end, end) - start, s.kind, s.marker)
        for s in spans
        if s.start < end and start < s.end
    ]


def _merge(spans: list[Span]) -> list[Span]:
    """``spans`` with overlapping ones merged into their union, the stronger marker kept
    (the first given wins a tie): masks only grow, never reveal what they hid."""
    out: list[Span] = []
    for span in sorted(spans, key=lambda s: s.start):  # stable: the first given stays first
        if out and span.start < out[-1].end:
            last = out[-1]
            best = last if _RANK[last.kind] <= _RANK[span.kind] else span
            out[-1] = Span(last.start, max(last.end, span.end), best.kind, best.marker)
        else:
            out.append(span)
    return out


def _take(out: list[Transcript], items: list[Redacted]) -> None:
    for item in items:
        if isinstance(item, Remasked):
            out[:] = [item.segment if seg is item.shown else seg for seg in out]
        elif isinstance(item, Transcript):
            out.append(item)
