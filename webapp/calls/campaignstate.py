"""The state of one campaign's stream: counters, chart history, recent contacts, summary.

Every dialect arrives here already normalised (``webapp.wire.events``), so the same
numbers give the same state whichever dialect carried them.

Counters are taken as sent, even when they go down: Burki is the source of
truth, and a guard against "stale" numbers would freeze a wrong state when
Burki corrects itself (a contact removed, a retried call). Burki replays the
current progress on every reconnect; identical progress is no change, so a
reconnect shows nothing new.

Once a campaign has ended (``campaign_completed``, or a progress whose status
is ``completed``, ``cancelled`` or ``failed``: dialect C never sends
``campaign_completed``) a later non-final status is stale and ignored; counters
are still accepted.

Pure: no I/O, no tasks; the clock that stamps chart samples is injectable.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from webapp.calls.change import Change, iso
from webapp.wire.events import (
    CampaignCompleted,
    Contact,
    ContactUpdate,
    Counters,
    Event,
    History,
    Progress,
)

FINAL_STATUSES = frozenset({"completed", "cancelled", "failed"})
_SEEN_PER_CONTACT = 4  # keys remembered per contact shown: bounded dedupe memory


def contact_key(contact: Contact) -> str:
    """A short, stable, DOM-safe key: by contact id, else call sid, else (phone, status, time)."""
    if contact.contact_id is not None:
        raw = f"id\0{contact.contact_id}"
    elif contact.call_sid:
        raw = f"sid\0{contact.call_sid}"
    else:
        raw = f"phone\0{contact.phone}\0{contact.raw_status}\0{iso(contact.at)}"
    return hashlib.blake2s(raw.encode(), digest_size=8).hexdigest()


def contact_payload(contact: Contact, key: str) -> dict[str, Any]:
    return {
        "key": key,
        "outcome": contact.outcome,
        "status": contact.raw_status,
        "phone": contact.phone,
        "name": contact.name,
        "contact_id": contact.contact_id,
        "call_sid": contact.call_sid,
        "duration": contact.duration,
        "error": contact.error,
        "at": iso(contact.at),
    }


@dataclass(frozen=True, slots=True)
class ProgressShown:
    """A ``progress`` change: the counters and status, and the chart sample they added."""

    counters: Counters
    status: str
    sample: dict[str, Any] | None

    def json(self) -> dict[str, Any]:
        return {"counters": asdict(self.counters), "status": self.status, "sample": self.sample}


@dataclass(frozen=True, slots=True)
class ContactShown:
    """A ``contact`` change: a contact whose outcome changed, under its ``key``."""

    contact: Contact
    key: str

    def json(self) -> dict[str, Any]:
        return {"contact": contact_payload(self.contact, self.key)}


@dataclass(frozen=True, slots=True)
class SummaryShown:
    """A ``campaign_completed`` change: the ended campaign's summary."""

    status: str
    counters: Counters
    total_duration: float | None
    total_cost: float | None

    def json(self) -> dict[str, Any]:
        return {"summary": self.summary()}

    def summary(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "counters": asdict(self.counters),
            "total_duration": self.total_duration,
            "total_cost": self.total_cost,
        }


@dataclass(frozen=True, slots=True)
class HistoryShown:
    """A ``history`` change: the chart's samples, older ones put in front."""

    samples: tuple[dict[str, Any], ...]

    def json(self) -> dict[str, Any]:
        return {"history": [dict(sample) for sample in self.samples]}


@dataclass(frozen=True, slots=True)
class NameShown:
    """A ``campaign_name`` change: the campaign's name as Burki's REST gives it."""

    name: str

    def json(self) -> dict[str, Any]:
        return {"name": self.name}


