"""Every viewer's heartbeat from one timer: a sweep of the loop's subscribers, not a timer each.

A viewer that was sent nothing for a while hears a heartbeat (an SSE comment), so that
proxies and browsers keep its connection. A loop timer per viewer did that at a cost per
viewer and per second: with 500 viewers of a live call, 60 timer callbacks a second that
found frames had gone out and set themselves again, each a wake-up of the loop, a handle
made and pushed on the loop's heap, and a handle per idle viewer held in memory.

:class:`Heartbeats` keeps the subscribers of one loop and one heartbeat period and looks at
all of them every ``period / 2`` seconds, from one timer that runs only while it has
subscribers. A look asks each subscriber (:meth:`Subscriber.look
<webapp.relay.subscriber.Subscriber.look>`) whether anything went out since the last look;
one that heard nothing for two looks running gets its heartbeat. So a viewer left silent
hears one after more than ``period / 2`` and at most ``period`` seconds of silence, then
one every ``period``; a viewer being sent frames costs nothing here but a flag the offer
sets anyway.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Protocol


class Looked(Protocol):
    def look(self) -> None: ...


class Heartbeats:
    """The subscribers of one loop with one heartbeat period, looked at together."""

    def __init__(self, loop: asyncio.AbstractEventLoop, period: float) -> None:
        self.loop = loop
        self.period = period
        self.subscribers: dict[Looked, None] = {}  # a dict: ordered, and forgets in O(1)
        self._timer: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self.subscribers)

    def add(self, sub: Looked) -> None:
        self.subscribers[sub] = None
        if self._timer is None:
            self._timer = self.loop.call_later(self.period / 2, self.sweep)

    def discard(self, sub: Looked) -> None:
        # The timer is left to run out: a cancelled handle would stay in the loop's heap
        # until its time all the same, and the next sweep stops when nobody is left.
        self.subscribers.pop(sub, None)

    def sweep(self) -> None:
        """Look at every subscriber once; again in ``period / 2`` while any is left."""
        self._timer = None
        for sub in list(self.subscribers):
            sub.look()
        if self.subscribers:
            self._timer = self.loop.call_later(self.period / 2, self.sweep)


_of: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[float, Heartbeats]] = (
    weakref.WeakKeyDictionary()
)


def heartbeats_of(loop: asyncio.AbstractEventLoop, period: float) -> Heartbeats:
    """The loop's one :class:`Heartbeats` for ``period`` (every viewer shares the setting's)."""
    periods = _of.get(loop)
    if periods is None:
        periods = _of[loop] = {}
    found = periods.get(period)
    if found is None:
        found = periods[period] = Heartbeats(loop, period)
    return found
