"""Call health and claims over real sockets: metrics events, resume, dead air, claim POSTs."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from httpx_sse import ServerSentEvent

from tests.clocks import ManualClock
from tests.live import LiveApp, Viewer, data, has_segment, is_event, part, parts_of, running_app
from webapp.access.users import Role
from webapp.simulator import Simulator
from webapp.wire.streamkey import StreamKey


def metrics_with(check: object) -> object:
    """A ``wait_for`` predicate: the call's figures (a ``metrics`` event, or riding in a
    segment's ``transcript`` event) pass ``check``."""

    def test(event: ServerSentEvent) -> bool:
        figures = part(event, "metrics")
        return figures is not None and bool(check(figures))  # type: ignore[operator]

    return test


def figures_in(event: ServerSentEvent) -> dict[str, Any]:
    found = part(event, "metrics")
    assert found is not None, f"a {event.event} event without the call's figures"
    return found


async def csrf_of(live: LiveApp, client: httpx.AsyncClient, sid: str) -> str:
    page = await client.get(f"{live.url}/calls/{sid}")
    found = re.search(r'id="csrf" name="csrf" value="([^"]+)"', page.text)
    assert found, "the call page carries no CSRF token"
    return found.group(1)


async def test_metrics_events_arrive_and_survive_resume(sim: Simulator) -> None:
    clock = ManualClock(datetime.now(UTC))
    sim.store.clock = clock  # the simulator times its segments by this clock
    sid = sim.add_call()
    async with running_app(sim) as live, live.client(timeout=10) as client:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        await viewer.wait_for(is_event("status", state="live"))
        clock.now += timedelta(seconds=3)
        sim.add_segment(sid, "user", "Where is my parcel?")  # 1.8 s to 3.0 s
        first = await viewer.wait_for(metrics_with(lambda d: d["turns"] == 1))
        mark = viewer.last_id
        clock.now += timedelta(seconds=1.5)
        sim.add_segment(sid, "assistant", "Sure.")  # 4.2 s to 4.5 s
        event = await viewer.wait_for(metrics_with(lambda d: d["latency"]["count"] == 1))
        answered = figures_in(event)
        assert answered["latency"]["latest"] == 1.2 and answered["latency"]["source"] == "timing"
        assert data(event)["stream"] == f"call:{sid}" and "attention" in answered
        assert figures_in(first)["talk"]["untimed"] == 0  # the simulator times its segments
        # A resume gets exactly the frames after its id, metrics included.
        resumed = Viewer(live.url, f"/api/calls/{sid}/events", last_id=mark).start(client)
        again = figures_in(await resumed.wait_for(metrics_with(lambda d: True)))
        assert again["latency"] == answered["latency"]
        assert [e.event for e in resumed.events if e.event == "snapshot"] == []
        # A new viewer finds them in its snapshot.
        late = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        snapshot = data(await late.wait_for(is_event("snapshot")))
        assert snapshot["metrics"]["latency"] == answered["latency"]
        assert snapshot["metrics"]["turns"] == 2 and snapshot["claim"] is None
        for v in (viewer, resumed, late):
            await v.stop()


async def test_dead_air_is_announced_without_any_frame_from_burki(sim: Simulator) -> None:
    sid = sim.add_call()
    # The alarm well after the warning: a loaded machine applies a line up to ~1.5 s after
    # Burki stamped it, and the silence is measured from the stamp (it then skipped "warn").
    quick = {"health_silence_warn": 0.3, "health_silence_alarm": 2.5}
    async with running_app(sim, **quick) as live, live.client(timeout=10) as client:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        await viewer.wait_for(is_event("status", state="live"))
        sim.add_segment(sid, "assistant", "Hello, how can I help?")
        await viewer.wait_for(has_segment("Hello, how can I help?"))
        alarm = figures_in(
            await viewer.wait_for(
                metrics_with(lambda d: d["silence"]["level"] == "alarm"), timeout=10
            )
        )
        assert next(r["code"] for r in alarm["attention"]["reasons"]) == "silence"
        assert alarm["attention"]["score"] >= 40
        assert any(
            figures["silence"]["level"] == "warn" for figures in parts_of(viewer.events, "metrics")
        )
        sim.add_segment(sid, "user", "Sorry, I was away.")
        await viewer.wait_for(metrics_with(lambda d: d["silence"]["level"] == "ok"))
        await viewer.stop()
        stream = live.hub.streams[StreamKey.call(sid)]
        assert stream.health is not None and stream.alarms.health_armed  # the next warn is due
        await stream.close()
        assert not stream.alarms.health_armed  # the stream's close takes its timer with it


async def test_a_claim_reaches_every_viewer_is_audited_and_ends_with_the_call(
    sim: Simulator,
) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live, live.client(Role.SUPERVISOR, timeout=10) as ada:
        watcher = Viewer(live.url, f"/api/calls/{sid}/events").start(ada)
        await watcher.wait_for(is_event("status", state="live"))
        token = await csrf_of(live, ada, sid)
        url = f"{live.url}/calls/{sid}/claim"
        answer = await ada.post(
            url, data={"action": "claim", "csrf": token}, headers={"HX-Request": "true"}
        )
        assert answer.status_code == 204
        claim = data(await watcher.wait_for(is_event("claim")))
        assert claim["claim"]["by"] == "test-supervisor" and claim["claim"]["kind"] == "claim"
        what = [e.what for e in await live.state.access.audit.entries()]
        assert f"claim call:{sid}" in what
        # The claim shows in the metrics' snapshot for a late viewer.
        late = Viewer(live.url, f"/api/calls/{sid}/events").start(ada)
        assert data(await late.wait_for(is_event("snapshot")))["claim"]["by"] == "test-supervisor"
        sim.set_call_status(sid, "completed")
        cleared = data(
            await watcher.wait_for(lambda e: e.event == "claim" and data(e)["claim"] is None)
        )
        assert cleared["reason"] == "call ended"
        refused = await ada.post(
            url, data={"action": "claim", "csrf": token}, headers={"HX-Request": "true"}
        )
        assert refused.status_code == 409 and "ended" in refused.text
        await watcher.stop()
        await late.stop()


