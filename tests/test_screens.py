"""Pages a supervisor trusts, over real sockets: what each page says and offers, as HTML.

Campaign controls that match the campaign's state and Burki's own words on a refusal,
nothing to end on an ended call, the export's header and file names, a second device's
sign-in link, the paginated audit list with names, and /favicon.ico.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import ServerSentEvent

from tests.live import LiveApp, Viewer, csrf_of, data, is_event, part, running_app
from webapp import cli
from webapp.access.users import Role
from webapp.calls.callstate import CallState
from webapp.simulator import Simulator
from webapp.wire.streamkey import StreamKey


def says(status: str) -> Any:
    """A ``wait_for`` predicate: the campaign's stream says it is ``status``."""

    def check(event: ServerSentEvent) -> bool:
        return event.event in ("snapshot", "progress") and data(event).get("status") == status

    return check


def has_ended(event: ServerSentEvent) -> bool:
    return event.event == "end" or (event.event == "snapshot" and bool(data(event)["ended"]))


def campaign_viewer(live: LiveApp, client: httpx.AsyncClient, cid: int) -> Viewer:
    return Viewer(live.url, f"/api/campaigns/{cid}/events").start(client)


async def test_pausing_a_finished_campaign_says_why_and_never_offers_to_stop_it(
    sim: Simulator,
) -> None:
    cid = sim.add_campaign(name="Payment follow-up", dialect="A", contacts=1)
    sim.advance_campaign(cid, "success")  # its only contact: finished
    async with running_app(sim) as live, live.client(Role.MANAGER, timeout=10) as ann:
        token = await csrf_of(ann, f"{live.url}/campaigns/{cid}")
        await campaign_viewer(live, ann, cid).wait_for(has_ended)  # the dashboard knows
        answer = await ann.post(
            f"{live.url}/campaigns/{cid}/control", data={"csrf": token, "verb": "pause"}
        )
        stop_page = await ann.get(f"{live.url}/campaigns/{cid}/stop")
    assert "cannot be stopped" in stop_page.text
    assert f'action="/campaigns/{cid}/control"' not in stop_page.text
    assert answer.status_code == 409
    assert "Stop this campaign" not in answer.text and "Stop campaign" not in answer.text
    assert "finished" in answer.text and "cannot be paused" in answer.text
    assert f'action="/campaigns/{cid}/control"' not in answer.text  # nothing to send again


async def test_a_refused_action_says_what_burki_said(sim: Simulator) -> None:
    cid = sim.add_campaign(name="Renewals", dialect="B", contacts=1)
    sim.advance_campaign(cid, "success")
    # No page opened it: the dashboard does not know it ended, Burki does (400 + detail).
    async with running_app(sim) as live, live.client(Role.MANAGER, timeout=10) as ann:
        token = await csrf_of(ann, f"{live.url}/")
        answer = await ann.post(
            f"{live.url}/campaigns/{cid}/control", data={"csrf": token, "verb": "pause"}
        )
    assert answer.status_code == 409
    assert f"Campaign {cid} is already completed" in answer.text.replace("&#34;", '"')
    assert "<title>Pause this campaign?" in answer.text and "Stop campaign" not in answer.text


@pytest.mark.parametrize(("verb", "word"), [("pause", "paused"), ("stop", "stopped")])
async def test_a_paused_or_stopped_campaign_reads_as_such_in_every_dialect(
    sim: Simulator, verb: str, word: str
) -> None:
    cid = sim.add_campaign(name="Spring renewals", dialect="A", contacts=4)
    sim.advance_campaign(cid, "success")
    async with running_app(sim) as live, live.client(Role.MANAGER, timeout=10) as ann:
        viewer = campaign_viewer(live, ann, cid)
        await viewer.wait_for(says("running"))
        first = await ann.get(f"{live.url}/campaigns/{cid}")
        assert '<p class="campaign-status" data-status="running">running' in first.text
        token = await csrf_of(ann, f"{live.url}/campaigns/{cid}")
        form = {"csrf": token, "verb": verb, "confirmed": "yes"}
        done = await ann.post(f"{live.url}/campaigns/{cid}/control", data=form)
        assert done.status_code == 303
        await viewer.wait_for(says("paused") if verb == "pause" else has_ended)
        page = (await ann.get(f"{live.url}/campaigns/{cid}")).text
        await viewer.stop()
    status = re.search(r'<p class="campaign-status"[^>]*>([^<:]*)', page)
    assert status is not None and status.group(1) == word
    calling = re.search(r"<dt>Calling</dt><dd[^>]*>(\d+)", page)
    assert calling is not None and calling.group(1) == "0"  # nobody is being dialed
    if verb == "stop":
        assert '<p id="conn" class="conn" data-state="ended"' in page  # not "connecting"


