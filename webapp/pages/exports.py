"""The transcript so far, as plain text or JSON, for a supervisor to keep."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from webapp.pages.errorpages import unknown
from webapp.pages.state import app_state, record
from webapp.pages.templating import clock
from webapp.relay.callstate import CallState, segment_payload
from webapp.wire.rest import NotFound, RestError
from webapp.wire.streamkey import StreamKey

SPEAKERS = {"user": "Caller", "assistant": "Assistant"}
REPLAY_WAIT = 15.0  # bounds the wait for an ended call's replay (the stream bounds it too)


async def call_export(request: Request) -> Response:
    fmt = request.path_params["fmt"]
    key = StreamKey.call(request.path_params["sid"])
    if fmt not in ("txt", "json"):
        raise HTTPException(404, "Exports are .txt or .json.")
    if key in app_state(request).missing:
        raise unknown("call")
    segments = await _segments(request, key)
    await record(request, str(key))
    filename = f"transcript-{key.id}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if fmt == "json":
        return JSONResponse({"call_sid": key.id, "segments": segments}, headers=headers)
    return PlainTextResponse(as_text(segments), headers=headers)


async def _segments(request: Request, key: StreamKey) -> list[dict[str, Any]]:
    """From the live stream when one is held (it is the freshest), else from Burki's REST."""
    stream = app_state(request).hub.streams.get(key)
    if stream is not None and isinstance(stream.state, CallState):
        if stream.state.ended and not stream.ended:  # Burki is still replaying the ended call
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(REPLAY_WAIT):
                    await stream.finished.wait()
        return list(stream.state.segments)
    try:
        transcripts = await app_state(request).rest.transcripts(key.id)
    except NotFound:
        app_state(request).missing.note(key)
        raise unknown("call") from None
    except RestError as exc:
        raise HTTPException(502, f"Burki's transcript could not be fetched: {exc}") from None
    finals = [t for t in transcripts if t.is_final]
    return [segment_payload(t, i) for i, t in enumerate(finals)]


def as_text(segments: list[dict[str, Any]]) -> str:
    lines = []
    for seg in segments:
        when = clock(seg.get("created_at") or seg.get("at"))
        who = SPEAKERS.get(seg["speaker"], seg["speaker"])
        lines.append(f"[{when}] {who}: {seg['content']}" if when else f"{who}: {seg['content']}")
    return "\n".join(lines) + ("\n" if lines else "")
