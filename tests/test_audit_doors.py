"""Every door leaves a record: the route table is walked, and each route is tried over a real
server, counting what it writes to the audit log the first time and the second time.

A route the app gains without a door below fails ``test_every_route_has_an_audit_decision``:
whoever adds it decides what the audit log gets (on the route, ``audit=``) and shows it here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Literal

import httpx
import pytest
from starlette.routing import Mount

from tests.live import LiveApp, Viewer, csrf_of, running_app
from webapp.access.routes import AUDITS, GuardedRoute
from webapp.access.users import Role
from webapp.routes import ORG_ROUTE, every_org, routes
from webapp.simulator import Simulator

PASSWORD = "correct horse battery staple"
Who = Literal["admin", "embed", "stranger"]


@dataclass(frozen=True)
class Door:
    """How to go through one route: ``path`` is formatted with the test's ids and tokens;
    ``first`` entries are expected from the first request, ``again`` from a second one in
    the same session (for a stream: a resume with ``last_event_id``; None: not asked)."""

    path: str
    method: str = "GET"
    form: dict[str, str] = field(default_factory=dict)
    who: Who = "admin"
    first: int = 1
    again: int | None = 0
    stream: bool = False
    before: str = ""  # a page to open first (not counted): a claim needs a watched call
    ok: tuple[int, ...] = (200, 303)  # a refused form (400) is audited as well


DOORS: dict[str, Door] = {
    "signin": Door("/signin", who="stranger", first=0, again=0),
    "signin_post": Door(
        "/signin", "POST", {"name": "ada", "password": PASSWORD}, who="stranger", again=1
    ),
    "signin_link": Door("/signin/link?token={signin}", who="stranger", again=1),
    "signout": Door("/signout", "POST", again=None),
    "admin": Door("/admin"),
    "admin_audit_csv": Door("/admin/audit.csv", again=1),
    "admin_embed_link": Door(
        "/admin/embed-link", "POST", {"kind": "call", "ident": "{sid}"}, again=1
    ),
    "admin_embed_revoke": Door("/admin/embed-link/revoke", "POST", {"link": "{link}"}, again=1),
    "admin_alert_test": Door("/admin/alert-test", "POST", again=1),
    # No BURKI_MASTER_KEY here: each is refused, and each refusal is an entry.
    "admin_org_add": Door(
        "/admin/orgs",
        "POST",
        {"slug": "acme", "name": "Acme", "url": "https://acme.example", "key": "k-1234"},
        again=1,
        ok=(400,),
    ),
    "admin_org_remove": Door("/admin/orgs/remove", "POST", {"slug": "nope"}, again=1, ok=(400,)),
    "admin_org_rotate_key": Door(
        "/admin/orgs/rotate-key", "POST", {"slug": "nope", "key": "k-1234"}, again=1, ok=(400,)
    ),
    "admin_user_grant": Door(
        "/admin/users/grant", "POST", {"name": "ada", "org": "acme", "role": "manager"}, again=1
    ),
    "admin_user_revoke": Door(
        "/admin/users/revoke", "POST", {"name": "ada", "org": "acme"}, again=1
    ),
    "admin_token_create": Door(
        "/admin/tokens",
        "POST",
        {"name": "door", "org": "acme", "role": "supervisor"},
        again=None,  # the name is taken the second time
    ),
    "index": Door("/"),
    "alerts": Door("/alerts"),
    "history_alerts": Door("/history/alerts"),
    "history_alerts_csv": Door("/history/alerts.csv", again=1),
    "shift_report": Door("/history/shift"),
    "favicon": Door("/favicon.ico", who="stranger", first=0),
    "overview_updates": Door("/overview/updates", stream=True),
    "call": Door("/calls/{sid}", again=1),
    "claim": Door(
        "/calls/{sid}/claim", "POST", {"action": "claim"}, again=1, before="/calls/{sid}"
    ),
    "end_call_form": Door("/calls/{sid}/end"),
    "end_call": Door("/calls/{ending}/end", "POST", again=None),
    "campaign_stop_form": Door("/campaigns/{cid}/stop"),
    "campaign_control": Door("/campaigns/{cid}/control", "POST", {"verb": "pause"}, again=None),
    "captions": Door("/calls/{sid}/captions", again=1),
    "call_export": Door("/calls/{sid}/transcript.txt", again=1),
    "campaign": Door("/campaigns/{cid}", again=1),
    "call_embed": Door("/embed/calls/{sid}?token={call_token}", who="embed", again=1),
    "campaign_embed": Door("/embed/campaigns/{cid}?token={campaign_token}", who="embed", again=1),
    "wallboard_embed": Door("/embed/wallboard?token={board_token}", who="embed", again=1),
    "wallboard_embed_updates": Door(
        "/embed/wallboard/updates?token={board_token}", who="embed", stream=True
    ),
    "live_updates": Door("/live/call/call/{sid}", stream=True),
    "embed_live_updates": Door(
        "/embed/live/call/call/{sid}?token={call_token}", who="embed", stream=True
    ),
    "wallboard": Door("/wallboard", again=1),
    "wallboard_updates": Door("/wallboard/updates", stream=True),
    "call_events": Door("/api/calls/{sid}/events", stream=True),
    "campaign_events": Door("/api/campaigns/{cid}/events", stream=True),
    "events": Door("/api/events?call={sid}", stream=True),
    "call_transcript": Door("/api/calls/{sid}/transcript", again=1),
    "healthz": Door("/healthz", who="stranger", first=0),
    "readyz": Door("/readyz", who="stranger", first=0),
    "metrics": Door("/metrics"),
    # One organisation's overview, wallboard and history (the default one's, named).
}


def test_every_route_has_an_audit_decision_and_a_door_here() -> None:
    table = routes()
    guarded = [r for r in table if isinstance(r, GuardedRoute)]
    others = [r for r in table if not isinstance(r, GuardedRoute)]
    assert [(type(r), r.name) for r in others] == [(Mount, "static")]  # static files only
    own = [r for r in guarded if not r.path.startswith(ORG_ROUTE)]
    names = [r.name for r in own]
    assert len(names) == len(set(names)), "every route has a name of its own"
    assert set(names) == set(DOORS), "a route without a door here has no audit decision shown"
    for route in guarded:
        door, decision = DOORS[route.name], route.audit
        assert decision in AUDITS, route.name
        assert (decision == "none") == (door.first == 0), route.name
        if decision == "once" or (decision == "viewing" and door.stream):
            assert door.again == 0, f"{route.name}: a second visit in one session is folded"
        if decision == "each":
            assert door.again in (1, None), f"{route.name}: each request is an entry"


def test_every_route_under_an_organisation_is_its_default_twin_with_the_same_guard() -> None:
    """``/o/{org}/...`` is the same route as the unprefixed one of the same path and methods:
    guard, audit and form alike, so what it needs never differs by organisation. A board
    (overview, wallboard, alerts, history) unprefixed shows every organisation the person
    may see, so its guard asks no one organisation's role (``orgs=every_org``); under
    ``/o/{org}`` it is that organisation's, with the same need otherwise."""
    table = [r for r in routes() if isinstance(r, GuardedRoute)]
    default = {(r.path, frozenset(r.methods or ())): r for r in table}
    prefixed = [r for r in table if r.path.startswith(ORG_ROUTE)]
    assert {r.name for r in prefixed} >= {"call", "events", "call_export", "claim", "end_call"}
    for route in prefixed:
        twin = default[(route.path.removeprefix(ORG_ROUTE), frozenset(route.methods or ()))]
        guard = twin.guard
        if guard.orgs is every_org:
            guard = dataclasses.replace(guard, orgs=None)
        assert route.guard.orgs is None, route.path
        assert (route.guard, route.audit, route.form) == (guard, twin.audit, twin.form), route.path


