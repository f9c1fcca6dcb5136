"""The typed payloads of a call's ``sentiment`` and ``alert`` changes.

Each builds its JSON once, in the order and with the keys viewers, webhooks and the
history have always read (``docs/api.md``): the stages after them read the fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class SentimentScored:
    """A ``sentiment`` change: a caller's final segment (at ``index``) scored, the rolling
    average after it and the recent scores, oldest first (it rides in the segment's event)."""

    score: float
    average: float
    trend: tuple[float, ...]
    index: int | None

    def json(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "average": self.average,
            "trend": list(self.trend),
            "index": self.index,
        }


@dataclass(frozen=True, slots=True)
class AlertRaised:
    """An ``alert`` change: a caller who sounds upset (``kind`` ``sentiment``, with its
    ``scope`` and ``score``) or a watched phrase said (``keyword``, with its ``phrase``)."""

    id: str
    kind: str
    severity: str
    message: str
    segment_index: int | None
    speaker: str
    excerpt: str
    at: str | None
    scope: str | None = None
    score: float | None = None
    phrase: str | None = None

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "severity": self.severity,
            "message": self.message,
            "segment_index": self.segment_index,
            "speaker": self.speaker,
            "excerpt": self.excerpt,
            "at": self.at,
        }
        if self.kind == "keyword":
            data["phrase"] = self.phrase
        else:
            data |= {"scope": self.scope, "score": self.score}
        return data
