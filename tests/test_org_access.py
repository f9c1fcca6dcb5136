"""Who sees which organisation, over a real server: roles per organisation, tokens and embed
links of one organisation, the answer an organisation one may not see gets (that of one that
does not exist), a revoked grant ending an open stream, hostile organisation slugs."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from tests.live import LiveApp, Viewer, csrf_of, is_live, running_app
from tests.orgs import GLOBEX, two_org_app, two_org_sim
from webapp.access.users import Role
from webapp.simulator import Simulator

PASSWORD = "correct horse battery staple"
RECHECK = {"dashboard_stream_recheck_minutes": 0.01}  # 0.6 s
NO_SUCH_ORG = {"error": "no_such_org", "message": "No such organisation."}
JSON = {"Accept": "application/json"}
HOSTILE = ["ACME", "%2e%2e", "a%2Fb", "<script>x</script>", "x" * 200, "-", "default%00"]


@asynccontextmanager
async def person(
    live: LiveApp, name: str, role: Role | None, grants: dict[str, Role] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A client signed in with a password as ``name``: ``role`` in every organisation,
    ``grants`` one organisation each (the store's user_orgs rows)."""
    users = live.state.access.users
    await users.add(name, PASSWORD, role)
    for org, granted in (grants or {}).items():
        await users.grant(name, org, granted)
    async with httpx.AsyncClient(timeout=10) as client:
        form = await client.get(f"{live.url}/signin")
        found = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert found
        data = {"name": name, "password": PASSWORD, "csrf": found[1], "next": "/"}
        signed = await client.post(f"{live.url}/signin", data=data)
        assert signed.status_code == 303, signed.text
        yield client


async def answer(
    client: httpx.AsyncClient, method: str, url: str, **kw: Any
) -> tuple[int, str, str]:
    """Status, content type and body of a request (an SSE body only if the response is not
    an open stream)."""
    async with client.stream(method, url, **kw) as response:
        kind = response.headers.get("content-type", "")
        if "text/event-stream" in kind:
            return response.status_code, kind, ""
        return response.status_code, kind, (await response.aread()).decode()


def default_routes(sid: str, cid: int) -> dict[str, tuple[str, str]]:
    """Every kind of route of the default organisation (method, path)."""
    return {
        "page": ("GET", f"/calls/{sid}"),
        "captions": ("GET", f"/calls/{sid}/captions"),
        "campaign page": ("GET", f"/campaigns/{cid}"),
        "live updates": ("GET", f"/live/call/call/{sid}"),
        "api sse": ("GET", f"/api/calls/{sid}/events"),
        "api campaign sse": ("GET", f"/api/campaigns/{cid}/events"),
        "multiplexed": ("GET", f"/api/events?call={sid}&campaign={cid}"),
        "export": ("GET", f"/calls/{sid}/transcript.txt"),
        "api export": ("GET", f"/api/calls/{sid}/transcript"),
        "action form": ("GET", f"/calls/{sid}/end"),
        "action": ("POST", f"/calls/{sid}/end"),
        "campaign action": ("POST", f"/campaigns/{cid}/control"),
        "claim": ("POST", f"/calls/{sid}/claim"),
        "embed page": ("GET", f"/embed/calls/{sid}"),
        "wallboard": ("GET", "/wallboard"),
    }


def no_such_org_json(status: int, body: str) -> bool:
    return status == 404 and json.loads(body) == NO_SUCH_ORG


