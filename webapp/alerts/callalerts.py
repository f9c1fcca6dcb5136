"""Alerts of one call: a caller who sounds upset, or says a watched phrase.

A :class:`CallAlerts` sees every change its call's stream emits and answers
with the changes to emit right after it. For each **final** ``transcript``
change (interims are never scored: they are rewritten as the caller speaks):

- a **user** segment is scored (:mod:`webapp.alerts.sentiment`) and gives a
  ``sentiment`` change: ``score``, ``average`` (the rolling average),
  ``trend`` (the last scores, oldest first) and the segment's ``index``;
  assistant segments are never scored;
- a segment scoring below ``segment_threshold`` raises one ``sentiment``
  alert (``scope: "segment"``);
- the rolling average raises one ``sentiment`` alert (``scope: "average"``)
  when it *crosses* below ``average_threshold`` (once it holds
  ``average_min_segments`` scores), and no other until it has recovered to the
  threshold or above;
- each keyword rule the segment matches raises one ``keyword`` alert.

An ``alert`` change carries ``id``, ``kind`` (``sentiment`` or ``keyword``),
``severity``, ``message`` (a sentence for people), ``segment_index``,
``speaker``, ``excerpt`` (the text, at most 200 characters, a number it ends in
masked), ``at``, and
``scope`` and ``score`` (sentiment) or ``phrase`` (keyword). Severities: a
segment alert is ``medium``, an average alert ``high`` (a sustained mood), a
keyword alert its rule's.

Ids are derived from the segment's identity (speaker, text, timing,
``created_at``, and how often that identity came before), not its ``index``,
which shifts when a late segment is inserted. So they are unique within a call,
and the same when a stream is built again and Burki replays the transcript
with the same fields: a webhook keyed on ``stream + id`` then posts no alert twice.

The stream's dedupe guarantees that a replayed segment gives no new change, so
nothing here dedupes segments. Segments count in the order they arrive.

Pure: no I/O, no tasks; the clock is only read for a segment that has no time.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from webapp.alerts.keywords import KeywordMatcher, KeywordRule
from webapp.alerts.payloads import AlertRaised, SentimentScored
from webapp.alerts.sentiment import RollingSentiment, SentimentScorer
from webapp.calls.callstate import SegmentShown
from webapp.calls.change import Change, iso
from webapp.calls.pii import Span, open_tail

EXCERPT_CHARS = 200
_MARKER = re.compile(r"\[[^\]]*\]")  # what redaction put in the text already
WHO = {"user": "Caller", "assistant": "Assistant"}


class Scorer(Protocol):
    def score(self, text: str) -> float: ...


@dataclass(frozen=True, slots=True)
class AlertConfig:
    """``ALERT_*`` (built by ``webapp.configs``: no defaults here but fixed tuning)."""

    segment_threshold: float
    average_threshold: float
    window: int
    rules: tuple[KeywordRule, ...]
    average_min_segments: int = 3
    trend_size: int = 20
    keep: int = 50  # alerts a snapshot shows, the most recent


@dataclass(slots=True)
class _Segment:
    index: int | None
    speaker: str
    content: str
    key: str
    at: str | None
    raised: list[AlertRaised] = field(default_factory=list)


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """``text`` cut to at most ``limit`` characters, an ellipsis marking the cut, and the
    number it ends in masked: a later segment may show it was part of a card or an SSN,
    and the line is then masked again, but an alert's excerpt has left (webhooks, e-mail)."""
    markers = [Span(m.start(), m.end(), "digits", m.group()) for m in _MARKER.finditer(text)]
    tail = open_tail(text, markers, 1)
    if tail is not None:
        text = f"{text[: tail[0]]}[digits]{text[tail[1] :]}"
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _digest(*parts: object, size: int = 6) -> str:
    raw = json.dumps(parts, ensure_ascii=False, default=str).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(raw, digest_size=size).hexdigest()


