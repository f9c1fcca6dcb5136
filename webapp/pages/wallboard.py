"""The wallboard: every ongoing call as a card, all over ONE SSE connection per page.

Browsers allow six HTTP/1.1 connections per origin, so a page that shows many
calls must not open a stream per call. One session attaches a single
subscriber to every ongoing call's stream and to the directory; when the
directory changes, cards are added and removed without a reload. The event id
is a cursor over every call shown (see :mod:`webapp.delivery.cursor`), so a reconnect
resumes each card exactly, and the cursor also tells which cards the browser
already has.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass
from functools import partial
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from webapp.access.auth import Principal
from webapp.access.streamguard import on_renewal
from webapp.delivery import cursor, htmlsse
from webapp.delivery.serve import SSE, batches, last_event_id, sse_response
from webapp.orgs.tenants import Tenant, Tenants
from webapp.pages import views
from webapp.pages.attention import call_keys
from webapp.pages.orgscope import Scope, page_base, record_shown, rescoped, rewatch, scope_of
from webapp.pages.state import app_state
from webapp.pages.templating import render_block, templates
from webapp.relay.frames import Frame, render
from webapp.relay.hub import Hub, Viewing
from webapp.wire.rest import CallSummary
from webapp.wire.streamkey import StreamKey

MAX_CARDS = 48
SORTS = ("attention", "started")
TV_PAGE_SECONDS = 12


@dataclass(frozen=True, slots=True)
class BoardView:
    """How this board shows its cards, all from the URL so a saved link reopens the same view.

    ``sort``: ``attention`` (most points first, claimed calls last) or ``started``
    (Burki's order); ``assistant``: only calls whose assistant name contains it;
    ``tv``: no navigation, large type, pages through the cards (a page every
    ``every`` seconds, 2 to 300, default 12).
    """

    sort: str = "attention"
    assistant: str = ""
    tv: bool = False
    page_seconds: int = TV_PAGE_SECONDS

    @classmethod
    def of(cls, request: Request) -> BoardView:
        params = request.query_params
        sort = params.get("sort", "attention")
        every = params.get("every", "")
        return cls(
            sort=sort if sort in SORTS else "attention",
            assistant=params.get("assistant", "").strip()[:100],
            tv=params.get("tv") in ("1", "true", "yes"),
            page_seconds=min(max(int(every), 2), 300) if every.isdigit() else TV_PAGE_SECONDS,
        )

    def query(self, **changes: object) -> str:
        every = str(self.page_seconds) if self.page_seconds != TV_PAGE_SECONDS else ""
        values = {"sort": self.sort, "assistant": self.assistant, "tv": "1" if self.tv else ""}
        values["every"] = every
        values |= {k: str(v) for k, v in changes.items()}
        return urlencode({k: v for k, v in values.items() if v})

    def keeps(self, call: CallSummary) -> bool:
        wanted = self.assistant.casefold()
        return not wanted or wanted in (call.assistant_name or "").casefold()


@dataclass(frozen=True, slots=True)
class WallboardPage:
    stream_url: str
    demo: bool
    error: str | None
    view: BoardView
    tv_url: str
    threshold: int  # the attention score that counts as "needs attention" (TV summary)
    cannot_end: str = ""  # this Burki cannot end calls: the cards' End call links are hidden
    embedded: bool = False  # an embed link's board: no navigation, no actions
    layout: str = "base.html"
    home: str = ""  # the filter form's target: this board (empty: the board of all)


async def page(request: Request) -> Response:
    return await _board(request, embedded=False)


async def embed_page(request: Request) -> Response:
    """The wallboard for an intranet page, opened by a wallboard embed link."""
    return await _board(request, embedded=True)


async def _board(request: Request, embedded: bool) -> Response:
    hub: Hub = app_state(request).hub
    scope = scope_of(request, "call")
    await _loaded(scope)
    await record_shown(request, scope, "wallboard")
    view = BoardView.of(request)
    if embedded:
        view = BoardView(view.sort, view.assistant)  # no TV mode: the intranet page lays it out
    card = card_view(scope, app_state(request).tenants)
    await hub.ready(_wanted(scope, view, hub))
    streams = [hub.stream(key) for key in _wanted(scope, view, hub)]
    positions = {}
    for stream in streams:
        stream.watch_view(card)
        positions[stream.key] = stream.log.last_id
    base = page_base(scope)
    url = (
        base + request.url_for("wallboard_embed_updates" if embedded else "wallboard_updates").path
    )
    resume = {"last_event_id": cursor.encode(positions)} if positions else {}
    query = urlencode(
        ({"assistant": view.assistant} if view.assistant else {})
        | resume
        | ({"token": request.query_params.get("token", "")} if embedded else {})
    )
    tv_url = base + request.url_for("wallboard").path + "?" + view.query(tv="1")
    board = WallboardPage(
        url + (f"?{query}" if query else ""),
        app_state(request).demo,
        _error(scope),
        view,
        tv_url,
        app_state(request).attention_threshold,
        app_state(request).actions.capabilities.notes().get("end_call", ""),
        embedded=embedded,
        layout="embed.html" if embedded else "base.html",
        home=f"{base}/wallboard" if base else "",
    )
    context = {"page": board, "cards": [card.build(s) for s in streams]}
    return templates.TemplateResponse(request, "wallboard.html", context)


async def embed_updates(request: Request) -> Response | SSE:
    """The embedded board's stream: the same as the signed-in board's (the gate checked the
    link, and checks it again while the stream is open)."""
    return await updates(request)


async def updates(request: Request) -> Response | SSE:
    scope = scope_of(request, "call")
    await record_shown(request, scope, "wallboard", resume=last_event_id(request) is not None)
    await _loaded(scope)  # a resume on a node that shows no board yet: no card is gone
    hub: Hub = app_state(request).hub
    view = BoardView.of(request)
    tenants = app_state(request).tenants
    card = card_view(scope, tenants)
    session = _Session(hub, scope, last_event_id(request), view, card, tenants)
    if scope.named is None:  # every organisation the person may see: narrowed while open
        on_renewal(request.scope, session.renewed)
    return sse_response(hub, session.run())


async def _loaded(scope: Scope) -> None:
    for tenant in scope.shown:
        if not tenant.directory.loaded:
            await tenant.directory.refresh()


def _error(scope: Scope) -> str | None:
    """The lists that could not be read (each named where the board shows several)."""
    errors = [
        f"{scope.name_of(t.slug)}: {t.directory.error}" if scope.tagged else t.directory.error
        for t in scope.shown
        if t.directory.error
    ]
    return " ".join(errors) or None


def card_view(scope: Scope, tenants: Tenants) -> views.View:
    """The cards' view: tagged with their organisation where the board shows several."""
    return views.tagged_card(partial(_org_name, tenants)) if scope.tagged else views.CARD


def _org_name(tenants: Tenants, slug: str) -> str:
    found = tenants.find(slug)
    return found.org.name if found is not None else slug


def _wanted(scope: Scope, view: BoardView, hub: Hub) -> list[StreamKey]:
    """The calls the board shows: one organisation's first ``MAX_CARDS`` in Burki's
    order; of several, the ``MAX_CARDS`` that need attention most (then Burki's order)."""
    keys = [key for t in scope.shown for key in _listed(t, view)]
    if scope.tagged:
        keys.sort(key=lambda key: -_score(hub, key))
    return keys[:MAX_CARDS]


def _listed(tenant: Tenant, view: BoardView) -> list[StreamKey]:
    calls = [c for c in tenant.directory.calls if view.keeps(c)]
    return call_keys(calls, MAX_CARDS, tenant.slug)


def _score(hub: Hub, key: StreamKey) -> int:
    stream = hub.streams.get(key)
    if stream is None or stream.health is None:
        return 0
    return int((stream.health.current().get("attention") or {}).get("score", 0))


class _EveryOrg:
    """Every organisation's slug, to read a cursor's entries whatever they name."""

    def __contains__(self, slug: object) -> bool:
        return True


def _strays(text: str | None, orgs: frozenset[str]) -> bool:
    """Whether the browser's cursor names cards of organisations the board does not show
    (any more: a grant revoked, an organisation removed, while it was away)."""
    return any(key.org not in orgs for key in cursor.entries(text, _EveryOrg()))


CLEAR = htmlsse.message(htmlsse.partial("#cards", "innerHTML", ""))


def _positions(text: str | None, orgs: frozenset[str]) -> dict[StreamKey, str]:
    """The cards the browser has, and where each stands: only well-formed call entries of
    the organisations the board shows."""
    found = cursor.entries(text, orgs)
    return {key: at for key, at in found.items() if key.kind == "call" and key.org in orgs}


class _Session:
    """One browser's wallboard connection: one viewer of many streams and of the directory."""

    def __init__(
        self,
        hub: Hub,
        scope: Scope,
        last_id: str | None,
        view: BoardView,
        card: views.View,
        tenants: Tenants,
    ) -> None:
        self.hub = hub
        self.scope = scope
        self.view = view
        self.card = card
        self.tenants = tenants
        self.at = _positions(last_id, scope.slugs)  # the cards the browser shows
        # Cards of an organisation no longer shown are on the page: it is drawn anew, from
        # no card (whose ids the cursor holds are not echoed back), exact resume given up.
        self.clear = _strays(last_id, scope.slugs)
        if self.clear:
            self.at = {}
        self.viewing: Viewing | None = None  # while the stream runs

    async def run(self) -> AsyncGenerator[bytes, None]:
        await self.hub.ready(self._wanted())
        with self.hub.watch([], {}, self.card) as viewing:
            self.viewing = viewing
            for tenant in self.scope.shown:
                tenant.directory.watch(viewing.sub)
            try:
                yield (CLEAR if self.clear else b"") + b"".join(self._sync(viewing))
                encode = partial(self._chunks, viewing)
                async with aclosing(batches(viewing.sub, encode, htmlsse.HEARTBEAT)) as chunks:
                    async for chunk in chunks:
                        yield chunk
            finally:
                self.viewing = None
                for tenant in self.scope.shown:
                    tenant.directory.unwatch(viewing.sub)

    def renewed(self, who: object) -> bool:
        """The stream's re-check found ``who``: an organisation they may no longer see (a
        grant revoked, a role that no longer watches calls, an organisation removed) leaves
        the board at once: its streams are let go before another frame of theirs is
        written, and the next message deletes its cards. False (the stream ends): nothing
        is left to show, as a new request would be refused."""
        principal = who if isinstance(who, Principal) else None
        now = rescoped(self.scope, self.tenants, principal, "call")
        before, self.scope = self.scope, now
        viewing = self.viewing
        if viewing is not None and now.shown != before.shown:
            rewatch(before, now, viewing.sub)
            for key in [k for k in viewing.streams if k.org not in now.slugs]:
                viewing.detach(key)
            viewing.sub.offer(render("", "directory", {}))  # in its turn: the cards go
        return bool(now.shown)

    def _wanted(self) -> list[StreamKey]:
        return _wanted(self.scope, self.view, self.hub)

    def _chunks(self, viewing: Viewing, batch: list[Frame]) -> bytes:
        chunks: list[bytes] = []
        for frame in batch:
            if frame.type == "directory":
                chunks += self._sync(viewing)
            elif frame.stream in viewing.streams:
                chunks.append(self._card_frame(viewing, frame.stream, frame))
        return b"".join(chunks)

    def _sync(self, viewing: Viewing) -> list[bytes]:
        """Attach to new calls, detach from gone ones; the HTML that brings the page along."""
        wanted = self._wanted()
        chunks = []
        for key in [k for k in {*viewing.streams, *self.at} if k not in wanted]:
            viewing.detach(key)
            self.at.pop(key, None)
            chunks.append(htmlsse.message(htmlsse.partial(f"#{views.card_id(key)}", "delete", "")))
        for key in wanted:
            if key not in viewing.streams:
                chunks += self._attach(viewing, key)
        return chunks

    def _attach(self, viewing: Viewing, key: StreamKey) -> list[bytes]:
        first = viewing.attach(key, self.at.get(key))
        chunks = []
        if key not in self.at:  # a card the browser does not have yet
            card = render_block("wallboard.html", "card", self.card.context(viewing.streams[key]))
            chunks.append(htmlsse.message(htmlsse.partial("#cards", "beforeend", card)))
        chunks += [self._card_frame(viewing, key, f) for f in first if f.type != "reset"]
        return chunks

    def _card_frame(self, viewing: Viewing, key: StreamKey, frame: Frame) -> bytes:
        self.at[key] = frame.id
        html = frame.html.get(self.card.name) or self.card.full(viewing.streams[key])
        return b"id: " + cursor.encode(self.at).encode() + b"\n" + html
