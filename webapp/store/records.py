"""What the history keeps, as typed records: alerts, who handled them, actions, summaries.

Every record is made of what a person was already shown: an alert's excerpt was
redacted before its alert was raised, and no record has a field for a
transcript's text or for anything of Burki's credentials. Every record belongs to one
Burki organisation (``org``, its slug; the default one's unless given), part of its
natural key: the same call id in two organisations is two calls.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from webapp.wire.streamkey import DEFAULT_ORG


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """An alert raised on a call; ``alert_id`` is unique within the call."""

    call_id: str
    alert_id: str
    at: datetime
    kind: str
    severity: str
    message: str
    excerpt: str
    assistant: str = ""
    handled_by: str | None = None
    handled_how: str | None = None
    handled_at: datetime | None = None
    org: str = DEFAULT_ORG


@dataclass(frozen=True, slots=True)
class Handled:
    """Someone acknowledged or claimed ``call_id`` at ``at``: its alerts raised until
    then that no one had handled are now handled by them."""

    call_id: str
    by: str
    how: str  # ack or claim
    at: datetime
    org: str = DEFAULT_ORG


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """A person's action: ending a call, controlling a campaign, claiming or releasing."""

    at: datetime
    stream: str  # its key as rendered: call:<id>, campaign:<id>, <org>/call:<id>
    what: str  # end, campaign, claim, ack, release
    outcome: str  # asked, done, failed; "" for a claim
    who: str
    message: str
    org: str = DEFAULT_ORG

    @property
    def key(self) -> str:
        """The same for the same action however often it is written (a cluster's takeover)."""
        # The stream's key names its organisation (all but the default's, as before).
        parts = (self.at.isoformat(), self.stream, self.what, self.outcome, self.who)
        return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class CallSummary:
    """A call as it ended: its length, assistant, health figures and how much it needed."""

    call_id: str
    ended_at: datetime
    assistant: str
    length: float | None
    latency_median: float | None
    latency_worst: float | None
    longest_silence: float | None
    dead_air: int
    interruptions: int
    user_share: float | None
    peak_attention: int
    reasons: str
    alerts: int
    org: str = DEFAULT_ORG


@dataclass(frozen=True, slots=True)
class CampaignSummary:
    campaign_id: str
    ended_at: datetime
    name: str
    status: str
    total: int
    completed: int
    successful: int
    failed: int
    duration: float | None
    org: str = DEFAULT_ORG


Record = AlertRecord | Handled | ActionRecord | CallSummary | CampaignSummary
