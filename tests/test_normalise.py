"""Every Burki message of every dialect, normalised; and nothing ever raises."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from webapp.wire.campaignframes import outcome
from webapp.wire.events import (
    CallStatus,
    CampaignCompleted,
    Connected,
    Contact,
    ContactUpdate,
    Counters,
    Event,
    History,
    Pong,
    Progress,
    Skipped,
    Transcript,
    UpstreamError,
)
from webapp.wire.fields import parse_timestamp
from webapp.wire.normalise import (
    campaign_progress,
    classify_error,
    normalise,
    parse,
    transcript_segment,
)

T = TypeVar("T")
SID = "CA" + "0123456789abcdef" * 2
T0 = datetime(2025, 8, 1, 10, 0, 0, tzinfo=UTC)


def parsed(frame: str) -> Event | Skipped:
    return parse(frame)


def expect(result: object, kind: type[T]) -> T:
    assert isinstance(result, kind), result
    return result


# -- live transcript: the protocol's example frames -------------------------------------


def test_connection_established_is_connected_with_its_message() -> None:
    frame = (
        '{"type":"connection_established","call_sid":"$SID","timestamp":"2025-08-01T10:00:00",'
        '"message":"Connected to live transcript stream"}'.replace("$SID", SID)
    )
    assert parsed(frame) == Connected(at=T0, message="Connected to live transcript stream")


def test_call_status_reads_status_and_metadata_at_top_level() -> None:
    frame = (
        '{"type":"call_status","call_sid":"$SID","timestamp":"2025-08-01T10:00:00Z",'
        '"status":"in-progress","metadata":{"assistant_id":7,"started_at":"2025-08-01T09:59:00",'
        '"to_phone_number":"+15550001","customer_phone_number":"+15550002"}}'.replace("$SID", SID)
    )
    event = expect(parsed(frame), CallStatus)
    assert (event.call_sid, event.status, event.at) == (SID, "in-progress", T0)
    assert event.metadata["assistant_id"] == 7
    assert not event.terminal


def test_call_status_reads_status_and_metadata_inside_data() -> None:
    message = {
        "type": "call_status",
        "call_sid": SID,
        "data": {"status": "completed", "metadata": {"duration": 42}},
    }
    event = expect(normalise(message), CallStatus)
    assert (event.status, event.metadata, event.terminal) == ("completed", {"duration": 42}, True)


def test_call_status_without_metadata_has_empty_metadata() -> None:
    event = expect(normalise({"type": "call_status", "status": "failed"}), CallStatus)
    assert event == CallStatus(call_sid="", status="failed", metadata={})


def test_transcript_example_frame_becomes_a_final_segment() -> None:
    frame = (
        '{"type":"transcript","call_sid":"$SID","timestamp":"2025-08-01T10:00:00",'
        '"data":{"content":"Hello, how can I help you today?","speaker":"assistant",'
        '"is_final":true,"confidence":0.95,"segment_start":5.2,"segment_end":7.1,'
        '"created_at":"2025-08-01T10:00:00Z"}}'.replace("$SID", SID)
    )
    assert parsed(frame) == Transcript(
        call_sid=SID,
        speaker="assistant",
        content="Hello, how can I help you today?",
        is_final=True,
        confidence=0.95,
        segment_start=5.2,
        segment_end=7.1,
        created_at=T0,
        at=T0,
    )


def test_interim_transcript_keeps_is_final_false_and_null_confidence() -> None:
    message = {
        "type": "transcript",
        "call_sid": SID,
        "data": {"content": "Hel", "speaker": "user", "is_final": False, "confidence": None},
    }
    event = expect(normalise(message), Transcript)
    assert (event.is_final, event.confidence, event.speaker) == (False, None, "user")


def test_transcript_without_is_final_or_timings_is_final_with_no_timings() -> None:
    message = {"type": "transcript", "data": {"content": "Hi", "speaker": "user"}}
    event = expect(normalise(message), Transcript)
    assert event == Transcript(call_sid="", speaker="user", content="Hi")


def test_integer_confidence_and_timings_become_floats() -> None:
    data = {"content": "x", "speaker": "user", "confidence": 1, "segment_start": 0}
    event = expect(normalise({"type": "transcript", "data": data}), Transcript)
    assert (event.confidence, event.segment_start) == (1.0, 0.0)
    assert isinstance(event.confidence, float)


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_read_as_absent(bad: str) -> None:
    frame = (
        '{"type":"transcript","data":{"content":"x","speaker":"user",'
        f'"confidence":{bad},"segment_start":{bad},"segment_end":1.5}}}}'
    )
    event = expect(parsed(frame), Transcript)
    assert (event.confidence, event.segment_start, event.segment_end) == (None, None, 1.5)


def test_pong_is_pong() -> None:
    assert parsed('{"type":"pong","timestamp":"2025-08-01T10:00:00"}') == Pong(at=T0)


# -- errors -------------------------------------------------------------------------


def test_authentication_failure_example_frame_is_authentication_failed() -> None:
    frame = '{"type":"error","error":"authentication_failed","message":"Authentication failed"}'
    assert parsed(frame) == UpstreamError(
        code="authentication_failed", message="Authentication failed"
    )


def test_missing_call_example_frame_is_not_found() -> None:
    frame = '{"type":"error","call_sid":"$SID","message":"Call $SID not found"}'.replace(
        "$SID", SID
    )
    event = expect(parsed(frame), UpstreamError)
    assert (event.code, event.message) == ("not_found", f"Call {SID} not found")


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        ("authentication_failed", "", "authentication_failed"),
        (None, "Authentication failed", "authentication_failed"),
        (None, "Invalid API key", "authentication_failed"),
        ("access_denied", "Access denied to this call", "access_denied"),
        (None, "Access denied to this call", "access_denied"),
        ("not_found", "", "not_found"),
        (None, "Call CAabc not found", "not_found"),
        ("rate_limit_exceeded", "", "rate_limited"),
        ("rate_limited", "", "rate_limited"),
        (None, "Too many connections for this call", "rate_limited"),
        (None, "Connection initialization failed", "other"),
        ("internal", "boom", "other"),
        (None, "", "other"),
        # The code wins over the text.
        ("access_denied", "Authentication failed", "access_denied"),
    ],
)
def test_error_is_classified_from_code_then_message(
    code: str | None, message: str, expected: str
) -> None:
    assert classify_error(code, message) == expected
    frame: dict[str, Any] = {"type": "error", "message": message}
    if code is not None:
        frame["error"] = code
    assert expect(normalise(frame), UpstreamError).code == expected


def test_error_with_odd_fields_is_still_an_error_never_skipped() -> None:
    event = expect(normalise({"type": "error", "error": 5, "message": ["x"]}), UpstreamError)
    assert event == UpstreamError(code="other", message="")


# -- campaign dialect C ---------------------------------------------------------------

C_PROGRESS = {
    "campaign_id": 42,
    "status": "running",
    "progress": {
        "total_contacts": 20,
        "completed": 6,
        "failed": 2,
        "processing": 3,
        "pending": 9,
        "progress_percentage": 40.0,
        "success_rate": 75.0,
    },
    "started_at": "2025-08-01T09:00:00",
    "completed_at": None,
    "recent_activity": [
        {
            "execution_id": 901,
            "contact_phone": "+15550003",
            "status": "completed",
            "executed_at": "2025-08-01T10:00:00",
            "call_id": "CAfeed",
        },
        {"execution_id": 902, "contact_phone": "+15550004", "status": "failed", "call_id": 17},
    ],
}
COUNTERS = Counters(
    total=20,
    completed=8,
    successful=6,
    failed=2,
    in_progress=3,
    pending=9,
    success_rate=75.0,
    percent_done=40.0,
)


def test_connection_ack_with_epoch_timestamp_is_connected() -> None:
    frame = '{"type":"connection_ack","campaign_id":42,"timestamp":1707984000.123}'
    event = expect(parsed(frame), Connected)
    assert event.at == datetime(2024, 2, 15, 8, 0, 0, 123000, tzinfo=UTC)


@pytest.mark.parametrize("kind", ["initial_progress", "progress_update"])
def test_c_progress_gives_counters_status_and_recent_activity(kind: str) -> None:
    event = expect(normalise({"type": kind, "timestamp": 1754042400, "data": C_PROGRESS}), Progress)
    assert event.counters == COUNTERS
    assert (event.campaign_id, event.status, event.at) == (42, "running", T0)
    assert event.contacts == (
        Contact(
            outcome="success",
            phone="+15550003",
            contact_id="901",
            call_sid="CAfeed",
            raw_status="completed",
            at=T0,
        ),
        Contact(
            outcome="failed",
            phone="+15550004",
            contact_id="902",
            call_sid="17",
            raw_status="failed",
        ),
    )


@pytest.mark.parametrize("status", ["completed", "cancelled", "failed"])
def test_c_progress_with_a_final_status_is_still_progress(status: str) -> None:
    event = normalise({"type": "progress_update", "data": {**C_PROGRESS, "status": status}})
    assert expect(event, Progress).status == status


def test_c_progress_takes_campaign_id_from_the_envelope_when_data_lacks_it() -> None:
    data = {key: value for key, value in C_PROGRESS.items() if key != "campaign_id"}
    event = normalise({"type": "progress_update", "campaign_id": 7, "data": data})
    assert expect(event, Progress).campaign_id == 7


def test_metrics_history_becomes_the_chart_s_past_oldest_first() -> None:
    counts = {"total_contacts": 10, "completed": 3, "failed": 1, "processing": 1, "pending": 5}
    later = {"timestamp": 1707984600.0, **counts, "completed": 4}
    earlier = {"timestamp": 1707984000.0, **counts}
    data = {"campaign_id": 4, "hours": 24, "history": [later, earlier, {"timestamp": None}]}
    event = expect(normalise({"type": "metrics_history", "data": data}), History)
    assert event.campaign_id == 4
    assert [c.successful for _, c in event.samples] == [3, 4]
    assert [c.completed for _, c in event.samples] == [4, 5]


def test_metrics_history_without_a_history_list_is_skipped() -> None:
    event = normalise({"type": "metrics_history", "data": {"points": []}})
    assert event == Skipped("field history is not a list", "metrics_history")


# -- campaign dialect A ---------------------------------------------------------------


def test_a_progress_reads_counts_from_data() -> None:
    data = {
        "total_contacts": 20,
        "completed_contacts": 8,
        "successful_contacts": 6,
        "failed_contacts": 2,
        "pending_contacts": 9,
        "success_rate": 75.0,
    }
    event = expect(normalise({"type": "progress", "campaign_id": 42, "data": data}), Progress)
    assert (event.counters, event.campaign_id, event.contacts) == (COUNTERS, 42, ())


def test_a_contact_completed_is_a_contact_update() -> None:
    message = {
        "type": "contact_completed",
        "campaign_id": 42,
        "timestamp": "2025-08-01T10:00:00Z",
        "data": {
            "phone_number": "+15550003",
            "name": "Ada",
            "outcome": "success",
            "duration": 63,
            "call_sid": SID,
        },
    }
    assert normalise(message) == ContactUpdate(
        Contact(
            outcome="success",
            phone="+15550003",
            name="Ada",
            call_sid=SID,
            duration=63.0,
            raw_status="success",
            at=T0,
        ),
        campaign_id=42,
    )


def test_a_campaign_completed_reads_final_counts_from_data() -> None:
    data = {
        "total_contacts": 20,
        "completed_contacts": 20,
        "successful_contacts": 15,
        "failed_contacts": 5,
        "pending_contacts": 0,
        "success_rate": 75.0,
    }
    event = expect(normalise({"type": "campaign_completed", "data": data}), CampaignCompleted)
    assert event.counters == Counters(20, 20, 15, 5, 0, 0, 75.0, 100.0)


def test_a_campaign_completed_with_only_a_rate_uses_the_sent_rate() -> None:
    data = {"total_contacts": 20, "success_rate": 62.5}
    event = expect(normalise({"type": "campaign_completed", "data": data}), CampaignCompleted)
    assert event.counters.success_rate == 62.5


# -- campaign dialect B ---------------------------------------------------------------


def test_b_progress_is_flat_and_carries_the_contact_that_changed() -> None:
    message = {
        "type": "progress",
        "campaign_id": 42,
        "timestamp": "2025-08-01T10:00:00",
        "total_contacts": 20,
        "completed_contacts": 6,
        "failed_contacts": 2,
        "pending_contacts": 9,
        "in_progress_contacts": 3,
        "completion_percentage": 30.0,
        "contact_id": 77,
        "contact_phone": "+15550005",
        "contact_status": "in_progress",
        "contact_error": None,
    }
    event = expect(normalise(message), Progress)
    assert (event.counters, event.campaign_id) == (COUNTERS, 42)
    assert event.contacts == (
        Contact(
            outcome="in_progress",
            phone="+15550005",
            contact_id="77",
            raw_status="in_progress",
            at=T0,
        ),
    )


def test_b_progress_without_contact_status_has_no_contacts() -> None:
    event = normalise({"type": "progress", "total_contacts": 3, "completed_contacts": 1})
    assert expect(event, Progress).contacts == ()


def test_b_contact_update_is_a_contact_update() -> None:
    message = {
        "type": "contact_update",
        "campaign_id": 42,
        "contact_id": 77,
        "phone_number": "+15550005",
        "status": "failed",
        "call_sid": SID,
        "call_duration": 12,
        "error_message": "no answer",
    }
    assert normalise(message) == ContactUpdate(
        Contact(
            outcome="failed",
            phone="+15550005",
            contact_id="77",
            call_sid=SID,
            duration=12.0,
            error="no answer",
            raw_status="failed",
        ),
        campaign_id=42,
    )


def test_b_campaign_completed_counts_completed_contacts_as_successful() -> None:
    message = {
        "type": "campaign_completed",
        "campaign_id": 42,
        "total_contacts": 20,
        "completed_contacts": 15,
        "failed_contacts": 5,
        "success_rate": 75.0,
        "total_duration": 1800,
        "total_cost": 4.2,
    }
    event = expect(normalise(message), CampaignCompleted)
    assert event.counters == Counters(20, 20, 15, 5, 0, 0, 75.0, 100.0)
    assert (event.campaign_id, event.total_duration, event.total_cost) == (42, 1800.0, 4.2)


# -- one meaning for the counters of every dialect -------------------------------------


def counts_as(dialect: str, total: int, ok: int, ko: int, busy: int, wait: int) -> object:
    done = ok + ko
    if dialect == "A":
        data = {
            "total_contacts": total,
            "completed_contacts": done,
            "successful_contacts": ok,
            "failed_contacts": ko,
            "pending_contacts": wait,
            "success_rate": 12.0,  # deliberately wrong: the counts win
        }
        return {"type": "progress", "data": data}
    if dialect == "B":
        flat = {
            "total_contacts": total,
            "completed_contacts": ok,
            "failed_contacts": ko,
            "pending_contacts": wait,
            "in_progress_contacts": busy,
            "completion_percentage": 99.0,
        }
        return {"type": "progress", **flat}
    progress = {
        "total_contacts": total,
        "completed": ok,
        "failed": ko,
        "processing": busy,
        "pending": wait,
        "progress_percentage": 1.0,
        "success_rate": 0.5,
    }
    return {"type": "progress_update", "data": {"progress": progress}}


@given(
    ok=st.integers(0, 1000),
    ko=st.integers(0, 1000),
    busy=st.integers(0, 1000),
    wait=st.integers(0, 1000),
)
def test_every_dialect_gives_the_same_counters_for_the_same_numbers(
    ok: int, ko: int, busy: int, wait: int
) -> None:
    total = ok + ko + busy + wait
    assume(total > 0)  # with no total, each dialect's sent percentage is all there is
    results = [
        expect(normalise(counts_as(d, total, ok, ko, busy, wait)), Progress).counters for d in "ABC"
    ]
    assert results[0] == results[1] == results[2]
    counters = results[0]
    assert (counters.completed, counters.in_progress, counters.pending) == (ok + ko, busy, wait)
    assert counters.success_rate == (ok / (ok + ko) * 100 if ok + ko else None)
    assert counters.percent_done == ((ok + ko) / total * 100 if total else 0.0)


def test_success_rate_is_none_before_any_contact_completes() -> None:
    progress = {"total_contacts": 5, "completed": 0, "failed": 0, "success_rate": 40.0}
    event = normalise({"type": "progress_update", "data": {"progress": progress}})
    assert expect(event, Progress).counters.success_rate is None


def test_sent_rate_between_zero_and_one_is_read_as_a_percent() -> None:
    event = normalise({"type": "campaign_completed", "data": {"success_rate": 0.5}})
    assert expect(event, CampaignCompleted).counters.success_rate == 0.5


@pytest.mark.parametrize("rate", [-1, 100.5, 1e308])
def test_sent_rate_outside_zero_to_hundred_is_absent(rate: float) -> None:
    event = normalise({"type": "campaign_completed", "data": {"success_rate": rate}})
    assert expect(event, CampaignCompleted).counters.success_rate is None


def test_sent_percentage_is_used_only_when_total_is_unknown() -> None:
    event = normalise({"type": "progress", "completion_percentage": 55.0})
    assert expect(event, Progress).counters.percent_done == 55.0


def test_absent_in_progress_is_what_total_leaves_after_completed_and_pending() -> None:
    data = {"total_contacts": 10, "successful_contacts": 3, "failed_contacts": 1}
    event = normalise({"type": "progress", "data": {**data, "pending_contacts": 4}})
    assert expect(event, Progress).counters.in_progress == 2


def test_absent_pending_and_in_progress_leave_the_rest_pending() -> None:
    event = normalise({"type": "progress", "total_contacts": 10, "completed_contacts": 3})
    counters = expect(event, Progress).counters
    assert (counters.pending, counters.in_progress) == (7, 0)


def test_a_missing_outcome_count_is_derived_from_the_completed_count() -> None:
    data = {"total_contacts": 10, "completed_contacts": 4, "failed_contacts": 1}
    counters = expect(normalise({"type": "progress", "data": data}), Progress).counters
    assert (counters.successful, counters.failed, counters.success_rate) == (3, 1, 75.0)


def test_an_absent_total_is_the_sum_of_the_known_counts() -> None:
    progress = {"completed": 2, "failed": 1, "processing": 1, "pending": 4}
    event = normalise({"type": "progress_update", "data": {"progress": progress}})
    assert expect(event, Progress).counters.total == 8


def test_integral_float_counts_are_accepted() -> None:
    event = normalise({"type": "progress", "total_contacts": 4.0, "completed_contacts": 2.0})
    assert expect(event, Progress).counters.total == 4


# -- contacts' outcomes -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        *[(s, "success") for s in ("success", "successful", "completed", "answered", "Completed")],
        *[(s, "failed") for s in ("failed", "error", "no-answer", "busy")],
        *[(s, "in_progress") for s in ("in_progress", "in-progress", "calling", "processing")],
        *[(s, "pending") for s in ("pending", "queued")],
        ("skipped", "skipped"),
        ("voicemail", "unknown"),
        ("", "unknown"),
    ],
)
def test_contact_status_maps_to_one_outcome(status: str, expected: str) -> None:
    assert outcome(status) == expected
    event = normalise({"type": "contact_update", "status": status})
    contact = expect(event, ContactUpdate).contact
    assert (contact.outcome, contact.raw_status) == (expected, status)


# -- timestamps ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "2025-08-01T10:00:00Z",
        "2025-08-01T10:00:00",
        "2025-08-01T10:00:00.000000",
        "2025-08-01 10:00:00",
        "2025-08-01T12:00:00+02:00",
        "2025-08-01T05:00:00-05:00",
        1754042400,
        1754042400.0,
        "1754042400",
        " 1754042400.0 ",
    ],
)
def test_every_timestamp_form_reads_as_aware_utc(value: object) -> None:
    result = parse_timestamp(value)
    assert result == T0
    assert result is not None and result.tzinfo is UTC


def test_fractional_epoch_keeps_its_fraction() -> None:
    assert parse_timestamp(1707984000.5) == datetime(2024, 2, 15, 8, 0, 0, 500000, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [None, True, False, "", "yesterday", "2025-13-01T00:00:00", [], {}, 1e300, float("nan"), "1e5"],
)
def test_unreadable_timestamp_is_none(value: object) -> None:
    assert parse_timestamp(value) is None


def test_offset_timestamp_is_converted_not_relabelled() -> None:
    tz = timezone(timedelta(hours=-3))
    value = datetime(2025, 8, 1, 7, 0, tzinfo=tz).isoformat()
    assert parse_timestamp(value) == T0


def test_unreadable_envelope_timestamp_leaves_the_event_without_time() -> None:
    assert normalise({"type": "pong", "timestamp": "soon"}) == Pong(at=None)


# -- the REST helpers -----------------------------------------------------------------------


def test_rest_transcript_row_becomes_a_transcript() -> None:
    row = {
        "id": 5,
        "call_id": 9,
        "speaker": "user",
        "content": "I need help",
        "is_final": True,
        "confidence": None,
        "timestamp": "2025-08-01T10:00:00",
        "created_at": "2025-08-01T10:00:00Z",
    }
    assert transcript_segment(SID, row, at=row["timestamp"]) == Transcript(
        call_sid=SID, speaker="user", content="I need help", created_at=T0, at=T0
    )


def test_rest_progress_body_becomes_progress() -> None:
    body = {
        "progress": C_PROGRESS["progress"],
        "metrics": {"total_duration_seconds": 10, "success_rate": 75.0},
        "recent_activity": [],
    }
    event = expect(campaign_progress(body), Progress)
    assert (event.counters, event.campaign_id, event.contacts) == (COUNTERS, None, ())


def test_rest_helpers_skip_bad_rows() -> None:
    assert isinstance(transcript_segment(SID, {"speaker": "bot", "content": "x"}), Skipped)
    assert isinstance(campaign_progress({"progress": []}), Skipped)


# -- every skip reason ------------------------------------------------------------------------

TEXT = {"content": "x", "speaker": "user"}
SKIPS: list[tuple[object, str]] = [
    ([1, 2], "message is not a JSON object"),
    ("hello", "message is not a JSON object"),
    (None, "message is not a JSON object"),
    ({"data": {}}, "message has no string type"),
    ({"type": 3}, "message has no string type"),
    ({"type": "mystery"}, "unknown message type"),
    ({"type": "metrics_history"}, "field data is missing"),
    ({"type": "transcript"}, "field data is missing"),
    ({"type": "transcript", "data": "x"}, "field data is not an object"),
    ({"type": "transcript", "data": {"content": "x"}}, "field speaker is missing"),
    ({"type": "transcript", "data": {**TEXT, "speaker": "bot"}}, "speaker is neither"),
    ({"type": "transcript", "data": {"speaker": "user"}}, "field content is missing"),
    ({"type": "transcript", "data": {**TEXT, "content": 5}}, "field content is not a string"),
    (
        {"type": "transcript", "data": {**TEXT, "is_final": "yes"}},
        "field is_final is not a boolean",
    ),
    (
        {"type": "transcript", "data": {**TEXT, "confidence": True}},
        "field confidence is not a number",
    ),
    (
        {"type": "transcript", "data": {**TEXT, "segment_end": "7"}},
        "field segment_end is not a number",
    ),
    ({"type": "transcript", "call_sid": 5, "data": TEXT}, "field call_sid is not a string"),
    ({"type": "call_status"}, "field status is missing"),
    ({"type": "call_status", "status": 1}, "field status is not a string"),
    ({"type": "call_status", "status": "x", "metadata": [1]}, "field metadata is not an object"),
    ({"type": "progress", "total_contacts": -1}, "field total_contacts is not a count"),
    ({"type": "progress", "total_contacts": "9"}, "field total_contacts is not a count"),
    ({"type": "progress", "failed_contacts": 1.5}, "field failed_contacts is not a count"),
    ({"type": "progress", "failed_contacts": True}, "field failed_contacts is not a count"),
    ({"type": "progress", "pending_contacts": 10**16}, "field pending_contacts is not a count"),
    ({"type": "progress", "success_rate": "75%"}, "field success_rate is not a number"),
    ({"type": "progress", "campaign_id": "42"}, "field campaign_id is not a count"),
    ({"type": "progress", "contact_status": "x", "contact_id": 1.5}, "field contact_id is not a"),
    (
        {"type": "progress", "data": {"completed_contacts": 2, "failed_contacts": 3}},
        "an outcome count exceeds the completed count",
    ),
    ({"type": "progress_update"}, "field data is missing"),
    ({"type": "progress_update", "data": {}}, "field progress is missing"),
    ({"type": "progress_update", "data": {"progress": 1}}, "field progress is not an object"),
    (
        {"type": "progress_update", "data": {"progress": {}, "recent_activity": {}}},
        "field recent_activity is not a list",
    ),
    (
        {"type": "progress_update", "data": {"progress": {}, "recent_activity": [1]}},
        "a recent_activity entry is not an object",
    ),
    (
        {"type": "progress_update", "data": {"progress": {}, "recent_activity": [{}]}},
        "field status is missing",
    ),
    ({"type": "contact_completed", "data": {}}, "field outcome is missing"),
    ({"type": "contact_completed", "data": {"outcome": "x", "name": 3}}, "field name is not a"),
    ({"type": "contact_update"}, "field status is missing"),
    ({"type": "contact_update", "status": "x", "call_duration": "1m"}, "field call_duration"),
    ({"type": "campaign_completed", "total_cost": "4"}, "field total_cost is not a number"),
]


@pytest.mark.parametrize(("message", "reason"), SKIPS)
def test_unusable_message_is_skipped_with_a_reason(message: object, reason: str) -> None:
    result = expect(normalise(message), Skipped)
    assert result.reason.startswith(reason)
    if isinstance(message, dict) and isinstance(message.get("type"), str):
        assert result.type == message["type"]


def test_skipped_reason_never_contains_the_message_content() -> None:
    secret = "SECRET-4111111111111111"
    messages: list[object] = [
        {"type": secret},
        {"type": "transcript", "data": {"speaker": secret, "content": secret}},
        {"type": "transcript", "data": {"speaker": "user", "content": [secret]}},
        {"type": "call_status", "status": [secret]},
        {"type": "progress", "total_contacts": secret},
        [secret],
    ]
    for message in messages:
        assert secret not in expect(normalise(message), Skipped).reason


def test_long_unknown_type_is_cut_short_in_the_skip() -> None:
    result = expect(normalise({"type": "x" * 10_000}), Skipped)
    assert result.type is not None and len(result.type) <= 64


# -- parse(): size, JSON, encoding -----------------------------------------------------------


def test_frame_over_the_limit_is_skipped_before_decoding() -> None:
    frame = json.dumps({"type": "pong", "pad": "x" * 100})
    assert parse(frame, max_bytes=len(frame)) == Pong()
    assert parse(frame, max_bytes=len(frame) - 1) == Skipped(
        f"frame larger than {len(frame) - 1} bytes"
    )


def test_frame_size_counts_utf8_bytes_not_characters() -> None:
    frame = json.dumps({"type": "pong", "pad": "é" * 300}, ensure_ascii=False)
    size = len(frame.encode())
    assert len(frame) < size
    assert isinstance(parse(frame, max_bytes=size - 1), Skipped)
    assert parse(frame, max_bytes=size) == Pong()


def test_bytes_frame_is_decoded_as_utf8_json() -> None:
    assert parse(b'{"type":"pong"}') == Pong()


@pytest.mark.parametrize(
    "frame",
    ["", "{", "not json", '{"type":"pong"', b"\xff\xfe\x00garbage", b"\x80", "[" * 100_000],
    ids=["empty", "brace", "words", "unclosed", "utf16-garbage", "bad-utf8", "deep"],
)
def test_non_json_frame_is_skipped_as_not_json(frame: str | bytes) -> None:
    assert parse(frame) == Skipped("frame is not valid JSON")


def test_deeply_nested_json_is_skipped_not_a_recursion_error() -> None:
    frame = "[" * 200_000 + "]" * 200_000
    assert isinstance(parse(frame), Skipped)


# -- nothing ever raises -------------------------------------------------------------------

KNOWN_TYPES = [
    "connection_established",
    "connection_ack",
    "call_status",
    "transcript",
    "error",
    "pong",
    "progress",
    "initial_progress",
    "progress_update",
    "contact_completed",
    "contact_update",
    "campaign_completed",
    "metrics_history",
]
FIELDS = [
    "timestamp", "call_sid", "status", "metadata", "message", "error", "campaign_id",
    "content", "speaker", "is_final", "confidence", "segment_start", "segment_end",
    "created_at", "total_contacts", "completed_contacts", "successful_contacts",
    "failed_contacts", "pending_contacts", "in_progress_contacts", "success_rate",
    "completion_percentage", "contact_id", "contact_phone", "contact_status",
    "contact_error", "phone_number", "name", "outcome", "duration", "call_duration",
    "error_message", "total_duration", "total_cost", "completed", "failed", "processing",
    "pending", "progress_percentage", "execution_id", "executed_at", "call_id",
]  # fmt: skip

EVENT_TYPES = (
    Connected,
    CallStatus,
    Transcript,
    Progress,
    ContactUpdate,
    CampaignCompleted,
    History,
    UpstreamError,
    Pong,
    Skipped,
)
MARK = "\u2603"
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-5, 200)
    | st.floats()
    | st.text().map(lambda s: MARK + s)
    | st.sampled_from(["user", "assistant", "completed", "failed", "2025-08-01T10:00:00"])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
field_values = (
    scalars
    | st.integers(0, 50)
    | st.lists(scalars, max_size=2)
    | st.dictionaries(st.sampled_from(FIELDS), scalars, max_size=3)
)
known_fields = st.dictionaries(st.sampled_from(FIELDS), field_values, max_size=8)


SEEDS: dict[str, dict[str, object]] = {
    "transcript": {"data": {"content": "x", "speaker": "user"}},
    "call_status": {"status": "in-progress"},
    "progress": {"data": {"total_contacts": 3}},
    "initial_progress": {"data": {"progress": {"total_contacts": 3}, "recent_activity": []}},
    "progress_update": {"data": {"progress": {"completed": 1}, "recent_activity": [{}]}},
    "contact_completed": {"data": {"outcome": "success"}},
    "contact_update": {"status": "failed"},
}


@st.composite
def burki_like(draw: st.DrawFn) -> dict[str, object]:
    """A valid-looking message of a known type with random fields mixed in at every level."""
    kind = draw(st.sampled_from(KNOWN_TYPES))
    message: dict[str, object] = json.loads(json.dumps(SEEDS.get(kind, {})))
    message.update(draw(known_fields))
    data = message.setdefault("data", {})
    if isinstance(data, dict) and draw(st.integers(0, 4)):
        data.update(draw(known_fields))
        progress = data.setdefault("progress", {})
        if isinstance(progress, dict):
            progress.update(draw(known_fields))
        data["recent_activity"] = draw(st.lists(known_fields, max_size=3) | field_values)
    else:
        message["data"] = draw(field_values)
    message["type"] = kind
    return message


def check_result(result: object) -> None:
    assert isinstance(result, EVENT_TYPES)
    if isinstance(result, Skipped):
        assert MARK not in result.reason
    if isinstance(result, Progress | CampaignCompleted):
        c = result.counters
        assert min(c.total, c.completed, c.successful, c.failed, c.in_progress, c.pending) >= 0
        assert c.success_rate is None or 0.0 <= c.success_rate <= 100.0


@settings(max_examples=400)
@given(json_values)
def test_any_json_value_normalises_without_raising(value: object) -> None:
    check_result(normalise(value))
    check_result(parse(json.dumps(value)))


@settings(max_examples=500)
@given(burki_like())
def test_any_message_of_a_known_type_normalises_without_raising(message: dict[str, object]) -> None:
    check_result(normalise(message))


@given(st.binary(max_size=200))
def test_any_bytes_parse_without_raising(frame: bytes) -> None:
    check_result(parse(frame, max_bytes=100))


@given(st.text(max_size=200))
def test_any_text_parses_without_raising(frame: str) -> None:
    check_result(parse(frame, max_bytes=100))
