"""Done when: an alert raised on a watched call is on the Alerts page after the call has
ended and after a restart of the node, on SQLite and PostgreSQL; the shift report and the
ended call's page show it. A real server against the simulator, over real sockets."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from tests.live import LiveApp, Viewer, csrf_of, data, is_event, running_app
from tests.postgres import PostgresServer
from webapp.access.users import Role
from webapp.simulator import Simulator

RULES = {"alert_keywords": "lawyer:high"}
SAID = "Fine, my lawyer will call you."


def keeping(database_url: str, tmp_path: Path) -> dict[str, object]:
    """The node's settings: its database outlives a restart (the var folder does not)."""
    return {**RULES, "database_url": database_url, "dashboard_database_file": tmp_path / "x.db"}


async def watch_an_alert_until_the_call_ends(live: LiveApp, sim: Simulator, sid: str) -> str:
    async with live.client(timeout=10) as client:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        await viewer.wait_for(is_event("status", state="live"))
        sim.add_segment(sid, "user", SAID)
        alert = data(await viewer.wait_for(is_event("alert")))
        sim.add_segment(sid, "assistant", "I understand; let me help you now.")
        sim.set_call_status(sid, "completed")
        await viewer.wait_for(is_event("end"))
        await viewer.stop()
    keeper = live.state.history
    assert keeper is not None
    await keeper.recorder.drained()
    return str(alert["id"])


async def test_an_alert_outlives_its_call_and_a_restart(
    sim: Simulator, database_url: str, tmp_path: Path
) -> None:
    sid = sim.add_call(assistant_name="Billing bot")
    settings = keeping(database_url, tmp_path)
    async with running_app(sim, **settings) as live:
        alert_id = await watch_an_alert_until_the_call_ends(live, sim, sid)
        async with live.client(timeout=10) as client:
            page = await client.get(f"{live.url}/history/alerts")
        assert page.status_code == 200 and f'data-call="{sid}"' in page.text
    async with running_app(sim, **settings) as again, again.client(timeout=10) as client:
        assert not again.hub.streams  # the new node holds nothing of the call: only the store
        alerts = await client.get(f"{again.url}/history/alerts?severity=high&handled=no")
        assert alerts.status_code == 200
        assert f'href="/calls/{sid}"' in alerts.text and "lawyer will call you" in alerts.text
        exported = await client.get(f"{again.url}/history/alerts.csv")
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert [(r["call_id"], r["severity"], r["assistant"]) for r in rows] == [
            (sid, "high", "Billing bot")
        ]
        shift = await client.get(f"{again.url}/history/shift")
        assert 'data-figure="calls">1<' in shift.text
        assert 'data-figure="alerts">1<' in shift.text
        assert 'data-figure="attention" class="bad">1<' in shift.text
        assert "Billing bot" in shift.text
        scraped = (await client.get(f"{again.url}/metrics")).text
        assert "burki_live_history_waiting 0.0" in scraped
        assert "burki_live_history_dropped_total 0.0" in scraped
        call = await client.get(f"{again.url}/calls/{sid}")
        assert "As it ended" in call.text and 'data-figure="alerts"><a' in call.text
    assert alert_id


async def test_an_acknowledged_alert_says_who_acknowledged_it(
    sim: Simulator, database_url: str, tmp_path: Path
) -> None:
    sid = sim.add_call()
    async with running_app(sim, **keeping(database_url, tmp_path)) as live:
        async with live.client(timeout=10) as client:
            viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
            await viewer.wait_for(is_event("status", state="live"))
            sim.add_segment(sid, "user", SAID)
            await viewer.wait_for(is_event("alert"))
            csrf = await csrf_of(client, f"{live.url}/calls/{sid}")
            claim = await client.post(
                f"{live.url}/calls/{sid}/claim",
                data={"action": "ack", "csrf": csrf},
                headers={"hx-request": "true"},
            )
            assert claim.status_code == 204, claim.text
            await viewer.wait_for(is_event("claim"))
            await viewer.stop()
        keeper = live.state.history
        assert keeper is not None
        await keeper.recorder.drained()
        async with live.client(timeout=10) as client:
            handled = await client.get(f"{live.url}/history/alerts?handled=yes")
            shift = await client.get(f"{live.url}/history/shift")
        assert "acknowledged by test-admin" in handled.text
        assert "1 acknowledged" in shift.text


