"""A call's health as its stream feeds it: metrics changes only when a viewer would see one,
null timings through the real call state, and one owned timer that notices dead air."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from tests import configs
from tests.clocks import ManualClock
from webapp.calls.callhealth import CallHealth
from webapp.calls.callstate import CallState
from webapp.calls.change import Change, parts
from webapp.calls.health import HealthConfig
from webapp.calls.pipeline import CallFeatures
from webapp.relay.alarms import Alarms
from webapp.relay.timedinputs import TimedInputs
from webapp.wire.events import CallStatus, Transcript
from webapp.wire.streamkey import StreamKey

T0 = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
CONFIG = configs.health(silence_warn=5, silence_alarm=10)


class Fed:
    """A call state and its health, fed events as the stream feeds them."""

    def __init__(self, config: HealthConfig = CONFIG) -> None:
        self.clock = ManualClock(T0.timestamp())
        self.emitted: list[Change] = []
        self.state = CallState("CA1")
        self.health = CallHealth(config, clock=self.clock)

    def feed(self, *events: Any) -> list[dict[str, Any]]:
        before = len(self.emitted)
        for event in events:
            for change in self.state.apply(event):
                self.health.observe(change)
        self.emitted += self.health.publish()
        return [c.data for c in self.emitted[before:]]


def said(speaker: str, at: float, start: float | None, end: float | None, text: str = "x") -> Any:
    return Transcript(
        call_sid="CA1",
        speaker=speaker,  # type: ignore[arg-type]
        content=f"{text} {at}",
        segment_start=start,
        segment_end=end,
        at=T0 + timedelta(seconds=at),
    )


def started() -> CallStatus:
    return CallStatus("CA1", "in-progress", T0, {"started_at": T0.isoformat()})


async def test_null_timings_from_the_real_server_fall_back_to_arrival_times() -> None:
    fed = Fed()
    fed.clock.now += 13
    [figures] = fed.feed(
        started(), said("user", 10, None, None), said("assistant", 12.5, None, None)
    )
    assert figures["latency"]["latest"] == 2.5 and figures["latency"]["source"] == "arrival"
    assert figures["talk"]["user_share"] is None and figures["talk"]["untimed"] == 2


async def test_a_metrics_change_comes_only_when_a_viewer_would_see_one() -> None:
    fed = Fed()
    assert len(fed.feed(started())) == 1
    fed.clock.now += 1
    assert fed.feed(said("user", 0.5, 0.0, 0.5)) != []  # a turn more
    fed.clock.now += 1  # only the running seconds moved
    fed.health.observe(Change("sentiment", {}))
    fed.emitted += fed.health.publish()
    assert fed.feed() == []
    interim = Transcript("CA1", "assistant", "I", is_final=False, at=T0 + timedelta(seconds=2))
    [speaking] = fed.feed(interim)
    assert speaking["silence"]["speaking"] == "assistant"
    more = Transcript("CA1", "assistant", "I can", is_final=False, at=T0 + timedelta(seconds=2))
    assert fed.feed(more) == []  # still speaking: nothing new to see


async def test_the_end_of_the_call_stops_the_silence_and_disarms_the_timer() -> None:
    fed = Fed()
    fed.feed(started(), said("user", 1, 0.0, 1.0))
    assert fed.health.due is not None  # the relay's timer waits for it
    [ended] = fed.feed(CallStatus("CA1", "completed", T0, {"duration": 42}))
    assert ended["ended"] is True and ended["silence"]["since"] is None
    assert ended["length"] == 42.0
    assert fed.health.due is None


async def test_dead_air_is_noticed_with_no_frame_arriving() -> None:
    config = configs.health(silence_warn=0.3, silence_alarm=0.6)
    emitted: list[dict[str, Any]] = []
    both = asyncio.Event()
    features = CallFeatures("CA1", config)  # the real clock: the timer waits for real

    def feed(item: Any) -> None:
        for change in features.apply(item):
            for type, figures in parts(change.type, change.data):
                if type == "metrics":
                    emitted.append(figures)
                    both.set() if figures["silence"]["level"] == "alarm" else None
        alarms.follow(features)

    alarms = Alarms(TimedInputs(StreamKey.call("CA1"), False, feed, lambda: None), 600.0, 2.0)
    feed(Transcript("CA1", "user", "x"))  # a final with no timing, then nothing
    await asyncio.wait_for(both.wait(), 5)
    levels = [figures["silence"]["level"] for figures in emitted]
    assert levels == ["ok", "warn", "alarm"]
    assert not alarms.health_armed  # nothing more is due: no timer left behind
    alarms.close()


async def test_a_cluster_node_behind_the_inputs_still_announces_a_threshold_they_crossed() -> None:
    """In a cluster the figures are measured at the inputs' latest moment, not a node's
    clock. A node that folds a status 1 s after it was stamped (a loaded machine) measured
    "warn" while, by its clock, the alarm was due already: it must still be announced at
    once (the timer once ignored moments before its clock, so the alarm never came)."""
    quick = configs.health(silence_warn=0.3, silence_alarm=0.6)
    dues: list[float] = []
    fired = asyncio.Event()

    def due(item: Any) -> None:
        dues.append(item.at)
        fired.set()

    clock = ManualClock(T0.timestamp() + 1.5)  # the status below was stamped at T0 + 0.5
    features = CallFeatures("CA1", quick, shared=True, clock=clock)
    alarms = Alarms(TimedInputs(StreamKey.call("CA1"), False, due, lambda: None), 600.0, 2.0)
    status = CallStatus("CA1", "in-progress", T0 + timedelta(seconds=0.5), started().metadata)
    list(features.apply(status))
    alarms.follow(features)
    assert features.health.current()["silence"]["level"] == "warn"  # at T0 + 0.5, as every node
    assert alarms.health_armed
    async with asyncio.timeout(1):
        await fired.wait()  # at once: the alarm was due before this node's clock
    features.health.tick(dues[-1])
    assert features.health.current()["silence"]["level"] == "alarm"
    alarms.close()


async def test_cluster_nodes_with_different_clocks_measure_the_same_silence() -> None:
    """Two nodes, one clock 2 s behind Burki's stamps, one ahead: the same inputs give
    the same figures (a node's own clock once bounded the latest activity, so the
    running silence began at different moments and the nodes' frames differed)."""
    figures = []
    for skew in (-2.0, 2.0):
        clock = ManualClock(T0.timestamp() + 5 + skew)
        health = CallHealth(CONFIG, clock=clock)
        health.shared = True
        state = CallState("CA1")
        for event in (started(), said("user", 3, 1.0, 3.0), said("assistant", 5, 4.0, 5.0)):
            for change in state.apply(event):
                health.observe(change)
        health.publish()
        figures.append(health.current())
    assert figures[0] == figures[1]
    assert figures[0]["silence"]["since"] == "2027-01-15T08:00:05.000Z"
