"""Campaign frames of every dialect (contacts, progress, completion, metrics history)
into typed events; the handlers :mod:`webapp.wire.normalise` dispatches to.

Strict as every data frame: a wrong-typed field raises ``Invalid`` and the frame
is skipped. The choices for the counters are written in :mod:`webapp.wire.counters`.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from webapp.wire.counters import read_a, read_b, read_c, to_counters
from webapp.wire.events import (
    CampaignCompleted,
    Contact,
    ContactOutcome,
    ContactUpdate,
    History,
    Progress,
)
from webapp.wire.fields import (
    Invalid,
    Message,
    campaign_id_in,
    need_object,
    need_text,
    parse_timestamp,
    read_ident,
    read_number,
    read_object,
    read_text,
    timestamp_of,
)

# -- campaign contacts --------------------------------------------------------------

_OUTCOMES: dict[str, ContactOutcome] = {
    **dict.fromkeys(("success", "successful", "completed", "answered"), "success"),
    **dict.fromkeys(("failed", "error", "no-answer", "no_answer", "busy"), "failed"),
    **dict.fromkeys(("in_progress", "in-progress", "calling", "processing"), "in_progress"),
    **dict.fromkeys(("pending", "queued"), "pending"),
    "skipped": "skipped",
}


def outcome(status: str) -> ContactOutcome:
    """A contact's raw status, in any dialect, as one ``ContactOutcome``."""
    return _OUTCOMES.get(status.strip().lower(), "unknown")


def contact_completed(m: Message) -> ContactUpdate:
    """Dialect A: ``data = {phone_number, name, outcome, duration, call_sid}``."""
    data = need_object(m, "data")
    status = need_text(data, "outcome")
    contact = Contact(
        outcome(status),
        raw_status=status,
        phone=read_text(data, "phone_number") or "",
        name=read_text(data, "name") or "",
        contact_id=read_ident(data, "contact_id"),
        call_sid=read_text(data, "call_sid"),
        duration=read_number(data, "duration"),
        error=read_text(data, "error"),
        at=timestamp_of(m),
    )
    return ContactUpdate(contact, campaign_id=campaign_id_in(m, data))


def contact_update(m: Message) -> ContactUpdate:
    """Dialect B, flat: ``contact_id, phone_number, status, call_sid, call_duration, ...``."""
    status = need_text(m, "status")
    contact = Contact(
        outcome(status),
        raw_status=status,
        phone=read_text(m, "phone_number") or "",
        name=read_text(m, "name") or "",
        contact_id=read_ident(m, "contact_id"),
        call_sid=read_text(m, "call_sid"),
        duration=read_number(m, "call_duration"),
        error=read_text(m, "error_message"),
        at=timestamp_of(m),
    )
    return ContactUpdate(contact, campaign_id=campaign_id_in(m))


def _b_contacts(m: Message, at: datetime | None) -> tuple[Contact, ...]:
    status = read_text(m, "contact_status")
    if status is None:
        return ()
    contact = Contact(
        outcome(status),
        raw_status=status,
        phone=read_text(m, "contact_phone") or "",
        contact_id=read_ident(m, "contact_id"),
        error=read_text(m, "contact_error"),
        at=at,
    )
    return (contact,)


def _activity(m: Message) -> tuple[Contact, ...]:
    """Dialect C ``recent_activity``; ``execution_id`` stands in for the contact id."""
    entries = m.get("recent_activity")
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise Invalid("field recent_activity is not a list")
    return tuple(_activity_entry(entry) for entry in entries)


def _activity_entry(entry: object) -> Contact:
    if not isinstance(entry, dict):
        raise Invalid("a recent_activity entry is not an object")
    e = cast(Message, entry)
    status = need_text(e, "status")
    return Contact(
        outcome(status),
        raw_status=status,
        phone=read_text(e, "contact_phone") or "",
        contact_id=read_ident(e, "execution_id"),
        call_sid=read_ident(e, "call_id"),
        at=parse_timestamp(e.get("executed_at")),
    )


# -- campaign progress and completion -------------------------------------------------


def progress_ab(m: Message) -> Progress:
    """``progress``: dialect A nests counts in ``data``, dialect B sends them flat."""
    data = read_object(m, "data")
    at = timestamp_of(m)
    if data is not None:
        return Progress(
            to_counters(read_a(data)), campaign_id_in(m, data), read_text(data, "status"), (), at
        )
    counters = to_counters(read_b(m))
    return Progress(counters, campaign_id_in(m), read_text(m, "status"), _b_contacts(m, at), at)


def progress_c(m: Message) -> Progress:
    """``initial_progress`` / ``progress_update`` (dialect C)."""
    data = need_object(m, "data")
    return progress_c_data(data, timestamp_of(m), outer=m)


def progress_c_data(data: Message, at: datetime | None, outer: Message | None = None) -> Progress:
    counts = need_object(data, "progress")
    return Progress(
        counters=to_counters(read_c(counts)),
        campaign_id=campaign_id_in(data, outer),
        status=read_text(data, "status"),
        contacts=_activity(data),
        at=at,
    )


def campaign_completed(m: Message) -> CampaignCompleted:
    """Dialect A carries the final counts in ``data``; dialect B flat."""
    data = read_object(m, "data")
    source = data if data is not None else m
    counts = read_a(source) if data is not None else read_b(m)
    return CampaignCompleted(
        counters=to_counters(counts),
        campaign_id=campaign_id_in(m, data),
        total_duration=read_number(source, "total_duration"),
        total_cost=read_number(source, "total_cost"),
        at=timestamp_of(m),
    )


MAX_HISTORY = 2000


def metrics_history(m: Message) -> History:
    """Dialect C: ``data.history`` = ``[{timestamp (epoch s), ...C counters}, ...]``."""
    data = need_object(m, "data")
    entries = data.get("history")
    if not isinstance(entries, list):
        raise Invalid("field history is not a list")
    samples = []
    for entry in entries[-MAX_HISTORY:]:
        if not isinstance(entry, dict):
            raise Invalid("a history entry is not an object")
        at = parse_timestamp(entry.get("timestamp"))
        if at is not None:
            samples.append((at, to_counters(read_c(cast(Message, entry)))))
    samples.sort(key=lambda sample: sample[0])
    return History(tuple(samples), campaign_id_in(m, data))
