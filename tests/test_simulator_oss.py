"""The simulator's open-source mode does what the real open-source Burki was recorded doing.

Each test holds the simulator against a probe of ``/work/shared/burki-traces/``.
"""

from __future__ import annotations

import asyncio
import json
import random
from urllib.parse import quote

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.conftest import SIM_KEY
from tests.test_simulator_streams import open_call, recv
from tests.traces import call_frames, load, probe
from webapp.simulator import Simulator
from webapp.simulator.oss import telnyx_call_id


def trace_call(prefix: str) -> list[dict[str, object]]:
    return next(m for sid, m in call_frames().items() if sid.startswith(prefix))


def metadata_keys(message: dict[str, object]) -> set[str]:
    metadata = message["metadata"]
    assert isinstance(metadata, dict)
    return set(metadata)


async def test_an_ended_call_greets_with_its_status_then_replays_like_burki(
    oss_sim: Simulator,
) -> None:
    recorded = probe("probe.jsonl", "token_query_completed")
    sid = oss_sim.add_call()
    for text in ("Thanks for calling Acme.", "That's all, bye."):
        oss_sim.add_segment(sid, "user", text)
    oss_sim.set_call_status(sid, "completed")
    async with open_call(oss_sim, sid) as ws:
        frames = [await recv(ws) for _ in recorded["types"]]
    assert [f["type"] for f in frames] == recorded["types"]
    assert frames[1]["status"] == "completed"
    assert metadata_keys(frames[1]) == metadata_keys(recorded["messages"][1])


async def test_status_words_and_the_four_metadata_shapes_match_the_recording(
    oss_sim: Simulator,
) -> None:
    recorded = trace_call("CA8be")
    on_connect, live_start, live_end = recorded[1], recorded[2], recorded[4]
    requested = probe("probe.jsonl", "token_query_ongoing")["messages"][-1]
    sid = oss_sim.add_call()
    async with open_call(oss_sim, sid) as ws:
        assert (await recv(ws))["type"] == "connection_established"
        connected = await recv(ws)
        await ws.send(json.dumps({"type": "request_status"}))
        answered = await recv(ws)
        oss_sim.set_call_status(sid, "in-progress")
        started = await recv(ws)
        oss_sim.set_call_status(sid, "completed")
        ended = await recv(ws)
        await ws.send(json.dumps({"type": "ping"}))
        pong = await recv(ws)
    pairs = [(connected, on_connect), (answered, requested), (started, live_start)]
    for made, real in [*pairs, (ended, live_end)]:
        assert (made["status"], metadata_keys(made)) == (real["status"], metadata_keys(real))
    assert set(pong) == {"type", "timestamp"}  # no call_sid, as recorded


async def test_a_bad_client_frame_kills_the_handler_but_not_the_socket(oss_sim: Simulator) -> None:
    [zombie] = [e for e in load("edge_tests.jsonl") if e["check"] == "zombie_text"]
    sid = oss_sim.add_call()
    async with open_call(oss_sim, sid) as ws:
        await recv(ws)
        await recv(ws)
        await ws.send("this is not JSON")
        error = await recv(ws)
        assert set(error) == set(zombie["server_sent"][0])
        assert error["message"] == "Internal server error"
        await ws.send(json.dumps({"type": "ping"}))
        oss_sim.add_segment(sid, "user", "nobody hears this")
        pong_waiter = await ws.ping()
        await pong_waiter  # protocol pings are still answered...
        with pytest.raises(TimeoutError):  # ...but no JSON pong and no broadcast arrive
            async with asyncio.timeout(0.5):
                await ws.recv()


async def test_with_its_database_down_a_valid_key_gets_1008_and_rest_401(
    oss_sim: Simulator,
) -> None:
    [ws_probe, rest_probe] = load("db_outage.jsonl")
    sid = oss_sim.add_call()
    oss_sim.faults.database_down = True
    async with open_call(oss_sim, sid) as ws:
        error = await recv(ws)
        with pytest.raises(ConnectionClosed):
            await recv(ws)
    assert error["error"] == ws_probe["messages"][0]["error"]
    assert ws.close_code == ws_probe["close"][0]
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {SIM_KEY}"}) as client:
        answer = await client.get(f"{oss_sim.base_url}/api/v1/calls/sid/{sid}")
    assert answer.status_code == rest_probe["status"]


async def test_a_restart_closes_open_sockets_with_1012(oss_sim: Simulator) -> None:
    [restart] = [e for e in load("edge_tests.jsonl") if e["check"] == "restart"]
    sid = oss_sim.add_call()
    async with open_call(oss_sim, sid) as ws:
        await recv(ws)
        await oss_sim.restart()
        with pytest.raises(ConnectionClosed):
            while True:
                await recv(ws)
    assert ws.close_code == restart["close_code"]


async def test_there_are_no_campaigns_on_rest_or_the_socket(oss_sim: Simulator) -> None:
    async with httpx.AsyncClient(
        headers={"Authorization": f"Bearer {SIM_KEY}"}, follow_redirects=True
    ) as client:
        for path in ("/api/v1/campaigns", "/api/v1/campaigns/1", "/api/v1/campaigns/1/progress"):
            assert (await client.get(oss_sim.base_url + path)).status_code == 404
    url = f"{oss_sim.ws_url}/ws/campaigns/1/progress?token={SIM_KEY}"
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url):
            pass
    assert refused.value.response.status_code == 403


async def test_rest_rows_have_the_recorded_shapes_and_assistants_are_listed(
    oss_sim: Simulator,
) -> None:
    sid = oss_sim.add_call(assistant_name="Front desk")
    oss_sim.add_segment(sid, "user", "Hello")
    recorded_call = probe("probe.jsonl", "rest_call_by_sid")["body"]
    recorded_row = probe("probe.jsonl", "rest_transcripts")["body"][0]
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {SIM_KEY}"}) as client:
        call = (await client.get(f"{oss_sim.base_url}/api/v1/calls/sid/{sid}")).json()
        rows = (await client.get(f"{oss_sim.base_url}/api/v1/calls/sid/{sid}/transcripts")).json()
        assistants = (await client.get(f"{oss_sim.base_url}/api/v1/assistants")).json()
    assert set(call) == set(recorded_call)
    assert set(rows[0]) == set(recorded_row)
    assert {"id": call["assistant_id"], "name": "Front desk"} in assistants


async def test_a_telnyx_call_id_is_routed_url_encoded(oss_sim: Simulator) -> None:
    sid = oss_sim.add_call(telnyx_call_id(random.Random(1)))
    async with open_call(oss_sim, quote(sid, safe="")) as ws:
        greeting = await recv(ws)
    assert greeting["call_sid"] == sid
