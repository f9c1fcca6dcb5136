"""The JSON SSE stream of one stream, or of many multiplexed over one connection.

Every frame: ``id:``, ``event:`` (the type) and ``data:`` (one JSON object), the
bytes the stream rendered once for every viewer. A multiplexed connection writes its
own cursor (:mod:`webapp.delivery.cursor`, hashed) as each frame's id, so a
reconnect resumes every stream it carries. A resume also says where each upstream
stands (its status frame, without an id: it does not move the cursor).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from functools import partial

from webapp.delivery import cursor
from webapp.delivery.serve import PING, batches
from webapp.relay.frames import Frame
from webapp.relay.hub import Hub
from webapp.wire.streamkey import StreamKey


async def single_frames(
    hub: Hub, key: StreamKey, last_id: str | None
) -> AsyncGenerator[bytes, None]:
    with hub.watch([key], {key: last_id}) as viewing:
        stream = viewing.streams[key]
        resumed = stream.status_frame().body if last_id is not None else b""
        opening = _wire(viewing.take_first()) + resumed
        if opening:
            yield opening
        del opening, resumed  # not held while the viewer idles
        async with aclosing(batches(viewing.sub, _wire, PING, until_end=True)) as chunks:
            async for chunk in chunks:
                yield chunk


def _wire(frames: list[Frame]) -> bytes:
    """The frames' shared bytes, as one string. One input's frames reach every viewer of
    its stream together, so the last join is kept: the viewers after the first get the
    same bytes object (and the response frames it as a chunk once, not per viewer)."""
    global _last_wired
    if len(frames) == 1:
        return frames[0].wire
    last, wired = _last_wired
    if frames != last:  # identical frames compare by identity: cheap for the shared case
        wired = b"".join([frame.wire for frame in frames])
        _last_wired = (list(frames), wired)
    return wired


_last_wired: tuple[list[Frame], bytes] = ([], b"")


async def multiplexed_frames(
    hub: Hub, keys: list[StreamKey], positions: dict[StreamKey, str | None]
) -> AsyncGenerator[bytes, None]:
    at = {key: p for key, p in positions.items() if p is not None and p != cursor.UNRESUMABLE}
    with hub.watch(keys, positions) as viewing:
        resumed = b""
        if at:  # a resume: say where each upstream stands, without moving the cursor
            resumed = b"".join(stream.status_frame().body for stream in viewing.streams.values())
        moved = cursor.Hashed(keys, at)
        opening = _with_cursor(moved, viewing.take_first()) + resumed
        if opening:
            yield opening
        del opening, resumed  # not held while the viewer idles
        encode = partial(_with_cursor, moved)
        async with aclosing(batches(viewing.sub, encode, PING)) as chunks:
            async for chunk in chunks:
                yield chunk


def _with_cursor(moved: cursor.Hashed, frames: list[Frame]) -> bytes:
    """Each frame's shared body behind this connection's (hashed) cursor, moved past it."""
    chunks = []
    for frame in frames:
        assert frame.stream is not None  # every frame of a stream names it
        chunks.append(b"id: " + moved.move(frame.stream, frame.id) + b"\n" + frame.body)
    return b"".join(chunks)
