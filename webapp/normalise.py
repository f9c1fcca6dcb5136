"""Turn every upstream Burki frame, of every dialect, into one typed event.

Pure: no I/O, no logging, no clock. ``parse`` and ``normalise`` never raise:
a frame we cannot use comes back as a ``Skipped`` whose ``reason`` is a short
sentence naming at most a field, never the frame's content (it is logged).

Choices where the sources leave room (see ``webapp.events`` for what the
counters mean):

- Counters are recomputed from counts wherever the counts allow:
  ``success_rate = successful / completed * 100`` (None while nothing is
  completed) and ``percent_done = completed / total * 100``. A rate or
  percentage Burki sent is used only when the counts cannot give it.
- A sent rate is always read as a percent, as every Burki source documents it:
  ``0.5`` is 0.5 %, not 50 %. Guessing a 0..1 scale would misread real low rates.
- Absent counts: ``in_progress = max(total - completed - pending, 0)``;
  ``pending = max(total - completed - in_progress, 0)`` (when both are absent,
  nothing is in progress). Inconsistent counts (completed above total) pass
  through as sent: nothing is clamped silently.
- Counts must be non-negative integers (an integral float such as ``3.0`` is
  accepted); a negative or wrong-typed count skips the frame.
- NaN and infinities (Python's ``json`` accepts them) mean "absent" for an
  optional number (confidence, timings, durations, sent rates); a sent rate
  outside 0..100 is absent too. A count can never be NaN: it must be an int.
- Data frames (transcript, call status, progress, contacts, completion) are
  strict: a wrong-typed field skips the frame. Control frames (connected,
  error, pong) are never skipped for a cosmetic field, since the upstream
  client's decisions hang on them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from webapp.events import (
    CallStatus,
    CampaignCompleted,
    Connected,
    Contact,
    ContactOutcome,
    ContactUpdate,
    Counters,
    ErrorCode,
    Event,
    Pong,
    Progress,
    Skipped,
    Speaker,
    Transcript,
    UpstreamError,
)

MAX_FRAME_BYTES = 1_048_576
_MAX_COUNT = 10**15  # far above any campaign; keeps every ratio a finite float
Message = Mapping[str, object]


class _Invalid(Exception):
    """A field is missing or wrong; the message is the ``Skipped`` reason."""


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
    except _Invalid as exc:
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
    except _Invalid as exc:
        return Skipped(str(exc), "transcript")


def campaign_progress(data: Mapping[str, object], at: object = None) -> Progress | Skipped:
    """A dialect C progress body: ``{campaign_id?, status?, progress, recent_activity?}``
    (also the REST ``/campaigns/{id}/progress`` answer)."""
    try:
        return _progress_c_data(data, parse_timestamp(at))
    except _Invalid as exc:
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


# -- field readers: each raises _Invalid on a wrong type, None means absent ------


def _object(m: Message, key: str) -> Message | None:
    value = m.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _Invalid(f"field {key} is not an object")
    return cast(Message, value)


def _need_object(m: Message, key: str) -> Message:
    if (value := _object(m, key)) is None:
        raise _Invalid(f"field {key} is missing")
    return value


def _text(m: Message, key: str) -> str | None:
    value = m.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Invalid(f"field {key} is not a string")
    return value


def _need_text(m: Message, key: str) -> str:
    if (value := _text(m, key)) is None:
        raise _Invalid(f"field {key} is missing")
    return value


def _ident(m: Message, key: str) -> str | None:
    """An id Burki sends as a string or an integer."""
    value = m.get(key)
    if value is None:
        return None
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return str(value)
    raise _Invalid(f"field {key} is not a string or integer id")


def _number(m: Message, key: str) -> float | None:
    """An optional number; NaN, infinities and floats' overflow count as absent."""
    value = m.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid(f"field {key} is not a number")
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float
        return None
    return number if math.isfinite(number) else None


def _count(m: Message, key: str) -> int | None:
    """A non-negative integer count (``3.0`` accepted), at most ``_MAX_COUNT``."""
    value = m.get(key)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_COUNT:
        raise _Invalid(f"field {key} is not a count")
    return value


def _percent(m: Message, key: str) -> float | None:
    value = _number(m, key)
    return value if value is not None and 0.0 <= value <= 100.0 else None


def _flag(m: Message, key: str, default: bool) -> bool:
    value = m.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _Invalid(f"field {key} is not a boolean")
    return value