async def test_one_organisations_user_meets_every_route_of_another_as_if_it_did_not_exist(
    sim: Simulator,
) -> None:
    sid, cid = sim.add_call(), sim.add_campaign(name="Q", dialect="B", contacts=3)
    async with (
        running_app(sim) as live,
        person(live, "bob", None, {"globex": Role.ADMIN}) as bob,
        person(live, "alice", None, {"default": Role.ADMIN}) as alice,
    ):
        csrf = await csrf_of(bob, f"{live.url}/")  # bob may see the overview: he is signed in
        unknown = await answer(bob, "GET", f"{live.url}/api/events?call=nosuch/{sid}")
        assert no_such_org_json(unknown[0], unknown[2])

        async def refused(name: str, method: str, path: str) -> None:
            form = {"csrf": csrf, "action": "claim", "command": "pause"}
            data = form if method == "POST" else None
            as_json = await answer(bob, method, live.url + path, headers=JSON, data=data)
            assert no_such_org_json(as_json[0], as_json[2]), (name, as_json)
            as_page = await answer(bob, method, live.url + path, data=data)
            assert as_page[0] == 404, (name, as_page[:2])
            if "text/html" in as_page[1]:
                assert "No such organisation." in as_page[2], name
            else:
                assert json.loads(as_page[2]) == NO_SUCH_ORG, name

        async def opens(name: str, path: str) -> None:  # alice, at the same time, is let in
            status = (await answer(alice, "GET", live.url + path))[0]
            assert status in (200, 204), (name, status)

        routes = default_routes(sid, cid)
        views = [name for name, (method, _) in routes.items() if method == "GET"]
        await asyncio.gather(
            *(refused(name, method, path) for name, (method, path) in routes.items()),
            *(opens(name, routes[name][1]) for name in views if name != "action form"),
        )
        entries = await live.state.access.audit.entries(None)
        assert any(e.who == "bob" and e.what == "refused: no such organisation" for e in entries)


async def test_a_multiplexed_request_naming_an_organisation_one_may_not_see_is_refused_whole(
    sim: Simulator,
) -> None:
    sid, other = sim.add_call(), sim.add_call()
    grants = {"default": Role.SUPERVISOR, "globex": Role.MANAGER}  # globex: campaigns only
    async with running_app(sim) as live, person(live, "alice", None, grants) as alice:
        base = f"{live.url}/api/events"
        unknown = await answer(alice, "GET", f"{base}?call=nosuch/{sid}")
        for query in [
            f"call=initech/{sid}",  # an organisation she has no role in
            f"call={sid}&call=initech/{other}",  # mixed: one of hers, one not
            f"campaign=7&call=initech/{sid}&call={other}",
        ]:
            got = await answer(alice, "GET", f"{base}?{query}")
            assert got == unknown, query
        # A role in globex that may not watch calls: forbidden there, as for one organisation.
        forbidden = await answer(alice, "GET", f"{base}?call={sid}&call=globex/{other}")
        assert forbidden[0] == 403
        # Nothing of either was opened: no upstream for the ids of the refused requests.
        assert not any(key.id in (sid, other) for key in live.hub.streams)


async def test_a_user_of_every_organisation_passes_the_gate_in_each(sim: Simulator) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live, person(live, "root", Role.ADMIN) as root:
        status = (await answer(root, "GET", f"{live.url}/calls/{sid}"))[0]
        assert status == 200
        # globex is no organisation of this dashboard: the gate lets root through (no refusal
        # is audited) and the route says so, with the same words as the gate would.
        got = await answer(root, "GET", f"{live.url}/api/events?call=globex/{sid}", headers=JSON)
        assert no_such_org_json(got[0], got[2])
        entries = await live.state.access.audit.entries(None)
        assert not any(e.who == "root" and e.what.startswith("refused") for e in entries)


async def test_a_user_of_every_organisation_sees_both_and_one_of_a_only_sees_a() -> None:
    async with two_org_sim() as sim:
        sid = sim.org(GLOBEX).add_call()  # a call of globex, which the dashboard serves
        async with (
            two_org_app(sim) as live,
            person(live, "root", Role.ADMIN) as root,
            person(live, "bob", None, {"default": Role.SUPERVISOR}) as bob,
        ):
            unknown = await answer(bob, "GET", f"{live.url}/o/nosuch/calls/{sid}", headers=JSON)
            assert no_such_org_json(unknown[0], unknown[2])
            for path in [f"/o/globex/calls/{sid}", f"/o/globex/api/calls/{sid}/transcript"]:
                assert await answer(bob, "GET", live.url + path, headers=JSON) == unknown
                assert (await answer(root, "GET", live.url + path))[0] == 200, path


