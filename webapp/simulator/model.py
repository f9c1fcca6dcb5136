"""What the simulated Burki knows: calls with their transcripts, campaigns with contacts.

Pure: no sockets and no tasks. Time comes from an injected clock and every random
choice from an injected :class:`random.Random`, so a seed gives the same data.
Every collection is bounded: a call keeps its last ``MAX_SEGMENTS`` final segments,
the store its last ``max_finished`` ended calls and finished campaigns.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

Clock = Callable[[], datetime]
Dialect = Literal["A", "B", "C"]
DIALECTS: tuple[Dialect, ...] = ("A", "B", "C")
Outcome = Literal["success", "failed"]

MAX_SEGMENTS = 2000
MAX_SAMPLES = 500
ENDED_STATUSES = frozenset({"completed", "failed"})
SPEAKERS = frozenset({"user", "assistant"})
SECONDS_PER_WORD = 0.3
COST_PER_SECOND = 0.0025

FIRST_NAMES = ("Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jun")
LAST_NAMES = ("Okafor", "Novak", "Silva", "Khan", "Moreau", "Berg", "Tanaka", "Reyes", "Quinn")
FAILURE_REASONS = ("no-answer", "busy", "Call failed: number unreachable", "voicemail")


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_call_sid(rng: random.Random) -> str:
    return f"CA{rng.getrandbits(128):032x}"


@dataclass(frozen=True)
class Segment:
    id: int
    speaker: str
    content: str
    is_final: bool
    confidence: float | None
    segment_start: float | None
    segment_end: float | None
    created_at: datetime


@dataclass
class Call:
    id: int
    call_sid: str
    status: str
    assistant_id: int
    assistant_name: str
    customer_phone: str
    twilio_phone: str
    started_at: datetime
    direction: str = "inbound"
    ended_at: datetime | None = None
    segments: deque[Segment] = field(default_factory=lambda: deque(maxlen=MAX_SEGMENTS))
    utterance_start: dict[str, float] = field(default_factory=dict)

    @property
    def ended(self) -> bool:
        return self.status in ENDED_STATUSES

    @property
    def duration(self) -> int | None:
        if self.ended_at is None:
            return None
        return int((self.ended_at - self.started_at).total_seconds())


@dataclass
class Contact:
    id: int
    name: str
    phone: str
    status: str = "pending"  # pending, in_progress, completed (= success), failed
    call_sid: str | None = None
    duration: int | None = None
    error: str | None = None
    executed_at: datetime | None = None


@dataclass(frozen=True)
class Counts:
    """A campaign's counters. ``successful + failed`` contacts are done."""

    total: int
    successful: int
    failed: int
    in_progress: int
    pending: int

    @property
    def done(self) -> int:
        return self.successful + self.failed

    @property
    def success_rate(self) -> float:
        """Percent of done contacts that succeeded; 0.0 before any is done."""
        return round(self.successful / self.done * 100, 2) if self.done else 0.0

    @property
    def percent_done(self) -> float:
        return round(self.done / self.total * 100, 2) if self.total else 0.0


@dataclass(frozen=True)
class Sample:
    at: datetime
    counts: Counts


@dataclass
class Campaign:
    id: int
    name: str
    dialect: Dialect
    assistant_id: int
    assistant_name: str
    created_at: datetime
    contacts: list[Contact]
    description: str = ""
    status: str = "running"
    completed_at: datetime | None = None
    history: deque[Sample] = field(default_factory=lambda: deque(maxlen=MAX_SAMPLES))

    @property
    def started_at(self) -> datetime:
        return self.created_at

    def counts(self) -> Counts:
        statuses = [contact.status for contact in self.contacts]
        return Counts(
            total=len(statuses),
            successful=statuses.count("completed"),
            failed=statuses.count("failed"),
            in_progress=statuses.count("in_progress"),
            pending=statuses.count("pending"),
        )

    def recent(self, limit: int = 10) -> list[Contact]:
        """The last ``limit`` contacts that were called, newest first."""
        done = [c for c in self.contacts if c.executed_at is not None]
        done.sort(key=lambda c: (c.executed_at, c.id), reverse=True)
        return done[:limit]

    @property
    def total_duration(self) -> int:
        return sum(contact.duration or 0 for contact in self.contacts)

    @property
    def total_cost(self) -> float:
        return round(self.total_duration * COST_PER_SECOND, 2)