async def test_bad_ranges_and_filters_get_a_clear_400(sim: Simulator, tmp_path: Path) -> None:
    async with running_app(sim) as live, live.client(timeout=10) as client:
        for query, says in [
            ("since=yesterday", "since: not a time"),
            ("since=2026-12-07T10:00&until=2026-12-07T09:00", "since must come before until"),
            ("hours=0", "hours: a whole number"),
            ("severity=%3Cscript%3E", "severity: one of"),
            ("handled=maybe", "handled: yes or no"),
        ]:
            answer = await client.get(f"{live.url}/history/alerts?{query}")
            assert answer.status_code == 400 and says in answer.text, query
        assert "<script>" not in answer.text


async def test_a_supervisor_reads_the_history_and_a_stranger_does_not(sim: Simulator) -> None:
    async with running_app(sim) as live:
        async with live.client(Role.SUPERVISOR, timeout=10) as client:
            assert (await client.get(f"{live.url}/history/shift")).status_code == 200
        async with httpx.AsyncClient(timeout=10) as stranger:
            answer = await stranger.get(f"{live.url}/history/alerts", follow_redirects=False)
            assert answer.status_code in (302, 303, 401)


async def test_a_call_ended_from_the_dashboard_is_in_the_shift_report(sim: Simulator) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live, live.client(Role.SUPERVISOR, timeout=10) as ada:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(ada)
        await viewer.wait_for(is_event("status", state="live"))
        token = await csrf_of(ada, f"{live.url}/calls/{sid}/end")
        done = await ada.post(f"{live.url}/calls/{sid}/end", data={"csrf": token})
        assert done.status_code == 303
        await viewer.wait_for(is_event("end"))
        await viewer.stop()
        keeper = live.state.history
        assert keeper is not None
        await keeper.recorder.drained()
        now = datetime.now(UTC)
        actions = await keeper.rows.actions(now - timedelta(hours=1), now + timedelta(hours=1))
        assert {(a.what, a.outcome, a.who) for a in actions} >= {
            ("end", "asked", "test-supervisor"),
            ("end", "done", "test-supervisor"),
        }
        shift = (await ada.get(f"{live.url}/history/shift")).text
        assert 'data-figure="calls">1<' in shift
        assert "test-supervisor" in shift and "1 ended" in shift


async def test_an_ended_campaign_is_in_the_shift_report(sim: Simulator) -> None:
    cid = sim.add_campaign(name="Renewals", contacts=2)
    async with running_app(sim) as live, live.client(Role.ADMIN, timeout=10) as client:
        viewer = Viewer(live.url, f"/api/campaigns/{cid}/events").start(client)
        await viewer.wait_for(is_event("snapshot"))
        sim.advance_campaign(cid, "success")
        sim.advance_campaign(cid, "failed")  # the last contact: the campaign completes
        await viewer.wait_for(is_event("end"), timeout=30)
        await viewer.stop()
        keeper = live.state.history
        assert keeper is not None
        await keeper.recorder.drained()
        shift = (await client.get(f"{live.url}/history/shift")).text
        assert "Campaigns that ended" in shift and "Renewals" in shift
        assert "1 of 2 successful · 1 failed" in shift


async def test_an_alert_raised_while_the_database_is_away_is_written_when_it_is_back(
    sim: Simulator, postgres: PostgresServer, tmp_path: Path
) -> None:
    sid = sim.add_call()
    settings = keeping(postgres.new_database(), tmp_path) | {"database_timeout": 2.0}
    async with running_app(sim, **settings) as live, live.client(timeout=10) as client:
        keeper = live.state.history
        assert keeper is not None
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        await viewer.wait_for(is_event("status", state="live"))
        await asyncio.to_thread(postgres.stop)
        try:
            sim.add_segment(sid, "user", SAID)
            await viewer.wait_for(is_event("alert"))  # live viewing goes on
            await asyncio.wait_for(keeper.recorder.outage.wait(), 30)
            assert keeper.recorder.backlog >= 1
            page = await client.get(f"{live.url}/calls/{sid}")
            assert page.status_code == 200 and "As it ended" not in page.text
            history = await client.get(f"{live.url}/history/alerts")
            assert history.status_code == 503 and "cannot be reached" in history.text
        finally:
            await asyncio.to_thread(postgres.start)
        await asyncio.wait_for(keeper.recorder.drained(), 30)
        await viewer.stop()
        alerts = await client.get(f"{live.url}/history/alerts")
        assert alerts.status_code == 200 and f'data-call="{sid}"' in alerts.text
