"""One simulator serving several organisations, each with its own key and world, over
real sockets: a key sees only its own calls and campaigns, another's id is what Burki
answers for a foreign id, and the request log names the asking organisation (never the key).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from webapp.simulator import Faults, Simulator
from webapp.simulator.orgs import ORG_ID_STRIDE
from webapp.simulator.world import StartCall, World

ACME, GLOBEX = "acme-key-0b1e5", "globex-key-9c44d"


@pytest.fixture
async def two() -> AsyncIterator[Simulator]:
    async with Simulator(orgs={"acme": ACME, "globex": GLOBEX}, autoplay=False) as simulator:
        yield simulator


def rest(sim: Simulator, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=sim.base_url, headers={"Authorization": f"Bearer {key}"})


async def frames_until_closed(ws: ClientConnection) -> list[dict[str, Any]]:
    frames = []
    try:
        async with asyncio.timeout(3):
            async for message in ws:
                frames.append(json.loads(message))
    except ConnectionClosed:
        pass
    return frames


async def first_frames(ws: ClientConnection, n: int) -> list[dict[str, Any]]:
    async with asyncio.timeout(3):
        return [json.loads(await ws.recv()) for _ in range(n)]


async def test_each_key_lists_and_finds_only_its_own_organisations_calls_and_campaigns(
    two: Simulator,
) -> None:
    globex = two.org("globex")
    a_call, b_call = two.add_call(), globex.add_call()
    a_campaign, b_campaign = two.add_campaign(), globex.add_campaign()
    assert a_call != b_call and a_campaign != b_campaign  # ids are unique across orgs
    async with rest(two, ACME) as a, rest(two, GLOBEX) as b:
        a_calls = [c["call_sid"] for c in (await a.get("/api/v1/calls")).json()]
        b_calls = [c["call_sid"] for c in (await b.get("/api/v1/calls")).json()]
        a_campaigns = [c["id"] for c in (await a.get("/api/v1/campaigns")).json()]
        b_campaigns = [c["id"] for c in (await b.get("/api/v1/campaigns")).json()]
        assert (a_calls, b_calls) == ([a_call], [b_call])
        assert (a_campaigns, b_campaigns) == ([a_campaign], [b_campaign])
        assert (await a.get(f"/api/v1/calls/sid/{a_call}")).status_code == 200
        for path in (
            f"/api/v1/calls/sid/{b_call}",
            f"/api/v1/calls/sid/{b_call}/transcripts",
            f"/api/v1/campaigns/{b_campaign}",
            f"/api/v1/campaigns/{b_campaign}/progress",
        ):
            assert (await a.get(path)).status_code == 404, path
        assert (await a.post(f"/api/v1/calls/{b_call}/terminate")).status_code == 404
        assert (await a.post(f"/api/v1/campaigns/{b_campaign}/pause")).status_code == 404
        assert (await b.get(f"/api/v1/calls/sid/{a_call}")).status_code == 404
        assert (await b.get(f"/api/v1/calls/sid/{b_call}")).json()["organization_id"] == 2
    assert not globex.store.calls[b_call].ended  # A's terminate never reached B's call
    assert globex.store.campaigns[b_campaign].status == "running"


async def test_a_stream_of_another_organisations_id_is_access_denied(two: Simulator) -> None:
    globex = two.org("globex")
    b_call, b_campaign = globex.add_call(), globex.add_campaign()
    for path in (f"/live-transcript/{b_call}", f"/ws/campaigns/{b_campaign}/progress"):
        async with connect(f"{two.ws_url}{path}?token={ACME}") as ws:
            frames = await frames_until_closed(ws)
        assert [f.get("error") for f in frames] == ["access_denied"], path
        assert ws.close_code == 1008
    async with connect(f"{two.ws_url}/live-transcript/{b_call}?token={GLOBEX}") as ws:
        established, status = await first_frames(ws, 2)
    assert (established["type"], status["status"]) == ("connection_established", "in-progress")
    assert globex.connections_total(f"call:{b_call}") == 1  # only B's own socket streamed


async def test_an_id_nobody_has_is_not_found_on_the_stream_as_before(two: Simulator) -> None:
    async with connect(f"{two.ws_url}/live-transcript/CAnobody?token={ACME}") as ws:
        established, missing = await first_frames(ws, 2)
    assert established["type"] == "connection_established"
    assert missing["type"] == "error" and "not found" in missing["message"]


async def test_a_live_segment_reaches_only_its_own_organisations_sockets(two: Simulator) -> None:
    globex = two.org("globex")
    a_call, b_call = two.add_call(), globex.add_call()
    async with (
        connect(f"{two.ws_url}/live-transcript/{a_call}?token={ACME}") as a,
        connect(
            f"{two.ws_url}/live-transcript/{b_call}",
            additional_headers={"Authorization": f"Bearer {GLOBEX}"},
        ) as b,
    ):
        await first_frames(a, 2)
        await first_frames(b, 2)
        await two.wait_for_connections(f"call:{a_call}", 1)
        await globex.wait_for_connections(f"call:{b_call}", 1)
        globex.add_segment(b_call, "user", "only for globex")
        two.add_segment(a_call, "user", "only for acme")
        (to_a,), (to_b,) = await first_frames(a, 1), await first_frames(b, 1)
    assert to_a["data"]["content"] == "only for acme"
    assert to_b["data"]["content"] == "only for globex"


async def test_the_request_log_names_the_asking_organisation_and_never_the_key(
    two: Simulator,
) -> None:
    b_call = two.org("globex").add_call()
    async with rest(two, ACME) as a, rest(two, "wrong-key") as stranger:
        await a.get("/api/v1/calls")
        await a.get(f"/api/v1/calls/sid/{b_call}")
        assert (await stranger.get("/api/v1/calls")).status_code == 401
    async with connect(f"{two.ws_url}/live-transcript/{b_call}?token={GLOBEX}") as ws:
        await first_frames(ws, 2)
    logged = [(e.org, e.channel, e.method, e.path) for e in two.requests]
    assert logged == [
        ("acme", "rest", "GET", "/api/v1/calls"),
        ("acme", "rest", "GET", f"/api/v1/calls/sid/{b_call}"),
        (None, "rest", "GET", "/api/v1/calls"),
        ("globex", "ws", "GET", f"/live-transcript/{b_call}?token=***"),
    ]
    assert [e.org for e in two.requests.naming(b_call)] == ["acme", "globex"]
    assert not any(key in repr(list(two.requests)) for key in (ACME, GLOBEX))


async def test_one_organisations_faults_leave_the_others_streaming(two: Simulator) -> None:
    globex = two.org("globex")
    globex.faults = Faults(refuse_all=True, database_down=True)
    a_call, b_call = two.add_call(), globex.add_call()
    with pytest.raises(InvalidStatus):
        async with connect(f"{two.ws_url}/live-transcript/{b_call}?token={GLOBEX}"):
            pass
    async with rest(two, GLOBEX) as b:
        assert (await b.get("/api/v1/calls")).status_code == 401
    async with connect(f"{two.ws_url}/live-transcript/{a_call}?token={ACME}") as ws:
        _, status = await first_frames(ws, 2)
    assert status["status"] == "in-progress"


async def test_autoplay_plays_a_different_world_for_each_organisation() -> None:
    orgs = {"acme": ACME, "globex": GLOBEX}
    first_of_globex = next(a for a in World(8).due(1.0) if isinstance(a, StartCall))
    async with Simulator(orgs=orgs, seed=7, speed=25.0) as sim:
        globex = sim.org("globex")
        url = f"{sim.ws_url}/live-transcript/{first_of_globex.sid}?token={GLOBEX}"
        async with connect(url) as ws, asyncio.timeout(10):
            while json.loads(await ws.recv())["type"] != "transcript":
                pass
        assert first_of_globex.sid in globex.store.calls
        assert first_of_globex.sid not in sim.store.calls
        assert not set(sim.store.calls) & set(globex.store.calls)
        assert all(cid > ORG_ID_STRIDE for cid in globex.store.campaigns)
    assert sim.org_names == ("acme", "globex")


def test_organisations_need_distinct_keys_and_names() -> None:
    with pytest.raises(ValueError, match="share a key"):
        Simulator(orgs={"acme": "k", "globex": "k"})
    with pytest.raises(ValueError, match="at least one"):
        Simulator(orgs={})
    with pytest.raises(KeyError):
        Simulator(orgs={"acme": "k"}).org("globex")
