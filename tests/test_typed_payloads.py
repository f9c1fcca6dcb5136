"""The typed payloads of ``status``, ``end``, ``error``, ``sentiment``, ``alert`` and ``metrics``
changes render the very bytes the JSON dicts they replaced did (each recipe below is the old
code's), whatever the values."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests import configs
from webapp.alerts.callalerts import CallAlerts
from webapp.alerts.keywords import KeywordMatcher, parse_rules
from webapp.alerts.payloads import AlertRaised, SentimentScored
from webapp.calls.callhealth import CallHealth, FiguresShown
from webapp.calls.callstate import SegmentShown
from webapp.calls.change import Change, Payload
from webapp.relay.connection import ConnectionLine, Ended, Refused
from webapp.relay.frames import render
from webapp.wire.events import Transcript
from webapp.wire.streamkey import StreamKey

KEY = StreamKey.call("CA1")
text = st.text(max_size=40)
maybe_float = st.none() | st.floats(allow_nan=False, allow_infinity=False)
score = st.floats(-1, 1, allow_nan=False)


def same_bytes(type: str, payload: Payload, old: dict[str, Any]) -> None:
    typed = render("e-1", type, Change(type, payload).data, KEY)
    assert typed.wire == render("e-1", type, old, KEY).wire


@given(text, text, st.none() | st.integers(0, 99), maybe_float, st.none() | text)
def test_a_status_line_is_the_dict_it_replaced(
    state: str, message: str, attempt: int | None, retry_in: float | None, reason: str | None
) -> None:
    extra = {"attempt": attempt, "retry_in": retry_in, "reason": reason}
    old = {"state": state, "message": message, **{k: v for k, v in extra.items() if v is not None}}
    same_bytes("status", ConnectionLine(state, message, attempt, retry_in, reason), old)


@given(text, text)
def test_an_end_and_an_error_are_the_dicts_they_replaced(reason: str, message: str) -> None:
    same_bytes("end", Ended(reason), {"reason": reason})
    same_bytes("error", Refused(reason, message), {"reason": reason, "message": message})


@given(score, score, st.lists(score, max_size=20), st.none() | st.integers(0, 999))
def test_a_sentiment_is_the_dict_it_replaced(
    value: float, average: float, trend: list[float], index: int | None
) -> None:
    old = {"score": value, "average": average, "trend": trend, "index": index}
    same_bytes("sentiment", SentimentScored(value, average, tuple(trend), index), old)


@given(text, text, st.sampled_from(["sentiment", "keyword"]), score, st.none() | text)
def test_an_alert_is_the_dict_it_replaced(
    content: str, phrase: str, kind: str, value: float, at: str | None
) -> None:
    base = {
        "id": f"{kind}-abc",
        "kind": kind,
        "severity": "high",
        "message": f"Caller {content}",
        "segment_index": 3,
        "speaker": "user",
        "excerpt": content,
        "at": at,
    }
    if kind == "keyword":
        typed = AlertRaised(**base, phrase=phrase)
        old = {**base, "phrase": phrase}
    else:
        typed = AlertRaised(**base, scope="segment", score=value)
        old = {**base, "scope": "segment", "score": value}
    same_bytes("alert", typed, old)


def test_the_figures_are_measured_once_and_shown_as_measured() -> None:
    health = CallHealth(configs.health(), clock=lambda: 1_700_000_000.0)
    said = Transcript("CA1", "user", "Hello there.", True, 0.9, 0.0, 1.2)
    health.observe(Change("transcript", SegmentShown(said, 0)))
    (change,) = health.publish()
    assert isinstance(change.payload, FiguresShown)
    assert change.data is health.current()  # one measure, for viewers and snapshots alike
    assert change.payload.level == "ok" and change.payload.score == 0


# What the code before the typed payloads sent for the segment below (ids, order, bytes).
OLD_FRAMES = [
    b'id: e-1\nevent: sentiment\ndata: {"stream":"call:CA1","score":-0.8658,"average":-0.8658,'
    b'"trend":[-0.8658],"index":7}\n\n',
    b'id: e-1\nevent: alert\ndata: {"stream":"call:CA1","id":"sentiment-b3a8830a4191",'
    b'"kind":"sentiment","severity":"medium","message":"Caller sounds upset (-0.87)",'
    b'"segment_index":7,"speaker":"user","excerpt":"My lawyer will call, I hate this awful '
    b'mess.","at":"2025-08-01T10:00:00Z","scope":"segment","score":-0.8658}\n\n',
    b'id: e-1\nevent: alert\ndata: {"stream":"call:CA1","id":"keyword-511ef19d-b3a8830a4191",'
    b'"kind":"keyword","severity":"high","message":"Caller said \\"lawyer\\"",'
    b'"segment_index":7,"speaker":"user","excerpt":"My lawyer will call, I hate this awful '
    b'mess.","at":"2025-08-01T10:00:00Z","phrase":"lawyer"}\n\n',
]


def test_alerts_read_the_typed_segment_and_send_what_they_sent() -> None:
    """Alerts read the segment as the state holds it, not its JSON, and send the bytes they
    sent before: the same ids for the same segment (a webhook keyed on one posts nothing
    twice), the same scores and order."""
    rules = parse_rules("lawyer:high")
    alerts = CallAlerts(configs.alerts(rules=rules), matcher=KeywordMatcher(rules))
    at = datetime(2025, 8, 1, 10, 0, tzinfo=UTC)
    line = "My lawyer will call, I hate this awful mess."
    said = Transcript("CA1", "user", line, True, 0.9, 2.0, 3.5, None, at)
    out = alerts.on_change(Change("transcript", SegmentShown(said, 7)))
    assert [type(c.payload) for c in out] == [SentimentScored, AlertRaised, AlertRaised]
    assert [render("e-1", c.type, c.data, KEY).wire for c in out] == OLD_FRAMES