def _at(m: Message) -> datetime | None:
    return parse_timestamp(m.get("timestamp"))


def _campaign_id(*sources: Message | None) -> int | None:
    for source in sources:
        if source is not None and (value := _count(source, "campaign_id")) is not None:
            return value
    return None


# -- live transcript ----------------------------------------------------------------


def _connected(m: Message) -> Connected:
    message = m.get("message")
    return Connected(at=_at(m), message=message if isinstance(message, str) else "")


def _pong(m: Message) -> Pong:
    return Pong(at=_at(m))


def _call_status(m: Message) -> CallStatus:
    data = _object(m, "data") or {}
    status = _text(m, "status") or _text(data, "status")
    if status is None:
        raise _Invalid("field status is missing")
    metadata = _object(m, "metadata") or _object(data, "metadata") or {}
    sid = _text(m, "call_sid") or _text(data, "call_sid") or ""
    return CallStatus(call_sid=sid, status=status, at=_at(m), metadata=dict(metadata))


def _transcript(m: Message) -> Transcript:
    data = _need_object(m, "data")
    return _segment(_text(m, "call_sid") or "", data, _at(m))


_SPEAKERS: dict[str, Speaker] = {"user": "user", "assistant": "assistant"}


def _segment(call_sid: str, data: Message, at: datetime | None) -> Transcript:
    speaker = _SPEAKERS.get(_need_text(data, "speaker"))
    if speaker is None:
        raise _Invalid("speaker is neither user nor assistant")
    return Transcript(
        call_sid=call_sid,
        speaker=speaker,
        content=_need_text(data, "content"),
        is_final=_flag(data, "is_final", True),
        confidence=_number(data, "confidence"),
        segment_start=_number(data, "segment_start"),
        segment_end=_number(data, "segment_end"),
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


# -- campaign counters --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Counts:
    """Counts as one dialect sent them, None where absent; ``done`` is any outcome."""

    total: int | None = None
    done: int | None = None
    successful: int | None = None
    failed: int | None = None
    in_progress: int | None = None
    pending: int | None = None
    rate: float | None = None
    percent: float | None = None


# Where each dialect keeps each count: ``_Counts`` field -> wire key.
_A_KEYS = {
    "total": "total_contacts",
    "done": "completed_contacts",  # A: every done contact
    "successful": "successful_contacts",
    "failed": "failed_contacts",
    "in_progress": "in_progress_contacts",
    "pending": "pending_contacts",
}
_B_KEYS = {
    "total": "total_contacts",
    "successful": "completed_contacts",  # B: the successful ones only
    "failed": "failed_contacts",
    "in_progress": "in_progress_contacts",
    "pending": "pending_contacts",
}
_C_KEYS = {
    "total": "total_contacts",
    "successful": "completed",  # C: the successful ones only
    "failed": "failed",
    "in_progress": "processing",
    "pending": "pending",
}


def _read_counts(d: Message, keys: Mapping[str, str], rate: str, percent: str) -> _Counts:
    counts = {name: _count(d, key) for name, key in keys.items()}
    return _Counts(**counts, rate=_percent(d, rate), percent=_percent(d, percent))


def _counts_a(d: Message) -> _Counts:
    return _read_counts(d, _A_KEYS, "success_rate", "completion_percentage")


def _counts_b(d: Message) -> _Counts:
    return _read_counts(d, _B_KEYS, "success_rate", "completion_percentage")


def _counts_c(p: Message) -> _Counts:
    return _read_counts(p, _C_KEYS, "success_rate", "progress_percentage")


def _counters(c: _Counts) -> Counters:
    successful, failed, done, exact = _outcomes(c)
    total = c.total if c.total is not None else done + (c.in_progress or 0) + (c.pending or 0)
    pending = c.pending
    if pending is None:
        pending = max(total - done - (c.in_progress or 0), 0)
    in_progress = c.in_progress
    if in_progress is None:
        in_progress = max(total - done - pending, 0)
    rate = (successful / done * 100 if done else None) if exact else c.rate
    percent = done / total * 100 if total else (c.percent or 0.0)
    return Counters(total, done, successful, failed, in_progress, pending, rate, percent)


def _outcomes(c: _Counts) -> tuple[int, int, int, bool]:
    """(successful, failed, done, whether successful and done are both known)."""
    s, f, done = c.successful, c.failed, c.done
    if s is not None and f is not None:
        return s, f, s + f, True
    if done is None:
        return s or 0, f or 0, (s or 0) + (f or 0), False
    if s is not None:
        return s, _rest(done, s), done, True
    if f is not None:
        return _rest(done, f), f, done, True
    return 0, 0, done, False


def _rest(done: int, part: int) -> int:
    if part > done:
        raise _Invalid("an outcome count exceeds the completed count")
    return done - part


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
    data = _need_object(m, "data")
    status = _need_text(data, "outcome")
    contact = Contact(
        outcome(status),
        raw_status=status,
        phone=_text(data, "phone_number") or "",
        name=_text(data, "name") or "",
        contact_id=_ident(data, "contact_id"),
        call_sid=_text(data, "call_sid"),
        duration=_number(data, "duration"),
        error=_text(data, "error"),
        at=_at(m),
    )
    return ContactUpdate(contact, campaign_id=_campaign_id(m, data))


def _contact_update(m: Message) -> ContactUpdate:
    """Dialect B, flat: ``contact_id, phone_number, status, call_sid, call_duration, ...``."""
    status = _need_text(m, "status")
    contact = Contact(
        outcome(status),
        raw_status=status,
        phone=_text(m, "phone_number") or "",
        name=_text(m, "name") or "",
        contact_id=_ident(m, "contact_id"),
        call_sid=_text(m, "call_sid"),
        duration=_number(m, "call_duration"),
        error=_text(m, "error_message"),
        at=_at(m),
    )
    return ContactUpdate(contact, campaign_id=_campaign_id(m))


def _b_contacts(m: Message, at: datetime | None) -> tuple[Contact, ...]:
    status = _text(m, "contact_status")
    if status is None:
        return ()
    contact = Contact(
        outcome(status),
        raw_status=status,
        phone=_text(m, "contact_phone") or "",
        contact_id=_ident(m, "contact_id"),
        error=_text(m, "contact_error"),
        at=at,
    )
    return (contact,)


def _activity(m: Message) -> tuple[Contact, ...]:
    """Dialect C ``recent_activity``; ``execution_id`` stands in for the contact id."""
    entries = m.get("recent_activity")
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise _Invalid("field recent_activity is not a list")
    return tuple(_activity_entry(entry) for entry in entries)


def _activity_entry(entry: object) -> Contact:
    if not isinstance(entry, dict):
        raise _Invalid("a recent_activity entry is not an object")
    e = cast(Message, entry)
    status = _need_text(e, "status")
    return Contact(
        outcome(status),
        raw_status=status,
        phone=_text(e, "contact_phone") or "",
        contact_id=_ident(e, "execution_id"),
        call_sid=_ident(e, "call_id"),
        at=parse_timestamp(e.get("executed_at")),
    )


# -- campaign progress and completion -------------------------------------------------


def _progress_ab(m: Message) -> Progress:
    """``progress``: dialect A nests counts in ``data``, dialect B sends them flat."""
    data = _object(m, "data")
    at = _at(m)
    if data is not None:
        return Progress(
            _counters(_counts_a(data)), _campaign_id(m, data), _text(data, "status"), (), at
        )
    counters = _counters(_counts_b(m))
    return Progress(counters, _campaign_id(m), _text(m, "status"), _b_contacts(m, at), at)


def _progress_c(m: Message) -> Progress:
    """``initial_progress`` / ``progress_update`` (dialect C)."""
    data = _need_object(m, "data")
    return _progress_c_data(data, _at(m), outer=m)


def _progress_c_data(data: Message, at: datetime | None, outer: Message | None = None) -> Progress:
    counts = _need_object(data, "progress")
    return Progress(
        counters=_counters(_counts_c(counts)),
        campaign_id=_campaign_id(data, outer),
        status=_text(data, "status"),
        contacts=_activity(data),
        at=at,
    )


def _campaign_completed(m: Message) -> CampaignCompleted:
    """Dialect A carries the final counts in ``data``; dialect B flat."""
    data = _object(m, "data")
    source = data if data is not None else m
    counts = _counts_a(source) if data is not None else _counts_b(m)
    return CampaignCompleted(
        counters=_counters(counts),
        campaign_id=_campaign_id(m, data),
        total_duration=_number(source, "total_duration"),
        total_cost=_number(source, "total_cost"),
        at=_at(m),
    )


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
}
_NOT_USED = frozenset({"metrics_history"})
