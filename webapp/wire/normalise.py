"""Turn every upstream Burki frame, of every dialect, into one typed event.

Pure: no I/O, no logging, no clock. ``parse`` and ``normalise`` never raise:
a frame we cannot use comes back as a ``Skipped`` whose ``reason`` is a short
sentence naming at most a field, never the frame's content (it is logged).

Where the sources leave room, the choices for campaign counters are written
in ``webapp.wire.counters`` and those for reading a field (absent, NaN, counts) in
``webapp.wire.fields``. One more here:

- Data frames (transcript, call status, progress, contacts, completion) are
  strict: a wrong-typed field skips the frame. Control frames (connected,
  error, pong) are never skipped for a cosmetic field, since the upstream
  client's decisions hang on them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import cast

from webapp.wire.counters import read_a, read_b, read_c, to_counters
from webapp.wire.events import (
    CallStatus,
    CampaignCompleted,
    Connected,
    Contact,
    ContactOutcome,
    ContactUpdate,
    ErrorCode,
    Event,
    History,
    Pong,
    Progress,
    Skipped,
    Speaker,
    Transcript,
    UpstreamError,
)
from webapp.wire.fields import (
    Invalid,
    Message,
    need_object,
    need_text,
    read_count,
    read_flag,
    read_ident,
    read_number,
    read_object,
    read_text,
)

MAX_FRAME_BYTES = 1_048_576


# -- entry points -----------------------------------------------------------------


def parse(frame: str | bytes, max_bytes: int = MAX_FRAME_BYTES) -> Event | Skipped:
    """Size check, JSON decode, then ``normalise``. Never raises."""
    if _too_big(frame, max_bytes):
        return Skipped(f"frame larger than {max_bytes} bytes")
    try:
        message = json.loads(frame)
    except (ValueError, RecursionError):
        return Skipped("frame is not valid JSON")
    return normalise(message)


def normalise(message: object) -> Event | Skipped:
    """Normalise one decoded JSON value into an ``Event``, or say why not. Never raises."""
    if not isinstance(message, dict):
        return Skipped("message is not a JSON object")
    kind = message.get("type")
    if not isinstance(kind, str):
        return Skipped("message has no string type")
    kind_shown = kind[:64]
    if kind in _NOT_USED:
        return Skipped("message type not used", kind_shown)
    handler = _HANDLERS.get(kind)
    if handler is None:
        return Skipped("unknown message type", kind_shown)
    try:
        return handler(cast(Message, message))
    except Invalid as exc:
        return Skipped(str(exc), kind_shown)


def parse_timestamp(value: object) -> datetime | None:
    """ISO 8601 (``Z``, offset or naive = UTC) or epoch seconds (number or numeric
    string) to an aware UTC datetime; None when absent or unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _from_epoch(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if _EPOCH.fullmatch(text):
        return _from_epoch(float(text))
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def transcript_segment(
    call_sid: str, data: Mapping[str, object], at: object = None
) -> Transcript | Skipped:
    """One transcript segment from its fields (a live ``data`` or a REST row)."""
    try:
        return _segment(call_sid, data, parse_timestamp(at))
    except Invalid as exc:
        return Skipped(str(exc), "transcript")


def campaign_progress(data: Mapping[str, object], at: object = None) -> Progress | Skipped:
    """A dialect C progress body: ``{campaign_id?, status?, progress, recent_activity?}``
    (also the REST ``/campaigns/{id}/progress`` answer)."""
    try:
        return _progress_c_data(data, parse_timestamp(at))
    except Invalid as exc:
        return Skipped(str(exc), "progress")


_EPOCH = re.compile(r"[+-]?\d{1,12}(?:\.\d*)?")


def _from_epoch(value: float) -> datetime | None:
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _too_big(frame: str | bytes, max_bytes: int) -> bool:
    if len(frame) > max_bytes:
        return True
    if isinstance(frame, bytes) or len(frame) * 4 <= max_bytes:
        return False
    return len(frame.encode("utf-8", "surrogatepass")) > max_bytes


# -- readers shared by the handlers --------------------------------------------------


def _at(m: Message) -> datetime | None:
    return parse_timestamp(m.get("timestamp"))


def _campaign_id(*sources: Message | None) -> int | None:
    for source in sources:
        if source is not None and (value := read_count(source, "campaign_id")) is not None:
            return value
    return None


# -- live transcript ----------------------------------------------------------------


def _connected(m: Message) -> Connected:
    message = m.get("message")
    return Connected(at=_at(m), message=message if isinstance(message, str) else "")


def _pong(m: Message) -> Pong:
    return Pong(at=_at(m))


# The open-source server says "ongoing" (the stored word) on connect and on
# request_status, "in-progress" when media starts; the REST object also says
# "pending". All mean the call is on: one word downstream.
_STATUS_WORDS = {"ongoing": "in-progress", "pending": "in-progress"}


def call_status_word(status: str) -> str:
    """Burki's status word for a call, with its synonyms for "on" made one."""
    return _STATUS_WORDS.get(status, status)


def _call_status(m: Message) -> CallStatus:
    data = read_object(m, "data") or {}
    status = read_text(m, "status") or read_text(data, "status")
    if status is None:
        raise Invalid("field status is missing")
    status = call_status_word(status)
    metadata = read_object(m, "metadata") or read_object(data, "metadata") or {}
    sid = read_text(m, "call_sid") or read_text(data, "call_sid") or ""
    return CallStatus(call_sid=sid, status=status, at=_at(m), metadata=dict(metadata))


def _transcript(m: Message) -> Transcript:
    data = need_object(m, "data")
    return _segment(read_text(m, "call_sid") or "", data, _at(m))


_SPEAKERS: dict[str, Speaker] = {"user": "user", "assistant": "assistant"}


def _segment(call_sid: str, data: Message, at: datetime | None) -> Transcript:
    speaker = _SPEAKERS.get(need_text(data, "speaker"))
    if speaker is None:
        raise Invalid("speaker is neither user nor assistant")
    return Transcript(
        call_sid=call_sid,
        speaker=speaker,
        content=need_text(data, "content"),
        is_final=read_flag(data, "is_final", True),
        confidence=read_number(data, "confidence"),
        segment_start=read_number(data, "segment_start"),
        segment_end=read_number(data, "segment_end"),
        created_at=parse_timestamp(data.get("created_at")),
        at=at,
    )


# -- errors -------------------------------------------------------------------------

_ERROR_PATTERNS: tuple[tuple[ErrorCode, re.Pattern[str]], ...] = (
    ("authentication_failed", re.compile(r"authentication|invalid api key|unauthori[sz]ed", re.I)),
    ("access_denied", re.compile(r"access[ _]denied|forbidden", re.I)),
    ("not_found", re.compile(r"not[ _]found", re.I)),
    ("rate_limited", re.compile(r"rate[ _]?limit|too many", re.I)),
)


def _error(m: Message) -> UpstreamError:
    code = m.get("error")
    message = m.get("message")
    text = message if isinstance(message, str) else ""
    return UpstreamError(code=classify_error(code, text), message=text, at=_at(m))


def classify_error(code: object, message: str = "") -> ErrorCode:
    """The error kind, from Burki's ``error`` code first, then its message text."""
    for candidate in (code if isinstance(code, str) else "", message):
        for kind, pattern in _ERROR_PATTERNS:
            if pattern.search(candidate):
                return kind
    return "other"


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


def _contact_completed(m: Message) -> ContactUpdate:
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
        at=_at(m),
    )
    return ContactUpdate(contact, campaign_id=_campaign_id(m, data))