class CallAlerts:
    """The alerts state of one call, fed through :meth:`on_change`.

    ``scorer`` and ``matcher`` are meant to be shared by every call (build them
    once per process); by default they are built here, the matcher from
    ``config.rules``. ``raised`` counts alerts by kind, for metrics.
    """

    def __init__(
        self,
        config: AlertConfig,
        scorer: Scorer | None = None,
        matcher: KeywordMatcher | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.scorer: Scorer = scorer or SentimentScorer()
        self.matcher = matcher or KeywordMatcher(self.config.rules)
        self.rolling = RollingSentiment(self.config.window, self.config.trend_size)
        self.raised: Counter[str] = Counter()
        self._clock = clock
        # Each alert's JSON, built once when it is raised: a snapshot (every segment's
        # attention score reads one) copies it, never builds it again.
        self._alerts: deque[dict[str, Any]] = deque(maxlen=self.config.keep)
        self._identities: Counter[str] = Counter()
        self._average_low = False

    def on_change(self, change: Change) -> list[Change]:
        """The changes to emit after ``change`` (none unless it is a final segment)."""
        segment = self._final_segment(change)
        if segment is None:
            return []
        changes: list[Change] = []
        if segment.speaker == "user":
            changes.append(self._score(segment))
        for rule in self.matcher.matches(segment.speaker, segment.content):
            tag = "keyword-" + _digest(rule.phrase, rule.speaker, size=4)
            said = f'said "{rule.phrase}"'
            self._raise(segment, tag, "keyword", rule.severity, said, phrase=rule.phrase)
        changes.extend(Change("alert", alert) for alert in segment.raised)
        return changes

    def snapshot(self) -> dict[str, Any]:
        """Rolling sentiment and the most recent alerts (oldest first), fresh and JSON-able."""
        return {
            "sentiment": {
                "average": self.rolling.average,
                "trend": self.rolling.trend,
                "count": self.rolling.count,
            },
            "alerts": [dict(alert) for alert in self._alerts],  # flat: a copy is fresh
        }

    def _final_segment(self, change: Change) -> _Segment | None:
        """The final segment a ``transcript`` change shows, read as the call's state holds
        it (typed), never parsed back from its JSON."""
        shown = change.payload if change.type == "transcript" else None
        if not isinstance(shown, SegmentShown) or not shown.segment.is_final:
            return None
        said = shown.segment
        created = iso(said.created_at)
        identity = (said.speaker, said.content, said.segment_start, said.segment_end, created)
        key = _digest(*identity)
        self._identities[key] += 1
        return _Segment(
            index=shown.index,
            speaker=said.speaker,
            content=said.content,
            key=_digest(key, self._identities[key]),
            at=iso(said.at) or created or iso(self._clock()),
        )

    def _score(self, segment: _Segment) -> Change:
        config = self.config
        score = self.scorer.score(segment.content)
        average = self.rolling.add(score)
        if score < config.segment_threshold:
            upset = f"sounds upset ({score:.2f})"
            self._raise(segment, "sentiment", "sentiment", "medium", upset, "segment", score)
        if average >= config.average_threshold:
            self._average_low = False
        elif not self._average_low and self.rolling.count >= config.average_min_segments:
            self._average_low = True
            message = f"has sounded upset for a while (average {average:.2f})"
            self._raise(segment, "average", "sentiment", "high", message, "average", average)
        scored = SentimentScored(score, average, tuple(self.rolling.trend), segment.index)
        return Change("sentiment", scored)

    def _raise(
        self,
        segment: _Segment,
        tag: str,
        kind: str,
        severity: str,
        what: str,
        scope: str | None = None,
        score: float | None = None,
        *,
        phrase: str | None = None,
    ) -> None:
        alert = AlertRaised(
            id=f"{tag}-{segment.key}",
            kind=kind,
            severity=severity,
            message=f"{WHO.get(segment.speaker, segment.speaker.capitalize())} {what}",
            segment_index=segment.index,
            speaker=segment.speaker,
            excerpt=excerpt(segment.content),
            at=segment.at,
            scope=scope,
            score=score,
            phrase=phrase,
        )
        segment.raised.append(alert)
        self._alerts.append(alert.json())
        self.raised[kind] += 1
