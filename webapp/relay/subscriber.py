"""One viewer's bounded queue of frames, between a stream and an SSE response.

The stream (the writer) calls :meth:`Subscriber.offer` and never waits; the SSE
response (the reader) awaits :meth:`Subscriber.get_batch`. A viewer that falls
behind is cut, not waited for: its browser reconnects with ``Last-Event-ID``
and catches up from the replay log, or gets a reset and a snapshot.

Campaign progress is "latest wins": a newer ``progress`` frame of a stream
replaces one still queued, so a slow viewer skips intermediate counters
instead of piling them up. Nothing else is ever dropped or reordered.

No tasks of its own; all methods run on the event loop's thread, so a check
and the change that follows it cannot interleave with another call.
"""

from __future__ import annotations

import asyncio
from collections import deque

from webapp.relay.frames import Frame

COALESCED_TYPES = frozenset({"progress"})
QUEUE_FULL = "queue_full"


class Subscriber:
    """A bounded FIFO of frames for one viewer, closed once and for good."""

    def __init__(self, capacity: int = 256, heartbeat: float | None = None) -> None:
        if capacity < 1:
            raise ValueError("a subscriber queues at least one frame")
        self.capacity = capacity
        self.heartbeat = heartbeat
        self.closed_reason: str | None = None
        self.coalesced = 0
        self._queue: deque[Frame] = deque()
        self._ready = asyncio.Event()  # set while there is a frame to get, or once closed
        self._beat = False  # a heartbeat is due
        self._timer: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._queue)

    def offer(self, frame: Frame) -> bool:
        """Queue ``frame``; False when the subscriber is closed, or is cut now.

        A ``progress`` frame first removes the queued ``progress`` frame of the
        same stream (``frame.stream``), then goes to the end, so ids
        stay increasing. When the queue is full the subscriber is closed with
        ``"queue_full"``, its queue discarded and its reader woken.
        """
        if self.closed_reason is not None:
            return False
        if frame.type in COALESCED_TYPES:
            self._drop_queued(frame)
        if len(self._queue) >= self.capacity:
            self.close(QUEUE_FULL, discard=True)
            return False
        self._queue.append(frame)
        self._ready.set()
        return True

    async def get_batch(self) -> list[Frame] | None:
        """Every queued frame at once (a burst becomes one write), waiting for one.

        ``[]`` when a heartbeat is due (every ``heartbeat`` seconds, from a
        timer of its own: no per-frame timeout on the hot path); None once
        closed and drained (end of stream).
        """
        if self.heartbeat is not None and self._timer is None and self.closed_reason is None:
            self._schedule_beat()
        while not self._queue and not self._beat:
            if self.closed_reason is not None:
                return None
            self._ready.clear()
            await self._ready.wait()
        self._beat = False
        batch = list(self._queue)
        self._queue.clear()
        return batch

    def _schedule_beat(self) -> None:
        assert self.heartbeat is not None
        self._timer = asyncio.get_running_loop().call_later(self.heartbeat, self._on_beat)

    def _on_beat(self) -> None:
        if self.closed_reason is None:
            self._beat = True
            self._ready.set()
            self._schedule_beat()

    def close(self, reason: str, *, discard: bool = False) -> None:
        """Close for good and wake the reader; the first reason sticks.

        Frames already queued are still delivered (an ``end`` frame offered
        just before must reach the viewer) unless ``discard`` is set.
        """
        if self.closed_reason is None:
            self.closed_reason = reason
        if discard:
            self._queue.clear()
        if self._timer is not None:
            self._timer.cancel()
        self._ready.set()

    def _drop_queued(self, frame: Frame) -> None:
        for i, queued in enumerate(self._queue):
            if queued.type == frame.type and queued.stream == frame.stream:
                del self._queue[i]
                self.coalesced += 1
                return  # at most one is ever queued
