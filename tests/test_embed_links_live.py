"""Embed links over a real server: made on the admin page only for what Burki knows, listed,
revoked (the next request and every open stream stop), bound to the instance kind, a
wallboard embed, and the "Demo data" marker on embeds and error pages in demo mode."""

from __future__ import annotations

import asyncio
import io
import re
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.conftest import SIM_KEY
from tests.live import SESSION_SECRET, LiveApp, Viewer, csrf_of, running_app
from tests.test_access import status_of
from tests.test_admincli import parse
from webapp.access.admincli import Console, run_admin_command
from webapp.access.users import Role
from webapp.cli import burki_lookup
from webapp.settings import Settings
from webapp.simulator import Simulator

RECHECK = {"dashboard_stream_recheck_minutes": 0.01}  # 0.6 s


async def make_link(
    live: LiveApp, admin: httpx.AsyncClient, kind: str, ident: str = ""
) -> httpx.Response:
    form = {
        "kind": kind,
        "ident": ident,
        "ttl": "1h",
        "csrf": await csrf_of(admin, live.url + "/admin"),
    }
    return await admin.post(f"{live.url}/admin/embed-link", data=form)


async def made_link(live: LiveApp, admin: httpx.AsyncClient, kind: str, ident: str = "") -> str:
    made = await make_link(live, admin, kind, ident)
    found = re.search(r'class="embed-link">([^<]+)<', made.text)
    assert made.status_code == 200 and found, made.text[:500]
    return found[1].replace("&amp;", "&")


def stream_of(page: str) -> str:
    found = re.search(r'hx-sse:connect="([^"]+)"', page)
    assert found
    return found[1].replace("&amp;", "&")


async def revoke(live: LiveApp, admin: httpx.AsyncClient, link_id: str) -> httpx.Response:
    form = {"link": link_id, "csrf": await csrf_of(admin, live.url + "/admin")}
    return await admin.post(f"{live.url}/admin/embed-link/revoke", data=form)


async def test_a_revoked_link_stops_at_its_next_request_and_ends_its_open_streams(
    sim: Simulator,
) -> None:
    sid = sim.add_call()
    async with (
        running_app(sim, **RECHECK) as live,
        live.client(Role.ADMIN) as admin,
        live.client(None, timeout=30) as intranet,
    ):
        call_link = await made_link(live, admin, "call", sid)
        board_link = await made_link(live, admin, "wallboard")
        pages = [await intranet.get(link) for link in (call_link, board_link)]
        assert [p.status_code for p in pages] == [200, 200]
        viewers = [Viewer(live.url, stream_of(p.text)).start(intranet) for p in pages]
        sim.add_segment(sid, "user", "my card number is on the way")
        for viewer in viewers:
            await viewer.wait_for(lambda e: "card number" in e.data or "on the way" in e.data)
        listed = (await admin.get(live.url + "/admin")).text
        records = {r.kind: r for r in await live.state.access.embeds.list()}
        assert all(f'id="embed-{r.id}" data-state="active"' in listed for r in records.values())
        answer = await revoke(live, admin, records["call"].id)
        assert answer.status_code == 200 and "is revoked" in answer.text
        await viewers[0].ended()  # at the stream's next re-check
        assert await status_of(intranet, call_link) == 303
        assert await status_of(intranet, live.url + stream_of(pages[0].text)) == 401
        assert await status_of(intranet, board_link) == 200  # the other link stands
        await revoke(live, admin, records["wallboard"].id)
        await viewers[1].ended()
        assert await status_of(intranet, board_link) == 303
        whats = [e.what for e in await live.state.access.audit.entries(None) if e.via == "page"]
        assert f"embed link {records['call'].id} revoked (call:{sid})" in whats
        assert f"embed link {records['wallboard'].id} revoked (wallboard)" in whats


async def test_a_link_made_by_a_demo_instance_fails_on_a_live_one_with_the_same_secret(
    sim: Simulator,
) -> None:
    """The worst case: the demo and the live instance share the secret AND their store."""
    sid, cid = sim.add_call(), sim.add_campaign(contacts=3)
    with tempfile.TemporaryDirectory() as folder:
        files = {"dashboard_database_file": Path(folder) / "store.sqlite3"}
        async with (
            running_app(sim, demo=True, **files) as demo,
            running_app(sim, demo=False, **files) as production,
            demo.client(Role.ADMIN) as demo_admin,
            production.client(Role.ADMIN) as admin,
            production.client(None) as stranger,
        ):
            for kind, ident in (("call", sid), ("campaign", str(cid))):
                minted = await made_link(demo, demo_admin, kind, ident)
                path = minted.removeprefix(demo.url)
                assert await status_of(stranger, demo.url + path) == 200
                assert await status_of(stranger, production.url + path) == 303
                ours = (await made_link(production, admin, kind, ident)).removeprefix(
                    production.url
                )
                assert await status_of(stranger, production.url + ours) == 200
                assert await status_of(stranger, demo.url + ours) == 303
            listed = (await admin.get(production.url + "/admin")).text
            assert "(demo)" in listed  # the shared store says which links are demo ones


