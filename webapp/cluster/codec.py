"""What a lease holder publishes for a stream, as JSON text, and back.

The holder publishes the *inputs* of a stream (Burki's normalised events, the
upstream's connection items, the markers the stream itself makes), never the
rendered frames: every node runs the same pure state machine on the same inputs
in the same order, so every node numbers the same frames with the same ids and
can render its own page views from its own copy of the state.

Only the types registered here travel; anything else is a ``TypeError`` on the
publisher's side and a ``ValueError`` on the reader's (never a crash of the node).
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from enum import Enum
from typing import Any

from webapp.calls.inputs import (
    ActionTaken,
    CampaignNamed,
    ClaimMade,
    Finished,
    HealthDue,
    HoldReleased,
    PollBatch,
    WentQuiet,
)
from webapp.wire import events
from webapp.wire.failures import Failure, FailureKind
from webapp.wire.rest import CallSummary, CampaignSummary
from webapp.wire.upstream import AuthMode, Connecting, GaveUp, Live, Reconnecting

_CLASSES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        events.Connected,
        events.CallStatus,
        events.Transcript,
        events.Counters,
        events.Contact,
        events.Progress,
        events.ContactUpdate,
        events.CampaignCompleted,
        events.UpstreamError,
        events.Pong,
        Connecting,
        Live,
        Reconnecting,
        GaveUp,
        Failure,
        PollBatch,
        CampaignNamed,
        Finished,
        WentQuiet,
        HoldReleased,
        HealthDue,
        ClaimMade,
        ActionTaken,
        CallSummary,  # the directory's lists (``webapp.cluster.listing``)
        CampaignSummary,
    )
}
_ENUMS: dict[str, type[Enum]] = {cls.__name__: cls for cls in (AuthMode, FailureKind)}


def encode(item: object) -> str:
    """``item`` (a registered dataclass) as compact JSON text."""
    return json.dumps(_plain(item), separators=(",", ":"), ensure_ascii=False)


def decode(text: str | bytes) -> Any:
    """The item :func:`encode` made. Raises ``ValueError`` for anything else."""
    try:
        return _typed(json.loads(text))
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a published item: {type(exc).__name__}") from None


def _plain(value: object) -> Any:
    if isinstance(value, Enum):  # first: a StrEnum is a str too, and would come back as one
        return {"$e": type(value).__name__, "v": value.value}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = type(value).__name__
        if _CLASSES.get(name) is not type(value):
            raise TypeError(f"{name} is not a published type")
        fields = {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"$t": name, "f": fields}
    if isinstance(value, tuple):
        return {"$tuple": [_plain(v) for v in value]}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {"$map": {str(k): _plain(v) for k, v in value.items()}}
    raise TypeError(f"{type(value).__name__} cannot be published")


def _typed(value: Any) -> Any:
    if isinstance(value, list):
        return [_typed(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "$t" in value:
        return _CLASSES[value["$t"]](**{k: _typed(v) for k, v in value["f"].items()})
    if "$e" in value:
        return _ENUMS[value["$e"]](value["v"])
    if "$dt" in value:
        return datetime.fromisoformat(value["$dt"])
    if "$tuple" in value:
        return tuple(_typed(v) for v in value["$tuple"])
    return {k: _typed(v) for k, v in value["$map"].items()}
