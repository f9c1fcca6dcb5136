"""A stream's bounded replay log: numbers each change, renders it once, keeps the last N.

Event ids are ``<epoch>-<seq>``. The epoch is random per log (so per stream
instance): an id from an earlier instance of the same stream, or from another
process, never resumes by accident. ``seq`` counts from 1; ``<epoch>-0`` means
"before the first event".

Once its stream has ended, :meth:`ReplayLog.pack` keeps the frames so far compressed
(``webapp.relay.packing``): an ended call lingers for late viewers, and what it keeps
for them must be small, or the number of calls lingering sets the server's memory.

Pure: no I/O, no tasks, no clock.
"""

from __future__ import annotations

import re
import secrets
from collections import deque
from itertools import islice

from webapp.calls.change import Change
from webapp.relay import packing
from webapp.relay.frames import Frame, render
from webapp.wire.streamkey import StreamKey

_EPOCH = re.compile(r"[0-9A-Za-z]{1,32}")
# Canonical ids only: ASCII digits without leading zeros, and short enough that
# no hostile header can make us parse a huge integer.
_ID = re.compile(r"([0-9A-Za-z]{1,32})-(0|[1-9][0-9]{0,17})")
_MAX_ID_LENGTH = 64


def parse_id(text: object) -> tuple[str, int] | None:
    """``(epoch, seq)`` of an event id, or None for anything that is not one of ours.

    Never raises, whatever ``text`` is (a 10 kB header, unicode digits, ``-1``,
    ``a-b-c``, a number too big for any log).
    """
    if not isinstance(text, str) or len(text) > _MAX_ID_LENGTH:
        return None
    match = _ID.fullmatch(text)
    if match is None:
        return None
    return match.group(1), int(match.group(2))


class ReplayLog:
    """The last ``capacity`` frames of one stream, and exact resume from an id.

    ``epoch`` defaults to 8 random hex digits; a given one must be 1-32 ASCII
    letters or digits (a ``-`` would make ids ambiguous).
    """

    def __init__(self, capacity: int = 500, epoch: str | None = None) -> None:
        if capacity < 1:
            raise ValueError("a replay log keeps at least one frame")
        if epoch is None:
            epoch = secrets.token_hex(4)
        elif not _EPOCH.fullmatch(epoch):
            raise ValueError("an epoch is 1-32 ASCII letters or digits")
        self.epoch = epoch
        self.capacity = capacity
        self._seq = 0
        self._frames: deque[Frame] = deque(maxlen=capacity)  # after the packed ones
        self._packed: tuple[bytes, int, StreamKey | None] | None = None  # bytes, how many

    def __len__(self) -> int:
        return len(self._frames) + self._packed_count

    @property
    def last_id(self) -> str:
        """The id of the newest frame, ``<epoch>-0`` before the first."""
        return f"{self.epoch}-{self._seq}"

    def append(self, change: Change, stream: StreamKey | None = None) -> Frame:
        """Number ``change`` of ``stream``, render it once, keep it (the oldest goes when full)."""
        self._seq += 1
        frame = render(f"{self.epoch}-{self._seq}", change.type, change.data, stream)
        if self._packed is not None and len(self) >= self.capacity:
            self._unpack()  # the oldest must go: rare (a full log's worth after the end)
        self._frames.append(frame)
        return frame

    def pack(self) -> None:
        """Keep the frames so far compressed, for late viewers (see ``packing``): their
        bytes and HTML once, their JSON dicts let go. :meth:`since` gives back equal frames;
        frames appended later are kept as they come."""
        if self._packed is not None:
            self._unpack()
        frames = list(self._frames)
        if frames:
            self._packed = (packing.pack(frames), len(frames), frames[0].stream)
            self._frames.clear()

    def _unpack(self) -> None:
        if self._packed is not None:
            packed, _, stream = self._packed
            self._packed = None
            self._frames.extendleft(reversed(packing.unpack(packed, stream)))

    def since(self, last_id: str) -> list[Frame] | None:
        """Exactly the frames after ``last_id``, oldest first, or None when that is not possible.

        None means the viewer needs a reset and a snapshot: the id is malformed,
        of another epoch, in the future, or so old that frames after it were
        already dropped. ``since(last_id)`` of the newest id is ``[]``.
        """
        parsed = parse_id(last_id)
        if parsed is None:
            return None
        epoch, seq = parsed
        oldest_kept = self._seq - len(self) + 1
        if epoch != self.epoch or seq > self._seq or seq < oldest_kept - 1:
            return None
        if self._packed is not None and seq < self._seq - len(self._frames):
            packed, _, stream = self._packed  # a late viewer from before the end: unpacked
            kept = [*packing.unpack(packed, stream), *self._frames]
            return kept[seq - oldest_kept + 1 :]
        return list(islice(self._frames, seq - oldest_kept + 1 - self._packed_count, None))

    @property
    def _packed_count(self) -> int:
        return self._packed[1] if self._packed is not None else 0
