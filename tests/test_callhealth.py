"""A call's health as its stream feeds it: metrics changes only when a viewer would see one,
null timings through the real call state, and one owned timer that notices dead air."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from tests import configs
from tests.clocks import ManualClock
from webapp.relay.callhealth import CallHealth
from webapp.relay.callstate import CallState
from webapp.relay.frames import Change
from webapp.relay.health import HealthConfig
from webapp.wire.events import CallStatus, Transcript

T0 = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
CONFIG = configs.health(silence_warn=5, silence_alarm=10)


class Fed:
    """A call state and its health, fed events as the stream feeds them."""

    def __init__(self, config: HealthConfig = CONFIG) -> None:
        self.clock = ManualClock(T0.timestamp())
        self.emitted: list[Change] = []
        self.state = CallState("CA1")
        self.health = CallHealth(config, self.emitted.append, clock=self.clock)

    def feed(self, *events: Any) -> list[dict[str, Any]]:
        before = len(self.emitted)
        for event in events:
            for change in self.state.apply(event):
                self.health.observe(change)
        self.health.publish()
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
    fed.health.close()


async def test_a_metrics_change_comes_only_when_a_viewer_would_see_one() -> None:
    fed = Fed()
    assert len(fed.feed(started())) == 1
    fed.clock.now += 1
    assert fed.feed(said("user", 0.5, 0.0, 0.5)) != []  # a turn more
    fed.clock.now += 1  # only the running seconds moved
    fed.health.observe(Change("sentiment", {}))
    fed.health.publish()
    assert fed.feed() == []
    interim = Transcript("CA1", "assistant", "I", is_final=False, at=T0 + timedelta(seconds=2))
    [speaking] = fed.feed(interim)
    assert speaking["silence"]["speaking"] == "assistant"
    more = Transcript("CA1", "assistant", "I can", is_final=False, at=T0 + timedelta(seconds=2))
    assert fed.feed(more) == []  # still speaking: nothing new to see
    fed.health.close()


async def test_the_end_of_the_call_stops_the_silence_and_disarms_the_timer() -> None:
    fed = Fed()
    fed.feed(started(), said("user", 1, 0.0, 1.0))
    assert fed.health.armed
    [ended] = fed.feed(CallStatus("CA1", "completed", T0, {"duration": 42}))
    assert ended["ended"] is True and ended["silence"]["since"] is None
    assert ended["length"] == 42.0
    assert not fed.health.armed


async def test_dead_air_is_noticed_with_no_frame_arriving() -> None:
    config = configs.health(silence_warn=0.3, silence_alarm=0.6)
    emitted: list[Change] = []
    both = asyncio.Event()

    def emit(change: Change) -> None:
        emitted.append(change)
        if change.data["silence"]["level"] == "alarm":
            both.set()

    health = CallHealth(config, emit)  # the real clock: the timer waits for real
    health.observe(Change("call_status", {"metadata": {}, "ended": False}))
    health.observe(
        Change("transcript", {"segment": {"speaker": "user", "is_final": True, "index": 0}})
    )
    health.publish()
    await asyncio.wait_for(both.wait(), 5)
    levels = [c.data["silence"]["level"] for c in emitted]
    assert levels == ["ok", "warn", "alarm"]
    assert not health.armed  # nothing more is due: no timer left behind
    health.close()


async def test_a_cluster_node_behind_the_inputs_still_announces_a_threshold_they_crossed() -> None:
    """In a cluster the figures are measured at the inputs' latest moment, not a node's
    clock. A node that folds a status 1 s after it was stamped (a loaded machine) measured
    "warn" while, by its clock, the alarm was due already: it must still be announced at
    once (the timer once ignored moments before its clock, so the alarm never came)."""
    quick = configs.health(silence_warn=0.3, silence_alarm=0.6)
    dues: list[float] = []
    fired = asyncio.Event()

    def due(at: float) -> None:
        dues.append(at)
        fired.set()

    clock = ManualClock(T0.timestamp() + 1.5)  # the status below was stamped at T0 + 0.5
    health = CallHealth(quick, lambda change: None, clock=clock, on_due=due)
    health.shared = True
    state = CallState("CA1")
    status = CallStatus("CA1", "in-progress", T0 + timedelta(seconds=0.5), started().metadata)
    for change in state.apply(status):
        health.observe(change)
    health.publish()
    assert health.current()["silence"]["level"] == "warn"  # at T0 + 0.5, as every node
    assert health.armed
    async with asyncio.timeout(1):
        await fired.wait()  # at once: the alarm was due before this node's clock
    health.tick(dues[-1])
    assert health.current()["silence"]["level"] == "alarm"
    health.close()


async def test_cluster_nodes_with_different_clocks_measure_the_same_silence() -> None:
    """Two nodes, one clock 2 s behind Burki's stamps, one ahead: the same inputs give
    the same figures (a node's own clock once bounded the latest activity, so the
    running silence began at different moments and the nodes' frames differed)."""
    figures = []
    for skew in (-2.0, 2.0):
        clock = ManualClock(T0.timestamp() + 5 + skew)
        health = CallHealth(CONFIG, lambda change: None, clock=clock)
        health.shared = True
        state = CallState("CA1")
        for event in (started(), said("user", 3, 1.0, 3.0), said("assistant", 5, 4.0, 5.0)):
            for change in state.apply(event):
                health.observe(change)
        health.publish()
        figures.append(health.current())
        health.close()
    assert figures[0] == figures[1]
    assert figures[0]["silence"]["since"] == "2027-01-15T08:00:05.000Z"