class Store:
    """Calls and campaigns, with the mutations the simulator broadcasts."""

    def __init__(
        self,
        rng: random.Random,
        clock: Clock = utc_now,
        max_finished: int = 50,
        null_timing_every: int | None = None,
        caller_clock_ahead: float = 0.0,
        first_id: int = 1,
    ):
        self.rng = rng
        self.null_timing_every = null_timing_every  # every Nth segment: no start, no end
        # The caller's segments timed on another clock, this far ahead of the call's.
        self.caller_clock_ahead = caller_clock_ahead
        self.clock = clock
        self.max_finished = max_finished
        self.calls: dict[str, Call] = {}
        self.campaigns: dict[int, Campaign] = {}
        self._assistants: dict[str, int] = {}
        self._ended_calls: deque[str] = deque()
        self._finished_campaigns: deque[int] = deque()
        # Burki's ids are its database's, unique across organisations: each
        # organisation's world numbers its rows from its own ``first_id``.
        self._next_call_id = first_id
        self._next_segment_id = first_id
        self._next_campaign_id = first_id

    def assistant_id(self, name: str) -> int:
        return self._assistants.setdefault(name, len(self._assistants) + 1)

    def assistant_names(self) -> dict[int, str]:
        return {ident: name for name, ident in self._assistants.items()}

    def add_call(
        self, sid: str | None, status: str, assistant_name: str, customer_phone: str
    ) -> Call:
        sid = sid or new_call_sid(self.rng)
        if sid in self.calls:
            raise ValueError(f"call {sid} already exists")
        assistant_id = self.assistant_id(assistant_name)
        call = Call(
            id=self._next_call_id,
            call_sid=sid,
            status=status,
            assistant_id=assistant_id,
            assistant_name=assistant_name,
            customer_phone=customer_phone,
            twilio_phone=f"+1555010{assistant_id:04d}",
            started_at=self.clock(),
        )
        self._next_call_id += 1
        self.calls[sid] = call
        if call.ended:
            self._end(call)
        return call

    def add_segment(
        self, sid: str, speaker: str, content: str, is_final: bool, confidence: float | None
    ) -> Segment:
        """Record a segment; finals are kept (the replayed history), interims are not."""
        if speaker not in SPEAKERS:
            raise ValueError(f"speaker must be 'user' or 'assistant', not {speaker!r}")
        call = self.calls[sid]
        now = self.clock()
        elapsed = max(0.0, (now - call.started_at).total_seconds())
        spoken = len(content.split()) * SECONDS_PER_WORD
        start = call.utterance_start.pop(speaker, max(0.0, elapsed - spoken))
        if not is_final:
            call.utterance_start[speaker] = start
        every = self.null_timing_every
        untimed = every is not None and self._next_segment_id % every == 0
        shift = self.caller_clock_ahead if speaker == "user" else 0.0
        segment = Segment(
            id=self._next_segment_id,
            speaker=speaker,
            content=content,
            is_final=is_final,
            confidence=confidence,
            segment_start=None if untimed else round(start + shift, 2),
            segment_end=None if untimed else round(max(elapsed, start) + shift, 2),
            created_at=now,
        )
        self._next_segment_id += 1
        if is_final:
            call.segments.append(segment)
        return segment

    def set_call_status(self, sid: str, status: str) -> Call:
        call = self.calls[sid]
        was_ended = call.ended
        call.status = status
        if call.ended and not was_ended:
            self._end(call)
        return call

    def _end(self, call: Call) -> None:
        call.ended_at = self.clock()
        call.utterance_start.clear()
        self._ended_calls.append(call.call_sid)
        while len(self._ended_calls) > self.max_finished:
            old = self._ended_calls.popleft()
            if old in self.calls and self.calls[old].ended:
                del self.calls[old]

    def add_campaign(
        self, name: str, dialect: Dialect, contacts: int, campaign_id: int | None
    ) -> Campaign:
        if contacts < 1:
            raise ValueError("a campaign needs at least one contact")
        cid = self._next_campaign_id if campaign_id is None else campaign_id
        if cid in self.campaigns:
            raise ValueError(f"campaign {cid} already exists")
        self._next_campaign_id = max(self._next_campaign_id, cid + 1)
        campaign = Campaign(
            id=cid,
            name=name,
            dialect=dialect,
            assistant_id=self.assistant_id("Outreach bot"),
            assistant_name="Outreach bot",
            created_at=self.clock(),
            contacts=[self._new_contact(cid * 1000 + n) for n in range(1, contacts + 1)],
            description=f"{name}: {contacts} contacts",
        )
        campaign.contacts[0].status = "in_progress"
        self.campaigns[cid] = campaign
        self._sample(campaign)
        return campaign

    def _new_contact(self, contact_id: int) -> Contact:
        name = f"{self.rng.choice(FIRST_NAMES)} {self.rng.choice(LAST_NAMES)}"
        return Contact(id=contact_id, name=name, phone=f"+1555{self.rng.randrange(10**7):07d}")

    def advance_campaign(self, cid: int, outcome: Outcome) -> Contact:
        """Complete the campaign's next contact; the one after it starts being called.

        Raises KeyError for an unknown campaign, ValueError when none is left.
        """
        if outcome not in ("success", "failed"):
            raise ValueError(f"outcome must be 'success' or 'failed', not {outcome!r}")
        campaign = self.campaigns[cid]
        waiting = [c for c in campaign.contacts if c.status in ("in_progress", "pending")]
        if not waiting:
            raise ValueError(f"campaign {cid} has no contact left")
        if campaign.status != "running":  # paused or stopped: nobody is dialed
            raise ValueError(f"campaign {cid} is {campaign.status}")
        contact = waiting[0]
        self._complete(contact, outcome)
        if len(waiting) > 1:
            waiting[1].status = "in_progress"
        else:
            self.finish_campaign(campaign)
        self._sample(campaign)
        return contact

    def _complete(self, contact: Contact, outcome: Outcome) -> None:
        contact.call_sid = new_call_sid(self.rng)
        contact.executed_at = self.clock()
        if outcome == "success":
            contact.status, contact.duration = "completed", self.rng.randint(30, 240)
        else:
            contact.status, contact.duration = "failed", self.rng.randint(0, 20)
            contact.error = self.rng.choice(FAILURE_REASONS)

    def finish_campaign(self, campaign: Campaign, status: str = "completed") -> None:
        """The campaign is over (its last contact done: completed; stopped: cancelled):
        it dials nobody more."""
        campaign.status = status
        campaign.completed_at = self.clock()
        self._finished_campaigns.append(campaign.id)
        while len(self._finished_campaigns) > self.max_finished:
            self.campaigns.pop(self._finished_campaigns.popleft(), None)

    def _sample(self, campaign: Campaign) -> None:
        campaign.history.append(Sample(at=self.clock(), counts=campaign.counts()))