@asynccontextmanager
async def client_for(live: LiveApp, who: Who) -> AsyncIterator[httpx.AsyncClient]:
    if who == "admin":
        async with live.client(Role.ADMIN, timeout=30) as client:
            yield client
    else:
        async with live.client(None, timeout=30) as client:
            yield client


async def go(live: LiveApp, client: httpx.AsyncClient, door: Door, ids: dict[str, str]) -> int:
    """One request through ``door``; the status (a stream: its headers only)."""
    link = live.state.access.links.issue("test-link", Role.SUPERVISOR)
    ids = ids | {"signin": link.partition("token=")[2]}
    url = live.url + door.path.format(**ids)
    if door.method == "POST":
        form = {k: v.format(**ids) for k, v in door.form.items()}
        form["csrf"] = await csrf_of(client, live.url + "/signin")  # a sign-in makes a new one
        answer = await client.post(url, data=form)
        return answer.status_code
    async with client.stream("GET", url) as response:
        return response.status_code


async def entries(live: LiveApp) -> int:
    return len(await live.state.access.audit.entries(None))


@pytest.mark.parametrize("name", sorted(DOORS))
async def test_each_door_writes_what_its_route_declares(sim: Simulator, name: str) -> None:
    door = DOORS[name]
    sid, ending, cid = sim.add_call(), sim.add_call(), sim.add_campaign(contacts=5)
    # A page opened first must stay watched until the door is tried: the test's own
    # reads of the database in between outlast the fast grace period on a loaded machine.
    held = {"relay_grace_period": 30.0} if door.before else {}
    async with running_app(sim, **held) as live, client_for(live, door.who) as client:
        await live.state.access.users.add("ada", PASSWORD, Role.SUPERVISOR)
        embeds = live.state.access.embeds
        ids = {
            "sid": sid,
            "ending": ending,
            "cid": str(cid),
            "call_token": (await embeds.mint("call", sid, 600, "test")).token,
            "campaign_token": (await embeds.mint("campaign", cid, 600, "test")).token,
            "board_token": (await embeds.mint("wallboard", "all", 600, "test")).token,
            "link": (await embeds.mint("call", sid, 600, "test")).record.id,
        }
        if door.before:
            await client.get(live.url + door.before.format(**ids))
        counted = await entries(live)
        status = await go(live, client, door, ids)
        assert status in door.ok, f"{name}: {status}"
        assert await entries(live) - counted == door.first, await live.state.access.audit.entries(3)
        if door.again is None:
            return
        counted = await entries(live)
        resumed = door if not door.stream else resume(door)
        assert await go(live, client, resumed, ids) in door.ok
        assert await entries(live) - counted == door.again, await live.state.access.audit.entries(3)


