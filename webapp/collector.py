"""Keeping the garbage collector's full collections off the live path.

Thousands of open streams hold hundreds of thousands of long-lived objects
(connections, parsers, tasks, subscribers). CPython's full collection walks all
of them: at 2,000 viewers one took 230-250 ms, and every viewer waited for the
event it held up. Those objects live as long as their viewer and are freed by
reference counting when it leaves; the cycle detector has nothing to find in
them while they are open.

So the server freezes them (``gc.freeze()``: moved to a generation no
collection walks): once after start-up, and then whenever objects aged towards the
oldest generation since (a burst of new connections): after ``batch`` collections
of the middle generation, or after a full one the interpreter ran by itself; first
one collection of just those, so that what is garbage among them is not frozen.
The check runs when the interpreter ends a collection of the middle or the oldest
generation (``gc.callbacks``), at most once every ``interval`` seconds: in a steady
state nothing ages, nothing wakes the loop for it (a timer every ``interval`` did,
twice a second, to find nothing to do), and a full collection only ever walks what
aged since the last freeze. The check reads the collector's statistics: never
``gc.get_objects()``, which hands out references to objects other threads may
still be building (a tuple being resized then fails with ``SystemError``).

Reference counting still frees a frozen object the moment nothing refers to it;
only a reference cycle among frozen objects that becomes garbage waits, until the
next sweep: every ``sweep`` seconds (0: never) everything is unfrozen and
collected once, at a time we chose, and frozen again. Viewers, events and streams
leave no such cycles (``tests/test_cycles.py``), so little waits, and memory does
not grow with the traffic between two sweeps.
"""

from __future__ import annotations

import asyncio
import gc
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Collector:
    interval: float = 0.5
    sweep: float = 600.0
    batch: int = 3
    """Collections of the middle generation (each ages its survivors) that call for a freeze."""
    sweeps: int = 0
    freezes: int = 0
    _timer: asyncio.TimerHandle | None = field(default=None, repr=False)
    _last_sweep: float = field(default_factory=time.monotonic, repr=False)
    _seen: tuple[int, int] = field(default_factory=lambda: _collections(), repr=False)
    _loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)
    _last_tick: float = field(default=0.0, repr=False)
    _called: bool = field(default=False, repr=False)  # a look is asked for, or under way

    def start(self) -> None:
        """Collect and freeze what start-up made, then freeze what ages, when it does."""
        gc.collect()
        gc.freeze()
        self.freezes += 1
        self._seen = _collections()
        self._last_sweep = self._last_tick = time.monotonic()
        self._loop = asyncio.get_running_loop()
        gc.callbacks.append(self._collected)
        if self.sweep:
            self._timer = self._loop.call_later(self.sweep, self._look)

    def stop(self) -> None:
        if self._collected in gc.callbacks:
            gc.callbacks.remove(self._collected)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._loop = None

    def tick(self) -> None:
        """Freeze what aged since the last freeze (``batch`` middle collections, or a full
        one); a full sweep when one is due."""
        if self.sweep and time.monotonic() - self._last_sweep >= self.sweep:
            gc.unfreeze()
            self.sweeps += 1
            self._last_sweep = time.monotonic()
        else:
            middle, full = _collections()
            if middle - self._seen[0] < self.batch and full == self._seen[1]:
                return
        gc.collect()  # walks only what is not frozen
        gc.freeze()
        self.freezes += 1
        self._seen = _collections()

    def _collected(self, phase: str, info: dict[str, Any]) -> None:
        """``gc.callbacks``: in whichever thread collected. After a collection of the middle
        or the oldest generation, ask the loop for a look (once until it has looked)."""
        loop = self._loop
        if phase != "stop" or info["generation"] == 0 or self._called or loop is None:
            return
        self._called = True
        try:
            loop.call_soon_threadsafe(self._asked)
        except RuntimeError:  # the loop is closed: nobody to ask
            self._called = False

    def _asked(self) -> None:
        """A look, now or ``interval`` after the last (whatever aged meanwhile waits for it)."""
        if self._loop is None:
            return
        wait = self._last_tick + self.interval - time.monotonic()
        if wait > 0:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self._loop.call_later(wait, self._look)
        else:
            self._look()

    def _look(self) -> None:
        self._timer = None
        self._called = True  # its own collection is not a call for another look
        try:
            self.tick()
        finally:
            self._last_tick = time.monotonic()
            self._called = False
            if self.sweep and self._loop is not None:
                due = self._last_sweep + self.sweep - time.monotonic()
                self._timer = self._loop.call_later(max(0.0, due), self._look)


def _collections() -> tuple[int, int]:
    """How many collections of the middle and of the oldest generation ran so far."""
    stats = gc.get_stats()
    return stats[1]["collections"], stats[2]["collections"]
