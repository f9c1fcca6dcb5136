"""A call's and a campaign's history from their frames: pure, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from webapp.history.report import MAX_BARS, per_hour, percentile
from webapp.history.tracker import CallTracker, CampaignTracker
from webapp.store.records import ActionRecord, AlertRecord, CallSummary, CampaignSummary, Handled

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)


def tracker(hint: str | None = None) -> CallTracker:
    return CallTracker("CA1", lambda: hint, lambda: NOW)


def metrics(score: int, text: str, **figures: Any) -> dict[str, Any]:
    reasons = [{"code": "x", "text": text, "points": score}]
    return {"attention": {"score": score, "reasons": reasons}, **figures}


ALERT = {
    "id": "keyword-ab-cd",
    "kind": "keyword",
    "severity": "high",
    "message": 'Caller said "lawyer"',
    "excerpt": "my lawyer will call you",
    "at": "2026-12-07T01:30:00Z",
}


def test_an_alert_names_its_call_assistant_and_time() -> None:
    t = tracker()
    t.observe("call_status", {"metadata": {"assistant_name": "Support bot"}})
    (record,) = t.observe("alert", ALERT)
    assert isinstance(record, AlertRecord)
    assert (record.call_id, record.alert_id, record.assistant) == (
        "CA1",
        "keyword-ab-cd",
        "Support bot",
    )
    assert record.at == datetime(2026, 12, 7, 1, 30, tzinfo=UTC)
    assert record.excerpt == "my lawyer will call you" and record.handled_by is None


def test_an_alert_raised_on_a_claimed_call_is_handled_by_its_claimer() -> None:
    t = tracker(hint="Sales bot")
    claim = {"claim": {"by": "alice", "kind": "claim", "at": "2026-12-07T01:00:00Z"}}
    made = t.observe("claim", {**claim, "at": "2026-12-07T01:00:00Z"})
    assert [type(r) for r in made] == [ActionRecord, Handled]
    assert made[1] == Handled("CA1", "alice", "claim", datetime(2026, 12, 7, 1, tzinfo=UTC))
    (record,) = t.observe("alert", ALERT)
    assert isinstance(record, AlertRecord)
    assert (record.handled_by, record.handled_how, record.assistant) == (
        "alice",
        "claim",
        "Sales bot",
    )
    released = t.observe(
        "claim", {"claim": None, "released_by": "alice", "at": "2026-12-07T01:40:00Z"}
    )
    assert [(r.what, r.who) for r in released if isinstance(r, ActionRecord)] == [
        ("release", "alice")
    ]
    (later,) = t.observe("alert", {**ALERT, "id": "other"})
    assert isinstance(later, AlertRecord) and later.handled_by is None


def test_the_summary_at_the_end_merges_each_figures_change_and_keeps_the_peak_attention() -> None:
    """A ``metrics`` frame carries the members that changed since the previous (event shapes
    version 3): the summary holds the last value of each, however long ago it changed."""
    t = tracker(hint="Support bot")
    t.observe("metrics", metrics(30, "slow AI"))
    t.observe("alert", ALERT)
    t.observe(
        "metrics",
        metrics(
            70,
            "caller upset",
            latency={"median": 0.9, "worst": 3.2},
            silence={"longest": 8.5, "warn_count": 2},
            interruptions={"total": 4},
            talk={"user_share": 0.55},
            length=95.0,
        ),
    )
    t.observe("metrics", metrics(10, "calm", length=96.0, ended_at="2026-12-07T01:58:00Z"))
    made = t.observe("end", {"reason": "call ended"})
    assert isinstance(made[0], AlertRecord)  # offered again: a dead holder may not have
    summary = made[-1]
    assert summary == CallSummary(
        "CA1",
        NOW.replace(minute=58, hour=1),
        "Support bot",
        96.0,
        0.9,
        3.2,
        8.5,
        2,
        4,
        0.55,
        70,
        "caller upset",
        1,
    )
    assert t.observe("end", {"reason": "call ended"}) == []  # one summary per call


def test_an_end_action_is_recorded_with_its_outcome() -> None:
    action = {"by": "bob", "kind": "call", "outcome": "done", "message": "ended the call", "at": ""}
    (record,) = tracker().observe("action", action)
    assert record == ActionRecord(NOW, "call:CA1", "end", "done", "bob", "ended the call")


def test_a_campaign_summary_takes_its_name_counters_and_duration() -> None:
    t = CampaignTracker("7", lambda: NOW)
    t.observe("campaign_name", {"name": "Renewals"})
    t.observe("progress", {"counters": {"total": 10, "completed": 4}, "status": "running"})
    counters = {"total": 10, "completed": 10, "successful": 8, "failed": 2}
    done = {"status": "completed", "counters": counters, "total_duration": 640.0}
    t.observe("campaign_completed", {"summary": done})
    (summary,) = t.observe("end", {"reason": "campaign ended"})
    assert summary == CampaignSummary("7", NOW, "Renewals", "completed", 10, 10, 8, 2, 640.0)


def test_a_long_range_is_charted_in_bars_of_several_hours_losing_no_alert() -> None:
    since = datetime(2026, 11, 6, 0, 0, tzinfo=UTC)
    until = since + timedelta(days=31)
    alerts = [
        AlertRecord("CA1", f"a{n}", since + timedelta(hours=n * 7), "keyword", "high", "m", "x")
        for n in range(31 * 24 // 7)
    ]
    bars = per_hour(since, until, alerts)
    assert len(bars) <= MAX_BARS
    assert sum(bar.total for bar in bars) == len(alerts)
    assert (bars[1].start - bars[0].start) == timedelta(hours=8)  # 744 hours in 93 bars
    assert len(per_hour(since, since + timedelta(hours=12), alerts)) == 12


def test_percentiles_are_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([float(n) for n in range(1, 101)], 95) == 95.0
