from __future__ import annotations

import csv
import io
import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.clocks import ManualClock
from webapp.access.audit import AuditEntry, AuditLog, to_csv

Clock = ManualClock[datetime]


@pytest.fixture
def clock() -> Clock:
    return ManualClock(datetime(2025, 3, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "audit" / "audit.jsonl"


@pytest.fixture
def log(path: Path, clock: Clock) -> AuditLog:
    return AuditLog(path, retention_days=30, clock=clock)


def test_each_record_appends_one_json_line_with_a_utc_time(log: AuditLog, path: Path) -> None:
    log.record("alice", "page", "call:CA1", "/calls/CA1", "10.0.0.5")
    log.record("bot", "token", "campaign:3", "/api/campaigns/3/events", "10.0.0.6")
    lines = path.read_text().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first == {
        "at": "2025-03-01T09:00:00Z",
        "who": "alice",
        "via": "page",
        "what": "call:CA1",
        "route": "/calls/CA1",
        "address": "10.0.0.5",
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_records_never_rewrite_earlier_lines(log: AuditLog, path: Path) -> None:
    log.record("alice", "page", "call:CA1", "/calls/CA1", "10.0.0.5")
    before = path.read_bytes()
    log.record("bob", "embed", "call:CA2", "/embed/calls/CA2", "10.0.0.7")
    assert path.read_bytes().startswith(before)


def test_entries_come_newest_first_with_limit_and_since(log: AuditLog, clock: Clock) -> None:
    for minute in range(5):
        clock.now = datetime(2025, 3, 1, 9, minute, tzinfo=UTC)
        log.record(f"user{minute}", "page", "call:CA1", "/calls/CA1", "10.0.0.5")
    assert [e.who for e in log.entries()] == ["user4", "user3", "user2", "user1", "user0"]
    assert [e.who for e in log.entries(limit=2)] == ["user4", "user3"]
    since = datetime(2025, 3, 1, 9, 3, tzinfo=UTC)
    assert [e.who for e in log.entries(since=since)] == ["user4", "user3"]


def test_entries_of_the_same_second_still_come_newest_first(log: AuditLog) -> None:
    for name in ("first", "second", "third"):
        log.record(name, "page", "call:CA1", "/calls/CA1", "10.0.0.5")
    assert [e.who for e in log.entries()] == ["third", "second", "first"]


def test_no_file_means_no_entries(log: AuditLog) -> None:
    assert log.entries() == []
    assert log.prune() == 0


def test_values_are_one_line_and_routes_lose_their_query(log: AuditLog, path: Path) -> None:
    entry = log.record(
        "eve\nforged line", "embed", "call:CA1\r\n", "/embed/calls/CA1?token=SIGNED", "x" * 999
    )
    assert entry.who == "eve forged line"
    assert entry.what == "call:CA1"
    assert entry.route == "/embed/calls/CA1"
    assert len(entry.address) == 256
    assert len(path.read_text().splitlines()) == 1
    assert "SIGNED" not in path.read_text()


def test_an_unknown_channel_is_refused(log: AuditLog) -> None:
    with pytest.raises(ValueError, match="via is one of"):
        log.record("alice", "telepathy", "call:CA1", "/", "1.2.3.4")  # type: ignore[arg-type]


def test_prune_drops_only_entries_past_the_retention(
    log: AuditLog, clock: Clock, path: Path
) -> None:
    log.record("old", "page", "call:CA1", "/calls/CA1", "10.0.0.5")
    clock.now += timedelta(days=20)
    log.record("recent", "page", "call:CA1", "/calls/CA1", "10.0.0.5")
    with path.open("a") as file:
        file.write("not json\n")
    clock.now += timedelta(days=15)
    assert log.prune() == 1
    assert [e.who for e in log.entries()] == ["recent"]
    assert "not json" in path.read_text()  # undated lines are kept, not silently lost
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert log.prune() == 0


def test_records_after_a_prune_land_in_the_new_file(log: AuditLog, clock: Clock) -> None:
    log.record("old", "page", "call:CA1", "/calls/CA1", "10.0.0.5")
    clock.now += timedelta(days=31)
    log.prune()
    log.record("new", "sso", "campaign:2", "/campaigns/2", "10.0.0.5")
    assert [e.who for e in log.entries()] == ["new"]


def test_csv_export_has_a_header_and_defuses_formulas() -> None:
    at = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    rows = [
        AuditEntry(at, '=HYPERLINK("http://evil")', "page", "+1", "-cmd", "@SUM(A1)"),
        AuditEntry(at, "alice", "token", "call:CA1", "/calls/CA1", "::1"),
    ]
    parsed = list(csv.reader(io.StringIO(to_csv(rows))))
    assert parsed[0] == ["at", "who", "via", "what", "route", "address"]
    assert parsed[1] == [
        "2025-03-01T09:00:00Z",
        '\'=HYPERLINK("http://evil")',
        "page",
        "'+1",
        "'-cmd",
        "'@SUM(A1)",
    ]
    assert parsed[2] == ["2025-03-01T09:00:00Z", "alice", "token", "call:CA1", "/calls/CA1", "::1"]


def test_retention_is_at_least_a_day(path: Path) -> None:
    with pytest.raises(ValueError, match="at least one day"):
        AuditLog(path, retention_days=0)