async def test_a_grant_revoked_while_a_stream_is_open_ends_it(sim: Simulator) -> None:
    sid = sim.add_call()
    async with (
        running_app(sim, **RECHECK) as live,
        person(live, "carol", None, {"default": Role.SUPERVISOR}) as carol,
        person(live, "dave", None, {"default": Role.SUPERVISOR}) as dave,
    ):
        kept = Viewer(live.url, f"/api/calls/{sid}/events").start(dave)
        ended = Viewer(live.url, f"/api/events?call={sid}").start(carol)
        await kept.wait_for(is_live)
        await ended.wait_for(lambda e: e.event == "snapshot")
        await live.state.access.users.revoke("carol", "default")
        await ended.ended()  # the re-check found no role: the server ended the response
        sim.add_segment(sid, "user", "dave still watches")
        await kept.wait_for(lambda e: e.event == "transcript")
        await kept.stop()
        again = await answer(carol, "GET", f"{live.url}/api/calls/{sid}/events")
        assert no_such_org_json(again[0], again[2])


async def test_a_token_of_one_organisation_is_refused_on_another(sim: Simulator) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live, httpx.AsyncClient(timeout=10) as client:
        tokens = live.state.access.tokens
        globex = await tokens.create("globex-bot", Role.ADMIN, "globex")
        mine = await tokens.create("default-bot", Role.ADMIN)
        as_globex = {"Authorization": f"Bearer {globex}"}
        as_mine = {"Authorization": f"Bearer {mine}"}
        nosuch = f"{live.url}/api/events?call=nosuch/{sid}"
        unknown = await answer(client, "GET", nosuch, headers=as_mine)
        assert no_such_org_json(unknown[0], unknown[2])
        for path in [
            f"/api/calls/{sid}/events",
            f"/api/events?call={sid}",
            f"/api/calls/{sid}/transcript",
        ]:
            assert await answer(client, "GET", live.url + path, headers=as_globex) == unknown, path
        metrics = await answer(client, "GET", f"{live.url}/metrics", headers=as_globex)
        assert metrics[0] == 403  # the metrics span every organisation: not a token of one
        for query in [f"call=globex/{sid}", f"call={sid}&call=globex/{sid}"]:
            got = await answer(client, "GET", f"{live.url}/api/events?{query}", headers=as_mine)
            assert got == unknown, query
        own = await answer(client, "GET", f"{live.url}/api/calls/{sid}/events", headers=as_mine)
        assert own[0] == 200


async def test_an_embed_link_of_one_organisation_cannot_open_the_same_id_in_another(
    sim: Simulator,
) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live, httpx.AsyncClient(timeout=10) as client:
        embeds = live.state.access.embeds
        globex = await embeds.mint("call", sid, 3600, "test", org="globex")
        mine = await embeds.mint("call", sid, 3600, "test")
        assert globex.path.startswith(f"/o/globex/embed/calls/{sid}?token=")
        stolen = f"/embed/calls/{sid}?token={globex.token}"  # globex's link, default's path
        assert (await answer(client, "GET", live.url + stolen))[0] in (303, 401)
        live_path = f"/embed/live/call/call/{sid}?token={globex.token}"
        assert (await answer(client, "GET", live.url + live_path))[0] in (303, 401)
        crossed = f"/o/globex/embed/calls/{sid}?token={mine.token}"
        assert (await answer(client, "GET", live.url + crossed))[0] in (303, 401, 404)
        assert (await answer(client, "GET", live.url + mine.path))[0] == 200


async def test_hostile_organisation_slugs_are_refused_without_an_echo(sim: Simulator) -> None:
    sid = sim.add_call()
    async with (
        running_app(sim) as live,
        person(live, "bob", None, {"default": Role.ADMIN}) as bob,
        person(live, "root", Role.ADMIN) as root,
    ):

        async def probe(client: httpx.AsyncClient, limited: bool, slug: str) -> None:
            for path in [f"/o/{slug}/calls/{sid}", f"/o/{slug}/api/calls/{sid}/events"]:
                status, _, body = await answer(client, "GET", live.url + path, headers=JSON)
                assert status == 404 and "<script>" not in body, (slug, path)
            query = f"call={slug}/{sid}&call=../{sid}"
            status, _, body = await answer(client, "GET", f"{live.url}/api/events?{query}")
            assert status in (400, 404) and "<script>" not in body
            assert len(slug) < 5 or slug not in body  # never echoed (short ones are words)
            if limited:
                assert json.loads(body) == NO_SUCH_ORG, slug

        await asyncio.gather(
            *(probe(bob, True, slug) for slug in HOSTILE),
            *(probe(root, False, slug) for slug in HOSTILE),
        )
        assert not live.hub.streams  # nothing was opened upstream for any of them