def resume(door: Door) -> Door:
    joined = "&" if "?" in door.path else "?"
    return Door(door.path + joined + "last_event_id=0-0", stream=True, who=door.who)


async def test_the_overview_is_one_entry_per_session_however_many_messages_flow(
    sim: Simulator,
) -> None:
    """The page, its stream with a message for each new call, reconnects and reloads: one
    entry for the session; another session of the same user is another entry."""
    sim.add_call()
    async with (
        running_app(sim, directory_poll_interval=0.1) as live,
        live.client(Role.SUPERVISOR, timeout=30) as client,
    ):
        assert (await client.get(live.url + "/")).status_code == 200
        for _reconnect in range(3):
            viewer = Viewer(live.url, "/overview/updates").start(client)
            for _ in range(4):
                sid = sim.add_call()
                await viewer.wait_for(lambda event, sid=sid: sid in event.data, timeout=10)
            await viewer.stop()
            assert (await client.get(live.url + "/")).status_code == 200
        assert len(viewer.events) >= 4
        seen = [e for e in await live.state.access.audit.entries(None) if e.what == "overview"]
        assert [(e.who, e.via) for e in seen] == [("test-supervisor", "page")]
        async with live.client(Role.SUPERVISOR, timeout=30) as another:
            assert (await another.get(live.url + "/")).status_code == 200
        seen = [e for e in await live.state.access.audit.entries(None) if e.what == "overview"]
        assert len(seen) == 2
