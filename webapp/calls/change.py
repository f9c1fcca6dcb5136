"""A change of a call's or campaign's state, not yet numbered, and the helpers its payloads use.

The pipeline of :mod:`webapp.calls` answers each input with changes; the relay
numbers each one and renders it into a frame (``webapp.relay.frames``) once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol


class Payload(Protocol):
    """A change's payload as the calls room knows it (a segment, a status, a claim...):
    typed, for the stages that read it (health reads segments and statuses as they are,
    never their JSON); :meth:`json` is what viewers get."""

    def json(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Change:
    """A change of stream state, not yet numbered.

    ``type`` is the SSE event type (``status``, ``snapshot``, ``reset``,
    ``transcript``, ``call_status``, ``progress``, ``contact``,
    ``campaign_completed``, ``end``, ``error``, ...). ``payload`` is typed (a
    :class:`Payload`), or a JSON dict for a change no stage reads (the connection line,
    the end, an alert). ``data`` is the JSON-able payload viewers get, built from it
    once, to which ``webapp.relay.frames.render`` adds the ``"stream"`` key; two
    changes are equal when their type and ``data`` are.
    """

    type: str
    payload: Payload | dict[str, Any] = field(compare=False, repr=False)
    data: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        payload = self.payload
        data = payload if isinstance(payload, dict) else payload.json()
        object.__setattr__(self, "data", data)  # frozen: set once, here


EVENTS_VERSION = 3
"""The shape of the JSON SSE events, in every snapshot as ``version`` (``docs/api.md``):
2 since a segment's sentiment and the call's figures ride in its ``transcript`` event, 3
since ``metrics`` carries only the figures' top-level members that changed."""

RIDERS = ("sentiment", "metrics")
"""What rides in a ``transcript`` event beside its segment, under its own key: the
sentiment that scored it and the call's figures after it (``docs/api.md``, version 2)."""


@dataclass(frozen=True, slots=True)
class Carrying:
    """A ``transcript`` change's payload with what was derived from its segment riding
    along (its ``sentiment``, the call's ``metrics`` after it): one SSE event, one id,
    where each was an event of its own. Each rider's JSON is the one its own event held,
    byte for byte, under its type's key."""

    base: Change
    riders: tuple[Change, ...]

    def json(self) -> dict[str, Any]:
        data = dict(self.base.data)
        for rider in self.riders:
            data[rider.type] = rider.data
        return data


def carried(change: Change, riders: list[Change]) -> Change:
    """``change`` with ``riders`` in the same event (``change`` itself when none)."""
    if not riders:
        return change
    if isinstance(change.payload, Carrying):  # riding already: one more rider
        base, before = change.payload.base, change.payload.riders
        return Change(change.type, Carrying(base, (*before, *riders)))
    return Change(change.type, Carrying(change, tuple(riders)))


def parts(type: str, data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """An event's type and data, then each rider's as if it were an event of its own
    (for readers that follow ``metrics`` or ``sentiment`` wherever they ride)."""
    found = [(type, data)]
    if type == "transcript":
        found += [(rider, data[rider]) for rider in RIDERS if rider in data]
    return found


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
