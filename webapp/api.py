"""The JSON SSE API: one stream, or many multiplexed over one connection.

Every frame: ``id:``, ``event:`` (the type) and ``data:`` (one JSON object),
``\\n`` line endings. The resume position comes from ``Last-Event-ID`` or the
``last_event_id`` query parameter (htmx's SSE extension reconnects without
the header). See the README's "JSON SSE API" for the contract.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any

from sse_starlette import EventSourceResponse
from sse_starlette.sse import SendTimeoutError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from webapp import cursor
from webapp.access import record
from webapp.frames import Frame
from webapp.hub import Hub, HubClosed
from webapp.metrics import Metrics
from webapp.streamkey import BadStreamId, StreamKey

MAX_MULTIPLEXED = 64


def json_error(status: int, error: str, message: str) -> JSONResponse:
    return JSONResponse({"error": error, "message": message}, status_code=status)


async def call_events(request: Request) -> Response:
    return await _single(request, lambda: StreamKey.call(request.path_params["sid"]))


async def campaign_events(request: Request) -> Response:
    return await _single(request, lambda: StreamKey.campaign(request.path_params["campaign_id"]))


async def multiplexed_events(request: Request) -> Response:
    params = request.query_params
    try:
        keys = [StreamKey.call(s) for s in params.getlist("call")]
        keys += [StreamKey.campaign(c) for c in params.getlist("campaign")]
    except BadStreamId as exc:
        return json_error(400, "bad_stream_id", str(exc))
    keys = list(dict.fromkeys(keys))
    if not keys or len(keys) > MAX_MULTIPLEXED:
        return json_error(400, "bad_streams", f"name 1 to {MAX_MULTIPLEXED} streams")
    positions = cursor.decode(last_event_id(request), keys)
    if last_event_id(request) is None:
        for key in keys:
            await record(request, str(key))
    return relay_response(request, _multiplexed_frames(request.app.state.hub, keys, positions))


async def _single(request: Request, make_key: object) -> Response:
    try:
        key = make_key()  # type: ignore[operator]
    except BadStreamId as exc:
        return json_error(400, "bad_stream_id", str(exc))
    hub: Hub = request.app.state.hub
    last_id = last_event_id(request)
    if last_id is None:
        await record(request, str(key))
    try:
        stream = hub.stream(key)
    except HubClosed:
        return json_error(503, "shutting_down", "The dashboard is shutting down.")
    if stream.ended and last_id is not None and stream.log.since(last_id) == []:
        return Response(status_code=204)  # up to date with an ended stream: stop reconnecting
    return relay_response(request, _single_frames(hub, key, last_id))


def last_event_id(request: Request) -> str | None:
    value = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    return value or None


async def _single_frames(
    hub: Hub, key: StreamKey, last_id: str | None
) -> AsyncGenerator[bytes, None]:
    with hub.watch([key], {key: last_id}) as (sub, first):
        for frame in first:
            yield frame.wire
        stream = hub.streams.get(key)
        if last_id is not None and stream is not None:
            yield stream.status_frame().body
        while (next_frame := await sub.get()) is not None:
            yield next_frame.wire
            if next_frame.type == "end":
                return


async def _multiplexed_frames(
    hub: Hub, keys: list[StreamKey], positions: dict[StreamKey, str | None]
) -> AsyncGenerator[bytes, None]:
    at = {key: p for key, p in positions.items() if p is not None and p != cursor.UNRESUMABLE}
    with hub.watch(keys, positions) as (sub, first):
        for frame in first:
            yield _with_cursor(at, frame)
        if at:  # a resume: say where each upstream stands, without moving the cursor
            for stream in filter(None, map(hub.streams.get, keys)):
                yield stream.status_frame().body
        while (next_frame := await sub.get()) is not None:
            yield _with_cursor(at, next_frame)


def _with_cursor(at: dict[StreamKey, str], frame: Frame) -> bytes:
    """The frame's shared body behind this connection's cursor, moved past the frame."""
    at[StreamKey.parse(frame.data["stream"])] = frame.id
    return b"id: " + cursor.encode(at).encode() + b"\n" + frame.body


def relay_response(
    request: Request, frames: AsyncGenerator[bytes, None], **options: Any
) -> Response:
    """The SSE response every stream endpoint uses: heartbeat, stall timeout, no-store."""
    settings = request.app.state.settings
    return _RelayResponse(
        frames,
        request.app.state.metrics,
        ping=settings.relay_heartbeat,
        sep="\n",
        send_timeout=settings.relay_stall_timeout,
        headers={"Cache-Control": "no-store"},
        **options,
    )


class _RelayResponse(EventSourceResponse):
    """An SSE response that counts a viewer cut for stalling instead of raising.

    A send that times out after the frames ran out belongs to a viewer the
    stream already cut (queue full): it is not counted twice.
    """

    def __init__(
        self, content: AsyncGenerator[bytes, None], metrics: Metrics, **kwargs: Any
    ) -> None:
        self._exhausted = False
        super().__init__(self._track(content), **kwargs)
        self._metrics = metrics

    async def _track(self, content: AsyncGenerator[bytes, None]) -> AsyncIterator[bytes]:
        async with aclosing(content):  # close it now, not whenever it is collected
            async for chunk in content:
                yield chunk
        self._exhausted = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except SendTimeoutError:
            if not self._exhausted:
                self._metrics.viewer_cuts.labels("stalled").inc()
