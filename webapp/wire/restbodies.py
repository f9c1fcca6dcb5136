"""Burki's REST bodies read into typed values: lists, one call or campaign, stored
transcripts, campaign progress. Tolerant: a row that cannot be used is dropped (and
counted in the log); a missing or wrong-typed field is None, never an error.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar, cast

from webapp.wire.caller import CallerShown, caller_label
from webapp.wire.events import Progress, Skipped, Transcript
from webapp.wire.fields import parse_timestamp
from webapp.wire.normalise import (
    call_status_word,
    campaign_progress,
    normalise,
    transcript_segment,
)
from webapp.wire.resterrors import BadResponse

log = logging.getLogger(__name__)

T = TypeVar("T")
Row = Mapping[str, object]


@dataclass(frozen=True, slots=True)
class CallSummary:
    """A call as the REST API lists it; every field but the SID may be missing."""

    call_sid: str
    status: str = ""
    id: int | None = None
    direction: str | None = None
    customer_phone: str | None = None
    twilio_phone: str | None = None
    assistant_id: int | None = None
    assistant_name: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    duration: float | None = None
    transcript_count: int | None = None


@dataclass(frozen=True, slots=True)
class CampaignSummary:
    """A campaign as the REST API lists it. The contact counts are passed on as sent:
    the REST object does not say whether ``completed_contacts`` includes the failed."""

    id: int
    name: str = ""
    status: str = ""
    description: str | None = None
    campaign_type: str | None = None
    assistant_name: str | None = None
    total_contacts: int = 0
    completed_contacts: int = 0
    failed_contacts: int = 0
    created_at: datetime | None = None


def rows(body: object, path: str) -> list[object]:
    """A list body, bare or paged as ``{"items": [...], ...}``."""
    if isinstance(body, dict):
        body = body.get("items")
    if not isinstance(body, list):
        raise BadResponse(f"Burki REST GET {path}: expected a list or {{items: [...]}}")
    return body


def as_object(body: object, path: str) -> Row:
    if not isinstance(body, dict):
        raise BadResponse(f"Burki REST GET {path}: expected a JSON object")
    return cast(Row, body)


def convert(rows: list[object], convert: Callable[[Row], T | None], path: str) -> list[T]:
    """Each row that is an object and converts; the others are dropped (and counted in the log)."""
    out: list[T] = []
    for row in rows:
        item = convert(cast(Row, row)) if isinstance(row, dict) else None
        if item is not None:
            out.append(item)
    if dropped := len(rows) - len(out):
        log.debug("GET %s: dropped %d unusable rows", path, dropped)
    return out


def call_summary(
    row: Row, call_sid: str | None = None, callers: CallerShown = "last4"
) -> CallSummary | None:
    sid = text(row, "call_sid") or call_sid
    if not sid:
        return None
    caller = text(row, "customer_phone") or text(row, "customer_phone_number")
    return CallSummary(
        call_sid=sid,
        status=call_status_word(text(row, "status") or ""),
        id=integer(row, "id"),
        direction=text(row, "direction"),
        # The open-source server names the numbers as its call_status metadata does.
        customer_phone=caller_label(caller, callers) if caller else None,
        twilio_phone=text(row, "twilio_phone") or text(row, "to_phone_number"),
        assistant_id=integer(row, "assistant_id"),
        assistant_name=text(row, "assistant_name") or nested_name(row, "assistant"),
        started_at=parse_timestamp(row.get("started_at")),
        ended_at=parse_timestamp(row.get("ended_at")),
        duration=number(row, "duration"),
        transcript_count=integer(row, "transcript_count"),
    )


def campaign_summary(row: Row, campaign_id: int | None = None) -> CampaignSummary | None:
    ident = integer(row, "id")
    if ident is None:
        ident = campaign_id
    if ident is None:
        return None
    return CampaignSummary(
        id=ident,
        name=text(row, "name") or "",
        status=text(row, "status") or "",
        description=text(row, "description"),
        campaign_type=text(row, "campaign_type"),
        assistant_name=text(row, "assistant_name") or nested_name(row, "assistant"),
        total_contacts=integer(row, "total_contacts") or 0,
        completed_contacts=integer(row, "completed_contacts") or 0,
        failed_contacts=integer(row, "failed_contacts") or 0,
        created_at=parse_timestamp(row.get("created_at")),
    )


def stored_segment(call_sid: str, row: Row) -> Transcript | None:
    """A stored segment; its ``timestamp`` is when it was spoken."""
    result = transcript_segment(call_sid, row, at=row.get("timestamp"))
    return None if isinstance(result, Skipped) else result


def progress_body(body: Row) -> Progress | Skipped:
    """The documented ``{progress: {...dialect C...}, metrics, recent_activity}``, or
    the SDK's flat model (dialect B's counters) from older servers."""
    if "progress" in body:
        metrics = body.get("metrics")
        at = metrics.get("last_updated") if isinstance(metrics, dict) else None
        return campaign_progress(body, at=at)
    result = normalise({**body, "type": "progress", "data": None})
    return result if isinstance(result, Progress | Skipped) else Skipped("not a progress body")


# Tolerant readers: a missing or wrong-typed field is None, never an error.


def text(row: Row, key: str) -> str | None:
    value = row.get(key)
    return value if isinstance(value, str) else None


def integer(row: Row, key: str) -> int | None:
    value = row.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def number(row: Row, key: str) -> float | None:
    value = row.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def nested_name(row: Row, key: str) -> str | None:
    value = row.get(key)
    return text(cast(Row, value), "name") if isinstance(value, dict) else None
