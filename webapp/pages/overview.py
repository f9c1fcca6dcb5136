"""The overview: ongoing calls and running campaigns, filtered, updating live.

The lists come from the directory (Burki's REST lists, polled while watched).
The update stream re-renders both tables, with the viewer's own filters, each
time the directory changes; the first message brings a reconnecting page up to
date, so it needs no event ids.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable
from contextlib import aclosing
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from webapp.access.auth import Principal
from webapp.access.wiring import principal_of
from webapp.calls.callstate import CallState
from webapp.calls.campaignstate import CampaignState
from webapp.delivery import htmlsse
from webapp.delivery.serve import SSE, batches, sse_response
from webapp.pages.attention import (
    attention_reasons,
    attention_scores,
    call_keys,
    follow,
    needs_attention,
    redraws,
)
from webapp.pages.callers import call_name
from webapp.pages.state import app_state, record
from webapp.pages.templating import render_block, templates
from webapp.relay.frames import Frame
from webapp.relay.hub import Hub, Viewing
from webapp.watch.directory import Directory
from webapp.wire.rest import CallSummary, CampaignSummary
from webapp.wire.streamkey import BadStreamId, StreamKey

MAX_QUERY = 100
MAX_ALERTS_SHOWN = 20
OVERVIEW = "overview"  # what the audit log says the page and its stream showed


@dataclass(frozen=True, slots=True)
class Filters:
    q: str = ""
    status: str = ""
    assistant: str = ""
    sort: str = "attention"  # "attention" (highest score first) or "listed" (Burki's order)

    @classmethod
    def of(cls, request: Request) -> Filters:
        params = request.query_params
        q, status, assistant = (
            params.get(name, "").strip()[:MAX_QUERY] for name in ("q", "status", "assistant")
        )
        sort = "listed" if params.get("sort") == "listed" else "attention"
        return cls(q, status, assistant, sort)

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


def ongoing_alerts(directory: Directory, calls: list[CallSummary]) -> list[dict[str, Any]]:
    """The recent alerts of calls still going on (an ended call needs nobody now): the
    first screen stays on what needs a supervisor; the alert history has the rest."""
    ongoing = {c.call_sid for c in calls}
    return [a for a in directory.alerts if a.get("ident") in ongoing][:MAX_ALERTS_SHOWN]


def call_names(
    calls: list[CallSummary], hub: Hub | None, others: Iterable[str] = ()
) -> dict[str, str]:
    """Each call's name on screen (caller and assistant) by SID: from Burki's list, and for
    ``others`` it no longer has (ended calls) from the call's open stream, if any."""
    names = {c.call_sid: call_name(c.customer_phone, c.assistant_name, c.call_sid) for c in calls}
    for sid in others:
        if sid in names or hub is None:
            continue
        try:
            stream = hub.streams.get(StreamKey.call(sid))
        except BadStreamId:
            continue
        if stream is not None and isinstance(stream.state, CallState):
            info = stream.state.info
            names[sid] = call_name(info.caller, info.assistant_name or stream.assistant_hint, sid)
    return names


