"""Supervisor actions over real sockets: end a call, pause/resume/stop a campaign.

Against the simulator: success (the call's stream completes, the outcome reaches a
second viewer), 404 from a Burki without the endpoint (remembered; the page says so,
never an error page), 403 for a role the settings do not allow, CSRF, a network
error, and the audit log.
"""

from __future__ import annotations

import asyncio

import httpx

from tests.live import LiveApp, Viewer, csrf_of, data, is_event, running_app
from webapp.access.users import Role
from webapp.simulator import Simulator


async def audited(live: LiveApp) -> list[str]:
    return [e.what for e in await live.state.access.audit.entries()]


async def test_ending_a_call_is_confirmed_ends_its_stream_and_every_viewer_sees_who(
    sim: Simulator,
) -> None:
    sid = sim.add_call(customer_phone="+15550123")
    async with (
        running_app(sim) as live,
        live.client(Role.SUPERVISOR, timeout=10) as ada,
        live.client(Role.ADMIN, timeout=10) as other,
    ):
        second = Viewer(live.url, f"/api/calls/{sid}/events").start(other)
        await second.wait_for(is_event("status", state="live"))
        page = (await ada.get(f"{live.url}/calls/{sid}")).text
        assert f'href="/calls/{sid}/end"' in page  # the End call button
        confirm = await ada.get(f"{live.url}/calls/{sid}/end")
        assert (
            confirm.status_code == 200 and "••••0123" in confirm.text
        )  # names the caller (its last four)
        token = await csrf_of(ada, f"{live.url}/calls/{sid}/end")
        done = await ada.post(f"{live.url}/calls/{sid}/end", data={"csrf": token})
        assert done.status_code == 303 and done.headers["location"] == f"/calls/{sid}"
        # Told before Burki is asked, so a screen still listening sees it before the end.
        asked = data(await second.wait_for(is_event("action")))
        assert asked["by"] == "test-supervisor" and asked["outcome"] == "asked"
        assert asked["message"] == "asked Burki to end the call"
        await second.wait_for(is_event("call_status"))  # Burki hung up: the stream completes
        assert sim.store.calls[sid].status == "completed"
        assert f"end call:{sid}: done" in await audited(live)
        again = (await other.get(f"{live.url}/calls/{sid}")).text
        assert "test-supervisor</strong> ended the call" in again  # late viewers see it too
        await second.stop()


async def test_ending_a_call_needs_the_csrf_token_and_an_allowed_role(sim: Simulator) -> None:
    sid = sim.add_call()
    async with running_app(sim, actions_end_call_roles="admin") as live:
        async with live.client(Role.ADMIN, timeout=10) as root:
            token = await csrf_of(root, f"{live.url}/calls/{sid}/end")
            url = f"{live.url}/calls/{sid}/end"
            assert (await root.post(url, data={})).status_code == 403
            assert (await root.post(url, data={"csrf": "forged"})).status_code == 403
        async with live.client(Role.SUPERVISOR, timeout=10) as ada:
            page = (await ada.get(f"{live.url}/calls/{sid}")).text
            assert f'href="/calls/{sid}/end"' not in page  # not offered to this role
            assert (await ada.get(url)).status_code == 403
            ada_token = await csrf_of(ada, f"{live.url}/calls/{sid}")
            refused = await ada.post(url, data={"csrf": ada_token})
            assert refused.status_code == 403 and "may not end calls" in refused.text
        async with httpx.AsyncClient(timeout=10) as machine:
            bearer = {"Authorization": f"Bearer {await live.token(Role.ADMIN)}"}
            denied = await machine.post(url, data={"csrf": token}, headers=bearer)
            assert denied.status_code == 303  # no session: sent to sign in, nothing done
        assert not sim.store.calls[sid].ended
        assert not any(what.startswith("end call") for what in await audited(live))


async def test_a_burki_without_the_endpoint_is_told_apart_and_remembered(
    oss_sim: Simulator,
) -> None:
    sid = oss_sim.add_call(customer_phone="+15550177")
    async with running_app(oss_sim) as live, live.client(Role.SUPERVISOR, timeout=10) as ada:
        url = f"{live.url}/calls/{sid}/end"
        token = await csrf_of(ada, url)
        answer = await ada.post(url, data={"csrf": token})
        assert answer.status_code == 200  # not an error page
        assert "This Burki cannot end calls." in answer.text
        assert 'class="confirm"' not in answer.text  # no button
        assert not oss_sim.store.calls[sid].ended
        assert f"end call:{sid}: this Burki lacks it" in await audited(live)
        page = (await ada.get(f"{live.url}/calls/{sid}")).text
        assert "This Burki cannot end calls." in page and f'href="/calls/{sid}/end"' not in page
        board = (await ada.get(f"{live.url}/wallboard")).text
        assert "cannot-end" in board  # the cards' End call links are hidden
        asked = oss_sim.rest.served[f"/api/v1/calls/{sid}/terminate"]
        assert (await ada.get(url)).status_code == 200
        assert oss_sim.rest.served[f"/api/v1/calls/{sid}/terminate"] == asked  # remembered


async def test_a_network_error_is_said_and_nothing_is_claimed_done(sim: Simulator) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live, live.client(Role.SUPERVISOR, timeout=10) as ada:
        watcher = Viewer(live.url, f"/api/calls/{sid}/events").start(ada)
        await watcher.wait_for(is_event("status", state="live"))
        url = f"{live.url}/calls/{sid}/end"
        token = await csrf_of(ada, url)
        await sim.stop()  # Burki is gone
        answer = await ada.post(url, data={"csrf": token})
        assert answer.status_code == 502 and "could not reach Burki" in answer.text
        assert 'class="confirm"' in answer.text  # offered again
        failed = data(await watcher.wait_for(is_event("action", outcome="failed")))
        assert failed["message"].startswith("could not reach Burki")
        assert any(w.startswith(f"end call:{sid}: failed") for w in await audited(live))
        await watcher.stop()


