"""A call's metadata as the dashboard reads it: typed once, from the fields Burki sends.

Burki sends a call's metadata in four shapes (on connect, on ``request_status``, at
media start, at the end) under its own field names; a call's state merges them and
keeps them as sent (they travel so in the JSON viewers get). :class:`CallInfo` is what
every reader asks of them (who calls, which assistant, when it started and ended),
read in one place: the caller by :func:`~webapp.wire.caller.caller_of`, times by
:func:`~webapp.wire.normalise.parse_timestamp`, and the end derived once. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from webapp.wire.caller import caller_of
from webapp.wire.fields import parse_timestamp


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class CallInfo:
    caller: str = ""  # the caller's number as shown (a label), "" when none is named
    assistant_id: int | None = None
    assistant_name: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None  # as Burki said it
    duration: float | None = None  # seconds, Burki's own length of the call

    @classmethod
    def of(cls, metadata: Mapping[str, Any]) -> CallInfo:
        ident, name = metadata.get("assistant_id"), metadata.get("assistant_name")
        return cls(
            caller=caller_of(metadata),
            assistant_id=ident if isinstance(ident, int) and not isinstance(ident, bool) else None,
            assistant_name=name if isinstance(name, str) and name else None,
            started_at=parse_timestamp(metadata.get("started_at")),
            ended_at=parse_timestamp(metadata.get("ended_at")),
            duration=_number(metadata.get("duration")),
        )

    @property
    def ended_by_length(self) -> datetime | None:
        """Its start plus Burki's length: Burki's own end, whatever the clocks (the
        open-source server's end status carries no ``ended_at``)."""
        if self.started_at is None or self.duration is None:
            return None
        return self.started_at + timedelta(seconds=self.duration)

    @property
    def end(self) -> datetime | None:
        """When the call ended, as Burki tells it: by its length, else its ``ended_at``."""
        return self.ended_by_length or self.ended_at
