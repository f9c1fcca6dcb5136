"""Latest-wins coalescing of campaign progress: at most one progress event per interval.

A busy campaign can report progress many times a second; a dashboard needs at
most about four renders a second. Consecutive progress changes inside one
interval collapse to the newest; any other change first flushes the pending
progress, so the order of events is never changed, only runs of progress are
thinned. The timer is a ``loop.call_later`` handle, not a task: :meth:`close`
cancels it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from webapp.calls.change import Change

COALESCED = "progress"


class Coalescer:
    def __init__(self, interval: float, emit: Callable[[Change], None]) -> None:
        self.interval = interval
        self.emit = emit
        self.dropped = 0
        self._pending: Change | None = None
        self._last = float("-inf")
        self._timer: asyncio.TimerHandle | None = None

    def offer(self, change: Change) -> None:
        if change.type != COALESCED:
            self.flush()
            self.emit(change)
            return
        loop = asyncio.get_running_loop()
        if self._pending is not None:
            self.dropped += 1
        self._pending = change
        due = self._last + self.interval
        if loop.time() >= due:
            self.flush()
        elif self._timer is None:
            self._timer = loop.call_at(due, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._pending is not None:
            change, self._pending = self._pending, None
            self._last = asyncio.get_running_loop().time()
            self.emit(change)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._pending = None
