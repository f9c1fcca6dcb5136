"""The resume cursor of a multiplexed SSE connection: one event id per stream it carries.

Text form: ``call:CA12=3f9a0c1e-17,campaign:4=0b7d2a55-9``. Pure functions; the
ids inside are the streams' own ``<epoch>-<seq>`` ids, checked by their logs.
"""

from __future__ import annotations

import re

from webapp.wire.streamkey import StreamKey

_POSITION = re.compile(r"[0-9a-f]{1,32}-[0-9]{1,19}")

MAX_CURSOR = 8192
UNRESUMABLE = "?"  # makes a stream answer with reset + snapshot


def encode(positions: dict[StreamKey, str]) -> str:
    return ",".join(f"{key}={position}" for key, position in positions.items())


def decode(text: str | None, keys: list[StreamKey]) -> dict[StreamKey, str | None]:
    """Each key's position: None for a new viewer (no cursor), else the id to resume after.

    A cursor that is malformed, too long or lacks a key resumes that key with
    :data:`UNRESUMABLE`: the viewer gets an explicit reset, never a silent gap.
    Only well-formed positions are kept, so nothing hostile is ever echoed back.
    """
    if not text:
        return dict.fromkeys(keys)
    found = entries(text)
    return {key: found.get(str(key), UNRESUMABLE) for key in keys}


def entries(text: str | None) -> dict[str, str]:
    """Every well-formed ``name=position`` of a cursor; nothing of one too long to be ours."""
    found: dict[str, str] = {}
    if text and len(text) <= MAX_CURSOR:
        for part in text.split(","):
            name, sep, position = part.rpartition("=")
            if sep and _POSITION.fullmatch(position):
                found[name] = position
    return found
