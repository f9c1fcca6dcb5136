"""The resume cursor of a multiplexed SSE connection: one event id per stream it carries.

Three text forms, all read by :func:`decode`:

- hashed: ``.Xq3_a9Qz,h4,2B,,9`` (what the JSON API writes since 2026-12-07): a tag of
  the streams' epochs (8 characters of a BLAKE2b hash of them all, in the order of the
  connection's streams), then each stream's sequence number in base 62 (empty for a
  stream with no position yet). The request names the streams and a reconnect sends the
  same request, so the epochs are read from the streams themselves: a cursor whose tag
  is not that of every stream's epoch now (one of them started over: a restart, a stream
  closed and opened again while the viewer was away) resumes none of them, and each
  starts with ``reset`` and ``snapshot``; never a position read under another epoch. About
  3 bytes a stream where a whole id is 12: a frame of one of 48 streams carries a 160-byte
  id, not a 540-byte one.
- compact: ``~3f9a0c1e-17,0b7d2a55-9``, the positions alone, in the order of the
  connection's streams (written until 2026-12-07; clients may hold one);
- named: ``call:CA12=3f9a0c1e-17,campaign:4=0b7d2a55-9`` (the wallboard, whose set of
  streams changes while it is open, and older API clients).

Pure functions; the ids inside are the streams' own ``<epoch>-<seq>`` ids, checked
by their logs (a position decoded from a hashed cursor carries the epoch it was
checked against, so a stream that starts over between the two is reset too).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Container
from functools import lru_cache

from webapp.wire.streamkey import ONLY_DEFAULT, StreamKey

_POSITION = re.compile(r"[0-9a-f]{1,32}-[0-9]{1,19}")
_TAG = re.compile(r"[A-Za-z0-9_-]{8}")
_SEQ = re.compile(r"0|[1-9a-zA-Z][0-9a-zA-Z]{0,10}")  # canonical: no leading zero
DIGITS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_VALUE = {digit: n for n, digit in enumerate(DIGITS)}

MAX_CURSOR = 8192
UNRESUMABLE = "?"  # makes a stream answer with reset + snapshot
COMPACT = "~"
HASHED = "."

Epochs = Callable[[StreamKey], "str | None"]
"""Each stream's epoch now (None: no such stream), to read a hashed cursor against."""


def encode(positions: dict[StreamKey, str]) -> str:
    return ",".join(f"{key}={position}" for key, position in positions.items())


def encode_compact(keys: list[StreamKey], positions: dict[StreamKey, str]) -> str:
    """The positions of ``keys``, in that order (empty for a stream with none yet)."""
    return COMPACT + ",".join([positions.get(key, "") for key in keys])


def encode_hashed(keys: list[StreamKey], positions: dict[StreamKey, str]) -> str:
    """The hashed cursor of ``keys`` at ``positions`` (a stream with none: empty)."""
    return Hashed(keys, positions).text.decode()


class Hashed:
    """One connection's hashed cursor, moved frame by frame, for each of its viewer's frames:
    one lookup per frame, not one per stream carried (a stream key hashes in Python); the
    stream's digits replaced in place in the id's bytes (no join of every stream's); the
    whole id written afresh only when a stream's epoch (a ``reset``) or the number of its
    digits changes."""

    def __init__(self, keys: list[StreamKey], positions: dict[StreamKey, str]) -> None:
        self._index = {key: i for i, key in enumerate(keys)}
        split = [_split(positions[key]) if key in positions else ("", b"") for key in keys]
        self._epochs = [epoch for epoch, _ in split]
        self._seqs = [seq for _, seq in split]
        self._starts: list[int] = []
        self.text = b""
        self._write()

    def move(self, key: StreamKey, position: str) -> bytes:
        """The cursor once ``key`` stands at ``position``, as the bytes of an ``id:`` value."""
        i = self._index[key]
        epoch, seq = _split(position)
        before, self._seqs[i] = self._seqs[i], seq
        if epoch != self._epochs[i] or len(seq) != len(before):
            self._epochs[i] = epoch
            self._write()
        else:
            start, text = self._starts[i], self.text
            self.text = text[:start] + seq + text[start + len(seq) :]
        return self.text

    def _write(self) -> None:
        head = _head(self._epochs).encode()
        self._starts, at = [], len(head)
        for seq in self._seqs:
            self._starts.append(at)
            at += len(seq) + 1
        self.text = head + b",".join(self._seqs)


def decode(
    text: str | None, keys: list[StreamKey], epochs: Epochs | None = None
) -> dict[StreamKey, str | None]:
    """Each key's position: None for a new viewer (no cursor), else the id to resume after.

    A cursor that is malformed, too long or lacks a key resumes that key with
    :data:`UNRESUMABLE`: the viewer gets an explicit reset, never a silent gap.
    Only well-formed positions are kept, so nothing hostile is ever echoed back.
    A hashed cursor is read against ``epochs`` (without them it resumes nothing).
    """
    if not text:
        return dict.fromkeys(keys)
    if text.startswith(HASHED):
        return _decode_hashed(text, keys, epochs)
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


def _decode_hashed(
    text: str, keys: list[StreamKey], epochs: Epochs | None
) -> dict[StreamKey, str | None]:
    """Every key resumes, or none: the tag says whether every stream's epoch is the one the
    cursor was written under, not which one is not."""
    parts = text[len(HASHED) :].split(",") if len(text) <= MAX_CURSOR else []
    reset: dict[StreamKey, str | None] = dict.fromkeys(keys, UNRESUMABLE)
    if epochs is None or len(parts) != len(keys) + 1 or not _TAG.fullmatch(parts[0]):
        return reset
    seqs = parts[1:]
    if not all(seq == "" or _SEQ.fullmatch(seq) for seq in seqs):
        return reset
    now = [(epochs(key) or "") if seq else "" for key, seq in zip(keys, seqs, strict=True)]
    if _tag(now) != parts[0]:
        return reset
    return {
        key: f"{epoch}-{_number(seq)}" if seq and epoch else UNRESUMABLE
        for key, epoch, seq in zip(keys, now, seqs, strict=True)
    }


def _head(epochs: list[str]) -> str:
    return HASHED + _tag(epochs) + ","


def _tag(epochs: list[str]) -> str:
    """8 characters (48 bits) of the epochs' BLAKE2b: the same on every node and process."""
    digest = hashlib.blake2b("\n".join(epochs).encode(), digest_size=6).digest()
    return base64.urlsafe_b64encode(digest).decode()


@lru_cache(maxsize=4096)
def _split(position: str) -> tuple[str, bytes]:
    """A stream's ``<epoch>-<seq>`` as its epoch and its seq in base 62 (each frame's id is
    split once for all the viewers that write it, not once per viewer)."""
    epoch, _, seq = position.rpartition("-")
    return epoch, _base62(int(seq)).encode()


def _base62(n: int) -> str:
    digits = ""
    while True:
        n, digit = divmod(n, 62)
        digits = DIGITS[digit] + digits
        if n == 0:
            return digits


def _number(digits: str) -> int:
    n = 0
    for digit in digits:
        n = n * 62 + _VALUE[digit]
    return n
