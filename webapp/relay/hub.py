"""The hub: one :class:`Stream` per call or campaign per process, shared by every viewer.

The first viewer of a key creates its stream and starts its upstream; every
later viewer shares it. A stream retires itself (grace period after its last
viewer, or linger after its end) through :meth:`Hub._retire`. The app's
lifespan owns the hub and calls :meth:`close` on shutdown, which ends every
stream and awaits every task.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from webapp.relay.config import Integrations, RelayConfig
from webapp.relay.frames import Frame
from webapp.relay.metrics import Metrics
from webapp.relay.ports import FrameView, SourceBook
from webapp.relay.stream import Stream
from webapp.relay.subscriber import Subscriber
from webapp.wire.streamkey import StreamKey

log = logging.getLogger(__name__)


class HubClosed(Exception):
    """The hub is shutting down and takes no new viewers."""

    def __init__(self, message: str = "The dashboard is shutting down.") -> None:
        super().__init__(message)


class Viewing:
    """One viewer's subscriber and the streams it is attached to (made by :meth:`Hub.watch`)."""

    def __init__(self, hub: Hub, sub: Subscriber, view: FrameView | None) -> None:
        self.hub = hub
        self.sub = sub
        self.view = view
        self.first: list[Frame] = []
        self.streams: dict[StreamKey, Stream] = {}

    def take_first(self) -> list[Frame]:
        """The frames to send first, handed over once: an idle viewer must not keep its
        opening snapshot (the biggest thing it would hold) for as long as it watches."""
        first, self.first = self.first, []
        return first

    def attach(self, key: StreamKey, last_id: str | None) -> list[Frame]:
        """Attach to the stream of ``key`` (created on first use); what to send first.

        Raises :class:`HubClosed` when the hub takes no new viewers.
        """
        stream = self.hub.stream(key)
        if self.view is not None:
            stream.watch_view(self.view)
        self.streams[key] = stream
        first = stream.attach(self.sub, last_id)
        return stream.for_view(first, self.view) if self.view is not None else first

    def detach(self, key: StreamKey) -> None:
        stream = self.streams.pop(key, None)
        if stream is not None:
            stream.detach(self.sub)


class Hub:
    def __init__(
        self,
        sources: SourceBook,
        config: RelayConfig,
        metrics: Metrics,
        integrations: Integrations | None = None,
    ) -> None:
        self.sources = sources
        self.config = config
        self.metrics = metrics
        self.integrations = integrations
        self.streams: dict[StreamKey, Stream] = {}
        self.closed = False
        metrics.watch(lambda: list(self.streams.values()))

    def stream(self, key: StreamKey) -> Stream:
        """The stream for ``key``, created and started on first use."""
        if self.closed:
            raise HubClosed
        stream = self.streams.get(key)
        if stream is None:
            stream = Stream(
                key,
                self.sources.of(key),
                self.config,
                self.metrics,
                self._retire,
                self.integrations,
            )
            self.streams[key] = stream
            stream.start()
        return stream

    def hold(self, key: StreamKey, held: bool = True, *, grace: bool = True) -> Stream | None:
        """Keep the stream of ``key`` open with no viewer (created on first use), or let it
        go (``held=False``: it retires as a viewerless stream does, or at once without
        ``grace``). None: no such stream to let go. Raises :class:`HubClosed` when holding
        on a closing hub."""
        stream = self.stream(key) if held else self.streams.get(key)
        if stream is not None:
            stream.hold(held, grace=grace)
        return stream

    async def ready(self, keys: Iterable[StreamKey]) -> None:
        """The streams of ``keys``, started, each holding what the cluster published so far.

        Alone this returns at once; in a cluster a node that just started a stream
        first reads the stream's shared inputs, so that a page or a resume sees the
        same state and the same event ids as on every other node.
        """
        links = [s.link for s in map(self.stream, keys) if s.link is not None]
        if links:
            await asyncio.gather(*(link.caught_up() for link in links))

    @contextmanager
    def watch(
        self,
        keys: list[StreamKey],
        positions: dict[StreamKey, str | None],
        view: FrameView | None = None,
    ) -> Iterator[Viewing]:
        """One viewer: a subscriber attached to every stream in ``keys``; detached on exit.

        ``positions`` holds the viewer's last event id per stream (None: new);
        ``view``, when given, is the page view each stream renders its frames
        for. The :class:`Viewing` holds the frames to send first, stream by
        stream, and attaches or detaches more streams as the viewer's page changes.
        """
        viewing = Viewing(self, Subscriber(self.config.viewer_queue, self.config.heartbeat), view)
        for key in keys:
            viewing.first += viewing.attach(key, positions.get(key))
        self.metrics.viewer_sessions.inc()
        try:
            yield viewing
        finally:
            for key in list(viewing.streams):
                viewing.detach(key)
            if viewing.sub.closed_reason is None:
                viewing.sub.close("viewer left")

    async def _retire(self, stream: Stream) -> None:
        if self.streams.get(stream.key) is stream:
            del self.streams[stream.key]
        log.info("stream %s retired", stream.key)
        await stream.close("retired")

    async def end_org(
        self, org: str, message: str, reason: str, *, sources: object | None = None
    ) -> int:
        """End every stream of organisation ``org`` (only those reading ``sources``, when
        given): each viewer is shown ``message`` in band (a ``status`` of state ``error``),
        then its response ends with ``reason``. How many streams ended.

        For an organisation removed, or whose key changed: the caller has taken its
        sources out of the source book first, so no new stream opens with them meanwhile.
        """
        ending = [
            stream
            for key, stream in self.streams.items()
            if key.org == org and (sources is None or stream.sources is sources)
        ]
        for stream in ending:
            del self.streams[stream.key]
            stream.show_local_status("error", message)
        for stream in ending:
            log.info("stream %s ended: %s", stream.key, reason)
            await stream.close(reason)
        return len(ending)

    def release_viewers(self) -> None:
        """End every viewer's response now (shutdown begins); new viewers are refused."""
        self.closed = True
        for stream in self.streams.values():
            for sub in list(stream.subscribers):
                sub.close("shutdown")

    async def close(self) -> None:
        """End every stream and await its tasks. Later viewers get :class:`HubClosed`."""
        self.closed = True
        streams = list(self.streams.values())
        self.streams.clear()
        for stream in streams:
            await stream.close("shutdown")