def live_campaigns(campaigns: list[CampaignSummary], hub: Hub | None) -> list[CampaignSummary]:
    """The listed campaigns, with the status their open stream knows (fresher than the
    list, polled every few seconds): one that finished shows as finished at once."""
    shown = []
    for c in campaigns:
        stream = hub.streams.get(StreamKey.campaign(str(c.id))) if hub is not None else None
        state = stream.state if stream is not None else None
        if isinstance(state, CampaignState) and state.status not in ("unknown", c.status):
            c = replace(c, status=state.status)
        shown.append(c)
    return shown


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
    hub: Hub | None,
    threshold: int,
    quiet: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Each role sees only what it may: calls for call roles, campaigns for campaign roles."""
    sees_calls = who is not None and who.may("call")
    sees_campaigns = who is not None and who.may("campaign")
    calls = directory.calls if sees_calls else []
    campaigns = directory.campaigns if sees_campaigns else []
    scores = attention_scores(hub, calls) if hub is not None else {}
    shown = [c for c in calls if filters.keep_call(c)]
    if filters.sort == "attention":
        shown.sort(key=lambda c: -scores.get(c.call_sid, 0))
    return {
        "calls": shown,
        "scores": scores,
        "reasons": attention_reasons(hub, calls) if hub is not None else {},
        "campaigns": live_campaigns([c for c in campaigns if filters.keep_campaign(c)], hub),
        "total_calls": len(calls),
        "total_campaigns": len(campaigns),
        "statuses": sorted({c.status for c in calls} | {c.status for c in campaigns}),
        "assistants": sorted({a for a in (c.assistant_name for c in calls) if a}),
        "filters": filters,
        "error": directory.error if sees_calls else None,
        "campaign_error": directory.campaign_error,
        "has_campaigns": directory.has_campaigns,
        "alerts": ongoing_alerts(directory, calls) if sees_calls else [],
        "all_alerts": len(directory.alerts) if sees_calls else 0,
        "names": call_names(calls, hub),  # the alerts shown are of these calls
        "sees_calls": sees_calls,
        "sees_campaigns": sees_campaigns,
        "needs": needs_attention(hub, calls, threshold) if hub is not None else [],
        "threshold": threshold,
        "quiet_calls": quiet,
        "listing": listing_state(directory),
    }


def listing_state(directory: Directory) -> dict[str, str]:
    """The overview's connection line: whether Burki's lists are being read, in words."""
    if directory.error:
        return {"state": "error", "message": "Burki's call list could not be read."}
    every = f"{directory.interval:g}"
    return {"state": "live", "message": f"Connected to Burki: its lists are read every {every} s."}


async def page(request: Request) -> Response:
    directory: Directory = app_state(request).directory
    if not directory.loaded:
        await directory.refresh()
    filters = Filters.of(request)
    query = urlencode({k: v for k, v in vars_of(filters).items() if v})
    url = request.url_for("overview_updates").path + (f"?{query}" if query else "")
    page = OverviewPage(app_state(request).demo, url, filters)
    who = principal_of(request)
    await record(request, OVERVIEW, once=True)  # caller numbers, which keywords were said
    running = app_state(request)
    if who is not None and who.may("call"):
        await running.hub.ready(call_keys(directory.calls))  # scores come as the page connects
    ctx = context(
        directory, filters, who, running.hub, running.attention_threshold, quiet_calls(running.hub)
    )
    return templates.TemplateResponse(request, "index.html", ctx | {"page": page})


async def alert_history(request: Request) -> Response:
    """Every alert still kept (the newest first), ongoing calls or not, by call name."""
    directory: Directory = app_state(request).directory
    if not directory.loaded:
        await directory.refresh()
    await record(request, "alert history", once=True)  # callers' numbers, what they said
    hub = app_state(request).hub
    context = {
        "alerts": list(directory.alerts),
        "names": call_names(directory.calls, hub, (a.get("ident", "") for a in directory.alerts)),
        "ongoing": {c.call_sid for c in directory.calls},
        "page": OverviewPage(app_state(request).demo, "", Filters()),
    }
    return templates.TemplateResponse(request, "alerts.html", context)


def vars_of(filters: Filters) -> dict[str, str]:
    return {
        "q": filters.q,
        "status": filters.status,
        "assistant": filters.assistant,
        "sort": filters.sort,
    }


async def updates(request: Request) -> Response | SSE:
    who = principal_of(request)
    running = app_state(request)
    await record(request, OVERVIEW, once=True)  # the page's view: not again per reconnect
    filters = Filters.of(request)
    frames = _Tables(running.hub, running.directory, filters, who, running.attention_threshold)
    return sse_response(running.hub, frames.run())


class _Tables:
    """One overview connection: the tables on each directory change, the attention list on
    each change of an ongoing call's figures or claim (calls followed for call roles only)."""

    def __init__(
        self,
        hub: Hub,
        directory: Directory,
        filters: Filters,
        who: Principal | None,
        threshold: int,  # the attention list's cut-off (ATTENTION_THRESHOLD)
    ) -> None:
        self.hub, self.directory, self.filters, self.who = hub, directory, filters, who
        self.threshold = threshold
        self.calls = who is not None and who.may("call")

    async def run(self) -> AsyncGenerator[bytes, None]:
        with self.hub.watch([], {}) as viewing:
            self.directory.watch(viewing.sub)
            try:
                self._follow(viewing)
                yield self._render(BLOCKS)

                def encode(batch: list[Frame]) -> bytes:
                    if any(frame.type == "directory" for frame in batch):
                        self._follow(viewing)
                        return self._render(BLOCKS)
                    return self._render(("needs", "calls")) if redraws(batch) else b""

                async with aclosing(batches(viewing.sub, encode, htmlsse.HEARTBEAT)) as chunks:
                    async for chunk in chunks:
                        if chunk:
                            yield chunk
            finally:
                self.directory.unwatch(viewing.sub)

    def _follow(self, viewing: Viewing) -> None:
        follow(viewing, call_keys(self.directory.calls) if self.calls else [])

    def _render(self, blocks: tuple[str, ...]) -> bytes:
        quiet = quiet_calls(self.hub)
        ctx = context(self.directory, self.filters, self.who, self.hub, self.threshold, quiet)
        return htmlsse.message(
            "".join(
                htmlsse.partial(f"#{block}", "outerHTML", render_block("index.html", block, ctx))
                for block in blocks
            )
        )


BLOCKS = ("listing", "needs", "alerts", "calls", "campaigns")
