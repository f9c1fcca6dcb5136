"""A long call costs the same per segment at its end as at its start (issue 27).

An hour's call is 2,000+ final segments. What each segment costs must not grow with the
segments before it: every frame of a page view, every figure, is read in O(1) of the
call's length, and equals what a pass over the whole call gives.
"""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests import configs
from tests.healthoracle import measure as full_pass_measure
from webapp.alerts.attention import Attention
from webapp.alerts.callalerts import CallAlerts
from webapp.alerts.payloads import AlertRaised
from webapp.calls import callstate
from webapp.calls.health import Mark
from webapp.calls.inputs import HealthDue
from webapp.calls.pipeline import CallFeatures, Seen
from webapp.pages import views
from webapp.relay.config import Integrations
from webapp.relay.frames import Frame
from webapp.relay.metrics import Metrics
from webapp.relay.replaylog import ReplayLog
from webapp.relay.stream import Stream
from webapp.relay.subscriber import Subscriber
from webapp.wire.events import CallStatus, Transcript
from webapp.wire.streamkey import StreamKey

SID = "CA-long"
KEY = StreamKey.call(SID)
START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
LINES = (  # the assistant's on even n, the caller's on odd: one caller's line in two is angry
    "I'm sorry about that, let me look into it for you.",
    "Hi, I was charged twice for my subscription this month.",
    "I understand. I can refund the second charge right away.",
    "This is awful and ridiculous, cancel my account, I want to speak to a manager.",
)


def said(n: int) -> Transcript:
    """The ``n``-th final of the call, 3 s apart, timed (the caller on odd ``n``)."""
    at = START + timedelta(seconds=3 * n)
    return Transcript(
        SID,
        "user" if n % 2 else "assistant",
        f"{LINES[n % len(LINES)]} ({n})",
        True,
        0.97,
        3.0 * n,
        3.0 * n + 2.5,
        at,
        at,
    )


def features(segments: int) -> tuple[CallFeatures, ReplayLog, list[Frame]]:
    """A call with alerts and the attention score, fed ``segments`` finals; its frames."""
    clock = (START + timedelta(seconds=3 * segments)).timestamp
    call = CallFeatures(
        SID,
        configs.health(),
        None,
        CallAlerts(configs.alerts()),
        Attention(),
        clock=lambda: clock(),
    )
    log, frames = ReplayLog(10_000), []
    for n in range(segments):
        frames += [log.append(change, KEY) for change in call.apply(said(n))]
    return call, log, frames


def seen(call: CallFeatures) -> Seen:
    return Seen(KEY, call, {"state": "live", "message": "Connected to Burki."}, None)


