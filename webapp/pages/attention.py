"""The overview's "Needs attention" list: ongoing calls by attention score, with their reasons.

The score itself is computed in the relay (``metrics`` events, from
:mod:`webapp.alerts.attention`); this reads it off each ongoing call's stream.
To have a score, a call's stream must be open: the overview's update stream
follows every ongoing call (as the wallboard does) while someone watches it, and
redraws the list when a call's figures, claim or status change.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from webapp.calls.change import parts
from webapp.relay.frames import Frame
from webapp.relay.hub import Hub, Viewing
from webapp.wire.rest import CallSummary
from webapp.wire.streamkey import DEFAULT_ORG, BadStreamId, StreamKey

MAX_FOLLOWED = 48  # as many as the wallboard shows
MAX_LISTED = 12
REDRAWN_BY = frozenset({"metrics", "claim", "call_status", "snapshot", "end"})


def call_keys(
    calls: Iterable[CallSummary], limit: int = MAX_FOLLOWED, org: str = DEFAULT_ORG
) -> list[StreamKey]:
    """The stream keys of ``calls`` of ``org`` (at most ``limit``), skipping ids we cannot
    name."""
    keys = []
    for call in calls:
        try:
            keys.append(StreamKey.call(call.call_sid, org))
        except BadStreamId:
            continue
        if len(keys) == limit:
            break
    return keys


def follow(viewing: Viewing, wanted: list[StreamKey]) -> None:
    """Attach ``viewing`` to the streams in ``wanted``, detach it from the others."""
    for key in [k for k in viewing.streams if k not in wanted]:
        viewing.detach(key)
    for key in wanted:
        if key not in viewing.streams:
            viewing.attach(key, None)


def redraws(batch: list[Frame]) -> bool:
    return any(type in REDRAWN_BY for frame in batch for type, _ in parts(frame.type, frame.data))


def attention_scores(hub: Hub, calls: list[CallSummary], org: str = DEFAULT_ORG) -> dict[str, int]:
    """The attention score of each ongoing call of ``org`` whose stream is open, by call
    SID (every listed call: the monitor keeps them open, so the first render shows them
    all)."""
    return {sid: int(a.get("score", 0)) for sid, a in _attention(hub, calls, org).items()}


def attention_reasons(hub: Hub, calls: list[CallSummary], org: str = DEFAULT_ORG) -> dict[str, str]:
    """Why each ongoing call whose stream is open scores what it does, in words, by SID."""
    return {
        sid: ", ".join(str(r.get("text", "")) for r in a.get("reasons", []))
        for sid, a in _attention(hub, calls, org).items()
    }


def _attention(hub: Hub, calls: list[CallSummary], org: str) -> dict[str, dict[str, Any]]:
    found = {}
    for key in call_keys(calls, len(calls), org):
        stream = hub.streams.get(key)
        if stream is not None and stream.health is not None:
            found[key.id] = stream.health.current().get("attention") or {}
    return found


def needs_attention(
    hub: Hub, calls: list[CallSummary], threshold: int, org: str = DEFAULT_ORG
) -> list[dict[str, Any]]:
    """Ongoing calls of ``org`` scoring ``threshold`` or more: unclaimed first, then by
    score (each item names its stream: ``key``)."""
    found = []
    for key in call_keys(calls, len(calls), org):
        stream = hub.streams.get(key)
        if stream is None or stream.health is None or stream.ended:
            continue
        figures = stream.health.current()
        attention = figures.get("attention") or {}
        if attention.get("score", 0) < threshold:
            continue
        summary = next((c for c in calls if c.call_sid == key.id), None)
        found.append(
            {
                "sid": key.id,
                "key": key,
                "score": attention["score"],
                "reasons": attention.get("reasons", []),
                "claim": stream.claims.snapshot(),
                "assistant": summary.assistant_name if summary else None,
                "customer": summary.customer_phone if summary else None,
            }
        )
    return ranked(found)


def ranked(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The attention list's order (unclaimed first, then by score), cut to its length:
    one organisation's, or several merged."""
    found = sorted(found, key=lambda item: (item["claim"] is not None, -item["score"]))
    return found[:MAX_LISTED]
