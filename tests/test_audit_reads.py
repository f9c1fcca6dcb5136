"""Every route that returns call or campaign content writes an audit entry per opening, and
refusals are audited too; a route's role comes from its declared kind, not its path's words."""

from __future__ import annotations

import logging

import httpx
import pytest

from tests.live import LiveApp, Viewer, is_event, running_app
from webapp.access.audit import AuditEntry
from webapp.access.users import Role
from webapp.access.wiring import SESSION_COOKIE
from webapp.pages.views import View
from webapp.simulator import Simulator
from webapp.wire.streamkey import StreamKey


async def status_of(client: httpx.AsyncClient, url: str, **headers: str) -> int:
    async with client.stream("GET", url, headers=headers) as response:
        return response.status_code


async def opened_by(live: LiveApp, name: str, role: Role, path: str, **headers: str) -> int:
    """Open ``path`` as a fresh session of ``name``; its status."""
    async with httpx.AsyncClient() as client:
        await client.get(live.url + live.state.access.links.issue(name, role))
        assert SESSION_COOKIE in client.cookies
        return await status_of(client, live.url + path, **headers)


async def entries_of(live: LiveApp, name: str) -> list[AuditEntry]:
    """What ``name`` opened (their sign-ins, audited too, aside)."""
    entries = await live.state.access.audit.entries(None)
    return [e for e in entries if e.who == name and not e.what.startswith("signed in")]


async def test_every_content_route_is_audited_on_each_opening_resumes_included(
    sim: Simulator,
) -> None:
    sid, cid = sim.add_call(), sim.add_campaign(name="Q", dialect="B", contacts=2)
    resume = {"Last-Event-ID": "0"}
    routes = {
        "live call": (f"/live/call/call/{sid}", {}, f"call:{sid}"),
        "live captions resumed": (f"/live/captions/call/{sid}?last_event_id=3", {}, f"call:{sid}"),
        "live campaign": (f"/live/campaign/campaign/{cid}", {}, f"campaign:{cid}"),
        "export txt": (f"/calls/{sid}/transcript.txt", {}, f"call:{sid}"),
        "export json": (f"/calls/{sid}/transcript.json", {}, f"call:{sid}"),
        "api resumed": (f"/api/calls/{sid}/events", resume, f"call:{sid}"),
        "multiplexed resumed": (f"/api/events?call={sid}", {"Last-Event-ID": "x"}, f"call:{sid}"),
        "wallboard stream": ("/wallboard/updates", {}, "wallboard"),
    }
    async with running_app(sim) as live:
        for n, (label, (path, headers, what)) in enumerate(routes.items()):
            name = f"reader{n}"
            assert await opened_by(live, name, Role.ADMIN, path, **headers) == 200, label
            found = await entries_of(live, name)
            assert [(e.what, e.route) for e in found] == [(what, path.partition("?")[0])], label


async def test_a_resume_of_the_same_viewing_folds_into_its_opening(sim: Simulator) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live, live.client(Role.SUPERVISOR) as client:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        await viewer.wait_for(is_event("status", state="live"))
        await viewer.stop()
        resumed = {"Last-Event-ID": str(viewer.last_id)}
        assert await status_of(client, f"{live.url}/api/calls/{sid}/events", **resumed) == 200
        assert len(await entries_of(live, "test-supervisor")) == 1


async def test_refusals_are_audited(sim: Simulator) -> None:
    async with running_app(sim) as live, httpx.AsyncClient() as stranger:
        assert await status_of(stranger, f"{live.url}/api/calls/CA1/events") == 401
        assert await opened_by(live, "sup", Role.SUPERVISOR, "/campaigns/1") == 403
        refused = {(e.who, e.via, e.what) for e in await live.state.access.audit.entries(None)}
        assert ("anonymous", "none", "refused: sign-in needed") in refused
        assert ("sup", "page", "refused: forbidden") in refused


async def test_a_route_needs_the_role_of_its_declared_kind_not_its_words(sim: Simulator) -> None:
    cid = sim.add_campaign(name="Q", dialect="B", contacts=2)
    async with running_app(sim) as live:
        # "call" twice in the path, a campaign in the kind: a supervisor may not.
        assert await opened_by(live, "sup", Role.SUPERVISOR, f"/live/call/campaign/{cid}") == 403
        # An admin may open campaigns, but no call view shows one.
        assert await opened_by(live, "boss", Role.ADMIN, f"/live/call/campaign/{cid}") == 404
        assert live.hub.streams == {}


def broken_context(stream: object) -> dict[str, object]:
    raise RuntimeError("a template bug")


async def test_a_view_that_fails_to_render_is_detached_not_retried_per_frame(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    sid = sim.add_call()
    broken = View("broken", "call.html", broken_context, lambda stream, frame: [])
    async with running_app(sim) as live, live.client(Role.SUPERVISOR) as client:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        await viewer.wait_for(is_event("status", state="live"))
        stream = live.hub.streams[StreamKey.call(sid)]
        stream.watch_view(broken)
        with caplog.at_level(logging.ERROR, logger="webapp.relay.stream"):
            for n in range(3):
                sim.add_segment(sid, "user", f"line {n}")
            await viewer.wait_for(lambda e: e.event == "transcript" and "line 2" in e.data)
        assert "broken" not in stream.views
        failures = [r for r in caplog.records if "failed to render" in r.getMessage()]
        assert len(failures) == 1
        await viewer.stop()
