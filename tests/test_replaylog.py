"""Numbered, rendered-once frames and exact resume from an event id (and SSE framing)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sse_starlette.event import ServerSentEvent

from webapp.calls.change import Change, json_safe
from webapp.relay.frames import render
from webapp.relay.replaylog import ReplayLog, parse_id
from webapp.wire.streamkey import StreamKey

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=8,
)


def sse_starlette_bytes(id: str, type: str, data: dict[str, Any]) -> bytes:
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return ServerSentEvent(data=payload, event=type, id=id, sep="\n").encode()


def log_with(count: int, capacity: int = 500) -> ReplayLog:
    log = ReplayLog(capacity=capacity, epoch="e1")
    for n in range(count):
        log.append(Change("progress", {"n": n}))
    return log


# -- frames ------------------------------------------------------------------------


def test_wire_is_byte_identical_to_sse_starlette() -> None:
    data = {"segment": {"content": 'Grüße, "quoted"\r\nnew line \u2028 ✓', "n": 1.5}}
    frame = render("ab12cd34-7", "transcript", data)
    assert frame.wire == sse_starlette_bytes("ab12cd34-7", "transcript", data)
    assert frame.wire == b"id: ab12cd34-7\n" + frame.body


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=4))
def test_any_json_payload_frames_like_sse_starlette_in_one_data_line(data: dict[str, Any]) -> None:
    frame = render("e-1", "status", data)
    assert frame.wire == sse_starlette_bytes("e-1", "status", data)
    event, line, blank = frame.body.decode().split("\n", 2)
    assert event == "event: status"
    assert json.loads(line.removeprefix("data: ")) == data
    assert blank == "\n"


def test_body_is_event_and_compact_data_lines() -> None:
    frame = render("e-1", "progress", {"a": [1, 2], "b": "é"})
    assert frame.body == 'event: progress\ndata: {"a":[1,2],"b":"é"}\n\n'.encode()


@pytest.mark.parametrize("bad", [{"id": "e-1\n"}, {"type": "status\r"}])
def test_a_line_break_in_id_or_type_is_refused(bad: dict[str, str]) -> None:
    args = {"id": "e-1", "type": "status", **bad}
    with pytest.raises(ValueError):
        render(args["id"], args["type"], {})


def test_nan_is_refused_by_render_and_cleared_by_json_safe() -> None:
    with pytest.raises(ValueError):
        render("e-1", "status", {"x": float("nan")})
    cleaned = json_safe({"x": float("nan"), 3: (float("inf"), 1)})
    assert cleaned == {"x": None, "3": [None, 1]}
    render("e-1", "status", cleaned)


# -- numbering -----------------------------------------------------------------------


def test_ids_are_epoch_and_a_sequence_counting_from_one() -> None:
    log = ReplayLog(epoch="abc")
    assert log.last_id == "abc-0"
    first = log.append(Change("status", {"state": "live"}))
    second = log.append(Change("end", {}))
    assert (first.id, second.id, log.last_id) == ("abc-1", "abc-2", "abc-2")
    assert first.wire.startswith(b"id: abc-1\nevent: status\n")


def test_each_instance_gets_its_own_random_epoch() -> None:
    epochs = {ReplayLog().epoch for _ in range(20)}
    assert len(epochs) == 20
    assert all(len(epoch) == 8 for epoch in epochs)


def test_an_epoch_that_would_make_ids_ambiguous_is_refused() -> None:
    with pytest.raises(ValueError):
        ReplayLog(epoch="a-b")
    with pytest.raises(ValueError):
        ReplayLog(capacity=0)


# -- resume --------------------------------------------------------------------------


def test_resume_from_the_newest_id_is_nothing() -> None:
    assert ReplayLog().since(ReplayLog().last_id) is None  # another instance's epoch
    log = ReplayLog()
    assert log.since(log.last_id) == []
    log.append(Change("status", {}))
    assert log.since(log.last_id) == []


def test_resume_gives_exactly_the_frames_after_the_id() -> None:
    log = log_with(5)
    frames = log.since("e1-2")
    assert frames is not None
    assert [frame.id for frame in frames] == ["e1-3", "e1-4", "e1-5"]
    assert [frame.id for frame in log.since("e1-0") or []] == [f"e1-{n}" for n in range(1, 6)]


def test_resume_works_up_to_just_before_the_oldest_frame_kept() -> None:
    log = log_with(10, capacity=4)  # keeps e1-7 .. e1-10
    assert len(log) == 4
    assert [frame.id for frame in log.since("e1-6") or []] == ["e1-7", "e1-8", "e1-9", "e1-10"]
    assert log.since("e1-5") is None
    assert log.since("e1-0") is None


def test_another_epoch_or_a_future_id_cannot_resume() -> None:
    log = log_with(3)
    assert log.since("e2-1") is None
    assert log.since("e1-4") is None


@pytest.mark.parametrize(
    "hostile",
    [
        "",
        "-1",
        "e1--1",
        "e1-",
        "a-b-c",
        "e1-1-2",
        "e1-01",
        "e1-+1",
        "e1- 1",
        " e1-1",
        "e1-1\n",
        "e1-\u0661",  # an Arabic-Indic digit one: int() would take it
        "é1-1",
        "e1-" + "9" * 400,
        "x" * 10_000,
        "e1-" + "1" * 10_000,
    ],
)
def test_hostile_ids_cannot_resume_and_never_raise(hostile: str) -> None:
    assert parse_id(hostile) is None
    assert log_with(3).since(hostile) is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_is_parsed_or_refused_without_raising(text: str) -> None:
    log = log_with(3)
    result = log.since(text)
    assert result is None or text in {"e1-0", "e1-1", "e1-2", "e1-3"}


def test_parse_id_reads_our_own_ids() -> None:
    assert parse_id("ab12cd34-0") == ("ab12cd34", 0)
    assert parse_id("ab12cd34-123") == ("ab12cd34", 123)
    assert parse_id(None) is None


# -- an ended stream's log, packed -----------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.dictionaries(st.text(max_size=8), json_values, max_size=3), max_size=12),
    st.lists(st.integers(min_value=0, max_value=12), max_size=3),
    st.integers(min_value=1, max_value=14),
)
def test_a_packed_log_resumes_every_id_with_the_frames_it_would_have_kept(
    payloads: list[dict[str, Any]], packs: list[int], capacity: int
) -> None:
    """Packed at any points (an ended stream; frames may still follow), a log answers every
    resume exactly as the same log never packed: the same bytes, JSON and HTML."""
    stream = StreamKey.call("CA1")
    packed, plain = ReplayLog(capacity, "e1"), ReplayLog(capacity, "e1")
    for n, payload in enumerate(payloads):
        if n in packs:
            packed.pack()
        for log in (packed, plain):
            frame = log.append(Change("transcript", payload), stream)
            frame.html["call"] = f"<p>{n}</p>".encode()
    if len(payloads) in packs:
        packed.pack()
    assert len(packed) == len(plain) and packed.last_id == plain.last_id
    for seq in range(-1, len(payloads) + 2):
        again, kept = packed.since(f"e1-{seq}"), plain.since(f"e1-{seq}")
        assert again == kept
        if kept is not None and again is not None:
            assert [f.html for f in again] == [f.html for f in kept]
            assert all(f.stream == stream for f in again)
