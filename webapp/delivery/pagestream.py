"""The HTML update stream of one page view of one stream (the live pages and their embeds).

The page rendered the stream's state as of an id and asks for what follows it: first
what the viewer missed since (a snapshot as every region afresh; a reset is not sent,
the snapshot after it redraws everything), then each batch as one write. Each frame
is the view's HTML that the stream rendered once for every viewer, behind its id; the
stream's ``end`` ends the response.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Protocol

from webapp.delivery import htmlsse
from webapp.delivery.serve import batches
from webapp.relay.frames import Frame
from webapp.relay.hub import Hub
from webapp.relay.ports import FrameView
from webapp.relay.stream import Stream
from webapp.wire.streamkey import StreamKey


class PageView(FrameView, Protocol):
    """A page's view of a stream (``webapp.pages.views.View``): each region afresh, too."""

    def full(self, stream: Stream) -> bytes: ...


async def html_frames(
    hub: Hub, key: StreamKey, view: PageView, last_id: str | None
) -> AsyncGenerator[bytes, None]:
    with hub.watch([key], {key: last_id}, view) as viewing:
        stream = viewing.streams[key]

        def html(frames: list[Frame]) -> bytes:
            return b"".join(htmlsse.with_id(f.id, _html(stream, view, f)) for f in frames)

        def encode(batch: list[Frame]) -> bytes:
            return html(batch) + (htmlsse.END if batch[-1].type == "end" else b"")

        opening = html([f for f in viewing.take_first() if f.type != "reset"])
        if stream.ended:
            yield opening + htmlsse.END
            return
        if opening:
            yield opening
        del opening  # not held while the viewer idles
        async with aclosing(
            batches(viewing.sub, encode, htmlsse.HEARTBEAT, until_end=True)
        ) as chunks:
            async for chunk in chunks:
                yield chunk


def _html(stream: Stream, view: PageView, frame: Frame) -> bytes:
    html = frame.html.get(view.name)
    if html is None:  # a snapshot, or a frame whose render failed: every region afresh
        return view.full(stream)
    return html
