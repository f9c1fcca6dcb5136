"""The wallboard: every ongoing call as a card, all over ONE SSE connection per page.

Browsers allow six HTTP/1.1 connections per origin, so a page that shows many
calls must not open a stream per call. One session attaches a single
subscriber to every ongoing call's stream and to the directory; when the
directory changes, cards are added and removed without a reload. The event id
is a cursor over every call shown (see :mod:`webapp.relay.cursor`), so a reconnect
resumes each card exactly, and the cursor also tells which cards the browser
already has.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from webapp.access.wiring import record
from webapp.pages import htmlsse, views
from webapp.pages.api import last_event_id, relay_response
from webapp.pages.directory import Directory
from webapp.pages.templating import dom_id, render_block, templates
from webapp.relay import cursor
from webapp.relay.frames import Frame
from webapp.relay.hub import Hub
from webapp.relay.stream import Stream
from webapp.relay.subscriber import Subscriber
from webapp.wire.streamkey import BadStreamId, StreamKey

MAX_CARDS = 48


@dataclass(frozen=True, slots=True)
class WallboardPage:
    stream_url: str
    demo: bool
    error: str | None


async def page(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    directory: Directory = request.app.state.directory
    if not directory.loaded:
        await directory.refresh()
    await record(request, "wallboard")
    streams = [hub.stream(key) for key in _wanted(directory)]
    positions = {}
    for stream in streams:
        stream.watch_view(views.CARD)
        positions[stream.key] = stream.log.last_id
    url = request.url_for("wallboard_updates").path
    query = f"?last_event_id={cursor.encode(positions)}" if positions else ""
    context = {
        "page": WallboardPage(url + query, request.app.state.demo, directory.error),
        "cards": [views.CARD.context(s) for s in streams],
    }
    return templates.TemplateResponse(request, "wallboard.html", context)


async def updates(request: Request) -> Response:
    session = _Session(request.app.state.hub, request.app.state.directory, request)
    return relay_response(request, session.run())


def _wanted(directory: Directory) -> list[StreamKey]:
    keys = []
    for call in directory.calls[:MAX_CARDS]:
        try:
            keys.append(StreamKey.call(call.call_sid))
        except BadStreamId:
            continue  # Burki listed an id we cannot name: skip it, never crash the board
    return keys


def _positions(text: str | None) -> dict[StreamKey, str]:
    """The cards the browser has, and where each stands: only well-formed call entries."""
    found = {}
    for name, position in cursor.entries(text).items():
        try:
            key = StreamKey.parse(name)
        except BadStreamId:
            continue
        if key.kind == "call":
            found[key] = position
    return found


class _Session:
    """One browser's wallboard connection. Owns nothing but its subscriber's attachments."""

    def __init__(self, hub: Hub, directory: Directory, request: Request) -> None:
        self.hub = hub
        self.directory = directory
        self.sub = Subscriber(hub.config.viewer_queue, hub.config.heartbeat)
        self.at = _positions(last_event_id(request))  # the cards the browser shows
        self.attached: dict[StreamKey, Stream] = {}

    async def run(self) -> AsyncGenerator[bytes, None]:
        self.directory.watch(self.sub)
        try:
            yield b"".join(self._sync())
            while (batch := await self.sub.get_batch()) is not None:
                yield b"".join(self._chunks(batch)) if batch else htmlsse.HEARTBEAT
        finally:
            self.directory.unwatch(self.sub)
            for stream in self.attached.values():
                stream.detach(self.sub)

    def _chunks(self, batch: list[Frame]) -> list[bytes]:
        chunks: list[bytes] = []
        for frame in batch:
            if frame.type == "directory":
                chunks += self._sync()
            elif (key := StreamKey.parse(frame.data["stream"])) in self.attached:
                chunks.append(self._card_frame(key, frame))
        return chunks

    def _sync(self) -> list[bytes]:
        """Attach to new calls, detach from gone ones; the HTML that brings the page along."""
        wanted = _wanted(self.directory)
        chunks = []
        for key in [k for k in {*self.attached, *self.at} if k not in wanted]:
            if (stream := self.attached.pop(key, None)) is not None:
                stream.detach(self.sub)
            self.at.pop(key, None)
            chunks.append(htmlsse.message(htmlsse.partial(f"#card-{dom_id(key.id)}", "delete", "")))
        for key in wanted:
            if key not in self.attached:
                chunks += self._attach(key)
        return chunks

    def _attach(self, key: StreamKey) -> list[bytes]:
        stream = self.hub.stream(key)
        stream.watch_view(views.CARD)
        first = stream.attach(self.sub, self.at.get(key))
        self.attached[key] = stream
        chunks = []
        if key not in self.at:  # a card the browser does not have yet
            card = render_block("wallboard.html", "card", views.CARD.context(stream))
            chunks.append(htmlsse.message(htmlsse.partial("#cards", "beforeend", card)))
        first = stream.for_view(first, views.CARD)
        chunks += [self._card_frame(key, f) for f in first if f.type != "reset"]
        return chunks

    def _card_frame(self, key: StreamKey, frame: Frame) -> bytes:
        self.at[key] = frame.id
        html = frame.html.get("card") or views.CARD.full(self.attached[key])
        return b"id: " + cursor.encode(self.at).encode() + b"\n" + html
