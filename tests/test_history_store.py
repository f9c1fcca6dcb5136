"""The history's rows on SQLite and PostgreSQL: each record kept once, read by time and
filter, handled by whoever acknowledged or claimed, pruned by kind."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from webapp.history.keeper import Keeper, Retention
from webapp.store.database import database_url as parse_url
from webapp.store.history import AlertFilter
from webapp.store.records import (
    ActionRecord,
    AlertRecord,
    CallSummary,
    CampaignSummary,
    Handled,
)
from webapp.store.store import Store, open_store

T0 = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
DAY = AlertFilter(T0 - timedelta(hours=12), T0 + timedelta(hours=12))


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await open_store(parse_url(database_url))
    try:
        yield opened
    finally:
        await opened.close()


def alert(n: int, call: str = "CA1", **changes: object) -> AlertRecord:
    made = AlertRecord(
        call_id=call,
        alert_id=f"keyword-{n}",
        at=T0 + timedelta(minutes=n),
        kind="keyword",
        severity="high",
        message='Caller said "lawyer"',
        excerpt="my lawyer will call you",
        assistant="Support bot",
    )
    return replace(made, **changes)  # type: ignore[arg-type]


def summary(call: str = "CA1", peak: int = 40) -> CallSummary:
    return CallSummary(call, T0, "Support bot", 61.5, 0.8, 2.4, 7.0, 2, 3, 0.4, peak, "slow", 1)


async def test_an_alert_written_twice_is_one_row(store: Store) -> None:
    await store.history.write([alert(1), alert(2)])
    await store.history.write([alert(1), replace(alert(2), message="changed")])
    found = await store.history.alerts(DAY)
    assert [a.alert_id for a in found] == ["keyword-2", "keyword-1"]  # newest first
    assert found[0].message == 'Caller said "lawyer"'  # the first write wins


async def test_an_acknowledgement_handles_the_calls_open_alerts_only(store: Store) -> None:
    claimed = alert(3, handled_by="bob", handled_how="claim", handled_at=T0)
    await store.history.write([alert(1), alert(2, call="CA2"), claimed])
    await store.history.write([Handled("CA1", "alice", "ack", T0 + timedelta(minutes=5))])
    found = {a.alert_id + a.call_id: a for a in await store.history.alerts(DAY)}
    assert (found["keyword-1CA1"].handled_by, found["keyword-1CA1"].handled_how) == (
        "alice",
        "ack",
    )
    assert found["keyword-1CA1"].handled_at == T0 + timedelta(minutes=5)
    assert found["keyword-3CA1"].handled_by == "bob"  # claimed before: stays bob's
    assert found["keyword-2CA2"].handled_by is None  # another call


async def test_alerts_are_filtered_by_range_severity_kind_assistant_and_handling(
    store: Store,
) -> None:
    await store.history.write(
        [
            alert(1),
            alert(2, severity="medium", kind="sentiment"),
            alert(3, assistant="Sales bot", handled_by="bob", handled_how="ack", handled_at=T0),
            alert(60 * 20),  # outside the day
        ]
    )
    ids = lambda which: [a.alert_id for a in which]  # noqa: E731
    history = store.history
    assert ids(await history.alerts(replace(DAY, severity="medium"))) == ["keyword-2"]
    assert ids(await history.alerts(replace(DAY, kind="keyword"))) == ["keyword-3", "keyword-1"]
    assert ids(await history.alerts(replace(DAY, assistant="Sales bot"))) == ["keyword-3"]
    assert ids(await history.alerts(replace(DAY, handled=True))) == ["keyword-3"]
    assert ids(await history.alerts(replace(DAY, handled=False))) == ["keyword-2", "keyword-1"]
    assert await history.assistants(DAY.since, DAY.until) == ["Sales bot", "Support bot"]


async def test_a_summary_is_kept_once_per_call_and_campaign(store: Store) -> None:
    campaign = CampaignSummary("7", T0, "Renewals", "completed", 10, 10, 8, 2, 600.0)
    await store.history.write([summary(peak=40), campaign])
    await store.history.write([summary(peak=90), replace(campaign, failed=9)])
    assert await store.history.call("CA1") == summary(peak=40)
    assert await store.history.call("nope") is None
    assert await store.history.campaigns(DAY.since, DAY.until) == [campaign]


async def test_an_action_written_twice_is_one_row(store: Store) -> None:
    ended = ActionRecord(T0, "call:CA1", "end", "done", "alice", "ended the call")
    await store.history.write([ended, ended, replace(ended, outcome="asked")])
    found = await store.history.actions(DAY.since, DAY.until)
    assert sorted(a.outcome for a in found) == ["asked", "done"]


async def test_text_longer_than_its_column_is_cut_not_refused(store: Store) -> None:
    await store.history.write([alert(1, message="x" * 1000, excerpt="y" * 1000)])
    (found,) = await store.history.alerts(DAY)
    assert len(found.message) == 256 and found.message.endswith("…")


async def test_the_prune_keeps_each_kind_for_its_own_days(store: Store) -> None:
    now = T0 + timedelta(days=100)
    old = ActionRecord(T0, "call:CA1", "end", "done", "alice", "ended the call")
    await store.history.write([alert(1), old, summary()])
    keeper = Keeper(
        store.history, Retention(alerts=90, actions=120, summaries=365), clock=lambda: now
    )
    gone = await keeper.prune()
    assert gone == {"alerts": 1, "actions": 0, "calls": 0, "campaigns": 0}
    assert await store.history.count("alerts") == 0
    assert await store.history.count("actions") == 1
    assert await store.history.count("calls") == 1
