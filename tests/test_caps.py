"""What one viewer can make the dashboard open: streams are capped per session, per user and
in total (clear 429s), and ids Burki just called missing cost neither REST calls nor upstreams."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

import httpx

from tests.live import LiveApp, running_app
from webapp.access.users import Role
from webapp.simulator import Simulator

MADE_UP = "CA" + "0" * 32


async def open_streams(
    live: LiveApp, client: httpx.AsyncClient, paths: list[str]
) -> tuple[Counter[int], list[httpx.Response], contextlib.AsyncExitStack]:
    """Open every path at once and keep the answers open; count them by status."""
    stack = contextlib.AsyncExitStack()
    answers = await asyncio.gather(
        *(stack.enter_async_context(client.stream("GET", live.url + p)) for p in paths)
    )
    return Counter(a.status_code for a in answers), answers, stack


async def test_streams_per_session_are_capped_under_concurrency(sim: Simulator) -> None:
    sids = [sim.add_call() for _ in range(4)]
    caps = {"dashboard_streams_per_session": 3}
    async with running_app(sim, **caps) as live, live.client(Role.SUPERVISOR) as client:
        paths = [f"/api/calls/{sids[n % 4]}/events" for n in range(12)]
        counts, answers, stack = await open_streams(live, client, paths)
        async with stack:
            assert counts == Counter({200: 3, 429: 9})
            refused = next(a for a in answers if a.status_code == 429)
            await refused.aread()
            assert refused.json()["error"] == "too_many_streams"
            assert "3 streams open" in refused.json()["message"]
        async with live.client(Role.SUPERVISOR) as other_session:  # another session may
            counts, _, stack = await open_streams(live, other_session, paths[:1])
            async with stack:
                assert counts == Counter({200: 1})
        entries = live.state.access.audit.entries(None)
        assert any(e.what == "refused: too many streams" for e in entries)


async def test_streams_per_user_and_in_total_are_capped(sim: Simulator) -> None:
    sid = sim.add_call()
    caps = {"dashboard_streams_per_user": 2, "dashboard_streams_total": 3}
    path = [f"/api/calls/{sid}/events"]
    async with running_app(sim, **caps) as live:
        token = live.token(Role.SUPERVISOR)
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as bot:
            held = [await open_streams(live, bot, path) for _ in range(2)]
            counts, _, stack = await open_streams(live, bot, path)
            async with stack:
                assert counts == Counter({429: 1})  # the user's two are open
            async with live.client(Role.ADMIN) as admin:
                counts, _, stack = await open_streams(live, admin, path * 2)
                async with stack:
                    assert counts == Counter({200: 1, 429: 1})  # three in all
            for _, _, stack in held:
                await stack.aclose()


async def test_made_up_ids_cost_one_rest_call_and_no_upstream(sim: Simulator) -> None:
    async with running_app(sim) as live, live.client(Role.ADMIN) as client:
        pages = await asyncio.gather(
            *(client.get(f"{live.url}/calls/{MADE_UP}") for _ in range(80))
        )
        assert {page.status_code for page in pages} == {404}
        assert sim.rest.served[f"/api/v1/calls/sid/{MADE_UP}"] == 1  # shared, then remembered
        before = sim.rest.served[f"/api/v1/calls/sid/{MADE_UP}"]
        for path in (
            f"/api/calls/{MADE_UP}/events",
            f"/live/call/call/{MADE_UP}",
            f"/api/events?call={MADE_UP}",
            f"/calls/{MADE_UP}/transcript.txt",
            f"/calls/{MADE_UP}",
        ):
            assert (await client.get(live.url + path)).status_code == 404, path
        assert sim.rest.served[f"/api/v1/calls/sid/{MADE_UP}"] == before
        assert live.hub.streams == {}
        assert sim.attempts(f"call:{MADE_UP}") == 0
