"""One stream's history, from its frames: pure (no I/O, the clock passed in).

:class:`CallTracker` turns a call's frames into records: an ``alert`` frame into
an :class:`~webapp.store.records.AlertRecord` (handled already when the call is
claimed), a ``claim`` frame into an action and a :class:`~webapp.store.records.Handled`
mark, an ``action`` frame into an action, and the ``end`` frame into the call's
:class:`~webapp.store.records.CallSummary` (from its last ``metrics`` frame and its
peak attention), together with every alert it saw again (written once however
often they are offered: a cluster's holder that died with them queued).
:class:`CampaignTracker` does the same for a campaign's actions and summary. Every record
carries the stream's organisation (``org``), and an action its stream's key as rendered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from webapp.store.records import (
    ActionRecord,
    AlertRecord,
    CallSummary,
    CampaignSummary,
    Handled,
    Record,
)
from webapp.wire.streamkey import DEFAULT_ORG, StreamKey

Clock = Callable[[], datetime]
KEEP_ALERTS = 500  # a call's alerts kept to offer again at its end
CLAIMED = {"claim": "claimed the call", "ack": "acknowledged the call's alerts"}


def moment(value: object, clock: Clock) -> datetime:
    """An ISO time as an aware datetime; ``clock()`` when there is none or it is not one."""
    if isinstance(value, str) and value:
        try:
            found = datetime.fromisoformat(value)
        except ValueError:
            return clock()
        return found if found.tzinfo is not None else found.replace(tzinfo=UTC)
    return clock()


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _count(value: object) -> int:
    number = _number(value)
    return int(number) if number is not None else 0


def _part(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    found = data.get(name)
    return found if isinstance(found, Mapping) else {}


class CallTracker:
    def __init__(
        self,
        call_id: str,
        assistant_hint: Callable[[], str | None],
        clock: Clock,
        org: str = DEFAULT_ORG,
    ):
        self.call_id = call_id
        self.org = org
        self.stream = StreamKey("call", call_id, org).render()
        self._hint = assistant_hint
        self._clock = clock
        self._assistant = ""
        self._claim: Mapping[str, Any] | None = None
        self._alerts: dict[str, AlertRecord] = {}
        self._metrics: Mapping[str, Any] = {}
        self._peak = 0
        self._reasons = ""
        self.ended = False

    @property
    def assistant(self) -> str:
        return self._assistant or self._hint() or ""

    def observe(self, type: str, data: Mapping[str, Any]) -> list[Record]:
        if type == "call_status":
            name = _part(data, "metadata").get("assistant_name")
            self._assistant = name if isinstance(name, str) else self._assistant
        elif type == "metrics":
            self._figures(data)
        elif type == "alert":
            return self._alert(data)
        elif type == "claim":
            return self._claimed(data)
        elif type == "action":
            return [action(self.stream, "end", data, self._clock, self.org)]
        elif type == "end" and not self.ended:
            self.ended = True
            return [*self._alerts.values(), self.summary()]
        return []

    def summary(self) -> CallSummary:
        m = self._metrics
        latency, silence = _part(m, "latency"), _part(m, "silence")
        return CallSummary(
            call_id=self.call_id,
            ended_at=moment(m.get("ended_at"), self._clock),  # Burki's end, else now
            assistant=self.assistant,
            length=_number(m.get("length")),
            latency_median=_number(latency.get("median")),
            latency_worst=_number(latency.get("worst")),
            longest_silence=_number(silence.get("longest")),
            dead_air=_count(silence.get("warn_count")),
            interruptions=_count(_part(m, "interruptions").get("total")),
            user_share=_number(_part(m, "talk").get("user_share")),
            peak_attention=self._peak,
            reasons=self._reasons,
            alerts=len(self._alerts),
            org=self.org,
        )

    def _figures(self, data: Mapping[str, Any]) -> None:
        # Each carries the members that changed since the previous (event shapes version 3):
        # the tracker follows every frame of its stream, so it holds the whole figures.
        self._metrics = {**self._metrics, **data}
        attention = _part(data, "attention")
        score = _count(attention.get("score"))
        if score > self._peak:
            reasons = attention.get("reasons")
            texts = [str(r.get("text", "")) for r in reasons or () if isinstance(r, Mapping)]
            self._peak, self._reasons = score, "; ".join(t for t in texts if t)

    def _alert(self, data: Mapping[str, Any]) -> list[Record]:
        claim = self._claim
        record = AlertRecord(
            call_id=self.call_id,
            alert_id=str(data.get("id", "")),
            at=moment(data.get("at"), self._clock),
            kind=str(data.get("kind", "")),
            severity=str(data.get("severity", "")),
            message=str(data.get("message", "")),
            excerpt=str(data.get("excerpt", "")),  # redacted before the alert was raised
            assistant=self.assistant,
            handled_by=str(claim.get("by")) if claim else None,
            handled_how=str(claim.get("kind")) if claim else None,
            handled_at=moment(claim.get("at"), self._clock) if claim else None,
            org=self.org,
        )
        if len(self._alerts) < KEEP_ALERTS:
            self._alerts[record.alert_id] = record
        return [record]

    def _claimed(self, data: Mapping[str, Any]) -> list[Record]:
        claim = data.get("claim")
        at = moment(data.get("at"), self._clock)
        stream, org = self.stream, self.org
        if isinstance(claim, Mapping):
            self._claim = claim
            by, how = str(claim.get("by", "")), str(claim.get("kind", "claim"))
            message = CLAIMED.get(how, how)
            return [
                ActionRecord(at, stream, how, "", by, message, org),
                Handled(self.call_id, by, how, at, org),
            ]
        self._claim = None
        released_by = data.get("released_by")
        if isinstance(released_by, str) and released_by:
            released = "released the call"
            return [ActionRecord(at, stream, "release", "", released_by, released, org)]
        return []


class CampaignTracker:
    def __init__(self, campaign_id: str, clock: Clock, org: str = DEFAULT_ORG) -> None:
        self.campaign_id = campaign_id
        self.org = org
        self.stream = StreamKey("campaign", campaign_id, org).render()
        self._clock = clock
        self._name = ""
        self._status = ""
        self._counters: Mapping[str, Any] = {}
        self._duration: float | None = None
        self.ended = False

    def observe(self, type: str, data: Mapping[str, Any]) -> list[Record]:
        if type == "campaign_name":
            self._name = str(data.get("name") or self._name)
        elif type == "progress":
            self._counters = _part(data, "counters") or self._counters
            self._status = str(data.get("status") or self._status)
        elif type == "campaign_completed":
            summary = _part(data, "summary")
            self._counters = _part(summary, "counters") or self._counters
            self._status = str(summary.get("status") or self._status)
            self._duration = _number(summary.get("total_duration"))
        elif type == "action":
            return [action(self.stream, "campaign", data, self._clock, self.org)]
        elif type == "end" and not self.ended:
            self.ended = True
            return [self.summary()]
        return []

    def summary(self) -> CampaignSummary:
        c = self._counters
        return CampaignSummary(
            campaign_id=self.campaign_id,
            ended_at=self._clock(),
            name=self._name,
            status=self._status,
            total=_count(c.get("total")),
            completed=_count(c.get("completed")),
            successful=_count(c.get("successful")),
            failed=_count(c.get("failed")),
            duration=self._duration,
            org=self.org,
        )


def action(
    stream: str, what: str, data: Mapping[str, Any], clock: Clock, org: str = DEFAULT_ORG
) -> ActionRecord:
    return ActionRecord(
        at=moment(data.get("at"), clock),
        stream=stream,
        what=what,
        outcome=str(data.get("outcome", "")),
        who=str(data.get("by", "")),
        message=str(data.get("message", "")),
        org=org,
    )
