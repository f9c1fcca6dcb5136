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
        entries = await live.state.access.audit.entries(None)
        assert any(e.what == "refused: too many streams" for e in entries)


async def test_streams_per_user_and_in_total_are_capped(sim: Simulator) -> None:
    sid = sim.add_call()
    caps = {"dashboard_streams_per_user": 2, "dashboard_streams_total": 3}
    path = [f"/api/calls/{sid}/events"]
    async with running_app(sim, **caps) as live:
        token = await live.token(Role.SUPERVISOR)
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


def multiplexed(sids: list[str]) -> str:
    return "/api/events?" + "&".join(f"call={sid}" for sid in sids)


async def test_a_multiplexed_request_takes_a_place_for_every_stream_it_names(
    sim: Simulator,
) -> None:
    """40 requests at once from one token, three calls each: together they hold no more
    streams than the token's cap, however they race."""
    sids = [sim.add_call() for _ in range(6)]
    caps = {"dashboard_streams_per_session": 4, "dashboard_streams_per_user": 8}
    async with running_app(sim, **caps) as live:
        token = await live.token(Role.SUPERVISOR)
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as bot:
            paths = [multiplexed([sids[(n + k) % 6] for k in range(3)]) for n in range(40)]
            counts, answers, stack = await open_streams(live, bot, paths)
            async with stack:
                assert counts == Counter({200: 1, 429: 39})  # 3 + 3 > 4
                assert len(live.hub.streams) == 3
                refused = next(a for a in answers if a.status_code == 429)
                await refused.aread()
                assert refused.json()["error"] == "too_many_streams"
            five = await open_streams(live, bot, [multiplexed(sids[:5])])
            async with five[2]:
                assert five[0] == Counter({429: 1})  # more than a session may hold at all
                await five[1][0].aread()
                assert "names 5 streams" in five[1][0].json()["message"]


async def test_made_up_ids_in_multiplexed_requests_open_no_upstream(sim: Simulator) -> None:
    """40 requests at once naming 16 made-up ids each: Burki's REST is asked about each id
    once, and no WebSocket handshake is made for any of them."""
    made_up = [[f"CA{n:02d}{k:02d}" + "f" * 28 for k in range(16)] for n in range(40)]
    async with running_app(sim, dashboard_streams_per_session=16) as live:
        token = await live.token(Role.SUPERVISOR)
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as bot:
            answers = await asyncio.gather(
                *(bot.get(live.url + multiplexed(ids)) for ids in made_up)
            )
            assert {a.status_code for a in answers} <= {404, 429}
            assert all(a.json()["error"] in ("not_found", "too_many_streams") for a in answers)
            assert live.hub.streams == {}
            assert all(sim.attempts(f"call:{sid}") == 0 for ids in made_up for sid in ids)
            real = sim.add_call()  # a real id beside made-up ones: still refused, nothing opened
            mixed = await bot.get(live.url + multiplexed([real, made_up[0][0]]))
            assert mixed.status_code == 404
            assert live.hub.streams == {}


async def test_a_multiplexed_request_names_at_most_its_limit(sim: Simulator) -> None:
    sids = [sim.add_call() for _ in range(3)]
    limit = {"dashboard_streams_per_request": 2}
    async with running_app(sim, **limit) as live, live.client(Role.SUPERVISOR) as client:
        answer = await client.get(live.url + multiplexed(sids))
        assert answer.status_code == 400
        assert answer.json()["error"] == "bad_streams"
        assert live.hub.streams == {}
