"""Frames: a change rendered once, knowing its stream as a key; payloads made safe."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from webapp.calls.change import iso, json_safe
from webapp.relay.frames import render
from webapp.wire.streamkey import StreamKey


def test_a_frame_knows_its_stream_as_a_key_and_the_payload_names_it_for_api_clients() -> None:
    key = StreamKey.campaign(42)
    frame = render("e-3", "progress", {"completed": 2}, key)
    assert frame.stream == key
    payload = json.loads(frame.body.decode().split("\n")[1].removeprefix("data: "))
    assert payload == {"stream": "campaign:42", "completed": 2}
    assert list(payload) == ["stream", "completed"]  # the stream leads, as API clients saw it


def test_a_frame_of_no_stream_carries_no_stream_name() -> None:
    frame = render("", "directory", {})
    assert frame.stream is None
    assert frame.body == b"event: directory\ndata: {}\n\n"


def test_iso_is_utc_with_a_z_and_naive_means_utc() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    assert iso(moment) == "2026-01-02T01:04:05Z"
    assert iso(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05Z"
    assert iso(datetime(2026, 1, 2, tzinfo=UTC)) == "2026-01-02T00:00:00Z"
    assert iso(None) is None


def test_json_safe_keeps_json_and_turns_the_rest_into_strings() -> None:
    assert json_safe({"a": [1, True, None, "x"]}) == {"a": [1, True, None, "x"]}
    assert json_safe({1: (2.5, float("-inf"))}) == {"1": [2.5, None]}
    assert json_safe({"when": datetime(2026, 1, 1)}) == {"when": "2026-01-01 00:00:00"}
