"""The transcript so far, as plain text or JSON, for a supervisor to keep (and the JSON API).

Redacted like everything else. ``?unredacted=1`` asks for the text Burki sent:
only the roles of ``REDACTION_UNREDACT_ROLES`` may, every such request is
written to the audit log (``call:<sid> unredacted``), and it is rendered for
that one request, never cached or shared.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from webapp.access.wiring import principal_of
from webapp.calls.callstate import CallState, segment_payload
from webapp.calls.change import iso
from webapp.calls.redactor import CallRedactor
from webapp.pages.callers import caller_text
from webapp.pages.known import UnknownId, refuse_foreign
from webapp.pages.orgpaths import route_key, tenant_of
from webapp.pages.state import app_state, record
from webapp.pages.templating import clock
from webapp.wire.fields import parse_timestamp
from webapp.wire.rest import NotFound, RestError
from webapp.wire.streamkey import StreamKey

SPEAKERS = {"user": "Caller", "assistant": "Assistant"}
REPLAY_WAIT = 15.0  # bounds the wait for an ended call's replay (the stream bounds it too)


async def call_export(request: Request) -> Response:
    fmt = request.path_params["fmt"]
    key = route_key(request, "call", request.path_params["sid"])
    if fmt not in ("txt", "json"):
        raise HTTPException(404, "Exports are .txt or .json.")
    raw = unredacted_asked(request)
    segments = await _opened(request, key, raw)
    # Never the same name as the redacted file: a download must not replace it unseen.
    filename = f"transcript-{key.id}{'-UNREDACTED' if raw else ''}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{quote(filename)}"'}
    if fmt == "json":
        body = {"call_sid": key.id, "redacted": not raw, "segments": segments}
        return JSONResponse(body, headers=headers)
    about = await _about(request, key)
    return PlainTextResponse(header(key.id, about, raw) + as_text(segments), headers=headers)


async def _about(request: Request, key: StreamKey) -> dict[str, str]:
    """The call's caller, assistant and start, from its stream, else from Burki's REST."""
    stream = app_state(request).hub.streams.get(key)
    if stream is not None and isinstance(stream.state, CallState):
        info, metadata = stream.state.info, stream.state.metadata
        return {
            "caller": info.caller,
            "assistant": info.assistant_name or stream.assistant_hint or "",
            "started": str(metadata.get("started_at") or ""),
        }
    try:
        summary = await tenant_of(request, key).rest.call(key.id)
    except RestError:
        return {}
    started = iso(summary.started_at) or ""
    return {
        "caller": summary.customer_phone or "",
        "assistant": summary.assistant_name or "",
        "started": started,
    }


def header(sid: str, about: dict[str, str], raw: bool) -> str:
    """The export's first lines: which call, whose, when; and whether it is redacted."""
    started = parse_timestamp(about.get("started"))
    when = started.strftime("%Y-%m-%d %H:%M:%S UTC") if started else "unknown"
    lines = [
        f"Call: {sid}",
        f"Caller: {caller_text(about.get('caller')) or 'unknown'}",
        f"Assistant: {about.get('assistant') or 'unknown'}",
        f"Date: {when}",
        "Redaction: NONE (unredacted export, audited)" if raw else "Redaction: on",
    ]
    return "\n".join(lines) + "\n\n"


async def api_transcript(request: Request) -> Response:
    """``GET /api/calls/{sid}/transcript``: the final segments as JSON."""
    key = route_key(request, "call", request.path_params["sid"])
    raw = unredacted_asked(request)
    segments = await _opened(request, key, raw)
    return JSONResponse({"call_sid": key.id, "redacted": not raw, "segments": segments})


def may_unredact(request: Request) -> bool:
    """Whether this request's principal may see unredacted text (and redaction is on)."""
    who = principal_of(request)
    state = app_state(request)
    return state.redaction.enabled and who is not None and who.role in state.unredact_roles


def unredacted_asked(request: Request) -> bool:
    """True when the request asks for unredacted text and may have it; 403 when it asks
    and may not."""
    if request.query_params.get("unredacted") not in ("1", "true", "yes"):
        return False
    if not app_state(request).redaction.enabled:
        return False  # nothing is redacted: the ordinary text is the unredacted text
    if not may_unredact(request):
        raise HTTPException(403, "Your role may not see unredacted transcripts.")
    return True


async def _opened(request: Request, key: StreamKey, raw: bool) -> list[dict[str, Any]]:
    """The segments, and the audit entry for this read (``call:<sid> unredacted`` when raw)."""
    refuse_foreign(request, key)  # another organisation's id: nothing asked of Burki
    missing = tenant_of(request, key).missing
    if key in missing:
        raise UnknownId(key, missing.why(key))
    segments = await _segments(request, key, raw)
    await record(request, f"{key} unredacted" if raw else str(key))
    return segments


async def _segments(request: Request, key: StreamKey, raw: bool) -> list[dict[str, Any]]:
    """From the live stream when one is held (it is the freshest), else from Burki's REST
    (whose failure, a RestError, is the error map's 502)."""
    state = app_state(request)
    stream = state.hub.streams.get(key)
    if stream is not None and isinstance(stream.state, CallState):
        if stream.state.ended and not stream.ended:  # Burki is still replaying the ended call
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(REPLAY_WAIT):
                    await stream.finished.wait()
        return stream.state.unredacted_segments() if raw else list(stream.state.segments)
    try:
        transcripts = await tenant_of(request, key).rest.transcripts(key.id)
    except NotFound:
        tenant_of(request, key).missing.note(key)
        raise UnknownId(key) from None
    finals = [t for t in transcripts if t.is_final]
    if state.redaction.enabled and not raw:
        finals = CallRedactor(state.redaction).redact_all(finals)
    return [segment_payload(t, i) for i, t in enumerate(finals)]


def as_text(segments: list[dict[str, Any]]) -> str:
    lines = []
    for seg in segments:
        when = clock(seg.get("created_at") or seg.get("at"))
        who = SPEAKERS.get(seg["speaker"], seg["speaker"])
        lines.append(f"[{when}] {who}: {seg['content']}" if when else f"{who}: {seg['content']}")
    return "\n".join(lines) + ("\n" if lines else "")
