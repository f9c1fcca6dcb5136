"""The exact JSON frames of the live-transcript stream, and the error frames of both streams.

Frames are plain dicts; :func:`encode` turns one into the text that goes on the
wire (compact, as Starlette's ``send_json`` writes it). Timestamps follow Burki:
envelope ``timestamp`` fields are naive UTC (``datetime.utcnow().isoformat()``);
in hosted mode a segment's ``created_at`` and the ``started_at`` of call metadata
carry a ``Z``, in open-source mode (``oss``) every timestamp is naive.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from webapp.simulator.model import Call, Segment

Frame = dict[str, Any]
Subject = dict[str, Any]
"""What an error frame is about: ``{"call_sid": ..}`` or ``{"campaign_id": ..}``."""


def encode(frame: Frame) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def naive(moment: datetime) -> str:
    """``2025-08-01T12:00:00.123456``: UTC with no zone, as ``utcnow().isoformat()``."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat()


def zulu(moment: datetime) -> str:
    """``2025-08-01T12:00:00.123456Z``."""
    return naive(moment) + "Z"


def stamp(moment: datetime | None, oss: bool) -> str | None:
    """A data timestamp: naive in open-source mode, with ``Z`` in hosted mode."""
    if moment is None:
        return None
    return naive(moment) if oss else zulu(moment)


def epoch(moment: datetime) -> float:
    return round(moment.timestamp(), 3)


def connection_established(sid: str, now: datetime) -> Frame:
    return {
        "type": "connection_established",
        "call_sid": sid,
        "timestamp": naive(now),
        "message": "Connected to live transcript stream",
    }


def call_status(call: Call, now: datetime, oss: bool, requested: bool = False) -> Frame:
    """``call_status`` with the status at top level.

    The open-source server answers ``request_status`` with a shorter metadata
    (``assistant_id``, ``started_at``, ``duration``); ``requested`` picks it.
    """
    metadata: Frame = {"assistant_id": call.assistant_id, "started_at": stamp(call.started_at, oss)}
    if oss and requested:
        metadata["duration"] = call.duration
    else:
        metadata["to_phone_number"] = call.twilio_phone
        metadata["customer_phone_number"] = call.customer_phone
        if call.ended and not oss:
            metadata["ended_at"] = stamp(call.ended_at, oss)
            metadata["duration"] = call.duration
    # The open-source server reports the stored status word ("ongoing"), not the live one.
    status = ("ongoing" if call.status == "in-progress" else call.status) if oss else call.status
    return {
        "type": "call_status",
        "call_sid": call.call_sid,
        "timestamp": naive(now),
        "status": status,
        "metadata": metadata,
    }


def transcript(sid: str, segment: Segment, now: datetime, oss: bool, replay: bool = False) -> Frame:
    """A ``transcript`` frame. Never an id; a replayed one is stamped with its ``created_at``."""
    return {
        "type": "transcript",
        "call_sid": sid,
        "timestamp": naive(segment.created_at if replay else now),
        "data": {
            "content": segment.content,
            "speaker": segment.speaker,
            "is_final": segment.is_final,
            "confidence": segment.confidence,
            "segment_start": segment.segment_start,
            "segment_end": segment.segment_end,
            "created_at": stamp(segment.created_at, oss),
        },
    }


def pong(now: datetime) -> Frame:
    return {"type": "pong", "timestamp": naive(now)}


def error(subject: Subject, now: datetime, message: str, code: str | None = None) -> Frame:
    frame: Frame = {"type": "error", **subject, "timestamp": naive(now)}
    if code is not None:
        frame["error"] = code
    frame["message"] = message
    return frame


def authentication_failed(subject: Subject, now: datetime) -> Frame:
    return error(subject, now, "Authentication failed", "authentication_failed")


def access_denied(subject: Subject, now: datetime, what: str) -> Frame:
    return error(subject, now, f"Access denied to this {what}", "access_denied")


def rate_limited(subject: Subject, now: datetime) -> Frame:
    message = "Rate limit exceeded: too many connections to this call"
    return error(subject, now, message, "rate_limit_exceeded")


def initialization_failed(subject: Subject, now: datetime) -> Frame:
    return error(subject, now, "Connection initialization failed")


def not_found(subject: Subject, now: datetime, what: str) -> Frame:
    return error(subject, now, f"{what} {next(iter(subject.values()))} not found")
