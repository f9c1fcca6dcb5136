"""Typed readers for the fields of one decoded upstream message.

Each reader returns None for an absent field (missing or JSON ``null``) and
raises ``Invalid`` for a present one of the wrong type; the message of
``Invalid`` names the field, never its value, since it ends up in a log.

- NaN and infinities (Python's ``json`` accepts them) read as absent for an
  optional number, and so does an integer too large for a float.
- A count is a non-negative integer (an integral float such as ``3.0`` is
  accepted) of at most ``MAX_COUNT``; anything else is invalid, never absent.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import cast

MAX_COUNT = 10**15  # far above any campaign; keeps every ratio a finite float
Message = Mapping[str, object]


class Invalid(Exception):
    """A field is missing or wrong; the message says which, without its value."""


def read_object(m: Message, key: str) -> Message | None:
    value = m.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Invalid(f"field {key} is not an object")
    return cast(Message, value)


def need_object(m: Message, key: str) -> Message:
    if (value := read_object(m, key)) is None:
        raise Invalid(f"field {key} is missing")
    return value


def read_text(m: Message, key: str) -> str | None:
    value = m.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid(f"field {key} is not a string")
    return value


def need_text(m: Message, key: str) -> str:
    if (value := read_text(m, key)) is None:
        raise Invalid(f"field {key} is missing")
    return value


def read_ident(m: Message, key: str) -> str | None:
    """An id Burki sends as a string or an integer."""
    value = m.get(key)
    if value is None:
        return None
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return str(value)
    raise Invalid(f"field {key} is not a string or integer id")


def read_number(m: Message, key: str) -> float | None:
    """An optional number; NaN, infinities and floats' overflow count as absent."""
    value = m.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid(f"field {key} is not a number")
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float
        return None
    return number if math.isfinite(number) else None


def read_count(m: Message, key: str) -> int | None:
    """A non-negative integer count (``3.0`` accepted), at most ``MAX_COUNT``."""
    value = m.get(key)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise Invalid(f"field {key} is not a count")
    return value


def read_percent(m: Message, key: str) -> float | None:
    """A number in 0..100; one outside that range reads as absent."""
    value = read_number(m, key)
    return value if value is not None and 0.0 <= value <= 100.0 else None


def read_flag(m: Message, key: str, default: bool) -> bool:
    value = m.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise Invalid(f"field {key} is not a boolean")
    return value


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


_EPOCH = re.compile(r"[+-]?\d{1,12}(?:\.\d*)?")


def _from_epoch(value: float) -> datetime | None:
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def timestamp_of(m: Message) -> datetime | None:
    return parse_timestamp(m.get("timestamp"))


def campaign_id_in(*sources: Message | None) -> int | None:
    for source in sources:
        if source is not None and (value := read_count(source, "campaign_id")) is not None:
            return value
    return None
