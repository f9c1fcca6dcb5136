"""The overview: ongoing calls and running campaigns, filtered, updating live.

The lists come from the directory (Burki's REST lists, polled while watched).
The update stream re-renders both tables, with the viewer's own filters, each
time the directory changes; the first message brings a reconnecting page up to
date, so it needs no event ids.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from webapp.access.auth import Principal
from webapp.access.wiring import principal_of
from webapp.pages import htmlsse
from webapp.pages.directory import Directory
from webapp.pages.state import app_state
from webapp.pages.templating import render_block, templates
from webapp.relay.callstate import CallState
from webapp.relay.frames import Frame
from webapp.relay.hub import Hub
from webapp.relay.serve import SSE, batches, sse_response
from webapp.relay.subscriber import Subscriber
from webapp.wire.rest import CallSummary, CampaignSummary

MAX_QUERY = 100
MAX_ALERTS_SHOWN = 20


@dataclass(frozen=True, slots=True)
class Filters:
    q: str = ""
    status: str = ""
    assistant: str = ""

    @classmethod
    def of(cls, request: Request) -> Filters:
        params = request.query_params
        return cls(
            *(params.get(name, "").strip()[:MAX_QUERY] for name in ("q", "status", "assistant"))
        )

    def keep_call(self, call: CallSummary) -> bool:
        text = self.q.lower()
        found = not text or any(
            text in (value or "").lower()
            for value in (call.call_sid, call.customer_phone, call.twilio_phone)
        )
        return found and self._matches(call.status, call.assistant_name)

    def keep_campaign(self, campaign: CampaignSummary) -> bool:
        text = self.q.lower()
        found = not text or text in campaign.name.lower() or text == str(campaign.id)
        return found and self._matches(campaign.status, campaign.assistant_name)

    def _matches(self, status: str, assistant: str | None) -> bool:
        return (not self.status or status == self.status) and (
            not self.assistant or assistant == self.assistant
        )


@dataclass(frozen=True, slots=True)
class OverviewPage:
    demo: bool
    stream_url: str
    filters: Filters


def quiet_calls(hub: Hub) -> frozenset[str]:
    """The calls whose open stream says "no activity" (nothing said for a long while)."""
    return frozenset(
        key.id
        for key, stream in list(hub.streams.items())
        if isinstance(stream.state, CallState) and stream.state.no_activity
    )


def context(
    directory: Directory,
    filters: Filters,
    who: Principal | None,
    quiet: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Each role sees only what it may: calls for call roles, campaigns for campaign roles."""
    sees_calls = who is not None and who.role.can_watch("call")
    sees_campaigns = who is not None and who.role.can_watch("campaign")
    calls = directory.calls if sees_calls else []
    campaigns = directory.campaigns if sees_campaigns else []
    return {
        "calls": [c for c in calls if filters.keep_call(c)],
        "campaigns": [c for c in campaigns if filters.keep_campaign(c)],
        "total_calls": len(calls),
        "total_campaigns": len(campaigns),
        "statuses": sorted({c.status for c in calls} | {c.status for c in campaigns}),
        "assistants": sorted({a for a in (c.assistant_name for c in calls) if a}),
        "filters": filters,
        "error": directory.error if sees_calls else None,
        "campaign_error": directory.campaign_error,
        "has_campaigns": directory.has_campaigns,
        "alerts": list(directory.alerts)[:MAX_ALERTS_SHOWN] if sees_calls else [],
        "sees_calls": sees_calls,
        "sees_campaigns": sees_campaigns,
        "quiet_calls": quiet,
    }


async def page(request: Request) -> Response:
    directory: Directory = app_state(request).directory
    if not directory.loaded:
        await directory.refresh()
    filters = Filters.of(request)
    query = urlencode({k: v for k, v in vars_of(filters).items() if v})
    url = request.url_for("overview_updates").path + (f"?{query}" if query else "")
    page = OverviewPage(app_state(request).demo, url, filters)
    who = principal_of(request)
    ctx = context(directory, filters, who, quiet_calls(app_state(request).hub))
    return templates.TemplateResponse(request, "index.html", ctx | {"page": page})


def vars_of(filters: Filters) -> dict[str, str]:
    return {"q": filters.q, "status": filters.status, "assistant": filters.assistant}


async def updates(request: Request) -> Response | SSE:
    who = principal_of(request)
    every = app_state(request).hub.config.heartbeat
    state = app_state(request)
    frames = _tables(state.directory, state.hub, Filters.of(request), who, every)
    return sse_response(state.hub, frames)


async def _tables(
    directory: Directory, hub: Hub, filters: Filters, who: Principal | None, every: float
) -> AsyncGenerator[bytes, None]:
    sub = Subscriber(8, every)
    directory.watch(sub)
    try:

        def tables(_: list[Frame]) -> bytes:  # any change: both tables afresh
            return _render(directory, hub, filters, who)

        yield _render(directory, hub, filters, who)
        async with aclosing(batches(sub, tables, htmlsse.HEARTBEAT)) as chunks:
            async for chunk in chunks:
                yield chunk
    finally:
        directory.unwatch(sub)


def _render(directory: Directory, hub: Hub, filters: Filters, who: Principal | None) -> bytes:
    ctx = context(directory, filters, who, quiet_calls(hub))
    return htmlsse.message(
        "".join(
            htmlsse.partial(f"#{block}", "outerHTML", render_block("index.html", block, ctx))
            for block in ("alerts", "calls", "campaigns")
        )
    )
