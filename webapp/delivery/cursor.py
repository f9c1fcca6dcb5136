"""The resume cursor of a multiplexed SSE connection: one event id per stream it carries.

Two text forms, both read by :func:`decode`:

- named: ``call:CA12=3f9a0c1e-17,campaign:4=0b7d2a55-9`` (the wallboard, whose set of
  streams changes while it is open, and older API clients);
- compact: ``~3f9a0c1e-17,0b7d2a55-9``, the positions alone, in the order of the
  connection's streams (its request names them, and a reconnect sends the same
  request). The JSON API writes this one: a frame of one of 48 streams no longer
  repeats 48 names (2.4 KB per frame), and resume is exactly as before.

Pure functions; the ids inside are the streams' own ``<epoch>-<seq>`` ids, checked
by their logs.
"""

from __future__ import annotations

import re
from collections.abc import Container

from webapp.wire.streamkey import ONLY_DEFAULT, StreamKey

_POSITION = re.compile(r"[0-9a-f]{1,32}-[0-9]{1,19}")

MAX_CURSOR = 8192
UNRESUMABLE = "?"  # makes a stream answer with reset + snapshot
COMPACT = "~"


def encode(positions: dict[StreamKey, str]) -> str:
    return ",".join(f"{key}={position}" for key, position in positions.items())


def encode_compact(keys: list[StreamKey], positions: dict[StreamKey, str]) -> str:
    """The positions of ``keys``, in that order (empty for a stream with none yet)."""
    return COMPACT + ",".join([positions.get(key, "") for key in keys])


class Compact:
    """One connection's compact cursor, moved frame by frame: one lookup per frame, not one
    per stream carried (a stream key hashes in Python)."""

    def __init__(self, keys: list[StreamKey], positions: dict[StreamKey, str]) -> None:
        self._index = {key: i for i, key in enumerate(keys)}
        self._at = [positions.get(key, "") for key in keys]

    def move(self, key: StreamKey, position: str) -> bytes:
        """The cursor once ``key`` stands at ``position``, as the bytes of an ``id:`` value."""
        self._at[self._index[key]] = position
        return (COMPACT + ",".join(self._at)).encode()


def decode(text: str | None, keys: list[StreamKey]) -> dict[StreamKey, str | None]:
    """Each key's position: None for a new viewer (no cursor), else the id to resume after.

    A cursor that is malformed, too long or lacks a key resumes that key with
    :data:`UNRESUMABLE`: the viewer gets an explicit reset, never a silent gap.
    Only well-formed positions are kept, so nothing hostile is ever echoed back.
    """
    if not text:
        return dict.fromkeys(keys)
    if text.startswith(COMPACT):
        return _decode_compact(text, keys)
    found = _named(text)  # the keys asked for are rendered to find them: nothing is parsed
    return {key: found.get(str(key), UNRESUMABLE) for key in keys}


def entries(text: str | None, orgs: Container[str] = ONLY_DEFAULT) -> dict[StreamKey, str]:
    """Every well-formed ``key=position`` of a cursor; nothing of one too long to be ours.

    A name counts only as :class:`StreamKey` renders it (``campaign:07`` is not ours), of
    an organisation in ``orgs``."""
    named = ((StreamKey.read(name, orgs), position) for name, position in _named(text).items())
    return {key: position for key, position in named if key is not None}


def _named(text: str | None) -> dict[str, str]:
    """Every ``name=position`` of a cursor with a well-formed position, by name as written."""
    found: dict[str, str] = {}
    if text and len(text) <= MAX_CURSOR:
        for part in text.split(","):
            name, sep, position = part.rpartition("=")
            if sep and _POSITION.fullmatch(position):
                found[name] = position
    return found


def _decode_compact(text: str, keys: list[StreamKey]) -> dict[StreamKey, str | None]:
    """A compact cursor for other streams (another count) resumes none of them."""
    parts = text[len(COMPACT) :].split(",") if len(text) <= MAX_CURSOR else []
    if len(parts) != len(keys):
        return dict.fromkeys(keys, UNRESUMABLE)
    return {
        key: part if _POSITION.fullmatch(part) else UNRESUMABLE
        for key, part in zip(keys, parts, strict=True)
    }
