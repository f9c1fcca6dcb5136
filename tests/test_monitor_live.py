"""Monitoring: every listed call and campaign followed with no page open, over real sockets
(the simulator as Burki, a real dashboard, a real webhook receiver)."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.live import LiveApp, running_app
from tests.receiver import receiving
from tests.test_alerts_live import ANGRY, SECRET, endpoints
from webapp.alerts.signed import SIGNATURE_HEADER, verify
from webapp.simulator import Simulator
from webapp.wire.streamkey import StreamKey

ROW = r'<tr data-sid="{sid}">.*?class="score-cell"(?: title="([^"]*)")?>(\d+)</td>'
MONITORED = {"monitor_enabled": True, "directory_poll_interval": 0.3}


async def until(done: Callable[[], bool], timeout: float = 10.0) -> None:
    """Await a condition of the dashboard's state that no event announces (a stream's state
    after Burki's frames, which no viewer reads here: no page is open)."""
    async with asyncio.timeout(timeout):
        while not done():  # noqa: ASYNC110 (no event announces it: see above)
            await asyncio.sleep(0.02)


def said(live: LiveApp, sid: str, text: str) -> Callable[[], bool]:
    """The call's monitored stream holds a final segment ``text``."""

    def check() -> bool:
        stream = live.hub.streams.get(StreamKey.call(sid))
        segments = stream.state.snapshot().get("segments", []) if stream is not None else []
        return any(s.get("content") == text for s in segments)

    return check


async def monitored(sim: Simulator, *keys: str) -> None:
    for key in keys:
        await sim.wait_for_connections(key, 1, timeout=10)


