"""The live pages (call, captions, campaign, their embeds) and their HTML update streams.

A page renders the stream's state as it is now and connects its update stream
with ``last_event_id`` set to the id of that state, so the first update is
exactly the next event: nothing missed, nothing twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from webapp.access.wiring import principal_of
from webapp.delivery.pagestream import html_frames
from webapp.delivery.serve import SSE, last_event_id, sse_response
from webapp.pages import actions, exports, views
from webapp.pages.capabilities import CANNOT
from webapp.pages.history import FORM_TIME
from webapp.pages.known import UnknownId, refuse_foreign, refuse_unknown
from webapp.pages.orgpaths import path_for, route_key, tenant_of
from webapp.pages.state import app_state, record
from webapp.pages.templating import templates
from webapp.relay.hub import Hub
from webapp.relay.stream import Stream
from webapp.store.database import StoreUnavailable
from webapp.store.records import CallSummary
from webapp.wire.rest import NotFound, RestError, Unauthorized
from webapp.wire.streamkey import StreamKey, quoted

T = TypeVar("T")

PAGE_VIEWS = {"call": views.CALL, "captions": views.CAPTIONS, "campaign": views.CAMPAIGN}
VIEW_KINDS = {"call": "call", "captions": "call", "campaign": "campaign"}  # what each view shows


STORED_WAIT = 1.0  # seconds a call page waits for its stored summary


@dataclass(frozen=True, slots=True)
class LivePage:
    layout: str
    stream_url: str
    demo: bool
    embedded: bool
    may_unredact: bool = False
    may_end: bool = False  # the viewer's role may end calls
    cannot_end: str = ""  # this Burki cannot end calls: says so
    may_control: bool = False  # the viewer's role may pause, resume, stop campaigns
    cannot_control: str = ""
    stored: CallSummary | None = None  # an ended call's summary, as the history keeps it

    @property
    def stored_alerts(self) -> str:
        """The query of the Alerts page for the stored call's day up to its end."""
        if self.stored is None:
            return ""
        end = self.stored.ended_at + timedelta(minutes=1)
        since = end - timedelta(hours=24)
        return urlencode({"since": since.strftime(FORM_TIME), "until": end.strftime(FORM_TIME)})


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
    key = route_key(request, "call", request.path_params["sid"])
    rest = tenant_of(request, key).rest
    await _check(request, key, lambda: rest.call(key.id))
    await app_state(request).hub.ready([key])
    stream = app_state(request).hub.stream(key)
    await record(request, str(key))
    stored = await _stored(request, key) if not embedded else None
    return _render(request, stream, view, template, embedded, stored)


async def _stored(request: Request, key: StreamKey) -> CallSummary | None:
    """The call's summary in the history, its own organisation's (None: not ended, or no
    history, or unreachable).

    The live page never waits long for it: not at all while the history's writer finds
    the database away, and at most ``STORED_WAIT`` seconds otherwise."""
    history = app_state(request).history
    if history is None or history.recorder.unreachable:
        return None
    try:
        return await asyncio.wait_for(history.rows.call(key.id, key.org), STORED_WAIT)
    except (StoreUnavailable, TimeoutError):
        return None  # the live page goes on without it


async def _campaign(request: Request, embedded: bool) -> Response:
    key = route_key(request, "campaign", request.path_params["campaign_id"])
    rest = tenant_of(request, key).rest
    summary = await _check(request, key, lambda: rest.campaign(int(key.id)))
    await app_state(request).hub.ready([key])
    stream = app_state(request).hub.stream(key)
    if summary is not None:
        stream.name_campaign(summary.name)  # the stream fetches it too, but may not have yet
    await record(request, str(key))
    return _render(request, stream, views.CAMPAIGN, "campaign.html", embedded)


def _render(
    request: Request,
    stream: Stream,
    view: views.View,
    template: str,
    embedded: bool,
    stored: CallSummary | None = None,
) -> Response:
    stream.watch_view(view)
    route = "embed_live_updates" if embedded else "live_updates"
    key = stream.key
    path = path_for(request, route, key.org, view=view.name, kind=key.kind, ident=quoted(key.id))
    query = {"last_event_id": stream.log.last_id}
    who = principal_of(request)
    if embedded and who is not None and who.via == "embed":
        query["token"] = request.query_params["token"]  # the embed link authorises its stream
    page = LivePage(
        layout="embed.html" if embedded else "base.html",
        stream_url=f"{path}?{urlencode(query)}",
        demo=app_state(request).demo,
        embedded=embedded,
        may_unredact=not embedded and exports.may_unredact(request),
        stored=stored,
        **_may_act(request, embedded),
    )
    context = view.context(stream) | {"page": page}
    return templates.TemplateResponse(request, template, context)


def _may_act(request: Request, embedded: bool) -> dict[str, Any]:
    """Which action buttons this viewer gets, and what this Burki is known to lack."""
    who = principal_of(request)
    if embedded or who is None or who.via not in actions.PEOPLE:
        return {}
    policy = app_state(request).actions
    lacks = policy.capabilities.lacks
    return {
        "may_end": who.role in policy.end_call_roles,
        "cannot_end": CANNOT["end_call"] if lacks("end_call") else "",
        "may_control": who.role in policy.campaign_roles,
        "cannot_control": CANNOT["campaign_control"] if lacks("campaign_control") else "",
    }


async def _check(request: Request, key: StreamKey, ask: Callable[[], Awaitable[T]]) -> T | None:
    """The REST record; raises UnknownId (404) or Unauthorized (502): see the error map's
    rule for Burki's REST (``webapp.pages.errorpages``).

    A 404 is remembered for a while and concurrent lookups share one REST call
    (:mod:`webapp.watch.missing`): no upstream is opened for the id meanwhile. Another
    organisation's id is refused first, without any request (``webapp.pages.known``).
    """
    refuse_foreign(request, key)
    missing = tenant_of(request, key).missing
    try:
        return await missing.lookup(key, ask)
    except NotFound as failed:
        raise UnknownId(key, missing.why(key, failed)) from None
    except Unauthorized:
        raise  # the page would sit empty: said at once
    except RestError:
        return None  # Burki's REST is down: the page still shows what the stream knows


async def live_updates(request: Request) -> Response | SSE:
    """The HTML update stream of one page view of one stream."""
    view = PAGE_VIEWS.get(request.path_params["view"])
    kind, ident = request.path_params["kind"], request.path_params["ident"]
    key = route_key(request, "call" if kind == "call" else "campaign", ident)
    if view is None or VIEW_KINDS[view.name] != kind:
        raise HTTPException(404, "no such view")  # nor a view of another kind
    await refuse_unknown(request, [key])
    hub: Hub = app_state(request).hub
    last_id = last_event_id(request)
    await record(request, str(key), resume=last_id is not None)
    await hub.ready([key])
    return sse_response(hub, html_frames(hub, key, view, last_id))
