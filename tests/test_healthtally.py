"""The health figures kept up to date a segment at a time equal a full pass over the call:
random timelines (null timings, overlaps, segments inserted out of order), the recorded
calls, and replays after a reconnect, which must count nothing twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests import configs
from tests.healthoracle import measure as full_pass_measure
from tests.healthoracle import summarize
from tests.test_callhealth import T0, Fed, said, started
from tests.traces import call_frames
from webapp.relay.callhealth import CallHealth
from webapp.relay.callstate import CallState
from webapp.relay.health import Mark, Timeline, measure
from webapp.relay.healthtally import Tally
from webapp.wire.events import CallStatus, Transcript
from webapp.wire.normalise import normalise

CONFIG = configs.health(silence_warn=5, silence_alarm=10, slow_response=2)
START = T0.timestamp()

tenths = st.integers(0, 400).map(lambda n: n / 10)
timing = st.none() | tenths


@st.composite
def marks(draw: st.DrawFn) -> Mark:
    """A segment: any speaker (a third one too), each timing maybe null, maybe reversed."""
    start = draw(timing)
    end = draw(st.none() | st.integers(-20, 80).map(lambda n: (start or 0) + n / 10))
    return Mark(
        draw(st.sampled_from(["user", "assistant", "system"])), start, end, START + draw(tenths)
    )


positions = st.none() | st.integers(-1, 40)  # None, -1 and past the end all append


def reference_insert(held: list[Mark], index: int | None, mark: Mark) -> None:
    """Where the call's health put a segment before the tally (the old rule)."""
    at = index if index is not None and 0 <= index <= len(held) else None
    held.insert(len(held) if at is None else at, mark)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(positions, marks()), max_size=30), tenths)
def test_the_tally_equals_a_full_pass_after_every_segment(
    steps: list[tuple[int | None, Mark]], later: float
) -> None:
    tally = Tally(CONFIG)
    held: list[Mark] = []
    for index, mark in steps:
        tally.insert(index, mark)
        reference_insert(held, index, mark)
        assert tally.marks == held
        assert tally.summary() == summarize(held, CONFIG)
        line = Timeline(held, started=START, activity=mark.arrived)
        now = START + 40 + later
        assert measure(line, now, CONFIG, tally.summary()) == full_pass_measure(line, now, CONFIG)


def test_a_long_conversation_in_order_matches_the_full_pass() -> None:
    tally = Tally(CONFIG)
    held: list[Mark] = []
    for i in range(400):  # alternating turns with overlaps, gaps and null timings
        start = None if i % 7 == 3 else i * 3.0 + (i % 5) * 0.7
        end = None if i % 11 == 5 else (start or i * 3.0) + 2.5 + (i % 3)
        mark = Mark("user" if i % 2 else "assistant", start, end, START + i * 3.1)
        tally.insert(len(held), mark)
        held.append(mark)
    figures = measure(Timeline(held, started=START), START + 1300, CONFIG, tally.summary())
    assert figures == full_pass_measure(Timeline(held, started=START), START + 1300, CONFIG)
    assert figures["segments"] == 400 and figures["latency"]["count"] > 100


def feed_frames(fed: Fed, frames: list[dict[str, Any]]) -> None:
    for frame in frames:
        event = normalise(frame)
        if isinstance(event, CallStatus | Transcript):
            fed.feed(event)


def full_pass(health: CallHealth, now: float) -> dict[str, Any]:
    """The figures measured the old way: a pass over every segment the health holds."""
    return full_pass_measure(health.timeline(), now, health.config)


def test_the_recorded_calls_replayed_after_a_reconnect_count_each_segment_once() -> None:
    for frames in call_frames().values():
        fed = Fed(CONFIG)
        fed.state = CallState(str(frames[0]["call_sid"]))
        feed_frames(fed, frames)
        now = fed.clock.now
        once = fed.health.figures(now)
        for _ in range(2):  # two reconnects, each replaying the whole transcript
            fed.state.connection_started()
            feed_frames(fed, frames)
        assert fed.health.figures(now) == once
        assert once["segments"] == fed.state.final_count > 0
        assert fed.health.figures(now) == full_pass(fed.health, now)
        fed.health.close()


@st.composite
def calls(draw: st.DrawFn) -> list[Transcript]:
    """Finals stamped with ``created_at``, some null-timed, which arrive in any order."""
    said_at = draw(st.lists(st.integers(0, 600), min_size=1, max_size=25, unique=True))
    segments = []
    for n, moment in enumerate(sorted(said_at)):
        start = draw(st.none() | st.just(moment / 10))
        end = None if start is None else start + draw(st.integers(-5, 60)) / 10
        speaker = draw(st.sampled_from(["user", "assistant"]))
        segment = said(speaker, moment / 10, start, end, text=f"s{n}")
        created = T0 + timedelta(seconds=moment / 10)
        segments.append(Transcript(**{**_fields(segment), "created_at": created}))
    return draw(st.permutations(segments))


def _fields(segment: Transcript) -> dict[str, Any]:
    return {name: getattr(segment, name) for name in Transcript.__dataclass_fields__}


@settings(max_examples=150, deadline=None)
@given(calls(), st.randoms(use_true_random=False))
async def test_out_of_order_finals_and_replays_equal_a_full_pass(
    arrivals: list[Transcript], shuffle: Any
) -> None:
    fed = Fed(CONFIG)
    fed.clock.now += 70
    fed.feed(started())
    for segment in arrivals:  # live, in the order they happen to arrive
        fed.feed(segment)
    now = fed.clock.now
    first = fed.health.figures(now)
    assert first == full_pass(fed.health, now)
    replay = list(arrivals)
    shuffle.shuffle(replay)
    fed.state.connection_started()
    fed.feed(*replay)  # a reconnect replays every segment again, in its own order
    assert fed.health.figures(now) == first == full_pass(fed.health, now)
    order = [(m.start, m.end) for m in fed.health.timeline().marks]
    assert order == [(s["start"], s["end"]) for s in fed.state.segments]
    fed.health.close()
