"""One viewer's bounded queue of frames, between a stream and an SSE response.

The stream (the writer) calls :meth:`Subscriber.offer_all` with the frames one
input made (or :meth:`Subscriber.offer` with one) and never waits; the SSE
response (the reader) awaits :meth:`Subscriber.get_batch`. A viewer that falls
behind is cut, not waited for: its browser reconnects with ``Last-Event-ID``
and catches up from the replay log, or gets a reset and a snapshot.

Campaign progress is "latest wins": a newer ``progress`` frame of a stream
replaces one still queued, so a slow viewer skips intermediate counters
instead of piling them up. Nothing else is ever dropped or reordered.

No tasks or timers of its own, and little to hold while idle (a list, a future only
while the reader waits): all methods run on the event loop's thread, so a check and
the change that follows it cannot interleave with another call. Its heartbeat comes
from the loop's one sweep of every viewer (:mod:`webapp.relay.heartbeats`), which it
joins when its reader first waits and leaves when it closes.

The direct path: when a frame finds the reader parked with nothing queued
(everything before was handed over and written) and :attr:`Subscriber.direct`
is set, the reader is not woken. The frame is queued all the same, and the
subscriber joins the loop's one flush, run once the burst that made the frame
is over: it hands every frame queued by then to ``direct`` in one call, which
writes them to the viewer's socket at once and says True. When it says False
(the socket is not writable now) the reader is woken and takes the queue as
usual, so order, coalescing, the bound and the cut are those of the queue. A due
heartbeat takes the same path: ``direct([])`` writes the heartbeat's bytes.

So whoever offers must let the loop turn between inputs (the stream's feeds do):
until it does, neither the flush nor a woken reader runs, and every queue only fills.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Sequence

from webapp.relay.frames import Frame
from webapp.relay.heartbeats import Heartbeats, heartbeats_of

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
        self._queue: list[Frame] = []  # a deque holds a 64-slot block even when empty
        self._waiter: asyncio.Future[None] | None = None  # the parked reader's (no Event: lighter)
        self._beat = False  # a heartbeat is due
        self._heard = False  # something went out since the heartbeats' last look
        self._beats: Heartbeats | None = None  # the sweep this subscriber is in, once it waits
        self._parked = False  # the reader waits, having written everything it got
        self._flush_due = False  # in the loop's flush (frames queued, reader not woken)
        self.direct: Callable[[list[Frame]], bool] | None = None  # [] : the heartbeat
        self.direct_writes = 0  # frames the direct path took
        self._flusher: _Flush | None = None  # the loop's flush, found on first use

    def __len__(self) -> int:
        return len(self._queue)

    def offer(self, frame: Frame) -> bool:
        """Queue ``frame``; False when the subscriber is closed, or is cut now.

        A ``progress`` frame first removes the queued ``progress`` frame of the
        same stream (``frame.stream``), then goes to the end, so ids
        stay increasing. When the queue is full the subscriber is closed with
        ``"queue_full"``, its queue discarded and its reader woken.
        """
        return self.offer_all((frame,))

    def offer_all(self, frames: Sequence[Frame]) -> bool:
        """:meth:`offer` each of ``frames`` in order, waking the reader (or joining the
        flush) once: the frames one input made reach the viewer as one write."""
        if self.closed_reason is not None:
            return False
        queue = self._queue
        handed_over = not queue  # everything before was taken (or written)
        for frame in frames:
            if frame.type in COALESCED_TYPES:
                self._drop_queued(frame)
            if len(queue) >= self.capacity:
                self.close(QUEUE_FULL, discard=True)
                return False
            queue.append(frame)
        self._heard = True
        if self._flush_due:
            return True  # written with the rest of this burst
        if self._parked and self.direct is not None and handed_over:
            self._flush_due = True
            flush = self._flusher or self._find_flush()
            if not flush.due:  # the first of this iteration schedules the one flush
                flush.loop.call_soon(flush.run)
            flush.due.append(self)
        else:
            self._wake()
        return True

    def _find_flush(self) -> _Flush:
        self._flusher = _flush_of(asyncio.get_running_loop())
        return self._flusher

    def _flush(self) -> None:
        """Hand this burst's frames to ``direct``; wake the reader if it cannot take them."""
        self._flush_due = False
        if not self._queue or self.closed_reason is not None:
            return  # the reader was woken (closed, or a heartbeat) and took them
        frames = self._queue
        try:
            written = self._parked and self.direct is not None and self.direct(frames)
        except Exception:  # the reader's own path will meet and report it
            written = False
        if written:
            self._queue = []
            self.direct_writes += len(frames)
        else:
            self._wake()

    async def get_batch(self) -> list[Frame] | None:
        """Every queued frame at once (a burst becomes one write), waiting for one.

        ``[]`` when a heartbeat is due (after more than ``heartbeat / 2`` and at most
        ``heartbeat`` seconds in which nothing went out: the loop's one sweep of every
        viewer, no timer of its own, no per-frame timeout on the hot path) and the
        direct path did not write it; None once closed and drained (end of stream).
        """
        if self.heartbeat is not None and self._beats is None and self.closed_reason is None:
            self._heard = True  # what is written before the first wait counts as heard
            self._beats = heartbeats_of(asyncio.get_running_loop(), self.heartbeat)
            self._beats.add(self)
        while not self._queue and not self._beat:
            if self.closed_reason is not None:
                return None
            self._parked = True
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._parked = False
                self._waiter = None
        self._beat = False
        batch, self._queue = self._queue, []
        return batch

    def look(self) -> None:
        """The heartbeats' sweep (every ``heartbeat / 2`` s): a heartbeat is due when
        nothing went out since the last look. A parked reader's goes straight to its
        socket when the direct path can take it now; otherwise the reader is woken."""
        if self._heard or self.closed_reason is not None:
            self._heard = False  # frames went out since the last look: no heartbeat yet
            return
        self._heard = True  # the heartbeat counts: the next is due a whole period later
        if self._parked and not self._queue and self.direct is not None:
            try:
                if self.direct([]):
                    return
            except Exception:  # the reader's own path will meet and report it
                pass
        self._beat = True
        self._wake()

    def close(self, reason: str, *, discard: bool = False) -> None:
        """Close for good and wake the reader; the first reason sticks.

        Frames already queued are still delivered (an ``end`` frame offered
        just before must reach the viewer) unless ``discard`` is set.
        """
        if self.closed_reason is None:
            self.closed_reason = reason
        if discard:
            self._queue.clear()
        if self._beats is not None:
            self._beats.discard(self)
        self._wake()

    def _wake(self) -> None:
        """Wake the parked reader, if any (it looks at the queue, the beat and the close)."""
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _drop_queued(self, frame: Frame) -> None:
        for i, queued in enumerate(self._queue):
            if queued.type == frame.type and queued.stream == frame.stream:
                del self._queue[i]
                self.coalesced += 1
                return  # at most one is ever queued


class _Flush:
    """One callback per loop iteration that writes every waiting subscriber's burst."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.due: list[Subscriber] = []

    def run(self) -> None:
        due, self.due = self.due, []
        for sub in due:
            sub._flush()


_flushes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Flush] = weakref.WeakKeyDictionary()


def _flush_of(loop: asyncio.AbstractEventLoop) -> _Flush:
    flush = _flushes.get(loop)
    if flush is None:
        flush = _flushes[loop] = _Flush(loop)
    return flush