async def test_the_end_call_page_of_an_ended_call_offers_nothing_to_end(sim: Simulator) -> None:
    sid = sim.add_call(customer_phone="+15550123")
    async with running_app(sim) as live, live.client(Role.SUPERVISOR, timeout=10) as ada:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(ada)
        await viewer.wait_for(is_event("status", state="live"))
        sim.set_call_status(sid, "completed")
        await viewer.wait_for(is_event("call_status", status="completed"))
        state = live.hub.streams[StreamKey.call(sid)].state
        assert isinstance(state, CallState) and state.ended
        form = await ada.get(f"{live.url}/calls/{sid}/end")
        token = await csrf_of(ada, f"{live.url}/calls/{sid}")
        posted = await ada.post(f"{live.url}/calls/{sid}/end", data={"csrf": token})
        await viewer.stop()
    assert "already ended" in form.text and f'action="/calls/{sid}/end"' not in form.text
    assert posted.status_code == 409 and "already ended" in posted.text


async def test_the_unredacted_export_has_its_own_file_name_and_says_so(sim: Simulator) -> None:
    sid = sim.add_call(customer_phone="+15550199", assistant_name="Billing")
    sim.add_segment(sid, "user", "My card is 4111 1111 1111 1111.")
    async with running_app(sim) as live, live.client(Role.ADMIN) as client:
        plain = await client.get(f"{live.url}/calls/{sid}/transcript.txt")
        raw = await client.get(f"{live.url}/calls/{sid}/transcript.txt?unredacted=1")
    plain_name = plain.headers["content-disposition"]
    raw_name = raw.headers["content-disposition"]
    assert plain_name != raw_name and "UNREDACTED" in raw_name
    assert "Redaction: on" in plain.text and "Redaction: NONE" in raw.text
    assert "4111 1111 1111 1111" in raw.text and "4111 1111 1111 1111" not in plain.text


