"""The simulator's store: segment timing, bounds and refusals."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from tests.clocks import ManualClock
from webapp.simulator.model import Store

START = datetime(2025, 8, 1, 12, 0, tzinfo=UTC)


def test_segments_time_from_the_call_start_and_interims_share_the_finals_start() -> None:
    clock = ManualClock(START)
    store = Store(random.Random(1), clock)
    sid = store.add_call(None, "in-progress", "Bot", "+1555").call_sid
    clock.now += timedelta(seconds=10)
    interim = store.add_segment(sid, "user", "I would", False, 0.5)
    clock.now += timedelta(seconds=1)
    final = store.add_segment(sid, "user", "I would like a refund", True, 0.9)
    assert interim.segment_start == final.segment_start == 9.4
    assert final.segment_end == 11.0
    assert list(store.calls[sid].segments) == [final]
    assert sid.startswith("CA") and len(sid) == 34


def test_the_store_keeps_a_bounded_number_of_ended_calls() -> None:
    store = Store(random.Random(1), ManualClock(START), max_finished=2)
    sids = [store.add_call(None, "in-progress", "Bot", "+1").call_sid for _ in range(4)]
    for sid in sids[:3]:
        store.set_call_status(sid, "completed")
    assert list(store.calls) == sids[1:]


def test_a_bad_speaker_or_a_taken_sid_is_refused() -> None:
    store = Store(random.Random(1), ManualClock(START))
    sid = store.add_call("CA1", "in-progress", "Bot", "+1").call_sid
    with pytest.raises(ValueError, match="speaker"):
        store.add_segment(sid, "agent", "hi", True, None)
    with pytest.raises(ValueError, match="already exists"):
        store.add_call("CA1", "in-progress", "Bot", "+1")
