"""The streams' link to the history: each frame followed, its records offered, never awaited.

:class:`Recording` is the relay's ``History`` port (``webapp.relay.ports``): a
stream calls :meth:`Recording.observe` with every frame it emits. Every node of
a cluster follows every frame (so its tracker is current when it takes a stream
over), but only the node running the stream's upstream (alone: always; in a
cluster: the lease holder) offers the records, so each is written once; what a
holder that died had queued is offered again by its successor at the call's end
and kept once by the store (records have natural keys).

Trackers live as long as their stream (a weak map): a retired stream takes its
tracker with it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary, ref

from webapp.calls.change import parts
from webapp.history.tracker import CallTracker, CampaignTracker
from webapp.relay.frames import Frame
from webapp.store.recorder import Recorder

if TYPE_CHECKING:
    from webapp.relay.emitter import Emitter

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Recording:
    def __init__(self, recorder: Recorder, clock: Callable[[], datetime] = utcnow) -> None:
        self.recorder = recorder
        self._clock = clock
        self._trackers: WeakKeyDictionary[Emitter, CallTracker | CampaignTracker] = (
            WeakKeyDictionary()
        )

    def observe(self, stream: Emitter, frame: Frame) -> None:
        try:
            self._observe(stream, frame)
        except Exception:  # a bug here must not stop the stream, nor log every frame
            log.exception("history: stream %s: a %s frame not recorded", stream.key, frame.type)

    def _observe(self, stream: Emitter, frame: Frame) -> None:
        tracker = self._trackers.get(stream)
        if tracker is None:
            tracker = self._trackers[stream] = self._tracker(stream)
        for type, data in parts(frame.type, frame.data):  # the figures riding a segment too
            records = tracker.observe(type, data)
            if records and stream.runs_upstream:
                for record in records:
                    self.recorder.offer(record)

    def _tracker(self, stream: Emitter) -> CallTracker | CampaignTracker:
        if stream.key.kind == "call":
            weak = ref(stream)  # the tracker must not keep its stream (the map's key) alive
            return CallTracker(stream.key.id, lambda: _hint(weak()), self._clock, stream.key.org)
        return CampaignTracker(stream.key.id, self._clock, stream.key.org)


def _hint(stream: Emitter | None) -> str | None:
    return stream.assistant_hint if stream is not None else None
