"""The JSON SSE API: one stream, or many multiplexed over one connection.

Every frame: ``id:``, ``event:`` (the type) and ``data:`` (one JSON object),
``\\n`` line endings. The resume position comes from ``Last-Event-ID`` or the
``last_event_id`` query parameter (htmx's SSE extension reconnects without
the header). See docs/api.md for the contract.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from functools import partial

from starlette.requests import Request
from starlette.responses import Response

from webapp.pages.errorpages import json_error
from webapp.pages.known import first_unknown
from webapp.pages.state import app_state, record
from webapp.relay import cursor
from webapp.relay.frames import Frame
from webapp.relay.hub import Hub
from webapp.relay.serve import PING, SSE, batches, last_event_id, sse_response
from webapp.wire.streamkey import StreamKey

MAX_MULTIPLEXED = 64


async def call_events(request: Request) -> Response | SSE:
    return await _single(request, StreamKey.call(request.path_params["sid"]))


async def campaign_events(request: Request) -> Response | SSE:
    return await _single(request, StreamKey.campaign(request.path_params["campaign_id"]))


async def multiplexed_events(request: Request) -> Response | SSE:
    params = request.query_params
    keys = [StreamKey.call(s) for s in params.getlist("call")]
    keys += [StreamKey.campaign(c) for c in params.getlist("campaign")]
    keys = list(dict.fromkeys(keys))
    if not keys or len(keys) > MAX_MULTIPLEXED:
        return json_error(400, "bad_streams", f"name 1 to {MAX_MULTIPLEXED} streams")
    if (gone := await missing_answer(request, keys)) is not None:
        return gone
    positions = cursor.decode(last_event_id(request), keys)
    for key in keys:  # every opening is audited; a resume folds into its viewing's entry
        await record(request, str(key), resume=last_event_id(request) is not None)
    hub: Hub = app_state(request).hub
    await hub.ready(keys)
    return sse_response(hub, _multiplexed_frames(hub, keys, positions))


async def _single(request: Request, key: StreamKey) -> Response | SSE:
    if (gone := await missing_answer(request, [key])) is not None:
        return gone
    hub: Hub = app_state(request).hub
    last_id = last_event_id(request)
    await record(request, str(key), resume=last_id is not None)
    await hub.ready([key])
    stream = hub.stream(key)
    if stream.ended and last_id is not None and stream.log.since(last_id) == []:
        return Response(status_code=204)  # up to date with an ended stream: stop reconnecting
    return sse_response(hub, _single_frames(hub, key, last_id))


async def _single_frames(
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


async def missing_answer(request: Request, keys: list[StreamKey]) -> Response | None:
    """404 for an id Burki does not have (no upstream is opened for any of ``keys``)."""
    key = await first_unknown(request, keys)
    if key is not None:
        why = app_state(request).missing.why(key)  # e.g. this Burki has no campaigns at all
        return json_error(404, "not_found", why or f"Burki has no {key.kind} with the id {key.id}.")
    return None


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


async def _multiplexed_frames(
    hub: Hub, keys: list[StreamKey], positions: dict[StreamKey, str | None]
) -> AsyncGenerator[bytes, None]:
    at = {key: p for key, p in positions.items() if p is not None and p != cursor.UNRESUMABLE}
    with hub.watch(keys, positions) as viewing:
        resumed = b""
        if at:  # a resume: say where each upstream stands, without moving the cursor
            resumed = b"".join(stream.status_frame().body for stream in viewing.streams.values())
        moved = cursor.Compact(keys, at)
        opening = _with_cursor(moved, viewing.take_first()) + resumed
        if opening:
            yield opening
        del opening, resumed  # not held while the viewer idles
        encode = partial(_with_cursor, moved)
        async with aclosing(batches(viewing.sub, encode, PING)) as chunks:
            async for chunk in chunks:
                yield chunk


def _with_cursor(moved: cursor.Compact, frames: list[Frame]) -> bytes:
    """Each frame's shared body behind this connection's (compact) cursor, moved past it."""
    chunks = []
    for frame in frames:
        assert frame.stream is not None  # every frame of a stream names it
        chunks.append(b"id: " + moved.move(frame.stream, frame.id) + b"\n" + frame.body)
    return b"".join(chunks)
