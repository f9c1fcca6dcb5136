"""A call's alerts: sentiment per caller segment, its rolling average, and watched phrases."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests import configs
from webapp.alerts.callalerts import CallAlerts, excerpt
from webapp.alerts.keywords import KeywordMatcher, parse_rules
from webapp.alerts.sentiment import SentimentScorer
from webapp.calls.callstate import CallState, SegmentShown
from webapp.calls.change import Change
from webapp.relay.frames import render
from webapp.wire.events import Speaker, Transcript

SID = "CA" + "0123456789abcdef" * 2
T0 = datetime(2025, 8, 1, 10, 0, 0, tzinfo=UTC)
RULES = parse_rules(
    "cancel my account:high, lawyer:high, speak to a manager:medium, refund:low@any"
)


@pytest.fixture(scope="module")
def scorer() -> SentimentScorer:
    return SentimentScorer()


class Scripted:
    """A scorer that gives each text the score the test wrote next to it."""

    def __init__(self, scores: dict[str, float]) -> None:
        self.scores = scores

    def score(self, text: str) -> float:
        return self.scores[text]


AT = datetime(2025, 8, 1, 10, 0, tzinfo=UTC)


def final(
    content: str,
    speaker: Speaker = "user",
    index: int = 0,
    start: float | None = None,
    at: datetime | None = AT,
) -> Change:
    """A final segment's ``transcript`` change, typed, as the call's state makes it."""
    end = None if start is None else start + 1.0
    said = Transcript("CA1", speaker, content, True, 0.9, start, end, None, at)
    return Change("transcript", SegmentShown(said, index))


def feed(alerts: CallAlerts, changes: Iterable[Change]) -> list[Change]:
    return [out for change in changes for out in alerts.on_change(change)]


def alerts_in(changes: list[Change], scope: str | None = None) -> list[dict[str, Any]]:
    found = [c.data for c in changes if c.type == "alert"]
    return [a for a in found if scope is None or a.get("scope") == scope]


def scripted(scores: dict[str, float], **config: Any) -> CallAlerts:
    return CallAlerts(
        configs.alerts(**({"rules": ()} | config)), Scripted(scores), KeywordMatcher(RULES)
    )


def said(content: str, speaker: Speaker, second: int) -> Transcript:
    return Transcript(
        call_sid=SID,
        speaker=speaker,
        content=content,
        segment_start=float(second),
        segment_end=second + 2.0,
        created_at=T0 + timedelta(seconds=second),
        at=T0 + timedelta(seconds=second),
    )


ANGRY_CALL: list[tuple[Speaker, str]] = [
    ("user", "Hello, I have a question about my bill."),
    ("assistant", "Of course, I can help with that. What seems wrong?"),
    ("user", "I hate this, you people are useless and I am furious."),
    ("assistant", "I'm sorry to hear that. Let me look at your account."),
    ("user", "This is the worst service I have ever had, absolutely terrible."),
    ("assistant", "I understand. I can see a duplicate charge."),
    ("user", "Okay."),
    ("user", "I am so angry, this is a disgrace."),
    ("assistant", "I've refunded the duplicate charge."),
]


def test_an_angry_caller_raises_exactly_one_alert_per_offending_segment(
    scorer: SentimentScorer,
) -> None:
    # The real pipeline: the call's state (with Burki's replay dedupe) feeds the alerts.
    state, alerts = (
        CallState(SID),
        CallAlerts(configs.alerts(average_threshold=-0.99, rules=()), scorer),
    )
    events = [said(text, speaker, 5 * i) for i, (speaker, text) in enumerate(ANGRY_CALL)]
    raised = feed(alerts, (c for e in events for c in state.apply(e)))
    # Burki replays the whole transcript on a reconnect: no segment, so no alert, again.
    state.connection_started()
    raised += feed(alerts, (c for e in events for c in state.apply(e)))

    offending = alerts_in(raised, "segment")
    assert [a["segment_index"] for a in offending] == [2, 4, 7]
    assert all(a["kind"] == "sentiment" and a["score"] < -0.5 for a in offending)
    assert len({a["id"] for a in offending}) == 3
    assert alerts_in(raised) == offending
    assert alerts.raised == {"sentiment": 3}


def test_each_final_caller_segment_gives_a_sentiment_change(scorer: SentimentScorer) -> None:
    alerts = CallAlerts(configs.alerts(rules=()), scorer)
    out = alerts.on_change(final("Thank you so much, that was really helpful.", index=4))
    assert [c.type for c in out] == ["sentiment"]
    assert out[0].data == {"score": 0.6801, "average": 0.6801, "trend": [0.6801], "index": 4}


def test_assistant_segments_are_never_scored() -> None:
    alerts = scripted({})  # scoring anything would raise KeyError
    assert alerts.on_change(final("I hate how terrible this is for you.", "assistant")) == []
    assert alerts.snapshot()["sentiment"] == {"average": None, "trend": [], "count": 0}


def test_interim_segments_and_other_changes_are_ignored() -> None:
    alerts = scripted({})
    said = Transcript("CA1", "user", "I want to speak to a manager, I hate this", False)
    interim = Change("transcript", SegmentShown(said, None))
    others = [Change("call_status", {"status": "in-progress"}), Change("end", {"reason": "x"})]
    assert feed(alerts, [interim, *others]) == []


def test_a_segment_alert_is_raised_below_the_threshold_only() -> None:
    alerts = scripted({"a": -0.5, "b": -0.51, "c": 0.2}, average_threshold=-0.99)
    out = feed(alerts, [final("a", index=0), final("b", index=1), final("c", index=2)])
    (alert,) = alerts_in(out)
    assert alert["segment_index"] == 1
    assert alert["severity"] == "medium"
    assert alert["message"] == "Caller sounds upset (-0.51)"


def test_the_average_alert_fires_once_when_it_crosses_and_again_after_recovery() -> None:
    scores = {"low": -0.4, "lower": -0.45, "high": 0.9, "ok": 0.0}
    alerts = scripted(scores, window=3, average_threshold=-0.3, average_min_segments=1)
    texts = ["low", "lower", "low", "lower", "high", "high", "low", "lower", "low", "lower"]
    averages, fired = [], []
    for i, text in enumerate(texts):
        out = alerts.on_change(final(text, index=i))
        averages.append(out[0].data["average"])
        fired += [a["segment_index"] for a in alerts_in(out, "average")]
    # below from 0; recovers at 4 (-0.4-0.45+0.9 / 3 >= -0.3); below again from 8
    assert [a < -0.3 for a in averages] == [True] * 4 + [False] * 4 + [True] * 2
    assert fired == [0, 8]


def test_the_average_alert_waits_for_enough_segments() -> None:
    alerts = scripted({"meh": -0.4}, average_min_segments=3)
    out = feed(alerts, [final("meh", index=i) for i in range(4)])
    assert [a["segment_index"] for a in alerts_in(out, "average")] == [2]
    (alert,) = alerts_in(out, "average")
    assert alert["severity"] == "high"
    assert alert["message"] == "Caller has sounded upset for a while (average -0.40)"


def test_an_offending_segment_can_raise_both_sentiment_alerts_once_each() -> None:
    alerts = scripted({"awful": -0.9}, average_min_segments=1)
    out = alerts.on_change(final("awful"))
    assert [c.type for c in out] == ["sentiment", "alert", "alert"]
    assert [a["scope"] for a in alerts_in(out)] == ["segment", "average"]
    assert len({a["id"] for a in alerts_in(out)}) == 2


def test_a_keyword_alert_is_raised_once_per_segment_and_rule() -> None:
    text = "Cancel my account or I call my lawyer. My LAWYER, you hear?"
    alerts = scripted({text: 0.0, "Lawyer.": 0.0})
    out = feed(alerts, [final(text, index=0), final("Lawyer.", index=1)])
    keyword = alerts_in(out)
    assert [(a["segment_index"], a["phrase"], a["severity"]) for a in keyword] == [
        (0, "cancel my account", "high"),
        (0, "lawyer", "high"),
        (1, "lawyer", "high"),
    ]
    assert keyword[0]["message"] == 'Caller said "cancel my account"'
    assert len({a["id"] for a in keyword}) == 3
    assert alerts.raised == {"keyword": 3}


def test_keyword_rules_follow_their_speaker() -> None:
    alerts = scripted({})
    out = alerts.on_change(final("Let me ask a lawyer about your refund.", "assistant"))
    (alert,) = alerts_in(out)
    assert (alert["phrase"], alert["speaker"]) == ("refund", "assistant")
    assert alert["message"] == 'Assistant said "refund"'


def test_alert_ids_are_stable_and_tell_repeated_words_apart() -> None:
    words = ["I hate this.", "I hate this.", "Get me a lawyer.", "I hate this."]
    scores = {"I hate this.": -0.6, "Get me a lawyer.": 0.0}

    def run() -> list[str]:
        alerts = scripted(scores, average_threshold=-0.99)
        return [a["id"] for a in alerts_in(feed(alerts, map(final, words)))]

    first = run()
    assert len(first) == len(set(first)) == 4
    assert run() == first  # a stream built again and replayed raises the same ids


def test_alert_ids_do_not_shift_when_a_late_segment_takes_an_index() -> None:
    alerts = scripted({"angry": -0.8, "late": -0.8}, average_threshold=-0.99)
    first = alerts_in(alerts.on_change(final("angry", index=1, start=9.0)))
    late = alerts_in(alerts.on_change(final("late", index=1, start=2.0)))
    assert first[0]["id"] != late[0]["id"]


def test_the_excerpt_is_cut_to_200_characters() -> None:
    long = "I want to speak to a manager " + "now " * 100
    (alert,) = alerts_in(scripted({long: 0.0}).on_change(final(long)))
    assert len(alert["excerpt"]) == 200
    assert alert["excerpt"].endswith("…")
    assert excerpt("short") == "short"


def test_the_snapshot_shows_the_rolling_sentiment_and_the_last_alerts() -> None:
    alerts = scripted({"awful": -0.9}, keep=3, window=2, trend_size=4, average_threshold=-0.99)
    feed(alerts, [final("awful", index=i, start=float(i)) for i in range(5)])
    snapshot = alerts.snapshot()
    assert snapshot["sentiment"] == {"average": -0.9, "trend": [-0.9] * 4, "count": 2}
    assert [a["segment_index"] for a in snapshot["alerts"]] == [2, 3, 4]
    snapshot["alerts"][0]["message"] = "changed"  # a fresh copy: the state is untouched
    assert alerts.snapshot()["alerts"][0]["message"] != "changed"


def test_a_segment_without_a_time_is_stamped_with_the_clock() -> None:
    moment = datetime(2025, 8, 1, 12, 30, tzinfo=UTC)
    alerts = CallAlerts(
        configs.alerts(rules=()), Scripted({"lawyer": 0.0}), KeywordMatcher(RULES), lambda: moment
    )
    (alert,) = alerts_in(alerts.on_change(final("lawyer", at=None)))
    assert alert["at"] == "2025-08-01T12:30:00Z"


def test_every_change_renders_as_an_sse_frame(scorer: SentimentScorer) -> None:
    alerts = CallAlerts(configs.alerts(rules=tuple(RULES)), scorer)
    out = alerts.on_change(final("I hate this, cancel my account, I want my lawyer\u2028now."))
    assert [c.type for c in out] == ["sentiment", "alert", "alert", "alert"]
    for i, change in enumerate(out):
        assert render(f"e-{i}", change.type, change.data).data == change.data
    render("e-s", "snapshot", alerts.snapshot())


def test_an_excerpt_masks_the_number_it_ends_in_not_the_markers_nor_a_closed_number() -> None:
    assert excerpt("I will call my lawyer, my number is 123") == (
        "I will call my lawyer, my number is [digits]"
    )
    assert excerpt("lawyer, card [card ••••1111]") == "lawyer, card [card ••••1111]"
    assert excerpt("order 42 is late, lawyer") == "order 42 is late, lawyer"