async def test_a_second_device_signs_in_with_a_link_the_command_prints(
    sim: Simulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from webapp.access.signinlinks import new_link  # made by this change

    async with running_app(sim) as live:
        live.state.access.links.publish_key(tmp_path, live.url)
        monkeypatch.setenv("DASHBOARD_USERS_FILE", str(tmp_path / "users.toml"))
        assert cli.main(["signin-link"]) == 0
        printed = capsys.readouterr().out.strip()
        assert printed.startswith(f"{live.url}/signin/link?token=")
        second = new_link(tmp_path)
        async with live.client(None) as tv, live.client(None) as again:
            first = await tv.get(printed + "&next=/wallboard")
            assert first.status_code == 303 and first.headers["location"] == "/wallboard"
            assert (await tv.get(f"{live.url}/wallboard")).status_code == 200
            reused = await again.get(printed)
            assert reused.status_code == 403  # one time only
            assert (await again.get(second)).status_code == 303  # another link: another device
            assert (await tv.get(f"{live.url}/wallboard")).status_code == 200  # nobody cut off
    monkeypatch.setenv("DASHBOARD_USERS_FILE", str(tmp_path / "elsewhere" / "users.toml"))
    assert cli.main(["signin-link"]) == 1  # no demo running there: says so


async def test_the_audit_list_is_paginated_and_names_calls(sim: Simulator) -> None:
    sid = sim.add_call(customer_phone="+15550777", assistant_name="Night desk")
    async with running_app(sim) as live, live.client(Role.ADMIN) as client:
        await client.get(f"{live.url}/")  # Burki's list names the call's assistant
        for _n in range(60):
            await client.get(f"{live.url}/calls/{sid}")
        first = (await client.get(f"{live.url}/admin")).text
        third = (await client.get(f"{live.url}/admin?audit_page=3")).text
    rows = re.findall(r"<tr><td><time", first)
    assert len(rows) == 25
    assert 'href="?audit_page=2"' in first and "Newer" not in first
    assert "call ••••0777 · Night desk" in first and f'title="call:{sid}"' in first
    assert 'href="?audit_page=2"' in third and "audit_page=4" not in third


async def test_favicon_is_served(sim: Simulator) -> None:
    async with running_app(sim) as live, live.client(None) as client:
        icon = await client.get(f"{live.url}/favicon.ico")
    assert icon.status_code == 200 and icon.content[:4] == b"\x00\x00\x01\x00"


async def test_overview_names_a_campaign_once_and_shows_it_finished(sim: Simulator) -> None:
    cid = sim.add_campaign(name="Payment follow-up", dialect="A", contacts=1)
    sim.store.campaigns[cid].name = f"Payment follow-up #{cid}"  # as the demo names them
    async with (
        running_app(sim, directory_poll_interval=60.0) as live,
        live.client(Role.ADMIN) as client,
    ):
        before = (await client.get(f"{live.url}/")).text  # Burki lists it as running
        viewer = campaign_viewer(live, client, cid)  # its stream is open
        await viewer.wait_for(says("running"))
        sim.advance_campaign(cid, "success")
        await viewer.wait_for(has_ended)
        after = (await client.get(f"{live.url}/")).text  # the list is not polled again yet
        await viewer.stop()
    named = re.findall(r"Payment follow-up #\d+[^<]*<", before)
    assert named == [f"Payment follow-up #{cid}<"]  # once, not "#1 #1"
    row = after.split(f'data-campaign="{cid}"')[1].split("</tr>")[0]
    assert "finished" in row and "running" not in row


async def test_the_wallboard_explains_its_numbers_in_place(sim: Simulator) -> None:
    sid = sim.add_call(customer_phone="+15550155", assistant_name="Claims desk")
    sim.add_segment(sid, "user", "I am not happy with this at all.")
    async with running_app(sim) as live, live.client(Role.SUPERVISOR) as client:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        await viewer.wait_for(lambda e: part(e, "sentiment") is not None)
        await viewer.stop()
        page = (await client.get(f"{live.url}/wallboard")).text
    card = page.split(f'id="card-{sid}"')[1].split("</article>")[0]
    assert 'title="Attention score (0-100)' in card
    assert "<title>Caller mood over recent lines (-1 angry, +1 happy)</title>" in card
    assert 'aria-label="Burki connection: ' in card  # the dot says what it is
    assert 'title="Dead air now: warn after' in card
    assert ">••••0155</a>" in card and f'title="Call {sid}"' in card
    assert (
        "Claims desk" in card
    )  # the assistant by name (Burki's list), though the stream has an id


async def test_the_lists_that_change_are_live_regions_and_the_card_grid_is_not(
    sim: Simulator,
) -> None:
    sim.add_call()
    async with running_app(sim) as live, live.client(Role.SUPERVISOR) as client:
        overview = (await client.get(f"{live.url}/")).text
        board = (await client.get(f"{live.url}/wallboard")).text
    for block in ('<section id="needs"', '<section id="alerts"'):
        before = overview.split(block)[0].rstrip()
        assert before.endswith('<div class="live-list" aria-live="polite">')
    grid = re.search(r'<div id="cards"[^>]*>', board)
    assert grid is not None and "aria-live" not in grid.group(0)  # not one chatty region


async def test_the_call_page_is_titled_by_caller_and_assistant_not_its_raw_id(
    sim: Simulator,
) -> None:
    sid = sim.add_call(customer_phone="+15550912", assistant_name="Night desk")
    async with running_app(sim) as live, live.client(Role.SUPERVISOR) as client:
        await client.get(f"{live.url}/")  # Burki's list names the call's assistant
        page = (await client.get(f"{live.url}/calls/{sid}")).text
    heading = re.search(r"<h1[^>]*>(.*?)</h1>", page, re.S)
    assert heading is not None
    assert heading.group(1) == "Call ••••0912 · Night desk"
    assert f'title="Call {sid}"' in heading.group(0)  # the id stays in the tooltip and URL
