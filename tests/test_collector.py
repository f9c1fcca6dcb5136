"""The collector freezes what open streams hold and sweeps what frozen viewers left behind."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from webapp.collector import Collector


class Node:
    """A reference cycle when it points at itself, as a task and its frame do."""

    def __init__(self) -> None:
        self.me: Node | None = self


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()


def frozen(thing: object) -> bool:
    """Tracked, yet in no generation a collection walks."""
    return gc.is_tracked(thing) and not any(o is thing for o in gc.get_objects())


def test_a_tick_freezes_what_aged_since_the_last_one_once_it_is_a_batch() -> None:
    collector = Collector(interval=60, sweep=0, batch=1)
    collector.tick()
    viewer = Node()
    gc.collect()  # it ages into the oldest generation
    assert not frozen(viewer)
    collector.tick()
    assert frozen(viewer)
    gc.collect()  # a full collection no longer walks it, and it is kept all the same
    assert frozen(viewer) and viewer.me is viewer


def test_a_frozen_cycle_left_behind_is_reclaimed_only_by_the_sweep() -> None:
    collector = Collector(interval=60, sweep=3600, batch=1)
    left = Node()
    gc.collect()
    gone = weakref.ref(left)
    collector.tick()
    del left
    gc.collect()
    assert gone() is not None  # frozen: the usual collections cannot see it
    collector.sweep = 1e-9  # a sweep is due
    collector.tick()
    assert gone() is None
    assert collector.sweeps == 1


def test_a_steady_state_costs_no_collection() -> None:
    collector = Collector(interval=60, sweep=0, batch=1_000_000)
    collector.tick()
    assert collector.freezes == 0


def test_a_batch_of_middle_collections_calls_for_a_freeze() -> None:
    collector = Collector(interval=60, sweep=0, batch=2)
    viewer = Node()
    gc.collect(1)
    collector.tick()
    assert collector.freezes == 0  # one middle collection: not yet a batch
    gc.collect(1)
    collector.tick()
    assert collector.freezes == 1 and frozen(viewer)


def test_a_tick_never_lists_the_collectors_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    """``gc.get_objects()`` hands out references to objects other threads are still
    building: a tuple being resized in a worker thread (an audit record) then fails with
    ``SystemError: bad argument to internal function``. The checks read statistics."""

    def listed(generation: int | None = None) -> list[object]:
        raise AssertionError("gc.get_objects() was called")

    monkeypatch.setattr(gc, "get_objects", listed)
    collector = Collector(interval=60, sweep=0, batch=1)
    for _ in range(3):
        gc.collect(1)
        collector.tick()
    assert collector.freezes >= 1


async def test_a_steady_state_wakes_the_loop_for_nothing() -> None:
    """No timer runs for the collector while nothing ages (the sweep's aside)."""
    loop = asyncio.get_running_loop()
    timers = len(getattr(loop, "_scheduled"))  # noqa: B009
    collector = Collector(interval=0.01, sweep=0, batch=1)
    collector.start()
    try:
        assert len(getattr(loop, "_scheduled")) == timers  # noqa: B009
    finally:
        collector.stop()


async def test_objects_that_age_are_frozen_without_a_tick_asked_for() -> None:
    """A middle collection (the interpreter's own, here forced) calls for a look: what
    survived it is frozen soon after, with no timer polling for it."""
    collector = Collector(interval=0.01, sweep=0, batch=1)
    collector.start()
    try:
        kept = [Node() for _ in range(100)]
        freezes = collector.freezes
        gc.collect(1)  # in this thread; a worker thread's collection asks the same way
        for _ in range(200):
            if collector.freezes > freezes:
                break
            await asyncio.sleep(0.01)
        assert collector.freezes > freezes
        assert all(frozen(node) for node in kept)
    finally:
        collector.stop()
    assert collector._collected not in gc.callbacks