def _contact_update(m: Message) -> ContactUpdate:
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
        at=_at(m),
    )
    return ContactUpdate(contact, campaign_id=_campaign_id(m))


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


def _progress_ab(m: Message) -> Progress:
    """``progress``: dialect A nests counts in ``data``, dialect B sends them flat."""
    data = read_object(m, "data")
    at = _at(m)
    if data is not None:
        return Progress(
            to_counters(read_a(data)), _campaign_id(m, data), read_text(data, "status"), (), at
        )
    counters = to_counters(read_b(m))
    return Progress(counters, _campaign_id(m), read_text(m, "status"), _b_contacts(m, at), at)


def _progress_c(m: Message) -> Progress:
    """``initial_progress`` / ``progress_update`` (dialect C)."""
    data = need_object(m, "data")
    return _progress_c_data(data, _at(m), outer=m)


def _progress_c_data(data: Message, at: datetime | None, outer: Message | None = None) -> Progress:
    counts = need_object(data, "progress")
    return Progress(
        counters=to_counters(read_c(counts)),
        campaign_id=_campaign_id(data, outer),
        status=read_text(data, "status"),
        contacts=_activity(data),
        at=at,
    )


def _campaign_completed(m: Message) -> CampaignCompleted:
    """Dialect A carries the final counts in ``data``; dialect B flat."""
    data = read_object(m, "data")
    source = data if data is not None else m
    counts = read_a(source) if data is not None else read_b(m)
    return CampaignCompleted(
        counters=to_counters(counts),
        campaign_id=_campaign_id(m, data),
        total_duration=read_number(source, "total_duration"),
        total_cost=read_number(source, "total_cost"),
        at=_at(m),
    )


MAX_HISTORY = 2000


def _metrics_history(m: Message) -> History:
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
    return History(tuple(samples), _campaign_id(m, data))


_HANDLERS: dict[str, Callable[[Message], Event]] = {
    "connection_established": _connected,
    "connection_ack": _connected,
    "call_status": _call_status,
    "transcript": _transcript,
    "error": _error,
    "pong": _pong,
    "progress": _progress_ab,
    "initial_progress": _progress_c,
    "progress_update": _progress_c,
    "contact_completed": _contact_completed,
    "contact_update": _contact_update,
    "campaign_completed": _campaign_completed,
    "metrics_history": _metrics_history,
}
_NOT_USED: frozenset[str] = frozenset()