async def test_minting_for_an_id_burki_does_not_know_is_refused_with_a_form_error(
    sim: Simulator,
) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live, live.client(Role.ADMIN) as admin:
        for kind, ident, sentence in (
            ("call", "CA0000deadbeef", "Burki has no call CA0000deadbeef: no link was made."),
            ("campaign", "4242", "Burki has no campaign 4242: no link was made."),
        ):
            answer = await make_link(live, admin, kind, ident)
            assert answer.status_code == 400
            assert f'<p class="error" role="alert">{sentence}</p>' in answer.text
            assert 'class="embed-link"' not in answer.text
        bad = await make_link(live, admin, "call", "not a sid")
        assert bad.status_code == 400 and "a call id is" in bad.text
        assert await live.state.access.embeds.list() == []
        assert await made_link(live, admin, "call", sid)
        assert [r.scope for r in await live.state.access.embeds.list()] == [f"call:{sid}"]
        whats = [e.what for e in await live.state.access.audit.entries(None)]
        assert "embed link refused: Burki has no call:CA0000deadbeef" in whats
        assert "embed link refused: Burki has no campaign:4242" in whats


async def test_the_wallboard_embed_shows_the_board_and_opens_nothing_else(sim: Simulator) -> None:
    sids = [sim.add_call(), sim.add_call()]
    async with (
        running_app(sim) as live,
        live.client(Role.ADMIN) as admin,
        live.client(None, timeout=30) as intranet,
    ):
        link = await made_link(live, admin, "wallboard")
        token = parse_qs(urlsplit(link).query)["token"][0]
        page = await intranet.get(link)
        assert page.status_code == 200 and '<body class="wallboard-page embed"' in page.text
        assert all(f'id="card-{sid}"' in page.text for sid in sids)
        assert 'class="filters"' not in page.text and 'class="top"' not in page.text
        assert stream_of(page.text).startswith("/embed/wallboard/updates?")
        assert f"token={token}" in stream_of(page.text)
        for elsewhere in (f"/embed/calls/{sids[0]}", "/wallboard"):
            assert await status_of(intranet, f"{live.url}{elsewhere}?token={token}") == 303
        streams = (
            "/wallboard/updates?",
            f"/embed/live/call/call/{sids[0]}?",
            f"/api/events?call={sids[0]}&",
        )
        for stream in streams:
            assert await status_of(intranet, f"{live.url}{stream}token={token}") == 401
        viewer = Viewer(live.url, stream_of(page.text)).start(intranet)
        newcomer = sim.add_call()
        await viewer.wait_for(lambda e: f"card-{newcomer}" in e.data, timeout=15)
        await viewer.stop()


async def test_embeds_and_error_pages_say_demo_data_in_demo_mode(sim: Simulator) -> None:
    sid, cid = sim.add_call(), sim.add_campaign(contacts=3)
    for demo in (True, False):
        async with running_app(sim, demo=demo) as live, live.client(Role.ADMIN) as admin:
            embeds = live.state.access.embeds
            paths = [
                (await embeds.mint("call", sid, 600, "test")).path,
                (await embeds.mint("campaign", cid, 600, "test")).path,
                (await embeds.mint("wallboard", "all", 600, "test")).path,
            ]
            async with live.client(None) as intranet:
                pages = [await intranet.get(live.url + path) for path in paths]
            pages.append(await admin.get(f"{live.url}/calls/CA0000deadbeef"))  # 404
            pages.append(await admin.get(f"{live.url}/no/such/page"))
            assert [p.status_code for p in pages] == [200, 200, 200, 404, 404]
            for page in pages:
                assert ('class="badge demo"' in page.text) == demo, (demo, page.url)


async def test_the_cli_asks_burki_lists_and_revokes_the_links_a_node_checks(
    sim: Simulator, tmp_path: Path
) -> None:
    """``burki-dashboard embed-link`` against a real Burki (the simulator) and the store of a
    running node: an unknown id gets no link, a known one does, and a revocation by the CLI
    stops the link at the node's next request."""
    sid = sim.add_call()
    files = {"dashboard_database_file": tmp_path / "store.sqlite3"}
    settings = Settings(
        burki_api_key=SIM_KEY,
        burki_base_url=sim.base_url,
        dashboard_session_secret=SESSION_SECRET,
        **files,
    )

    async def cli(*argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        console = Console(io.StringIO(), out, err)
        args = parse(list(argv))
        lookup = burki_lookup(settings)
        status = await asyncio.to_thread(run_admin_command, args, settings, console, lookup)
        return status, out.getvalue(), err.getvalue()

    async with running_app(sim, **files) as live, live.client(None) as intranet:
        status, out, err = await cli("embed-link", "call", "CA0000deadbeef")
        assert status == 2 and "Burki has no call CA0000deadbeef" in err and out == ""
        status, out, err = await cli("embed-link", "call", sid, "--base-url", live.url)
        assert status == 0 and await status_of(intranet, out.strip()) == 200
        [record] = await live.state.access.embeds.list()
        assert record.created_by.startswith("cli")
        status, listing, _ = await cli("embed-link", "list")
        assert record.id in listing and f"call:{sid}" in listing
        assert (await cli("embed-link", "revoke", record.id))[0] == 0
        assert await status_of(intranet, out.strip()) == 303


async def test_burki_down_while_making_a_link_is_a_502_on_the_admin_page(sim: Simulator) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live, live.client(Role.ADMIN, timeout=30) as admin:
        csrf = await csrf_of(admin, live.url + "/admin")
        await sim.stop()  # Burki is gone: whether the call exists cannot be asked
        form = {"kind": "call", "ident": sid, "ttl": "1h", "csrf": csrf}
        answer = await admin.post(f"{live.url}/admin/embed-link", data=form)
    assert answer.status_code == 502  # Burki failed (docs/errors.md), not the dashboard: 503
    assert f"Could not ask Burki whether call {sid} exists" in answer.text
    assert 'class="embed-link"' not in answer.text
