"""Turn every upstream Burki frame, of every dialect, into one typed event.

Pure: no I/O, no logging, no clock. ``parse`` and ``normalise`` never raise:
a frame we cannot use comes back as a ``Skipped`` whose ``reason`` is a short
sentence naming at most a field, never the frame's content (it is logged).

Where the sources leave room, the choices for campaign counters are written
in ``webapp.wire.counters`` and those for reading a field (absent, NaN, counts) in
``webapp.wire.fields`` (timestamps too); the campaign frames are read in
``webapp.wire.campaignframes``. One more here:

- Data frames (transcript, call status, progress, contacts, completion) are
  strict: a wrong-typed field skips the frame. Control frames (connected,
  error, pong) are never skipped for a cosmetic field, since the upstream
  client's decisions hang on them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import cast

from webapp.wire.campaignframes import (
    campaign_completed,
    contact_completed,
    contact_update,
    metrics_history,
    progress_ab,
    progress_c,
    progress_c_data,
)
from webapp.wire.events import (
    CallStatus,
    Connected,
    ErrorCode,
    Event,
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
    parse_timestamp,
    read_flag,
    read_number,
    read_object,
    read_text,
    timestamp_of,
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
        return progress_c_data(data, parse_timestamp(at))
    except Invalid as exc:
        return Skipped(str(exc), "progress")


def _too_big(frame: str | bytes, max_bytes: int) -> bool:
    if len(frame) > max_bytes:
        return True
    if isinstance(frame, bytes) or len(frame) * 4 <= max_bytes:
        return False
    return len(frame.encode("utf-8", "surrogatepass")) > max_bytes


# -- live transcript ----------------------------------------------------------------


def _connected(m: Message) -> Connected:
    message = m.get("message")
    return Connected(at=timestamp_of(m), message=message if isinstance(message, str) else "")


def _pong(m: Message) -> Pong:
    return Pong(at=timestamp_of(m))


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
    return CallStatus(call_sid=sid, status=status, at=timestamp_of(m), metadata=dict(metadata))


def _transcript(m: Message) -> Transcript:
    data = need_object(m, "data")
    return _segment(read_text(m, "call_sid") or "", data, timestamp_of(m))


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
    return UpstreamError(code=classify_error(code, text), message=text, at=timestamp_of(m))


def classify_error(code: object, message: str = "") -> ErrorCode:
    """The error kind, from Burki's ``error`` code first, then its message text."""
    for candidate in (code if isinstance(code, str) else "", message):
        for kind, pattern in _ERROR_PATTERNS:
            if pattern.search(candidate):
                return kind
    return "other"


_HANDLERS: dict[str, Callable[[Message], Event]] = {
    "connection_established": _connected,
    "connection_ack": _connected,
    "call_status": _call_status,
    "transcript": _transcript,
    "error": _error,
    "pong": _pong,
    "progress": progress_ab,
    "initial_progress": progress_c,
    "progress_update": progress_c,
    "contact_completed": contact_completed,
    "contact_update": contact_update,
    "campaign_completed": campaign_completed,
    "metrics_history": metrics_history,
}
_NOT_USED: frozenset[str] = frozenset()
