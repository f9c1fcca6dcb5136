"""The live pages (call, captions, campaign, their embeds) and their HTML update streams.

A page renders the stream's state as it is now and connects its update stream
with ``last_event_id`` set to the id of that state, so the first update is
exactly the next event: nothing missed, nothing twice.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from webapp.access.wiring import principal_of, record
from webapp.pages import htmlsse, views
from webapp.pages.api import json_error, last_event_id, relay_response
from webapp.pages.templating import templates
from webapp.relay.campaignstate import CampaignState
from webapp.relay.frames import Frame
from webapp.relay.hub import Hub, HubClosed
from webapp.relay.stream import Stream
from webapp.wire.rest import NotFound, RestError, Unauthorized
from webapp.wire.streamkey import BadStreamId, StreamKey, quoted

T = TypeVar("T")

PAGE_VIEWS = {"call": views.CALL, "captions": views.CAPTIONS, "campaign": views.CAMPAIGN}


@dataclass(frozen=True, slots=True)
class LivePage:
    layout: str
    stream_url: str
    demo: bool
    embedded: bool


async def call_page(request: Request) -> Response:
    return await _call(request, views.CALL, "call.html", embedded=False)


async def captions_page(request: Request) -> Response:
    return await _call(request, views.CAPTIONS, "captions.html", embedded=False)


async def call_embed(request: Request) -> Response:
    return await _call(request, views.CALL, "call.html", embedded=True)


async def campaign_page(request: Request) -> Response:
    return await _campaign(request, embedded=False)


async def campaign_embed(request: Request) -> Response:
    return await _campaign(request, embedded=True)


async def _call(request: Request, view: views.View, template: str, embedded: bool) -> Response:
    key = _key(lambda: StreamKey.call(request.path_params["sid"]))
    await _check(request.app.state.rest.call(key.id), "call")
    stream = _stream(request, key)
    await record(request, str(key))
    return _render(request, stream, view, template, embedded)


async def _campaign(request: Request, embedded: bool) -> Response:
    key = _key(lambda: StreamKey.campaign(request.path_params["campaign_id"]))
    summary = await _check(request.app.state.rest.campaign(int(key.id)), "campaign")
    stream = _stream(request, key)
    if isinstance(stream.state, CampaignState) and stream.state.name is None and summary:
        stream.state.name = summary.name  # the stream fetches it too, but may not have yet
    await record(request, str(key))
    return _render(request, stream, views.CAMPAIGN, "campaign.html", embedded)


def _render(
    request: Request, stream: Stream, view: views.View, template: str, embedded: bool
) -> Response:
    stream.watch_view(view)
    route = "embed_live_updates" if embedded else "live_updates"
    url = request.url_for(route, view=view.name, kind=stream.key.kind, ident=quoted(stream.key.id))
    query = {"last_event_id": stream.log.last_id}
    who = principal_of(request)
    if embedded and who is not None and who.via == "embed":
        query["token"] = request.query_params["token"]  # the embed link authorises its stream
    page = LivePage(
        layout="embed.html" if embedded else "base.html",
        stream_url=f"{url.path}?{urlencode(query)}",
        demo=request.app.state.demo,
        embedded=embedded,
    )
    context = view.context(stream) | {"page": page}
    return templates.TemplateResponse(request, template, context)


def _key(make: Callable[[], StreamKey]) -> StreamKey:
    try:
        return make()
    except BadStreamId as exc:
        raise HTTPException(404, f"No such page: {exc}.") from None


async def _check(lookup: Awaitable[T], what: str) -> T | None:
    """The REST record, or the right error page: unknown id (404), key refused (502)."""
    try:
        return await lookup
    except NotFound:
        raise HTTPException(404, f"Burki has no {what} with this id.") from None
    except Unauthorized:
        raise HTTPException(502, "Burki refused the dashboard's API key.") from None
    except RestError:
        return None  # Burki's REST is down: the page still shows what the stream knows


def _stream(request: Request, key: StreamKey) -> Stream:
    try:
        return request.app.state.hub.stream(key)  # type: ignore[no-any-return]
    except HubClosed:
        raise HTTPException(503, "The dashboard is shutting down.") from None


async def live_updates(request: Request) -> Response:
    """The HTML update stream of one page view of one stream."""
    view = PAGE_VIEWS.get(request.path_params["view"])
    kind, ident = request.path_params["kind"], request.path_params["ident"]
    try:
        key = StreamKey.call(ident) if kind == "call" else StreamKey.campaign(ident)
    except BadStreamId as exc:
        return json_error(404, "bad_stream_id", str(exc))
    if view is None or kind not in ("call", "campaign"):
        return json_error(404, "not_found", "no such view")
    hub: Hub = request.app.state.hub
    frames = _html_frames(hub, key, view, last_event_id(request))
    return relay_response(request, frames)


async def _html_frames(
    hub: Hub, key: StreamKey, view: views.View, last_id: str | None
) -> AsyncGenerator[bytes, None]:
    stream = hub.stream(key)
    stream.watch_view(view)
    with hub.watch([key], {key: last_id}) as (sub, first):
        first = stream.for_view(first, view)
        opening = [
            htmlsse.with_id(f.id, _html(stream, view, f)) for f in first if f.type != "reset"
        ]
        if stream.ended:
            yield b"".join(opening) + htmlsse.END
            return
        if opening:
            yield b"".join(opening)
        while (batch := await sub.get_batch()) is not None:
            if not batch:
                yield htmlsse.HEARTBEAT
                continue
            yield b"".join(htmlsse.with_id(f.id, _html(stream, view, f)) for f in batch)
            if batch[-1].type == "end":
                yield htmlsse.END
                return


def _html(stream: Stream, view: views.View, frame: Frame) -> bytes:
    html = frame.html.get(view.name)
    if html is None:  # a snapshot, or a frame whose render failed: every region afresh
        return view.full(stream)
    return html
