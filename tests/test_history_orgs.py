"""The history per organisation, on SQLite and PostgreSQL: the same call id in two
organisations is two rows, reads name their organisations, and a database from before
organisations (revision 0003) keeps its rows as the default organisation's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import text

from webapp.history.report import OrgFigures, shift
from webapp.history.tracker import CallTracker, CampaignTracker
from webapp.store import migrate
from webapp.store.database import database_url as parse_url
from webapp.store.database import make_engine, transaction
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
SINCE, UNTIL = T0 - timedelta(hours=12), T0 + timedelta(hours=12)
BOTH = frozenset({"default", "acme"})


def alert(org: str, message: str = "said lawyer") -> AlertRecord:
    return AlertRecord("CA1", "keyword-1", T0, "keyword", "high", message, "x", "Bot", org=org)


def summary(org: str, peak: int) -> CallSummary:
    return CallSummary("CA1", T0, "Bot", 60.0, 0.8, 2.0, 3.0, 0, 1, 0.5, peak, "", 1, org=org)


def campaign(org: str, name: str) -> CampaignSummary:
    return CampaignSummary("7", T0, name, "completed", 10, 10, 8, 2, 600.0, org=org)


async def test_the_same_call_id_in_two_orgs_is_two_rows_of_each_kind(store_db: Store) -> None:
    rows = store_db.history
    await rows.write([alert("default", "ours"), alert("acme", "theirs")])
    await rows.write([summary("default", 10), summary("acme", 70)])
    await rows.write([campaign("default", "Renewals"), campaign("acme", "Win-back")])
    acme_end = ActionRecord(T0, "acme/call:CA1", "end", "done", "bob", "ended the call", "acme")
    ours_end = ActionRecord(T0, "call:CA1", "end", "done", "bob", "ended the call")
    await rows.write([ours_end, acme_end, acme_end])  # the second acme one: the same row

    everyone = await rows.alerts(AlertFilter(SINCE, UNTIL, orgs=BOTH))
    assert sorted((a.org, a.message) for a in everyone) == [("acme", "theirs"), ("default", "ours")]
    assert [a.message for a in await rows.alerts(AlertFilter(SINCE, UNTIL))] == ["ours"]
    acme = AlertFilter(SINCE, UNTIL, orgs={"acme"})
    assert [a.message for a in await rows.alerts(acme)] == ["theirs"]

    assert (await rows.call("CA1")) == summary("default", 10)
    assert (await rows.call("CA1", "acme")) == summary("acme", 70)
    assert await rows.call("CA1", "globex") is None
    assert len(await rows.calls(SINCE, UNTIL, orgs=BOTH)) == 2
    assert [c.name for c in await rows.campaigns(SINCE, UNTIL, orgs={"acme"})] == ["Win-back"]
    assert [a.org for a in await rows.actions(SINCE, UNTIL, orgs={"acme"})] == ["acme"]
    assert len(await rows.actions(SINCE, UNTIL, orgs=BOTH)) == 2
    assert await rows.calls(SINCE, UNTIL, orgs=()) == []  # naming none reads none


async def test_an_acknowledgement_handles_only_its_own_orgs_alerts(store_db: Store) -> None:
    rows = store_db.history
    await rows.write([alert("default"), alert("acme")])
    await rows.write([Handled("CA1", "alice", "ack", T0 + timedelta(minutes=1), "acme")])
    found = {a.org: a.handled_by for a in await rows.alerts(AlertFilter(SINCE, UNTIL, orgs=BOTH))}
    assert found == {"acme": "alice", "default": None}
    handled = AlertFilter(SINCE, UNTIL, handled=True, orgs=BOTH)
    assert [a.org for a in await rows.alerts(handled)] == ["acme"]


async def test_the_assistants_filter_lists_only_the_named_orgs(store_db: Store) -> None:
    ours = alert("default")
    theirs = AlertRecord("CA2", "k", T0, "keyword", "low", "m", "x", "Globex bot", org="globex")
    await store_db.history.write([ours, theirs])
    assert await store_db.history.assistants(SINCE, UNTIL) == ["Bot"]
    assert await store_db.history.assistants(SINCE, UNTIL, {"globex"}) == ["Globex bot"]


def test_trackers_record_their_streams_org_and_its_key() -> None:
    tracker = CallTracker("CA1", lambda: "Bot", lambda: T0, org="acme")
    claimed = tracker.observe("claim", {"claim": {"by": "alice", "kind": "claim"}, "at": None})
    raised = tracker.observe("alert", {"id": "k1", "severity": "high", "kind": "keyword"})
    ended = tracker.observe("end", {})
    assert {r.org for r in [*claimed, *raised, *ended]} == {"acme"}
    assert isinstance(claimed[0], ActionRecord) and claimed[0].stream == "acme/call:CA1"
    runs = CampaignTracker("7", lambda: T0, org="acme")
    made = [*runs.observe("action", {"by": "bob", "outcome": "done"}), *runs.observe("end", {})]
    assert [r.org for r in made] == ["acme", "acme"]
    assert isinstance(made[0], ActionRecord) and made[0].stream == "acme/campaign:7"
    assert CallTracker("CA1", lambda: None, lambda: T0).summary().org == "default"


def test_a_combined_shift_report_knows_a_call_by_its_org_and_id() -> None:
    quiet = [
        CallSummary("CA1", T0, "Bot", 1.0, None, None, None, 0, 0, None, 0, "", 0, org=org)
        for org in ("default", "acme")
    ]
    report = shift(SINCE, UNTIL, quiet, [alert("acme")], [], threshold=50)
    assert report.calls == 2 and report.needed_attention == 1  # acme's CA1, not ours
    assert report.orgs == [
        OrgFigures("acme", calls=1, needed_attention=1, alerts=1, unhandled=1),
        OrgFigures("default", calls=1, needed_attention=0, alerts=0, unhandled=0),
    ]
    # Each organisation's "Bot" is an assistant of its own.
    assert [(a.org, a.name, a.calls) for a in report.assistants] == [
        ("acme", "Bot", 1),
        ("default", "Bot", 1),
    ]


async def test_a_0003_database_keeps_its_rows_as_the_default_orgs(database_url: str) -> None:
    url = parse_url(database_url)
    engine = make_engine(url, 10)
    try:
        async with transaction(engine, url) as conn:
            await conn.run_sync(
                lambda sync: command.upgrade(migrate.alembic_config(sync), "0003_orgs")
            )
        async with transaction(engine, url) as conn:
            for statement in OLD_ROWS:
                await conn.execute(text(statement), {"at": T0.replace(tzinfo=None)})
    finally:
        await engine.dispose()
    store = await open_store(url)  # upgrades to the head: 0004_history_orgs
    try:
        rows = store.history
        assert await migrate.revision(store.db.engine, store.db.url) == "0004_history_orgs"
        [kept] = await rows.alerts(AlertFilter(SINCE, UNTIL))
        assert (kept.org, kept.call_id, kept.alert_id, kept.message) == (
            "default",
            "CA1",
            "keyword-1",
            "said lawyer",
        )
        kept_call = await rows.call("CA1")
        assert kept_call is not None and kept_call.peak_attention == 40
        [kept_action] = await rows.actions(SINCE, UNTIL)
        assert (kept_action.org, kept_action.stream) == ("default", "call:CA1")
        assert [c.name for c in await rows.campaigns(SINCE, UNTIL)] == ["Renewals"]
        # The same ids in another organisation are rows of their own beside them.
        await rows.write([alert("acme"), summary("acme", 70), campaign("acme", "Win-back")])
        assert len(await rows.alerts(AlertFilter(SINCE, UNTIL, orgs=BOTH))) == 2
        assert len(await rows.calls(SINCE, UNTIL, orgs=BOTH)) == 2
        assert len(await rows.campaigns(SINCE, UNTIL, orgs=BOTH)) == 2
        assert await migrate.differences(store.db.engine, store.db.url) == []
    finally:
        await store.close()


OLD_ROWS = [
    "INSERT INTO alerts (call_id, alert_id, at, kind, severity, message, excerpt, assistant)"
    " VALUES ('CA1', 'keyword-1', :at, 'keyword', 'high', 'said lawyer', 'x', 'Bot')",
    "INSERT INTO actions (key, at, stream, what, outcome, who, message)"
    " VALUES ('k1', :at, 'call:CA1', 'end', 'done', 'bob', 'ended the call')",
    "INSERT INTO call_summaries (call_id, ended_at, assistant, length, dead_air, interruptions,"
    " peak_attention, reasons, alerts) VALUES ('CA1', :at, 'Bot', 60.0, 0, 1, 40, '', 1)",
    "INSERT INTO campaign_summaries (campaign_id, ended_at, name, status, total, completed,"
    " successful, failed) VALUES ('7', :at, 'Renewals', 'completed', 10, 10, 8, 2)",
]


async def test_a_downgrade_to_0003_keeps_only_the_default_orgs_rows(database_url: str) -> None:
    url = parse_url(database_url)
    store = await open_store(url)
    try:
        rows = store.history
        await rows.write([alert("default"), alert("acme"), summary("default", 1)])
        await rows.write([summary("acme", 2), campaign("acme", "Win-back")])
        acme_end = ActionRecord(T0, "acme/call:CA1", "end", "done", "bob", "ended", "acme")
        await rows.write([ActionRecord(T0, "call:CA1", "end", "done", "bob", "ended"), acme_end])
        async with transaction(store.db.engine, url) as conn:
            await conn.run_sync(
                lambda sync: command.downgrade(migrate.alembic_config(sync), "0003_orgs")
            )
            counts = [
                (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar()
                for table in ("alerts", "actions", "call_summaries", "campaign_summaries")
            ]
        assert counts == [1, 1, 1, 0]
        assert await migrate.revision(store.db.engine, url) == "0003_orgs"
    finally:
        await store.close()
    again = await open_store(url)  # and up again
    try:
        assert [a.org for a in await again.history.alerts(AlertFilter(SINCE, UNTIL))] == ["default"]
    finally:
        await again.close()
