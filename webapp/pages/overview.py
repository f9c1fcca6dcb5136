"""The overview: ongoing calls and running campaigns, filtered, updating live.

The lists come from the directories (Burki's REST lists, polled while watched): one
organisation's (``/o/{org}/``), or every one the person may see (``/``), merged and
sorted by attention across them (:mod:`webapp.pages.overviewcontext`). The update
stream re-renders the tables, with the viewer's own filters, each time any shown
directory changes; the first message brings a reconnecting page up to date, so it
needs no event ids.
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
from webapp.access.streamguard import on_renewal
from webapp.access.wiring import principal_of
from webapp.delivery import htmlsse
from webapp.delivery.serve import SSE, batches, sse_response
from webapp.orgs.tenants import Tenants
from webapp.pages.attention import call_keys, follow, redraws
from webapp.pages.orgscope import (
    Scope,
    may_see,
    page_base,
    record_shown,
    rescoped,
    rewatch,
    scope_of,
)
from webapp.pages.overviewcontext import (
    Filters,
    Shown,
    call_names,
    context,
    org_alerts,
    shown_parts,
)
from webapp.pages.state import app_state
from webapp.pages.templating import render_block, templates
from webapp.relay.frames import Frame, render
from webapp.relay.hub import Hub, Viewing
from webapp.wire.streamkey import StreamKey

OVERVIEW = "overview"  # what the audit log says the page and its stream showed


@dataclass(frozen=True, slots=True)
class OverviewPage:
    demo: bool
    stream_url: str
    filters: Filters
    home: str = ""  # the filter form's target: this page (empty: the overview of all)


@dataclass(frozen=True, slots=True)
class AlertHistoryContext:
    """``alerts.html``: every alert still kept, newest first, each with its call's name."""

    alerts: list[dict[str, Any]]
    names: dict[StreamKey, str]
    ongoing: frozenset[StreamKey]
    bases: dict[str, str]  # each organisation's path prefix
    tags: dict[str, str]  # each organisation's name where the page shows several
    page: OverviewPage


async def _loaded(parts: list[Shown]) -> None:
    for part in parts:
        if not part.directory.loaded:
            await part.directory.refresh()


def _followed(parts: list[Shown]) -> list[StreamKey]:
    return [key for p in parts if p.sees_calls for key in call_keys(p.calls, org=p.slug)]


async def page(request: Request) -> Response:
    scope = scope_of(request, "any")
    parts = shown_parts(scope, principal_of(request))
    await _loaded(parts)
    filters = Filters.of(request)
    query = urlencode(filters.query())
    base = page_base(scope)
    url = f"{base}/overview/updates" + (f"?{query}" if query else "")
    page = OverviewPage(app_state(request).demo, url, filters, f"{base}/" if base else "")
    await record_shown(request, scope, OVERVIEW, once=True)  # numbers, keywords said
    running = app_state(request)
    await running.hub.ready(_followed(parts))  # scores come as the page connects
    ctx = context(parts, filters, running.hub, running.attention_threshold, scope.tagged, base)
    return templates.TemplateResponse(request, "index.html", ctx.template() | {"page": page})


async def alert_history(request: Request) -> Response:
    """Every alert still kept (the newest first), ongoing calls or not, by call name."""
    scope = scope_of(request, "call")
    parts = [p for p in shown_parts(scope, principal_of(request)) if p.sees_calls]
    await _loaded(parts)
    await record_shown(request, scope, "alert history", once=True)  # numbers, words said
    hub = app_state(request).hub
    alerts = [a for p in parts for a in org_alerts(p.directory, p.slug)]
    if len(parts) > 1:  # newest first across organisations
        alerts.sort(key=lambda a: str(a.get("at") or ""), reverse=True)
    names: dict[StreamKey, str] = {}
    for p in parts:
        mine = (str(a.get("ident", "")) for a in org_alerts(p.directory, p.slug))
        for sid, name in call_names(p.calls, hub, p.slug, mine).items():
            names[StreamKey("call", sid, p.slug)] = name
    context = AlertHistoryContext(
        alerts=alerts,
        names=names,
        ongoing=frozenset(StreamKey("call", c.call_sid, p.slug) for p in parts for c in p.calls),
        bases={p.slug: p.base for p in parts},
        tags={p.slug: p.tag for p in parts},
        page=OverviewPage(app_state(request).demo, "", Filters()),
    )
    fields = {name: getattr(context, name) for name in context.__dataclass_fields__}
    return templates.TemplateResponse(request, "alerts.html", fields)


