"""Numbers read the way people read them, fed through a real call Stream (redactor, state,
alerts, webhooks port, page views): split over any number of the speaker's segments, the
other speaker's interims and finals between them, pauses past the hold, digits after."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import configs
from tests.planted import ORDINARY
from tests.spoken import Reading, check, readings
from webapp.alerts.callalerts import CallAlerts
from webapp.alerts.keywords import KeywordMatcher, KeywordRule
from webapp.alerts.sentiment import SentimentScorer
from webapp.calls.inputs import Finished, HoldReleased, PollBatch
from webapp.relay.config import Integrations
from webapp.relay.frames import Frame
from webapp.relay.metrics import Metrics
from webapp.relay.ports import Outgoing
from webapp.relay.stream import Stream
from webapp.wire.events import CallStatus, Speaker, Transcript
from webapp.wire.streamkey import StreamKey

SID = "CAspoken"
RULES = (KeywordRule("lawyer", "high", "any"),)
SCORER, MATCHER = SentimentScorer(), KeywordMatcher(RULES)
OTHER = 100.0  # the other speaker's segments are timed from here: never a piece's


class Hooks:
    """The webhooks port, recording what the stream offers to post."""

    kept = 1

    def __init__(self) -> None:
        self.offered: list[tuple[str, dict[str, Any]]] = []

    def offer(self, stream_key: StreamKey, event_id: str, type: str, data: dict[str, Any]) -> None:
        self.offered.append((type, data))

    def routes(self, stream_key: StreamKey, type: str, data: dict[str, Any]) -> list[str]:
        return []

    def send(self, stream_key: StreamKey, item: Outgoing) -> None:
        raise AssertionError("a stream alone offers, never sends")

    async def take_over(self, stream_key: StreamKey, kept: Any, counts: Any) -> None:
        return None


@dataclass
class Recording:
    """A page view: every frame the stream emits, in order."""

    name: str = "recording"
    frames: list[Frame] = field(default_factory=list)

    def update(self, stream: Stream, frame: Frame) -> bytes:
        self.frames.append(frame)
        return b""


async def _retire(stream: Stream) -> None:
    return None


def relay(hooks: Hooks) -> tuple[Stream, Recording]:
    integrations = Integrations(
        alerts=lambda: CallAlerts(configs.alerts(rules=RULES), SCORER, MATCHER),
        webhooks=hooks,
        redaction=configs.redaction(hold=3600.0),  # pauses are fed as the hold timer's input
    )
    sources: Any = None  # never started: the test feeds its inputs
    stream = Stream(StreamKey.call(SID), sources, configs.relay(), Metrics(), _retire, integrations)
    view = Recording()
    stream.watch_view(view)
    return stream, view


def say(stream: Stream, reading: Reading, replay: int | None = None) -> None:
    """The reading, as Burki sends it: interims as the words come, then each final; after
    piece ``replay``, Burki replays every final said so far (as on a reconnect)."""
    me, other = reading.speaker, reading.other
    finals: list[Transcript] = []
    for i, piece in enumerate(reading.pieces):
        words = piece.split(" ")
        for n in range(1, len(words) + 1):
            stream.feed(_segment(me, " ".join(words[:n]), float(i), final=False))
        finals.append(_segment(me, piece, float(i)))
        stream.feed(finals[-1])
        gap = reading.gaps[i] if i < len(reading.gaps) else None
        if gap is not None and gap.interim:
            stream.feed(_segment(other, "Mm", OTHER + i, final=False))
        if gap is not None and gap.final:
            finals.append(_segment(other, gap.final, OTHER + i))
            stream.feed(finals[-1])
        if gap is not None and gap.pause:
            stream.feed(HoldReleased())
        if replay == i:
            stream.feed(PollBatch())
            for segment in finals:
                stream.feed(segment)
    stream.feed(_segment(other, "Thank you, that is all.", OTHER * 2))
    stream.feed(CallStatus(SID, "completed"))
    stream.feed(Finished())


def _segment(speaker: Speaker, text: str, start: float, final: bool = True) -> Transcript:
    return Transcript(SID, speaker, text, is_final=final, segment_start=start)


def shown(reading: Reading, view: Recording, hooks: Hooks, stream: Stream) -> tuple[Any, Any]:
    """Every version of each piece anyone was shown live, and what stays once settled."""
    live: dict[int, list[str]] = defaultdict(list)
    settled: dict[int, list[str]] = defaultdict(list)
    snapshot = stream.snapshot().data
    starts = {s["index"]: s["start"] for s in snapshot["segments"]}
    for frame in view.frames:
        segment = frame.data.get("segment")
        if frame.type in ("transcript", "redacted") and segment["speaker"] == reading.speaker:
            live[int(segment["start"])].append(segment["content"])
    excerpts = [a for a in snapshot["alerts"]]
    excerpts += [data for kind, data in hooks.offered if kind == "alert"]
    excerpts += [f.data for f in view.frames if f.type == "alert"]
    for alert in excerpts:
        start = starts.get(alert["segment_index"])
        if alert["speaker"] == reading.speaker and start is not None and start < OTHER:
            live[int(start)].append(alert["excerpt"])
            settled[int(start)].append(alert["excerpt"])
    for segment in snapshot["segments"]:
        if segment["speaker"] == reading.speaker:
            settled[int(segment["start"])].append(segment["content"])
    return live, settled


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(readings(), st.none() | st.integers(0, 5))
async def test_a_number_read_in_any_pieces_with_any_gaps_never_shows_beyond_what_is_allowed(
    reading: Reading, replay: int | None
) -> None:
    """And when Burki replays the call, no line is shown twice."""
    hooks = Hooks()
    stream, view = relay(hooks)
    try:
        say(stream, reading, replay)
        live, settled = shown(reading, view, hooks, stream)
        finals = [
            f for f in view.frames if f.type == "transcript" and f.data["segment"]["is_final"]
        ]
        assert len(finals) == len(reading.pieces) + sum(bool(g.final) for g in reading.gaps) + 1
    finally:
        await stream.close()
    assert check(reading, live, settled=False) is None, (reading, dict(live))
    assert check(reading, settled, settled=True) is None, (reading, dict(settled))


async def test_ordinary_numbers_said_over_segments_and_pauses_stay_readable() -> None:
    hooks = Hooks()
    stream, view = relay(hooks)
    said = [*ORDINARY, "42", "It's 4572.", "down three"]
    try:
        for i, line in enumerate(said):
            stream.feed(_segment("user", line, float(i)))
            stream.feed(_segment("assistant", "Okay.", OTHER + i))
            stream.feed(HoldReleased())
        stream.feed(CallStatus(SID, "completed"))
        stream.feed(Finished())
        segments = stream.snapshot().data["segments"]
    finally:
        await stream.close()
    assert [s["content"] for s in segments if s["speaker"] == "user"] == said
    assert not [f for f in view.frames if f.type == "redacted"]
