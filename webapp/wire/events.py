"""One typed event vocabulary for every Burki message and dialect.

`webapp.wire.normalise` turns raw upstream frames into these; nothing downstream of
it ever sees a raw Burki dict. All timestamps are timezone-aware UTC datetimes
(or None when Burki sent none we could read).

Campaign counters mean the same in every dialect:

- ``total``: contacts in the campaign;
- ``completed``: contacts that are done, whatever the outcome
  (``successful + failed`` where both are known);
- ``successful`` / ``failed``: the two outcomes of a completed contact;
- ``in_progress`` / ``pending``: being called now / not called yet;
- ``success_rate``: ``successful / completed * 100`` (percent, None before any);
- ``percent_done``: ``completed / total * 100``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Speaker = Literal["user", "assistant"]
ErrorCode = Literal["authentication_failed", "access_denied", "not_found", "rate_limited", "other"]
ContactOutcome = Literal["success", "failed", "in_progress", "pending", "skipped", "unknown"]


@dataclass(frozen=True, slots=True)
class Connected:
    """``connection_established`` (transcript, dialect A) or ``connection_ack`` (dialect C)."""

    at: datetime | None = None
    message: str = ""


@dataclass(frozen=True, slots=True)
class CallStatus:
    """The call's status (``in-progress``, ``completed``, ``failed``, ...) and metadata."""

    call_sid: str
    status: str
    at: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_CALL_STATUSES


TERMINAL_CALL_STATUSES = frozenset(
    {"completed", "failed", "canceled", "cancelled", "no-answer", "busy"}
)


@dataclass(frozen=True, slots=True)
class Transcript:
    """One transcript segment, interim (``is_final=False``) or final. Burki gives it no id."""

    call_sid: str
    speaker: Speaker
    content: str
    is_final: bool = True
    confidence: float | None = None
    segment_start: float | None = None
    segment_end: float | None = None
    created_at: datetime | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Counters:
    total: int = 0
    completed: int = 0
    successful: int = 0
    failed: int = 0
    in_progress: int = 0
    pending: int = 0
    success_rate: float | None = None
    percent_done: float = 0.0


@dataclass(frozen=True, slots=True)
class Contact:
    """A contact of a campaign whose call changed state (dialect A, B or C's recent activity)."""

    outcome: ContactOutcome
    phone: str = ""
    name: str = ""
    contact_id: str | None = None
    call_sid: str | None = None
    duration: float | None = None
    error: str | None = None
    raw_status: str = ""
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    """Campaign counters; dialects B and C also carry the contacts that just changed."""

    counters: Counters
    campaign_id: int | None = None
    status: str | None = None
    contacts: tuple[Contact, ...] = ()
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ContactUpdate:
    """``contact_completed`` (A) or ``contact_update`` (B)."""

    contact: Contact
    campaign_id: int | None = None


@dataclass(frozen=True, slots=True)
class CampaignCompleted:
    """The campaign ended; the final counters and, where Burki sent them, totals."""

    counters: Counters
    campaign_id: int | None = None
    total_duration: float | None = None
    total_cost: float | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class History:
    """Dialect C's ``metrics_history``: the campaign's counters over time, oldest first
    (the answer to ``{"type":"request_history","hours":N}``)."""

    samples: tuple[tuple[datetime, Counters], ...]
    campaign_id: int | None = None


@dataclass(frozen=True, slots=True)
class UpstreamError:
    """An ``error`` frame. ``code`` is the classified reason; ``message`` Burki's sentence."""

    code: ErrorCode
    message: str
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Pong:
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Skipped:
    """A frame that carried nothing we use, and why. Never raised: returned."""

    reason: str
    type: str | None = None


Event = (
    Connected
    | CallStatus
    | Transcript
    | Progress
    | ContactUpdate
    | CampaignCompleted
    | History
    | UpstreamError
    | Pong
)
