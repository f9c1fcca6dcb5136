"""A call's figures travel as changes (event shapes version 3): each ``metrics`` carries the
top-level members that changed since the stream's previous one; a viewer that merges them,
cut and resumed anywhere, holds what a fresh snapshot holds. Pure: the call's features and
a replay log, no sockets (tests/test_riders_live.py does it over real SSE clients)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests import configs
from webapp.alerts.attention import Attention
from webapp.alerts.callalerts import CallAlerts
from webapp.calls.change import EVENTS_VERSION, Change, parts
from webapp.calls.inputs import ClaimMade, HealthDue, Input, WentQuiet
from webapp.calls.pipeline import CallFeatures
from webapp.relay.frames import Frame
from webapp.relay.replaylog import ReplayLog
from webapp.settings import Settings
from webapp.wire.events import CallStatus, Transcript
from webapp.wire.streamkey import StreamKey

T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC).timestamp()
KEY = StreamKey.call("CA1")
STARTED = datetime.fromtimestamp(T0, UTC).isoformat()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def features(clock: Clock) -> CallFeatures:
    return CallFeatures(
        "CA1",
        configs.health(silence_warn=4.0, silence_alarm=9.0, long_call=60.0),
        alerts=CallAlerts(configs.alerts()),
        attention=Attention(Settings().weights),
        clock=clock,
    )


def said(speaker: str, start: float, final: bool) -> Transcript:
    moment = datetime.fromtimestamp(T0 + start + 1.0, UTC)
    text = "This is awful, I am furious." if speaker == "user" else "I am sorry, let me help."
    return Transcript("CA1", speaker, text, final, 0.9, start, start + 1.0, None, moment)  # type: ignore[arg-type]


@dataclass
class Client:
    """A viewer as docs/api.md tells it to read the figures: a snapshot's whole, then each
    ``metrics`` (alone or riding a ``transcript``) merged in by top-level member."""

    figures: dict[str, Any] = field(default_factory=dict)
    last_id: str | None = None
    connected: bool = True

    def snapshot(self, call: CallFeatures, log: ReplayLog) -> None:
        self.figures, self.last_id = dict(call.view_state()["metrics"]), log.last_id

    def read(self, frame: Frame) -> None:
        for type, data in parts(frame.type, frame.data):
            if type == "metrics":
                self.figures |= {k: v for k, v in data.items() if k != "stream"}
        self.last_id = frame.id

    def resume(self, call: CallFeatures, log: ReplayLog) -> None:
        assert self.last_id is not None
        missed = log.since(self.last_id)
        if missed is None:  # too old: reset + snapshot
            self.snapshot(call, log)
        else:
            for frame in missed:
                self.read(frame)
        self.connected = True


Step = tuple[str, float]
STEPS = st.lists(
    st.tuples(
        st.sampled_from(["user", "assistant", "interim", "tick", "claim", "quiet", "cut"]),
        st.floats(min_value=0.1, max_value=12.0),
    ),
    min_size=1,
    max_size=60,
)


def step(call: CallFeatures, clock: Clock, kind: str, gap: float, at: float) -> list[Change]:
    """Apply one step ``gap`` seconds after the last (``at``: the call's seconds so far)."""
    clock.now += gap
    item: Input
    if kind in ("user", "assistant"):
        item = said(kind, at, True)
    elif kind == "interim":
        item = said("user", at, False)
    elif kind == "tick":
        item = HealthDue(clock.now)
    elif kind == "claim":
        item = ClaimMade(
            "claim", "alice", False, datetime.fromtimestamp(clock.now, UTC).isoformat()
        )
    else:
        item = WentQuiet()
    return list(call.apply(item))


@settings(max_examples=150, deadline=None)
@given(STEPS, st.integers(min_value=0, max_value=60), st.integers(min_value=8, max_value=400))
def test_a_viewer_cut_and_resumed_anywhere_holds_the_figures_of_a_fresh_snapshot(
    steps: list[Step], late: int, capacity: int
) -> None:
    clock = Clock()
    call, log = features(clock), ReplayLog(capacity)
    started = CallStatus("CA1", "in-progress", None, {"started_at": STARTED})
    first = Client()
    first.snapshot(call, log)
    viewers = [first]
    for change in call.apply(started):
        first.read(log.append(change, KEY))
    at = 0.0
    for n, (kind, gap) in enumerate(steps):
        if n == late:  # a viewer that comes in the middle starts from a snapshot
            viewers.append(Client())
            viewers[-1].snapshot(call, log)
        if kind == "cut":  # the first viewer is cut, or comes back with its last id
            if first.connected:
                first.connected = False
            else:
                first.resume(call, log)
            continue
        at += gap
        for change in step(call, clock, kind, gap, at):
            frame = log.append(change, KEY)
            for viewer in viewers:
                if viewer.connected:
                    viewer.read(frame)
    if not first.connected:
        first.resume(call, log)
    fresh = call.view_state()["metrics"]
    assert all(viewer.figures == fresh for viewer in viewers)


def test_a_segments_figures_carry_only_the_members_that_changed() -> None:
    clock = Clock()
    call, log = features(clock), ReplayLog(500)
    for change in call.apply(CallStatus("CA1", "in-progress", None, {"started_at": STARTED})):
        log.append(change, KEY)
    sent: list[dict[str, Any]] = []
    for n, speaker in enumerate(["user", "assistant", "user"]):
        clock.now = T0 + 3.0 * n + 1.5
        for change in call.apply(said(speaker, 3.0 * n, True)):
            frame = log.append(change, KEY)
            sent += [data for type, data in parts(frame.type, frame.data) if type == "metrics"]
    assert EVENTS_VERSION == 3
    last = sent[-1]
    # The caller's second line: who spoke and for how long, not when the call started.
    assert {"silence", "talk", "turns", "segments"} <= last.keys()
    assert not {"started", "ended", "ended_at", "long", "dormant", "latency"} & last.keys()
    assert call.view_state()["metrics"].keys() > last.keys()  # a snapshot has all of them
