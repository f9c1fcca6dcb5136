"""Conformance: the frames recorded from the real open-source Burki server, replayed.

Every frame of ``/work/shared/burki-traces/`` goes through the normaliser; every
recorded ending through the classifier; the recorded calls through a real dashboard
(a server replays their frames verbatim) to what a viewer sees.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.live import Viewer, data, is_event, running_app, segments
from tests.traces import call_frames, load, probe, trace_server
from webapp.calls.callstate import CallState
from webapp.wire.events import CallStatus, Connected, Pong, Skipped, Transcript, UpstreamError
from webapp.wire.failures import Ending, FailureKind, classify
from webapp.wire.normalise import normalise, transcript_segment


def every_message() -> list[dict[str, Any]]:
    found = []
    for name in ("probe.jsonl", "sim_call.jsonl", "db_outage.jsonl", "edge_tests.jsonl"):
        for entry in load(name):
            for key in ("messages", "viewer_received", "server_sent", "received", "tail"):
                found += entry.get(key) or []
    return found


def test_every_recorded_frame_normalises_to_an_event() -> None:
    messages = every_message()
    assert len(messages) >= 30  # every recorded frame, none left out
    for message in messages:
        assert not isinstance(normalise(message), Skipped), message["type"]


def test_a_pong_without_call_sid_is_a_pong() -> None:
    pong = next(m for m in every_message() if m["type"] == "pong")
    assert "call_sid" not in pong
    assert isinstance(normalise(pong), Pong)


def ending_of(entry: dict[str, Any]) -> Ending:
    errors = [normalise(m) for m in entry.get("messages", [])]
    error = next((e for e in errors if isinstance(e, UpstreamError)), None)
    code, reason = entry["close"]
    return Ending(established=False, close_code=code, close_reason=reason, error=error)


@pytest.mark.parametrize(
    ("name", "check", "header_auth", "kind", "fatal"),
    [
        ("probe.jsonl", "bad_token", False, FailureKind.AUTH, False),
        ("db_outage.jsonl", "db_down_ws_good_key", False, FailureKind.AUTH, False),
        ("probe.jsonl", "foreign_call", False, FailureKind.ACCESS_DENIED, True),
        ("probe.jsonl", "unknown_call", False, FailureKind.ACCESS_DENIED, True),
        ("probe.jsonl", "bearer_header", True, FailureKind.HEADER_REJECTED, False),
        ("probe.jsonl", "subprotocol", True, FailureKind.HEADER_REJECTED, False),
        ("probe.jsonl", "no_credentials", True, FailureKind.HEADER_REJECTED, False),
    ],
)
def test_every_recorded_refusal_is_classified(
    name: str, check: str, header_auth: bool, kind: FailureKind, fatal: bool
) -> None:
    failure = classify(ending_of(probe(name, check)), header_auth=header_auth)
    assert (failure.kind, failure.fatal) == (kind, fatal)
    if kind is FailureKind.AUTH:
        assert failure.floor >= 60  # a database outage passes: retried slowly, never a storm


def test_the_recorded_restart_and_campaign_refusal_are_classified() -> None:
    restart = next(e for e in load("edge_tests.jsonl") if e["check"] == "restart")
    failure = classify(Ending(established=True, close_code=restart["close_code"]))
    assert failure.prompt and not failure.fatal
    assert "403" in probe("probe.jsonl", "campaign_ws")["close"][1]
    assert classify(Ending(handshake_status=403)).kind is FailureKind.AUTH


def test_a_dead_handler_says_only_internal_server_error() -> None:
    for entry in load("edge_tests.jsonl"):
        if entry["check"].startswith("zombie"):
            [error] = [normalise(m) for m in entry["server_sent"]]
            assert isinstance(error, UpstreamError) and error.code == "other"
            assert entry["json_ping_answer"] == [] and entry["protocol_ping_answered"]


def test_the_recorded_call_folds_into_one_status_word_and_merged_metadata() -> None:
    [messages] = [m for sid, m in call_frames().items() if sid.startswith("CA8be")]
    state = CallState(messages[0]["call_sid"])
    statuses = []
    for message in messages:
        event = normalise(message)
        assert not isinstance(event, Skipped)
        if not isinstance(event, Connected):
            statuses += [c.data["status"] for c in state.apply(event) if c.type == "call_status"]
    assert statuses == ["in-progress", "in-progress", "completed"]  # "ongoing" said first
    assert state.metadata["customer_phone_number"] == "+15553334444"  # from the first shape
    assert state.metadata["from_number"] == "+15553334444"  # from the live start
    assert state.metadata["duration"] == 6  # from the end, which carried nothing else
    assert [s["content"] for s in state.segments] == ["I would like to cancel my order."]


def test_stored_rows_meet_the_replayed_segments_without_duplicates() -> None:
    replay = probe("probe.jsonl", "token_query_ongoing")["messages"]
    rows = probe("probe.jsonl", "rest_transcripts")["body"]
    state = CallState(replay[0]["call_sid"])
    for message in replay:
        event = normalise(message)
        if isinstance(event, CallStatus | Transcript):
            state.apply(event)
    state.connection_started()
    for row in rows[:4]:  # the rows of the segments the socket replayed (no "timestamp")
        segment = transcript_segment(state.call_sid, row)
        assert isinstance(segment, Transcript) and segment.created_at is not None
        assert state.apply(segment) == []
    assert state.final_count == 4


def test_null_timings_keep_order_and_identity() -> None:
    replay = probe("probe.jsonl", "token_query_completed")["messages"]
    state = CallState(replay[0]["call_sid"])
    for message in replay:
        if message["type"] == "transcript":
            message = {**message, "data": {**message["data"], "segment_start": None}}
            message["data"]["segment_end"] = None
        event = normalise(message)
        if isinstance(event, CallStatus | Transcript):
            state.apply(event)
            state.apply(event)  # replayed twice: still once
    assert [s["content"] for s in state.segments] == [
        "Thanks for calling Acme.",
        "That's all, bye.",
    ]
    assert all(s["start"] is None for s in state.segments)


async def test_the_recorded_calls_replayed_through_the_dashboard() -> None:
    calls = call_frames()
    async with trace_server() as burki, running_app(burki) as live, live.client() as client:  # type: ignore[arg-type]
        viewers = {sid: Viewer(live.url, f"/api/calls/{sid}/events").start(client) for sid in calls}
        ongoing = viewers["CAa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"]
        await ongoing.wait_for(lambda e: len(segments(ongoing.events)) == 4)
        status = await ongoing.wait_for(is_event("call_status"))
        assert data(status)["status"] == "in-progress"  # Burki said "ongoing"
        completed = viewers["CAb2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"]
        await completed.wait_for(is_event("end"))  # status first, the replay after, then end
        assert segments(completed.events) == ["Thanks for calling Acme.", "That's all, bye."]
        [recorded] = [v for sid, v in viewers.items() if sid.startswith("CA8be")]
        await recorded.wait_for(is_event("end"))
        assert segments(recorded.events) == ["I would like to cancel my order."]
        last = [e for e in recorded.events if e.event == "call_status"][-1]
        assert data(last)["metadata"]["customer_phone_number"] == "••••4444"  # labelled as read
        for viewer in viewers.values():
            await viewer.stop()