async def test_claims_need_a_person_with_a_call_role_and_the_csrf_token(sim: Simulator) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live, live.client(Role.SUPERVISOR, timeout=10) as ada:
        # A watcher keeps the stream open: a page render alone retires after the grace period.
        watcher = Viewer(live.url, f"/api/calls/{sid}/events").start(ada)
        await watcher.wait_for(is_event("status", state="live"))
        token = await csrf_of(live, ada, sid)
        url = f"{live.url}/calls/{sid}/claim"
        assert (await ada.post(url, data={"action": "claim"})).status_code == 403
        assert (await ada.post(url, data={"action": "claim", "csrf": "forged"})).status_code == 403
        bad = await ada.post(url, data={"action": "steal", "csrf": token})
        assert bad.status_code == 400
        async with live.client(Role.MANAGER, timeout=10) as manager:
            assert (
                await manager.post(url, data={"action": "claim", "csrf": token})
            ).status_code == 403
        async with httpx.AsyncClient(timeout=10) as machine:
            bearer = {"Authorization": f"Bearer {await live.token(Role.ADMIN)}"}
            denied = await machine.post(url, data={"action": "claim"}, headers=bearer)
            assert denied.status_code == 303  # no session: sent to sign in, nothing done
        assert live.hub.streams[StreamKey.call(sid)].claims.snapshot() is None
        # A plain form post (no htmx) is sent back to the call page.
        done = await ada.post(url, data={"action": "ack", "csrf": token})
        assert done.status_code == 303 and done.headers["location"] == f"/calls/{sid}"
        # Someone else's claim is not released by another supervisor.
        async with live.client(Role.ADMIN, timeout=10) as root:
            root_token = await csrf_of(live, root, sid)
            await root.post(url, data={"action": "claim", "csrf": root_token})
        refused = await ada.post(
            url, data={"action": "release", "csrf": token}, headers={"HX-Request": "true"}
        )
        assert refused.status_code == 409 and "test-admin" in refused.text


async def test_views_live_in_the_url_so_a_saved_link_reopens_them(sim: Simulator) -> None:
    upset = sim.add_call(assistant_name="Sales bot")
    calm = sim.add_call(assistant_name="Billing bot")  # Burki lists the newest first
    async with running_app(sim) as live, live.client(timeout=10) as client:
        watcher = Viewer(live.url, f"/api/calls/{upset}/events").start(client)
        await watcher.wait_for(is_event("status", state="live"))
        sim.add_segment(upset, "user", "My lawyer will hear about this!")
        await watcher.wait_for(metrics_with(lambda d: d["attention"]["score"] > 0))
        board = (await client.get(f"{live.url}/wallboard?assistant=billing&sort=started")).text
        assert f'id="card-{calm}"' in board and f'id="card-{upset}"' not in board
        assert 'class="cards sort-started"' in board
        assert "assistant=billing" in board  # the update stream keeps the filter too
        tv = (await client.get(f"{live.url}/wallboard?tv=1")).text
        assert 'class="top"' not in tv and "js/tv.js" in tv
        as_listed = (await client.get(f"{live.url}/?sort=listed")).text
        listed = as_listed[as_listed.index('id="calls"') :]
        assert listed.index(calm) < listed.index(upset)
        by_score = (await client.get(f"{live.url}/")).text  # by attention unless asked
        listed = by_score[by_score.index('id="calls"') :]
        assert listed.index(upset) < listed.index(calm)
        assert '<option value="attention" selected>' in by_score
        await watcher.stop()


async def test_null_timings_from_the_open_source_server_are_measured_by_arrival(
    oss_sim: Simulator,
) -> None:
    clock = ManualClock(datetime.now(UTC))
    oss_sim.store.clock = clock
    sid = oss_sim.add_call()
    async with running_app(oss_sim) as live, live.client(timeout=10) as client:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        await viewer.wait_for(is_event("status", state="live"))
        for n in range(4):  # the open-source mode sends every fourth segment untimed
            clock.now += timedelta(seconds=3)
            oss_sim.add_segment(sid, ("user", "assistant")[n % 2], f"Line {n}.")
            await viewer.wait_for(metrics_with(lambda d, n=n: d["segments"] == n + 1))
        said = [data(e)["segment"] for e in viewer.events if e.event == "transcript"]
        untimed = [s for s in said if s["start"] is None and s["end"] is None]
        assert len(untimed) == 1, "the simulator's open-source mode sent no null timing"
        figures = parts_of(viewer.events, "metrics")[-1]
        assert figures["talk"]["untimed"] == 1
        assert figures["latency"]["count"] == 2
        assert figures["latency"]["source"] in ("mixed", "arrival")
        assert 0 <= figures["latency"]["median"] <= figures["latency"]["worst"]
        await viewer.stop()
