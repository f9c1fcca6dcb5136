"""A change of a call's or campaign's state, not yet numbered, and the helpers its payloads use.

The pipeline of :mod:`webapp.calls` answers each input with changes; the relay
numbers each one and renders it into a frame (``webapp.relay.frames``) once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Change:
    """A change of stream state, not yet numbered.

    ``type`` is the SSE event type (``status``, ``snapshot``, ``reset``,
    ``transcript``, ``call_status``, ``progress``, ``contact``,
    ``campaign_completed``, ``end``, ``error``, ...); ``data`` a JSON-able
    payload, to which :func:`render` adds the ``"stream"`` key of the stream.
    """

    type: str
    data: dict[str, Any]


def iso(moment: datetime | None) -> str | None:
    """An aware (or naive = UTC) datetime as ISO 8601 UTC ending in ``Z``; None stays None."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def json_safe(value: object) -> Any:
    """``value`` made safe for :func:`render`: NaN and infinities become None,
    tuples lists, mapping keys strings, anything else JSON cannot hold its ``str``.

    For payload parts that come from Burki as-is (call metadata)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return str(value)
