from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from tests.clocks import ManualClock
from webapp.access.audit import AuditEntry, AuditLog, to_csv
from webapp.store.audit import AuditRow
from webapp.store.store import Store

Clock = ManualClock[datetime]


@pytest.fixture
def clock() -> Clock:
    return ManualClock(datetime(2025, 3, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def log(store_db: Store, clock: Clock) -> AuditLog:
    return AuditLog(store_db, retention_days=30, clock=clock)


async def test_each_record_is_one_row_with_a_utc_time(log: AuditLog, store_db: Store) -> None:
    await log.record("alice", "page", "call:CA1", "/calls/CA1", "10.0.0.5")
    await log.record("bot", "token", "campaign:3", "/api/campaigns/3/events", "10.0.0.6")
    rows = await store_db.audit.newest(None)
    assert len(rows) == 2
    assert rows[1] == AuditRow(
        at=datetime(2025, 3, 1, 9, 0, tzinfo=UTC),
        who="alice",
        via="page",
        what="call:CA1",
        route="/calls/CA1",
        address="10.0.0.5",
    )


async def test_entries_come_newest_first_with_limit_and_since(log: AuditLog, clock: Clock) -> None:
    for minute in range(5):
        clock.now = datetime(2025, 3, 1, 9, minute, tzinfo=UTC)
        await log.record(f"user{minute}", "page", "call:CA1", "/calls/CA1", "10.0.0.5")
    assert [e.who for e in await log.entries()] == ["user4", "user3", "user2", "user1", "user0"]
    assert [e.who for e in await log.entries(limit=2)] == ["user4", "user3"]
    since = datetime(2025, 3, 1, 9, 3, tzinfo=UTC)
    assert [e.who for e in await log.entries(since=since)] == ["user4", "user3"]


async def test_entries_of_the_same_second_still_come_newest_first(log: AuditLog) -> None:
    for name in ("first", "second", "third"):
        await log.record(name, "page", "call:CA1", "/calls/CA1", "10.0.0.5")
    assert [e.who for e in await log.entries()] == ["third", "second", "first"]


async def test_an_empty_store_means_no_entries(log: AuditLog) -> None:
    assert await log.entries() == []
    assert await log.prune() == 0


async def test_values_are_one_line_and_routes_lose_their_query(log: AuditLog) -> None:
    entry = await log.record(
        "eve\nforged line", "embed", "call:CA1\r\n", "/embed/calls/CA1?token=SIGNED", "x" * 999
    )
    assert entry.who == "eve forged line"
    assert entry.what == "call:CA1"
    assert entry.route == "/embed/calls/CA1"
    assert len(entry.address) == 256
    assert await log.entries() == [entry]


async def test_an_unknown_channel_is_refused(log: AuditLog) -> None:
    with pytest.raises(ValueError, match="via is one of"):
        await log.record("alice", "telepathy", "call:CA1", "/", "1.2.3.4")  # type: ignore[arg-type]


async def test_prune_drops_only_entries_past_the_retention(log: AuditLog, clock: Clock) -> None:
    await log.record("old", "page", "call:CA1", "/calls/CA1", "10.0.0.5")
    clock.now += timedelta(days=20)
    await log.record("recent", "page", "call:CA1", "/calls/CA1", "10.0.0.5")
    clock.now += timedelta(days=15)
    assert await log.prune() == 1
    assert [e.who for e in await log.entries()] == ["recent"]
    assert await log.prune() == 0


async def test_records_after_a_prune_are_kept(log: AuditLog, clock: Clock) -> None:
    await log.record("old", "page", "call:CA1", "/calls/CA1", "10.0.0.5")
    clock.now += timedelta(days=31)
    await log.prune()
    await log.record("new", "sso", "campaign:2", "/campaigns/2", "10.0.0.5")
    assert [e.who for e in await log.entries()] == ["new"]


def test_csv_export_has_a_header_and_defuses_formulas() -> None:
    at = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    rows = [
        AuditEntry(at, '=HYPERLINK("http://evil")', "page", "+1", "-cmd", "@SUM(A1)"),
        AuditEntry(at, "alice", "token", "call:CA1", "/calls/CA1", "::1"),
    ]
    parsed = list(csv.reader(io.StringIO(to_csv(rows))))
    assert parsed[0] == ["at", "who", "via", "what", "route", "address", "org"]
    assert parsed[1] == [
        "2025-03-01T09:00:00Z",
        '\'=HYPERLINK("http://evil")',
        "page",
        "'+1",
        "'-cmd",
        "'@SUM(A1)",
        "",
    ]
    row = ["2025-03-01T09:00:00Z", "alice", "token", "call:CA1", "/calls/CA1", "::1", ""]
    assert parsed[2] == row


def test_retention_is_at_least_a_day(store_db: Store) -> None:
    with pytest.raises(ValueError, match="at least one day"):
        AuditLog(store_db, retention_days=0)