def metric(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


async def test_with_no_page_open_a_keyword_line_reaches_a_signed_webhook_a_calm_call_nothing(
    sim: Simulator,
) -> None:
    angry, calm = sim.add_call(), sim.add_call()
    async with receiving() as receiver:
        hooks = {
            "webhook_endpoints": endpoints(receiver.url, "alert"),
            "alert_keywords": "lawyer:high",
        }
        async with running_app(sim, **MONITORED, **hooks) as live:
            await monitored(sim, f"call:{angry}", f"call:{calm}")
            said_at = time.monotonic()
            sim.add_segment(calm, "user", "Thanks, that is all I needed.")
            sim.add_segment(angry, "user", "Fine, my lawyer will call you.")
            first = (await receiver.wait_for(1, timeout=15))[0]
            took = time.monotonic() - said_at
            await until(said(live, calm, "Thanks, that is all I needed."))
            sim.add_segment(angry, "user", ANGRY[0])  # after the calm line was read
            await receiver.wait_for(2, timeout=15)
            assert live.state.webhooks is not None
            await live.state.webhooks.wait_idle()
    assert took < 15
    assert first.json["type"] == "alert" and first.json["stream"] == f"call:{angry}"
    assert "lawyer" in first.json["data"]["message"]
    assert {r.json["stream"] for r in receiver.requests} == {f"call:{angry}"}
    for request in receiver.requests:
        assert verify(SECRET, request.headers[SIGNATURE_HEADER.lower()], request.body)


async def test_a_campaign_completion_reaches_the_webhook_with_no_page_open(
    sim: Simulator,
) -> None:
    cid = sim.add_campaign(name="Night run", dialect="B", contacts=2)
    async with receiving() as receiver:
        hooks = {"webhook_endpoints": endpoints(receiver.url, "campaign")}
        async with running_app(sim, **MONITORED, **hooks) as live:
            await monitored(sim, f"campaign:{cid}")
            sim.advance_campaign(cid, outcome="success")
            sim.advance_campaign(cid, outcome="failed")
            await until(lambda: "campaign_completed" in [r.json["type"] for r in receiver.requests])
            assert live.state.webhooks is not None
    assert {"contact", "campaign_completed"} <= {r.json["type"] for r in receiver.requests}


async def test_the_overview_first_render_shows_every_monitored_call_with_score_and_reasons(
    sim: Simulator,
) -> None:
    calls = [sim.add_call(customer_phone=f"+1555010{n}") for n in range(5)]
    upset = calls[2]
    async with (
        running_app(sim, **MONITORED, attention_threshold=10) as live,
        live.client(timeout=10) as client,
    ):
        await monitored(sim, *(f"call:{sid}" for sid in calls))
        for text in ANGRY:
            sim.add_segment(upset, "user", text)
        stream = live.hub.streams[StreamKey.call(upset)]
        assert stream.health is not None
        health = stream.health
        await until(lambda: health.current().get("attention", {}).get("score", 0) >= 10)
        page = (await client.get(live.url + "/")).text
        for sid in calls:
            assert f'data-sid="{sid}"' in page
            assert sim.connections_total(f"call:{sid}") == 1  # nothing opened on demand
    rows = {sid: ROW.format(sid=sid) for sid in calls}
    cells = {sid: re.search(row, page, re.S) for sid, row in rows.items()}
    assert all(cells.values()), "every monitored call has its row"
    scores = {sid: int(m.group(2)) for sid, m in cells.items() if m is not None}
    assert set(scores) == set(calls)  # every call scored in the first render
    assert scores[upset] >= 10
    upset_cell = cells[upset]
    assert upset_cell is not None and "upset" in (upset_cell.group(1) or "")  # its reasons
    needs = page.split('id="needs-h"')[1].split("</section>")[0]
    assert f'/calls/{upset}"' in needs and "reason-" in needs


async def test_past_the_cap_the_unmonitored_calls_are_named_logged_and_counted(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    calls = [sim.add_call() for _ in range(3)]
    caplog.set_level(logging.WARNING, "webapp.watch.monitor")
    async with (
        running_app(sim, **MONITORED, monitor_max_streams=2) as live,
        live.client(timeout=10) as client,
    ):
        monitor = live.state.tenants.first.monitor
        assert monitor is not None
        await until(lambda: len(monitor.held) == 2 and len(monitor.unmonitored) == 1)
        left = monitor.unmonitored[0]
        assert left not in monitor.held and left.id in calls
        assert sim.connections_total(str(left)) == 0
        admin = (await client.get(live.url + "/admin")).text
        metrics = (await client.get(live.url + "/metrics")).text
    assert "The cap is reached: 1 listed stream(s) are not monitored" in admin
    assert f'title="{left}"' in admin
    assert metric(metrics, "burki_live_monitor_unmonitored") == {(("org", "default"),): 1.0}
    assert any("cap of 2 monitored streams is reached" in r.message for r in caplog.records)


async def test_a_call_burki_refuses_is_left_alone_and_counted_not_retried(
    sim: Simulator,
) -> None:
    refused, fine = sim.add_call(), sim.add_call()
    sim.faults.denied = frozenset({f"call:{refused}"})
    async with running_app(sim, **MONITORED) as live, live.client(timeout=10) as client:
        monitor = live.state.tenants.first.monitor
        assert monitor is not None
        await monitored(sim, f"call:{fine}")
        await until(lambda: monitor.refusals == 1)
        tried = sim.attempts(f"call:{refused}")
        for _ in range(3):  # several looks later, still left alone
            await monitor.looked()
        assert sim.attempts(f"call:{refused}") == tried
        assert StreamKey.call(refused) not in monitor.held
        metrics = (await client.get(live.url + "/metrics")).text
    assert metric(metrics, "burki_live_monitor_refused_total") == {(("org", "default"),): 1.0}


async def test_streams_open_at_the_bounded_rate_not_all_at_once(sim: Simulator) -> None:
    calls = [sim.add_call() for _ in range(6)]
    async with running_app(sim, **MONITORED, monitor_open_rate=0.1) as live:
        monitor = live.state.tenants.first.monitor
        assert monitor is not None
        await until(lambda: len(monitor.held) == 1)
        await monitor.looked()
        assert len(monitor.held) == 1  # the next waits its turn (one every 10 s)
        assert sum(sim.attempts(f"call:{sid}") for sid in calls) == 1


async def test_an_ended_call_lingers_then_closes_and_a_viewer_shares_the_one_upstream(
    sim: Simulator,
) -> None:
    from tests.live import Viewer, is_event

    sid = sim.add_call()
    key = StreamKey.call(sid)
    async with running_app(sim, **MONITORED) as live, live.client(timeout=10) as client:
        await monitored(sim, f"call:{sid}")
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        await viewer.wait_for(is_event("snapshot"))
        assert sim.connections_total(f"call:{sid}") == 1
        await viewer.stop()
        sim.set_call_status(sid, "completed")
        monitor = live.state.tenants.first.monitor
        assert monitor is not None
        await until(lambda: key not in monitor.held)
        stream = live.hub.streams[key]
        assert stream.ended and not stream.held  # lingers for late viewers, as any stream
    assert sim.connections_total(f"call:{sid}") == 1


async def test_the_wallboard_first_render_shows_every_monitored_calls_score(
    sim: Simulator,
) -> None:
    calls = [sim.add_call(customer_phone=f"+1555020{n}") for n in range(3)]
    upset = calls[1]
    async with (
        running_app(sim, **MONITORED) as live,
        live.client(timeout=10) as client,
    ):
        await monitored(sim, *(f"call:{sid}" for sid in calls))
        for text in ANGRY:
            sim.add_segment(upset, "user", text)
        health = live.hub.streams[StreamKey.call(upset)].health
        assert health is not None
        await until(lambda: health.current().get("attention", {}).get("score", 0) >= 10)
        page = (await client.get(live.url + "/wallboard")).text
        opened = [sim.connections_total(f"call:{sid}") for sid in calls]
    scores = dict(re.findall(r'<article id="card-([^"]+)"[^>]*data-score="(\d+)"', page))
    assert len(scores) == 3, scores
    assert max(int(s) for s in scores.values()) >= 10  # the upset caller's card, at once
    assert opened == [1, 1, 1]  # nothing opened on demand
