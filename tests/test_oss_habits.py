"""The real open-source Burki's last habits, over real sockets (the simulator's ``oss_quirks``).

No campaign API (404 on REST, 403 on the campaign socket); an ended call whose
on-connect status says neither when it ended nor how long it lasted, while its REST
object says both; the caller's segments timed on another clock than the assistant's;
assistant ids without names.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import httpx

from tests.clocks import ManualClock
from tests.hubs import frames_until
from tests.live import LiveApp, Viewer, data, has_segment, is_event, parts_of, running_app
from tests.test_health_live import figures_in, metrics_with
from webapp.simulator import Simulator
from webapp.simulator.oss import CALLER_CLOCK_AHEAD
from webapp.wire.streamkey import StreamKey


async def test_a_burki_without_campaigns_answers_404_at_once_and_opens_no_socket(
    oss_sim: Simulator,
) -> None:
    async with running_app(oss_sim) as live, live.client() as client:
        for path in ("/api/campaigns/5/events", "/api/events?campaign=5"):
            answer = await client.get(live.url + path)
            assert answer.status_code == 404
            assert (
                answer.json()["message"] == "This Burki has no campaigns (it answers calls only)."
            )
        for path in ("/live/campaign/campaign/5", "/campaigns/5"):
            page = await client.get(live.url + path)
            assert page.status_code == 404 and "This Burki has no campaigns" in page.text
        assert oss_sim.attempts("campaign:5") == 0  # no socket, so no "the key may be wrong"
        assert StreamKey.campaign(5) not in live.hub.streams


async def test_a_campaign_burki_does_not_know_is_a_404_before_any_socket(sim: Simulator) -> None:
    known = sim.add_campaign()
    async with running_app(sim) as live, live.client() as client:
        answer = await client.get(f"{live.url}/api/campaigns/{known + 40}/events")
        assert answer.status_code == 404
        assert answer.json()["message"] == f"Burki has no campaign with the id {known + 40}."
        assert sim.attempts(f"campaign:{known + 40}") == 0
        viewer = Viewer(live.url, f"/api/campaigns/{known}/events").start(client)
        await viewer.wait_for(is_event("status", state="live"))  # a known one streams
        await viewer.stop()


async def test_a_socket_refused_with_403_for_a_campaign_rest_does_not_know_is_not_a_key_problem(
    oss_sim: Simulator,
) -> None:
    """Should the socket be opened all the same (Burki's REST was away at the check), the
    403 is told as a missing campaign, not a refused key, and not retried."""
    async with running_app(oss_sim) as live:
        key = StreamKey.campaign(5)
        with live.hub.watch([key], {}) as viewing:  # straight to the hub: no route's check
            seen = await frames_until(viewing.sub, lambda f: f.type in ("error", "status"))
        told = seen[-1].data
        assert told["reason"] == "not_found", told
        assert "may have no campaigns" in told["message"]
        assert "key may be wrong" not in told["message"]
        assert oss_sim.attempts("campaign:5") == 1


async def test_an_ended_call_opened_later_shows_burki_s_length_not_the_time_since(
    oss_sim: Simulator,
) -> None:
    """A 3 s call opened 30 s after its end: the open-source server's on-connect status has
    no duration and no ended_at; the stream asks Burki's REST, which has both."""
    clock = ManualClock(datetime.now(UTC) - timedelta(seconds=33))
    oss_sim.store.clock = clock
    sid = oss_sim.add_call()
    clock.now += timedelta(seconds=1.5)
    oss_sim.add_segment(sid, "assistant", "Thanks for calling.")
    clock.now += timedelta(seconds=1.5)
    oss_sim.add_segment(sid, "user", "That's all, bye.")
    oss_sim.set_call_status(sid, "completed")
    clock.now = datetime.now(UTC)
    auth = {"Authorization": f"Bearer {oss_sim.api_key}"}
    async with httpx.AsyncClient(base_url=oss_sim.base_url, headers=auth) as rest:
        stored = (await rest.get(f"/api/v1/calls/sid/{sid}")).json()
    assert stored["duration"] == 3 and stored["ended_at"]  # Burki's REST has both
    async with running_app(oss_sim) as live, live.client() as client:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        await viewer.wait_for(is_event("end"))
        statuses = [data(e) for e in viewer.events if e.event == "call_status"]
        assert "duration" not in statuses[0]["metadata"]  # as the real server sends it
        assert statuses[-1]["metadata"]["duration"] == 3
        figures = parts_of(viewer.events, "metrics")[-1]
        assert figures["length"] == 3.0 and figures["ended"] and figures["ended_at"]
        page = (await client.get(f"{live.url}/calls/{sid}")).text
        assert 'data-until="' in page.split('id="call-status"')[1].split("</p>")[0]
        await viewer.stop()


async def test_a_call_that_ends_while_watched_keeps_burki_s_length(oss_sim: Simulator) -> None:
    clock = ManualClock(datetime.now(UTC))
    oss_sim.store.clock = clock
    sid = oss_sim.add_call()
    async with running_app(oss_sim) as live, live.client() as client:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        await viewer.wait_for(is_event("status", state="live"))
        clock.now += timedelta(seconds=4)
        oss_sim.set_call_status(sid, "completed")  # the live end: {"duration": 4} only
        ended = await viewer.wait_for(metrics_with(lambda d: d["ended"]))
        assert figures_in(ended)["length"] == 4.0
        await viewer.stop()


async def test_the_two_clocks_of_segment_timing_fall_back_to_arrival_and_say_so(
    oss_sim: Simulator,
) -> None:
    clock = ManualClock(datetime.now(UTC))
    oss_sim.store.clock = clock
    sid = oss_sim.add_call()
    async with running_app(oss_sim) as live, live.client() as client:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        await viewer.wait_for(is_event("status", state="live"))
        for n in range(8):  # every fourth is untimed: enough timed ones of each side
            clock.now += timedelta(seconds=2)
            oss_sim.add_segment(sid, ("user", "assistant")[n % 2], f"Line {n} of four words.")
            await viewer.wait_for(has_segment(f"Line {n} of four words."))
        said = [data(e)["segment"] for e in viewer.events if e.event == "transcript"]
        pairs = [
            (q, a)
            for q, a in pairwise(said)
            if q["speaker"] == "user" and q["end"] is not None and a["start"] is not None
        ]
        assert pairs and all(a["start"] < q["end"] for q, a in pairs)  # answers seem early
        skewed = await viewer.wait_for(metrics_with(lambda d: d["latency"]["clock_skew"]))
        latency = figures_in(skewed)["latency"]
        assert latency["source"] == "arrival" and latency["count"] >= 2
        assert abs(latency["clock_skew"] - CALLER_CLOCK_AHEAD) <= 0.2
        assert all(abs(w - 2.0) < 0.2 for w in (latency["latest"], latency["worst"]))
        page = (await client.get(f"{live.url}/calls/{sid}")).text
        assert "two clocks" in page
        await viewer.stop()


async def test_the_call_page_names_the_assistant_burki_only_gives_the_id_of(
    oss_sim: Simulator,
) -> None:
    sid = oss_sim.add_call(assistant_name="Billing helper")
    async with running_app(oss_sim) as live, live.client() as client:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        named = await viewer.wait_for(
            lambda e: e.event == "call_status" and data(e)["metadata"].get("assistant_name")
        )
        assert data(named)["metadata"]["assistant_name"] == "Billing helper"
        header = (await client.get(f"{live.url}/calls/{sid}")).text.split('id="call-status"')[1]
        assert "Billing helper" in header.split("</p>")[0]
        await viewer.stop()


async def test_an_alert_is_listed_once_after_its_stream_is_retired_and_opened_again(
    sim: Simulator,
) -> None:
    sid = sim.add_call()
    sim.add_segment(sid, "user", "I want to speak to my lawyer.")
    settings = {"alert_keywords": "lawyer:high", "relay_grace_period": 0.2}
    async with running_app(sim, **settings) as live, live.client(timeout=10) as client:
        for _ in range(3):  # opened, retired after its grace period, opened again
            viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
            await viewer.wait_for(lambda e: e.event == "alert" and data(e)["kind"] == "keyword")
            await viewer.stop()
            await sim.wait_for_connections(f"call:{sid}", 0)  # retired: upstream closed
            assert StreamKey.call(sid) not in live.hub.streams
        assert [a["id"] for a in live.state.tenants.first.directory.alerts].count(
            keyword_id(live)
        ) == 1
        overview = (await client.get(f"{live.url}/")).text
        assert overview.count('data-alert-id="') == 1


def keyword_id(live: LiveApp) -> str:
    return str(live.state.tenants.first.directory.alerts[0]["id"])