@pytest.fixture
def payloads_built(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many segment payloads were built (a pass over the transcript builds them all)."""
    built = [0]
    real = callstate.segment_payload

    def counted(segment: Transcript, index: int | None) -> dict[str, Any]:
        built[0] += 1
        return real(segment, index)

    monkeypatch.setattr(callstate, "segment_payload", counted)
    return built


def test_a_page_views_frame_of_a_long_call_reads_its_last_lines_not_the_whole_transcript(
    payloads_built: list[int],
) -> None:
    """Before, each view's frame built the whole transcript's payloads: 2,000 a frame per
    view of an hour's call (23 ms a segment with a call page, captions and a card open)."""
    call, _, frames = features(2_000)
    at = max(i for i, f in enumerate(frames) if f.type == "transcript")
    last = frames[at:]  # the last segment's: its transcript, the alerts it raised
    assert last[0].data["segment"]["index"] == 1_999 and last[-1].type == "alert"
    for view, frame in itertools.product((views.CALL, views.CAPTIONS, views.CARD), last):
        payloads_built[0] = 0
        view.update(seen(call), frame)
        # the last line, the captions' and the card's lines, the line an alert marks: a
        # handful, however long the call
        assert payloads_built[0] <= 2 + views.CAPTION_LINES + views.CARD_LINES, view.name


def test_a_page_views_frames_after_2000_segments_equal_those_from_the_whole_transcript() -> None:
    call, _, frames = features(2_000)
    everything = call.state.segments  # the whole transcript, built at once
    context = views.call_context(seen(call))
    assert list(context.segments) == everything
    assert context.last_segment == everything[-1]
    assert context.caption_lines == everything[-views.CAPTION_LINES :]
    assert context.card_lines == everything[-views.CARD_LINES :]
    assert context.segments[-2:] == everything[-2:] and context.segments[5] == everything[5]
    eager = dataclasses.replace(context, segments=everything)
    for view in (views.CALL, views.CAPTIONS, views.CARD):
        regions = view.regions(seen(call), None)  # a snapshot's: every region, the transcript too
        rendered = view._message(seen(call), regions)
        from_list = views.View(view.name, view.template, lambda _: eager, view.regions)
        assert rendered == from_list.full(seen(call)), view.name
        assert view.update(seen(call), frames[-1]) == from_list.update(seen(call), frames[-1])


def test_a_snapshot_of_a_long_call_still_holds_every_segment() -> None:
    call, _, _ = features(2_000)
    state = call.view_state()
    assert [s["index"] for s in state["segments"]] == list(range(2_000))
    assert "segments" not in call.view_state(transcript=False)
    assert call.view_state(transcript=False) == {k: v for k, v in state.items() if k != "segments"}


def test_a_segment_of_a_call_that_raised_many_alerts_builds_no_alerts_json_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every segment's attention score reads the alerts' snapshot: it built each kept
    alert's JSON again (50 a segment once 50 were raised), now each is built when raised."""
    call, _, _ = features(2_000)
    assert call.alerts is not None
    kept = call.alerts.snapshot()["alerts"]
    assert len(kept) == configs.alerts().keep  # the call raised more than it keeps
    built = [0]
    real = AlertRaised.json

    def counted(alert: AlertRaised) -> dict[str, Any]:
        built[0] += 1
        return real(alert)

    monkeypatch.setattr(AlertRaised, "json", counted)
    calm = dataclasses.replace(said(2_001), content="Thanks, that is all.")
    frames = list(call.apply(calm))
    assert [f.type for f in frames] == ["transcript"] and "metrics" in frames[0].data
    assert built[0] == 0
    assert call.alerts.snapshot()["alerts"] == kept  # the same alerts, the same JSON


def test_the_figures_after_2000_segments_equal_a_full_pass_over_the_whole_call() -> None:
    call, _, frames = features(2_000)
    assert call.alerts is not None
    figures: dict[str, Any] = {}  # each event carries the members that changed (version 3)
    for f in frames:  # a ``metrics`` event is the changes; a ``transcript`` carries them
        figures.update(f.data if f.type == "metrics" else f.data.get("metrics", {}))
    assert figures["segments"] == 2_000
    marks = [  # from the segments said, not from the call's tally
        Mark(
            s.speaker,
            s.segment_start,
            s.segment_end,
            (START + timedelta(seconds=3 * n)).timestamp(),
        )
        for n, s in enumerate(map(said, range(2_000)))
    ]
    line = dataclasses.replace(call.health.timeline(), marks=marks)
    now = (START + timedelta(seconds=3 * 2_000)).timestamp()
    expected = full_pass_measure(line, now, configs.health())
    expected["attention"] = Attention().assess(expected, call.alerts.snapshot())
    assert figures == expected


async def _retire(stream: Stream) -> None:
    return None


async def test_late_joiners_of_a_long_call_at_one_moment_share_one_snapshot_render() -> None:
    """A viewer that joins without a position (or too late to resume) gets the whole call:
    at 2,000 segments about 13 ms to render. A wave of joiners at one moment renders it
    once; what any of them gets equals a snapshot rendered afresh, after a frame, a
    connection line that numbers nothing, and figures measured again with no frame."""
    integrations = Integrations(alerts=lambda: CallAlerts(configs.alerts()), attention=Attention())
    stream = Stream(KEY, None, configs.relay(), Metrics(), _retire, integrations)  # type: ignore[arg-type]
    try:
        for n in range(2_000):
            stream.feed(said(n))
        renders = [0]
        view_state = stream.features.view_state

        def counted(**kw: bool) -> dict[str, Any]:
            renders[0] += 1
            return view_state(**kw)

        stream.features.view_state = counted  # type: ignore[method-assign]
        firsts = [stream.attach(Subscriber(), None) for _ in range(200)]
        assert renders[0] == 1 and all(first == firsts[0] for first in firsts)
        assert len(firsts[0][0].data["segments"]) == 2_000

        def fresh() -> bytes:
            stream._snapshot = None
            return stream.snapshot().wire

        stream.feed(said(2_000))  # a frame: the snapshot before it is let go (megabytes)
        assert stream._snapshot is None
        assert stream.attach(Subscriber(), None)[0].wire == fresh()
        stream.show_local_status("error", "Burki Live lost this stream.")  # no id
        assert b"Burki Live lost this stream." in stream.snapshot().wire
        assert stream.snapshot().wire == fresh()
        measured = stream.features.health.measured
        later = (START + timedelta(hours=2)).timestamp()
        stream.feed(HealthDue(later))  # figures measured again: the call's length has grown
        assert stream.features.health.measured > measured
        assert stream.snapshot().wire == fresh()
        assert stream.snapshot() is stream.snapshot()
        stream.feed(CallStatus(SID, "completed", START + timedelta(hours=2)))
        assert stream.snapshot().data["ended"] and stream._snapshot is None  # none lingers
    finally:
        await stream.close()
