"""The JSON SSE API: one stream, or many multiplexed over one connection.

Every frame: ``id:``, ``event:`` (the type) and ``data:`` (one JSON object),
``\\n`` line endings. The resume position comes from ``Last-Event-ID`` or the
``last_event_id`` query parameter (htmx's SSE extension reconnects without
the header). See docs/api.md for the contract; the frames are written by
:mod:`webapp.delivery.jsonstream`.
"""

from __future__ import annotations

from functools import partial

from starlette.requests import Request
from starlette.responses import Response

from webapp.access.refusals import BadStreams
from webapp.delivery import cursor
from webapp.delivery.jsonstream import multiplexed_frames, single_frames
from webapp.delivery.serve import SSE, last_event_id, sse_response
from webapp.pages.known import refuse_unknown
from webapp.pages.orgpaths import org_of, route_key
from webapp.pages.state import app_state, record
from webapp.relay.hub import Hub
from webapp.wire.streamkey import (
    CAMPAIGN_RULE,
    DEFAULT_ORG,
    SID_RULE,
    BadStreamId,
    StreamKey,
    named_org,
)

MAX_MULTIPLEXED = 64


async def call_events(request: Request) -> Response | SSE:
    return await _single(request, route_key(request, "call", request.path_params["sid"]))


async def campaign_events(request: Request) -> Response | SSE:
    key = route_key(request, "campaign", request.path_params["campaign_id"])
    return await _single(request, key)


async def multiplexed_events(request: Request) -> Response | SSE:
    params = request.query_params
    named = [("call", s) for s in params.getlist("call")]
    named += [("campaign", c) for c in params.getlist("campaign")]
    keys = list(dict.fromkeys(named_key(request, kind, value) for kind, value in named))
    if not keys or len(keys) > MAX_MULTIPLEXED:
        raise BadStreams(MAX_MULTIPLEXED)
    await refuse_unknown(request, keys)
    for key in keys:  # every opening is audited; a resume folds into its viewing's entry
        await record(request, str(key), resume=last_event_id(request) is not None)
    hub: Hub = app_state(request).hub
    await hub.ready(keys)  # the streams exist: a hashed cursor is read against their epochs
    positions = cursor.decode(last_event_id(request), keys, partial(_epoch, hub))
    return sse_response(hub, multiplexed_frames(hub, keys, positions))


def _epoch(hub: Hub, key: StreamKey) -> str | None:
    stream = hub.streams.get(key)
    return stream.log.epoch if stream is not None else None


def named_key(request: Request, kind: str, value: str) -> StreamKey:
    """The stream a ``call=``/``campaign=`` value names: ``acme/CA1`` of organisation
    ``acme`` (one the dashboard serves: UnknownOrg otherwise), a bare id of the route's.
    The default organisation is never written as a prefix (``default/CA1`` is no id), as
    in every stream name (:meth:`StreamKey.parse`): its streams are named on its routes."""
    org, ident = named_org(value, org_of(request))
    if ident != value and org == DEFAULT_ORG:
        raise BadStreamId(SID_RULE if kind == "call" else CAMPAIGN_RULE)
    app_state(request).tenants.get(org)  # UnknownOrg: the 404 of an organisation not served
    return StreamKey.of(kind, ident, org)


async def _single(request: Request, key: StreamKey) -> Response | SSE:
    await refuse_unknown(request, [key])
    hub: Hub = app_state(request).hub
    last_id = last_event_id(request)
    await record(request, str(key), resume=last_id is not None)
    await hub.ready([key])
    stream = hub.stream(key)
    if stream.ended and last_id is not None and stream.log.since(last_id) == []:
        return Response(status_code=204)  # up to date with an ended stream: stop reconnecting
    return sse_response(hub, single_frames(hub, key, last_id))