def _oldest_first(contacts: Iterable[Contact]) -> list[Contact]:
    """By time where known (dialect C lists recent activity newest first); stable otherwise."""
    floor = datetime.min.replace(tzinfo=UTC)
    return sorted(contacts, key=lambda contact: contact.at or floor)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class CampaignState:
    """Everything a viewer of one campaign needs, changed only through :meth:`apply`.

    ``history`` holds the last ``history_size`` chart samples (one per change of
    counters), ``contacts`` the last ``contacts_size`` contacts that changed,
    newest first. ``summary`` is None until the campaign ends.
    """

    def __init__(
        self,
        campaign_id: int,
        history_size: int = 300,
        contacts_size: int = 100,
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.campaign_id = campaign_id
        self.name: str | None = None
        self.status = "unknown"
        self.counters = Counters()
        self.history: deque[dict[str, Any]] = deque(maxlen=history_size)
        self.contacts: deque[dict[str, Any]] = deque(maxlen=contacts_size)
        self.summary: dict[str, Any] | None = None
        self.ended = False
        self._clock = clock
        self._seen: OrderedDict[str, str] = OrderedDict()  # key -> outcome, least recent first
        self._seen_size = _SEEN_PER_CONTACT * max(contacts_size, 1)

    def apply(self, event: Event) -> list[Change]:
        """Fold one event into the state; the changes viewers must see (often none)."""
        if isinstance(event, Progress):
            return self._progress(event)
        if isinstance(event, ContactUpdate):
            return self._contact(event.contact)
        if isinstance(event, CampaignCompleted):
            changes = self._update(event.counters, self._final_status("completed"))
            return changes + self._complete(event.total_duration, event.total_cost)
        if isinstance(event, History):
            return self._backfill(event)
        return []

    def _backfill(self, event: History) -> list[Change]:
        """The chart's past, from before this stream started: samples older than the
        oldest held go in front (a campaign opened mid-run starts with its curve)."""
        first = self.history[0]["t"] if self.history else None
        older = [
            self._sample(counters, at)
            for at, counters in event.samples
            if first is None or (iso(at) or "") < first
        ]
        room = (self.history.maxlen or len(older)) - len(self.history)
        older = older[-room:] if room > 0 else []
        if not older:
            return []
        self.history.extendleft(reversed(older))
        return [Change("history", HistoryShown(tuple(dict(s) for s in self.history)))]

    def rename(self, name: str | None) -> list[Change]:
        """Take the campaign's name from Burki's REST; a new name is a ``campaign_name`` change."""
        if not name or name == self.name:
            return []
        self.name = name
        return [Change("campaign_name", NameShown(name))]

    def set_status(self, status: str) -> list[Change]:
        """The status a person's action gave the campaign (paused, running, cancelled), as
        Burki confirmed it: dialects A and B never carry a status of their own. An ended
        campaign only takes a final status (a stop that Burki reported as completed)."""
        if status == self.status or (self.ended and status not in FINAL_STATUSES):
            return []
        changes = self._update(self.counters, status)
        if status in FINAL_STATUSES:
            changes += self._complete(None, None)
        return changes

    def snapshot(self) -> dict[str, Any]:
        """The whole state, for a viewer that cannot resume: a fresh, JSON-able dict."""
        return {
            "name": self.name,
            "status": self.status,
            "counters": asdict(self.counters),
            "history": [dict(sample) for sample in self.history],
            "contacts": [dict(contact) for contact in self.contacts],
            "summary": None if self.summary is None else dict(self.summary),
            "ended": self.ended,
        }

    def _progress(self, event: Progress) -> list[Change]:
        status = self.status
        if event.status is not None and (not self.ended or event.status in FINAL_STATUSES):
            status = event.status
        changes = self._update(event.counters, status)
        for contact in _oldest_first(event.contacts):
            changes += self._contact(contact)
        if status in FINAL_STATUSES:
            changes += self._complete(None, None)
        return changes

    def _final_status(self, default: str) -> str:
        return self.status if self.status in FINAL_STATUSES else default

    def _update(self, counters: Counters, status: str) -> list[Change]:
        if counters == self.counters and status == self.status:
            return []
        sample = None
        if counters != self.counters:
            sample = self._sample(counters)
            self.history.append(sample)
        self.counters, self.status = counters, status
        return [Change("progress", ProgressShown(counters, status, sample))]

    def _sample(self, counters: Counters, at: datetime | None = None) -> dict[str, Any]:
        return {
            "t": iso(at or self._clock()),
            "completed": counters.completed,
            "successful": counters.successful,
            "failed": counters.failed,
            "percent_done": counters.percent_done,
            "success_rate": counters.success_rate,
        }

    def _complete(self, duration: float | None, cost: float | None) -> list[Change]:
        """End the campaign; a summary equal to the one held is no change.

        Totals a later message lacks are kept from an earlier one, so a
        ``campaign_completed`` after a final progress only adds to the summary.
        """
        held = self.summary or {}
        shown = SummaryShown(
            self.status,
            self.counters,
            duration if duration is not None else held.get("total_duration"),
            cost if cost is not None else held.get("total_cost"),
        )
        summary = shown.summary()
        self.ended = True
        if summary == self.summary:
            return []
        self.summary = summary
        return [Change("campaign_completed", shown)]

    def _contact(self, contact: Contact) -> list[Change]:
        key = contact_key(contact)
        if self._seen.get(key) == contact.outcome:
            self._seen.move_to_end(key)
            return []
        self._remember(key, contact.outcome)
        for i, held in enumerate(self.contacts):
            if held["key"] == key:  # the same contact, further on: show it once, on top
                del self.contacts[i]
                break
        shown = ContactShown(contact, key)
        self.contacts.appendleft(contact_payload(contact, key))
        return [Change("contact", shown)]

    def _remember(self, key: str, outcome: str) -> None:
        self._seen[key] = outcome
        self._seen.move_to_end(key)
        while len(self._seen) > self._seen_size:
            self._seen.popitem(last=False)
