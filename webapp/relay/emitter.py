"""A stream's way out: each change numbered once, rendered once, offered to every viewer.

:class:`Emitter` is the half of a :class:`~webapp.relay.stream.Stream` that its viewers
see: the replay log that numbers frames, the page views that render each frame once
(from the call's or campaign's features at that moment, never from the stream), the
webhooks, and the viewers. The stream's input side (its features, upstream and timers)
hands it changes and supplies :meth:`snapshot`'s content.

The frames one input makes are held (:meth:`holding`) and reach each viewer in one
offer, as one write: each keeps its own id, so resume is exactly as frame by frame.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from webapp.calls.callstate import CallState
from webapp.calls.campaignstate import CampaignState
from webapp.calls.change import EVENTS_VERSION, Change
from webapp.calls.pipeline import Features, Seen
from webapp.relay.bulletin import Bulletin
from webapp.relay.frames import Frame, render
from webapp.relay.metrics import Metrics
from webapp.relay.outbox import WEBHOOK_TYPES, Outbox, event_id
from webapp.relay.ports import FrameView, History, StreamLink, Webhooks
from webapp.relay.replaylog import ReplayLog
from webapp.relay.subscriber import Subscriber
from webapp.wire.streamkey import StreamKey

log = logging.getLogger("webapp.relay.stream")


class Emitter:
    key: StreamKey
    link: StreamLink | None
    features: Features

    def __init__(
        self,
        key: StreamKey,
        log_size: int,
        metrics: Metrics,
        webhooks: Webhooks | None,
        shared: bool,
        bulletin: Bulletin | None = None,
        history: History | None = None,
    ) -> None:
        self.key = key
        self.log = ReplayLog(max(log_size, 300))
        self.subscribers: set[Subscriber] = set()
        self.views: dict[str, FrameView] = {}
        self._metrics = metrics
        self._webhooks = webhooks
        self._bulletin = bulletin
        self._history = history
        self.outbox = Outbox(key, webhooks) if shared and webhooks is not None else None
        self._held: list[Frame] | None = None  # the frames of the input being applied
        self._snapshot: tuple[tuple[object, ...], Frame] | None = None  # the last, and when

    # -- what the metrics and the endpoints read ------------------------------------------

    @property
    def kind(self) -> str:
        return self.key.kind

    @property
    def state(self) -> CallState | CampaignState:
        return self.features.state

    @property
    def viewer_count(self) -> int:
        return len(self.subscribers)

    @property
    def connection(self) -> dict[str, Any]:
        raise NotImplementedError

    @property
    def assistant_hint(self) -> str | None:
        """The call's assistant as Burki's call list names it (None when not known)."""
        bulletin = self._bulletin
        return bulletin.assistant_for(self.key.id, self.key.org) if bulletin is not None else None

    @property
    def connection_state(self) -> str:
        return str(self.connection["state"])

    @property
    def runs_upstream(self) -> bool:
        """This node runs the upstream (always, alone; in a cluster, while it holds the lease)."""
        return self.link is None or self.link.holds

    def snapshot(self) -> Frame:
        """The whole state as one frame, rendered once for every viewer that joins (or
        must start over) at the same moment: a long call's is its whole transcript
        (about 13 ms and 590 KB at 2,400 segments), and a wave of late joiners (a node
        restarted: every viewer's epoch unknown) would render it once each. It is kept
        only until the next frame (its payload holds every segment's: megabytes)."""
        moment = self._moment()
        cached = self._snapshot
        if moment is not None and cached is not None and cached[0] == moment:
            return cached[1]
        data = {"version": EVENTS_VERSION, "connection": self.connection}
        data |= self.features.view_state()
        frame = render(self.log.last_id, "snapshot", data, self.key)
        self._snapshot = (moment, frame) if moment is not None else None
        return frame

    def _moment(self) -> tuple[object, ...] | None:
        """What a call's snapshot shows changes only with a frame (a new id) or a connection
        line (no id): its figures are those last sent (:meth:`CallHealth.current`), which
        only a frame changes; None: not kept (a campaign's progress waits in the coalescer
        after its state changed; an ended call's would be held for its whole linger)."""
        if self.features.health is None or self.state.ended:
            return None
        return (self.log.last_id, tuple(self.connection.items()))

    def status_frame(self) -> Frame:
        """The current connection state, to send without an id (it does not move the cursor)."""
        return render("", "status", self.connection, self.key)

    # -- viewers --------------------------------------------------------------------------

    def join(self, sub: Subscriber, last_id: str | None) -> list[Frame]:
        """Register a viewer; return what it must be sent first.

        No ``last_id``: a snapshot. A resumable one: exactly the frames after it.
        Any other: an explicit ``reset``, then a snapshot. Never a silent gap.
        """
        self.subscribers.add(sub)
        if last_id is None:
            return [self.snapshot()]
        missed = self.log.since(last_id)
        if missed is not None:
            return missed
        reset = render(self.log.last_id, "reset", {"reason": "resume"}, self.key)
        return [reset, self.snapshot()]

    def watch_view(self, view: FrameView) -> None:
        """Render every frame from now on for ``view`` too (a page shows this stream)."""
        self.views.setdefault(view.name, view)

    def for_view(self, frames: list[Frame], view: FrameView) -> list[Frame]:
        """``frames`` if each carries ``view``'s HTML, else a snapshot to start over.

        Frames emitted before the view was watched were never rendered for it.
        """
        if any(f.type not in ("snapshot", "reset") and view.name not in f.html for f in frames):
            return [self.snapshot()]
        return frames

    def close_viewers(self, reason: str) -> None:
        for sub in list(self.subscribers):
            sub.close(reason)
        self.subscribers.clear()

    # -- numbering ------------------------------------------------------------------------

    def set_epoch(self, epoch: str) -> None:
        """Number frames under the cluster's epoch for this stream (before the first frame)."""
        if len(self.log) == 0 and self.log.epoch != epoch:
            self.log = ReplayLog(self.log.capacity, epoch)

    def renumber(self) -> None:
        """Number frames under a new epoch of this node's own from now on.

        For a node whose state stopped following the shared inputs (some were trimmed
        before it read them): its next frames are not other nodes' frames under the same
        ids. Its viewers get ``reset`` + ``snapshot`` now, and a viewer resuming across
        nodes with either epoch's id gets the same: never frames it did not miss.
        """
        self.log = ReplayLog(self.log.capacity)
        self._deliver(render(self.log.last_id, "reset", {"reason": "gap"}, self.key))
        self._deliver(self.snapshot())

    # -- emitting -------------------------------------------------------------------------

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Hold the frames emitted inside, then offer them to every viewer at once (an input
        applied while applying another joins the outer one's frames)."""
        if self._held is not None:
            yield
            return
        self._held = []
        try:
            yield
        finally:
            held, self._held = self._held, None
            if held:
                self._fan_out(held)

    def _emit(self, change: Change) -> None:
        frame = self.log.append(change, self.key)
        webhooks = self._webhooks
        if webhooks is not None and frame.type in WEBHOOK_TYPES:
            if self.outbox is not None:  # a cluster: kept on every node, sent by the holder
                self.outbox.emit(frame)
            elif self.runs_upstream:
                webhooks.offer(self.key, event_id(self.key, frame), frame.type, frame.data)
        if self._history is not None:
            self._history.observe(self, frame)
        self._deliver(frame)

    def _deliver(self, frame: Frame) -> None:
        self._snapshot = None  # what it showed is older than this frame
        if self.views:
            self._render(frame)
        if self._held is not None:
            self._held.append(frame)  # offered with the rest of its input's frames
        else:
            self._fan_out([frame])

    def _render(self, frame: Frame) -> None:
        """``frame``'s HTML for each page view, from the features as they are now."""
        seen = Seen(self.key, self.features, self.connection, self.assistant_hint)
        for name, view in list(self.views.items()):
            try:
                frame.html[name] = view.update(seen, frame)
            except Exception:  # a template bug must not stop the stream, nor log every frame
                log.exception("stream %s: view %s failed to render; detached", self.key, name)
                del self.views[name]  # its pages get full renders; a new page load re-adds it

    def _fan_out(self, frames: list[Frame]) -> None:
        """Offer ``frames`` (in order, one input's) to every viewer at once."""
        delivered = 0
        for sub in list(self.subscribers):
            if sub.offer_all(frames):
                delivered += 1
            else:  # fell behind: cut; its browser resumes with Last-Event-ID
                self.subscribers.discard(sub)
                self._metrics.viewer_cuts.labels(sub.closed_reason or "queue_full").inc()
        if delivered:  # one counter update per input, not per viewer (it takes a lock)
            self._metrics.events_out.inc(delivered * len(frames))
