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

from webapp.delivery import cursor, htmlsse
from webapp.delivery.serve import SSE, batches, last_event_id, sse_response
from webapp.pages import views
from webapp.pages.attention import call_keys
from webapp.pages.state import app_state, record
from webapp.pages.templating import dom_id, render_block, templates
from webapp.relay.frames import Frame
from webapp.relay.hub import Hub, Viewing
from webapp.watch.directory import Directory
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


async def page(request: Request) -> Response:
    return await _board(request, embedded=False)


async def embed_page(request: Request) -> Response:
    """The wallboard for an intranet page, opened by a wallboard embed link."""
    return await _board(request, embedded=True)


async def _board(request: Request, embedded: bool) -> Response:
    hub: Hub = app_state(request).hub
    directory: Directory = app_state(request).directory
    if not directory.loaded:
        await directory.refresh()
    await record(request, "wallboard")
    view = BoardView.of(request)
    if embedded:
        view = BoardView(view.sort, view.assistant)  # no TV mode: the intranet page lays it out
    await hub.ready(_wanted(directory, view))
    streams = [hub.stream(key) for key in _wanted(directory, view)]
    positions = {}
    for stream in streams:
        stream.watch_view(views.CARD)
        positions[stream.key] = stream.log.last_id
    url = request.url_for("wallboard_embed_updates" if embedded else "wallboard_updates").path
    resume = {"last_event_id": cursor.encode(positions)} if positions else {}
    query = urlencode(
        ({"assistant": view.assistant} if view.assistant else {})
        | resume
        | ({"token": request.query_params.get("token", "")} if embedded else {})
    )
    tv_url = request.url_for("wallboard").path + "?" + view.query(tv="1")
    board = WallboardPage(
        url + (f"?{query}" if query else ""),
        app_state(request).demo,
        directory.error,
        view,
        tv_url,
        app_state(request).attention_threshold,
        app_state(request).actions.capabilities.notes().get("end_call", ""),
        embedded=embedded,
        layout="embed.html" if embedded else "base.html",
    )
    context = {
        "page": board,
        "cards": [views.CARD.context(s) for s in streams],
    }
    return templates.TemplateResponse(request, "wallboard.html", context)


async def embed_updates(request: Request) -> Response | SSE:
    """The embedded board's stream: the same as the signed-in board's (the gate checked the
    link, and checks it again while the stream is open)."""
    return await updates(request)


async def updates(request: Request) -> Response | SSE:
    await record(request, "wallboard", resume=last_event_id(request) is not None)
    directory: Directory = app_state(request).directory
    if not directory.loaded:  # a resume on a node that shows no board yet: no card is gone
        await directory.refresh()
    hub: Hub = app_state(request).hub
    view = BoardView.of(request)
    session = _Session(hub, app_state(request).directory, last_event_id(request), view)
    return sse_response(hub, session.run())


def _wanted(directory: Directory, view: BoardView) -> list[StreamKey]:
    return call_keys([c for c in directory.calls if view.keeps(c)], MAX_CARDS)


def _positions(text: str | None) -> dict[StreamKey, str]:
    """The cards the browser has, and where each stands: only well-formed call entries."""
    return {key: at for key, at in cursor.entries(text).items() if key.kind == "call"}


class _Session:
    """One browser's wallboard connection: one viewer of many streams and of the directory."""

    def __init__(
        self, hub: Hub, directory: Directory, last_id: str | None, view: BoardView
    ) -> None:
        self.hub = hub
        self.directory = directory
        self.view = view
        self.at = _positions(last_id)  # the cards the browser shows

    async def run(self) -> AsyncGenerator[bytes, None]:
        await self.hub.ready(_wanted(self.directory, self.view))
        with self.hub.watch([], {}, views.CARD) as viewing:
            self.directory.watch(viewing.sub)
            try:
                yield b"".join(self._sync(viewing))
                encode = partial(self._chunks, viewing)
                async with aclosing(batches(viewing.sub, encode, htmlsse.HEARTBEAT)) as chunks:
                    async for chunk in chunks:
                        yield chunk
            finally:
                self.directory.unwatch(viewing.sub)

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
        wanted = _wanted(self.directory, self.view)
        chunks = []
        for key in [k for k in {*viewing.streams, *self.at} if k not in wanted]:
            viewing.detach(key)
            self.at.pop(key, None)
            chunks.append(htmlsse.message(htmlsse.partial(f"#card-{dom_id(key.id)}", "delete", "")))
        for key in wanted:
            if key not in viewing.streams:
                chunks += self._attach(viewing, key)
        return chunks

    def _attach(self, viewing: Viewing, key: StreamKey) -> list[bytes]:
        first = viewing.attach(key, self.at.get(key))
        chunks = []
        if key not in self.at:  # a card the browser does not have yet
            card = render_block("wallboard.html", "card", views.CARD.context(viewing.streams[key]))
            chunks.append(htmlsse.message(htmlsse.partial("#cards", "beforeend", card)))
        chunks += [self._card_frame(viewing, key, f) for f in first if f.type != "reset"]
        return chunks

    def _card_frame(self, viewing: Viewing, key: StreamKey, frame: Frame) -> bytes:
        self.at[key] = frame.id
        html = frame.html.get("card") or views.CARD.full(viewing.streams[key])
        return b"id: " + cursor.encode(self.at).encode() + b"\n" + html