async def test_a_manager_pauses_resumes_and_stops_a_campaign_stop_confirmed(
    sim: Simulator,
) -> None:
    cid = sim.add_campaign(contacts=5)
    async with running_app(sim) as live, live.client(Role.MANAGER, timeout=10) as meg:
        watcher = Viewer(live.url, f"/api/campaigns/{cid}/events").start(meg)
        await watcher.wait_for(is_event("status", state="live"))
        page = (await meg.get(f"{live.url}/campaigns/{cid}")).text
        assert 'value="pause"' in page and 'value="stop"' in page
        token = await csrf_of(meg, f"{live.url}/campaigns/{cid}")
        url = f"{live.url}/campaigns/{cid}/control"
        paused = await meg.post(url, data={"csrf": token, "verb": "pause"})
        assert paused.status_code == 303 and sim.store.campaigns[cid].status == "paused"
        outcome = data(await watcher.wait_for(is_event("action", outcome="done")))
        assert outcome["message"] == "paused the campaign" and outcome["by"] == "test-manager"
        resumed = await meg.post(url, data={"csrf": token, "verb": "start"})
        assert resumed.status_code == 303 and sim.store.campaigns[cid].status == "running"
        asked = await meg.post(url, data={"csrf": token, "verb": "stop"})
        assert asked.status_code == 200 and "Stop campaign" in asked.text  # confirm first
        assert sim.store.campaigns[cid].status == "running"
        stopped = await meg.post(url, data={"csrf": token, "verb": "stop", "confirmed": "yes"})
        assert stopped.status_code == 303 and sim.store.campaigns[cid].status == "cancelled"
        await watcher.wait_for(is_event("campaign_completed"))
        ended = (await meg.get(f"{live.url}/campaigns/{cid}")).text
        assert 'value="pause"' not in ended  # nothing left to control
        assert f"stop campaign:{cid}: done" in await audited(live)
        async with live.client(Role.SUPERVISOR, timeout=10) as ada:
            denied = await ada.post(url, data={"csrf": token, "verb": "pause"})
            assert denied.status_code == 403
        await watcher.stop()


async def test_a_paused_campaign_dials_nobody_until_resumed(sim: Simulator) -> None:
    cid = sim.add_campaign(contacts=3)
    async with running_app(sim) as live, live.client(Role.MANAGER, timeout=10) as meg:
        token = await csrf_of(meg, f"{live.url}/campaigns/{cid}")
        await meg.post(f"{live.url}/campaigns/{cid}/control", data={"csrf": token, "verb": "pause"})
    try:
        sim.advance_campaign(cid)
    except ValueError as exc:
        assert "paused" in str(exc)
    else:
        raise AssertionError("a paused campaign advanced")


async def test_two_supervisors_ending_one_call_at_once_end_it_once(sim: Simulator) -> None:
    sid = sim.add_call()
    async with (
        running_app(sim) as live,
        live.client(Role.SUPERVISOR, timeout=10) as ada,
        live.client(Role.ADMIN, timeout=10) as root,
    ):
        url = f"{live.url}/calls/{sid}/end"
        tokens = [await csrf_of(client, url) for client in (ada, root)]
        answers = await asyncio.gather(
            *(c.post(url, data={"csrf": t}) for c, t in zip((ada, root), tokens, strict=True))
        )
        assert sorted(a.status_code for a in answers) == [303, 409]  # Burki refused the second
        refused = next(a for a in answers if a.status_code == 409)
        assert "Burki refused" in refused.text
        done = [w for w in await audited(live) if w.startswith(f"end call:{sid}")]
        assert sorted(done) == [f"end call:{sid}: done", f"end call:{sid}: failed (400)"]


async def test_a_burki_without_campaign_control_is_said_on_the_campaign_page(
    sim: Simulator,
) -> None:
    cid = sim.add_campaign(contacts=3)
    sim.rest.on_action = None  # this Burki has campaigns but no pause/start/stop
    async with running_app(sim) as live, live.client(Role.MANAGER, timeout=10) as meg:
        token = await csrf_of(meg, f"{live.url}/campaigns/{cid}")
        url = f"{live.url}/campaigns/{cid}/control"
        answer = await meg.post(url, data={"csrf": token, "verb": "pause"})
        assert answer.status_code == 200
        assert "This Burki cannot pause, resume or stop campaigns." in answer.text
        page = (await meg.get(f"{live.url}/campaigns/{cid}")).text
        assert 'value="pause"' not in page and "cannot pause, resume or stop" in page
        assert sim.store.campaigns[cid].status == "running"


async def test_ending_a_call_burki_does_not_know_is_a_404_on_the_confirm_page(
    sim: Simulator,
) -> None:
    made_up = "CA" + "0" * 32
    async with running_app(sim) as live, live.client(Role.SUPERVISOR, timeout=10) as ada:
        url = f"{live.url}/calls/{made_up}/end"
        answer = await ada.post(url, data={"csrf": await csrf_of(ada, f"{live.url}/")})
        assert any(w.startswith(f"end call:{made_up}: failed (404)") for w in await audited(live))
    assert answer.status_code == 404  # Burki's 404 is ours (docs/errors.md), not a 409
    assert "Burki does not know this call or campaign." in answer.text
