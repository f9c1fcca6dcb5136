"""Keeping the garbage collector's full collections off the live path.

Thousands of open streams hold hundreds of thousands of long-lived objects
(connections, parsers, tasks, subscribers). CPython's full collection walks all
of them: at 2,000 viewers one took 230-250 ms, and every viewer waited for the
event it held up. Those objects live as long as their viewer and are freed by
reference counting when it leaves; the cycle detector has nothing to find in
them while they are open.

So the server freezes them (``gc.freeze()``: moved to a generation no
collection walks): once after start-up, and then whenever objects aged towards the
oldest generation since (checked every ``interval`` seconds: a burst of new
connections): after ``batch`` collections of the middle generation, or after a
full one the interpreter ran by itself; first one collection of just those, so
that what is garbage among them is not frozen. In a steady state nothing ages
and the check costs nothing; a full collection only ever walks what aged since
the last freeze. The check reads the collector's statistics: never
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

    def start(self) -> None:
        """Collect and freeze what start-up made, then keep freezing every ``interval``."""
        gc.collect()
        gc.freeze()
        self.freezes += 1
        self._seen = _collections()
        self._last_sweep = time.monotonic()
        self._schedule()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

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

    def _schedule(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(self.interval, self._on_timer)

    def _on_timer(self) -> None:
        self.tick()
        self._schedule()


def _collections() -> tuple[int, int]:
    """How many collections of the middle and of the oldest generation ran so far."""
    stats = gc.get_stats()
    return stats[1]["collections"], stats[2]["collections"]