async def updates(request: Request) -> Response | SSE:
    scope = scope_of(request, "any")
    running = app_state(request)
    await record_shown(request, scope, OVERVIEW, once=True)  # not again per reconnect
    filters = Filters.of(request)
    parts = shown_parts(scope, principal_of(request))
    await _loaded(parts)  # a stream opened without its page (or on another node) starts whole
    frames = _Tables(running.hub, scope, parts, filters, running.attention_threshold)
    if scope.named is None:  # every organisation the person may see: narrowed while open
        frames.tenants = running.tenants
        on_renewal(request.scope, frames.renewed)
    return sse_response(running.hub, frames.run())


class _Tables:
    """One overview connection: the tables on each change of a shown directory, the
    attention list on each change of an ongoing call's figures or claim (calls followed
    for call roles only, in each organisation shown)."""

    def __init__(
        self,
        hub: Hub,
        scope: Scope,
        parts: list[Shown],
        filters: Filters,
        threshold: int,  # the attention list's cut-off (ATTENTION_THRESHOLD)
    ) -> None:
        self.hub, self.scope, self.parts, self.filters = hub, scope, parts, filters
        self.threshold = threshold
        self.tenants: Tenants | None = None  # what narrows the page while open (renewed)
        self.viewing: Viewing | None = None  # while the stream runs

    async def run(self) -> AsyncGenerator[bytes, None]:
        with self.hub.watch([], {}) as viewing:
            self.viewing = viewing
            for part in self.parts:
                part.directory.watch(viewing.sub)
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
                self.viewing = None
                for part in self.parts:
                    part.directory.unwatch(viewing.sub)

    def renewed(self, who: object) -> bool:
        """The stream's re-check found ``who``: what they may no longer see (an organisation
        whose grant was revoked or that was removed; calls or campaigns a changed role does
        not watch) leaves the tables at once: the calls followed for it are let go, and the
        next message draws the tables without it. Never more than the page showed."""
        principal = who if isinstance(who, Principal) else None
        if self.tenants is None:
            return True
        now = rescoped(self.scope, self.tenants, principal, "any")
        was = {p.slug: p for p in self.parts}
        parts = [
            Shown(
                t,
                now.name_of(t.slug),
                was[t.slug].sees_calls and may_see(principal, t.slug, "call"),
                was[t.slug].sees_campaigns and may_see(principal, t.slug, "campaign"),
            )
            for t in now.shown
        ]
        if parts == self.parts:
            return True
        before, self.scope, self.parts = self.scope, now, parts
        viewing = self.viewing
        if viewing is not None:
            rewatch(before, now, viewing.sub)
            self._follow(viewing)
            viewing.sub.offer(render("", "directory", {}))  # in its turn: the tables, redrawn
        return True

    def _follow(self, viewing: Viewing) -> None:
        follow(viewing, _followed(self.parts))

    def _render(self, blocks: tuple[str, ...]) -> bytes:
        base = page_base(self.scope)
        ctx = context(self.parts, self.filters, self.hub, self.threshold, self.scope.tagged, base)
        fields = ctx.template()
        return htmlsse.message(
            "".join(
                htmlsse.partial(f"#{block}", "outerHTML", render_block("index.html", block, fields))
                for block in blocks
            )
        )


BLOCKS = ("listing", "needs", "alerts", "calls", "campaigns")
