"""The attention score: reasons in words from health figures and alerts, weights from settings."""

from __future__ import annotations

from typing import Any

import pytest

from webapp.alerts.attention import DEFAULT_WEIGHTS, Attention, Weights, parse_weights
from webapp.settings import SettingsError, load_settings


def figures(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "latency": {"latest": 1.0, "slow": False},
        "silence": {"since": None, "seconds": None, "level": "ok"},
        "interruptions": {"total": 0},
        "long": False,
        "length": 60.0,
        "ended": False,
    }
    return base | changes


def alerts(average: float | None = None, latest: float | None = None, *phrases: tuple[str, str]):
    count = 0 if average is None else 3
    return {
        "sentiment": {
            "average": average,
            "trend": [] if latest is None else [latest],
            "count": count,
        },
        "alerts": [{"kind": "keyword", "phrase": p, "severity": s} for p, s in phrases],
    }


def test_a_calm_call_scores_zero_with_no_reasons() -> None:
    assert Attention().assess(figures(), alerts(0.4, 0.5)) == {"score": 0, "reasons": []}


def test_every_reason_is_in_words_and_the_score_adds_them_up_to_100() -> None:
    busy = figures(
        silence={"since": "2027-01-15T08:00:36.000Z", "seconds": 12.0, "level": "alarm"},
        latency={"latest": 3.14, "slow": True},
        long=True,
        length=18 * 60 + 5,
        interruptions={"total": 4},
    )
    result = Attention().assess(busy, alerts(-0.6, -0.2, ("lawyer", "high")))
    texts = [r["text"] for r in result["reasons"]]
    assert texts == [
        "silent 12 s",
        "said 'lawyer'",
        "caller upset (-0.6)",
        "AI slow: 3.1 s",
        "running 18 min",
        "4 interruptions",
    ]
    assert [r["points"] for r in result["reasons"]] == [40, 40, 30, 20, 10, 10]
    assert result["score"] == 100  # 150 points, capped
    assert result["reasons"][0]["since"] == "2027-01-15T08:00:36.000Z"


def test_the_worse_of_the_latest_mood_and_the_average_counts() -> None:
    result = Attention().assess(figures(), alerts(-0.1, -0.8))
    assert result["reasons"][0]["text"] == "caller upset (-0.8)"
    assert result["score"] == 40


def test_a_phrase_said_twice_counts_once_at_its_highest_severity() -> None:
    said = alerts(None, None, ("refund", "low"), ("refund", "medium"), ("refund", "low"))
    result = Attention().assess(figures(), said)
    assert [(r["text"], r["points"]) for r in result["reasons"]] == [("said 'refund'", 25)]


def test_weights_come_from_settings_and_zero_mutes_a_reason() -> None:
    weights = parse_weights("silence_warn=30, upset=0")
    assert weights == Weights(silence_warn=30, upset=0)
    warn = figures(silence={"since": "x", "seconds": 6.0, "level": "warn"})
    result = Attention(weights).assess(warn, alerts(-0.9, -0.9))
    assert [(r["code"], r["points"]) for r in result["reasons"]] == [("silence", 30)]
    settings = load_settings(attention_weights="slow=55")
    assert settings.weights.slow == 55 and settings.weights.upset == 50
    assert parse_weights(DEFAULT_WEIGHTS) == Weights()


@pytest.mark.parametrize(
    ("text", "why"),
    [("loud=5", "expected name=points"), ("slow=fast", "whole number"), ("slow=101", "0 to 100")],
)
def test_bad_weights_stop_start_up_with_one_line_naming_the_variable(text: str, why: str) -> None:
    with pytest.raises(SettingsError, match=f"ATTENTION_WEIGHTS: .*{why}"):
        load_settings(attention_weights=text)


def test_an_alarm_below_the_warning_is_refused() -> None:
    with pytest.raises(SettingsError, match="HEALTH_SILENCE_ALARM"):
        load_settings(health_silence_warn=10, health_silence_alarm=5)


def test_an_ended_call_needs_no_one() -> None:
    ended = figures(ended=True, silence={"level": "alarm", "seconds": 30.0, "since": "x"})
    assert Attention().assess(ended, alerts(-0.9, -0.9)) == {"score": 0, "reasons": []}
