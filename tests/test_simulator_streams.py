"""The simulator's live-transcript stream over real sockets: auth, order, replay, limits."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from tests.conftest import SIM_KEY
from webapp.simulator import Simulator

KEY = SIM_KEY  # the key of the shared ``sim`` fixture


@pytest.fixture
async def oss() -> AsyncIterator[Simulator]:
    async with Simulator(api_key=KEY, autoplay=False, oss_quirks=True) as simulator:
        yield simulator


def open_call(sim: Simulator, sid: str, via: str = "query", key: str = KEY) -> connect:
    url = f"{sim.ws_url}/live-transcript/{sid}"
    if via == "query":
        return connect(f"{url}?token={key}")
    if via == "header":
        return connect(url, additional_headers={"Authorization": f"Bearer {key}"})
    if via == "subprotocol":
        return connect(url, subprotocols=[Subprotocol(f"burki-token-{key}")])
    return connect(url)


async def recv(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(2):
        frame: dict[str, Any] = json.loads(await ws.recv())
    return frame


async def skip(ws: ClientConnection, n: int) -> None:
    for _ in range(n):
        await recv(ws)


async def until_closed(ws: ClientConnection) -> list[dict[str, Any]]:
    frames = []
    try:
        while True:
            frames.append(await recv(ws))
    except ConnectionClosed:
        return frames


def contents(frames: list[dict[str, Any]]) -> list[str]:
    return [f["data"]["content"] for f in frames if f["type"] == "transcript"]


@pytest.mark.parametrize("via", ["query", "header", "subprotocol"])
async def test_the_key_is_accepted_in_each_of_the_three_places(sim: Simulator, via: str) -> None:
    sid = sim.add_call()
    async with open_call(sim, sid, via) as ws:
        assert (await recv(ws))["type"] == "connection_established"
        assert (await recv(ws))["status"] == "in-progress"
        expected = f"burki-token-{KEY}" if via == "subprotocol" else None
        assert ws.subprotocol == expected


@pytest.mark.parametrize("via", ["query", "header", "subprotocol", "none"])
async def test_a_bad_or_missing_key_gets_an_error_frame_then_1008(sim: Simulator, via: str) -> None:
    sid = sim.add_call()
    async with open_call(sim, sid, via, key="wrong-key") as ws:
        frames = await until_closed(ws)
        assert ws.close_code == 1008
        assert ws.close_reason == "Authentication failed"
    assert len(frames) == 1
    assert frames[0]["type"] == "error"
    assert frames[0]["error"] == "authentication_failed"
    assert frames[0]["message"] == "Authentication failed"
    assert sim.connections_total(f"call:{sid}") == 0


@pytest.mark.parametrize("via", ["header", "subprotocol", "none"])
async def test_oss_fails_with_1011_before_anything_unless_the_key_is_in_the_query(
    oss: Simulator, via: str
) -> None:
    sid = oss.add_call()
    async with open_call(oss, sid, via) as ws:
        frames = await until_closed(ws)
        assert ws.close_code == 1011
        assert ws.subprotocol is None
    assert frames == [
        {
            "type": "error",
            "call_sid": sid,
            "timestamp": frames[0]["timestamp"],
            "message": "Connection initialization failed",
        }
    ]


async def test_oss_streams_with_the_key_in_the_query_and_naive_timestamps(oss: Simulator) -> None:
    sid = oss.add_call()
    oss.add_segment(sid, "assistant", "Hello")
    async with open_call(oss, sid) as ws:
        established, status, segment = [await recv(ws) for _ in range(3)]
    assert established["type"] == "connection_established"
    assert status["type"] == "call_status"
    stamps = [established["timestamp"], status["metadata"]["started_at"]]
    stamps += [segment["timestamp"], segment["data"]["created_at"]]
    assert not any(s.endswith("Z") or "+" in s for s in stamps)


async def test_oss_unknown_call_is_access_denied_with_1008(oss: Simulator) -> None:
    async with open_call(oss, "CA" + "0" * 32) as ws:
        frames = await until_closed(ws)
        assert (ws.close_code, ws.close_reason) == (1008, "Access denied to this call")
    assert [(f["error"], f["message"]) for f in frames] == [
        ("access_denied", "Access denied to this call")
    ]


async def test_hosted_unknown_call_is_not_found_and_the_socket_stays_open(sim: Simulator) -> None:
    sid = "CA" + "1" * 32
    async with open_call(sim, sid) as ws:
        assert (await recv(ws))["type"] == "connection_established"
        error = await recv(ws)
        assert error == {
            "type": "error",
            "call_sid": sid,
            "timestamp": error["timestamp"],
            "message": f"Call {sid} not found",
        }
        await ws.send('{"type":"ping"}')
        assert (await recv(ws))["type"] == "pong"
        assert sim.connections(f"call:{sid}") == 1


BAD_PATHS = [
    "/live-transcript/bad%20id!",
    "/live-transcript/" + "x" * 129,
    "/live-transcript/..",
    "/ws/campaigns/x/progress",
]


@pytest.mark.parametrize("path", BAD_PATHS)
async def test_a_malformed_stream_id_is_a_404_on_the_upgrade(sim: Simulator, path: str) -> None:
    with pytest.raises(InvalidStatus) as caught:
        async with connect(f"{sim.ws_url}{path}?token={KEY}"):
            pass
    assert caught.value.response.status_code == 404


async def test_connect_sends_established_status_then_the_history_oldest_first_without_ids(
    sim: Simulator,
) -> None:
    sid = sim.add_call(assistant_name="Billing bot", customer_phone="+15550111")
    sim.add_segment(sid, "user", "My bill is wrong")
    sim.add_segment(sid, "assistant", "Let me check", confidence=None)
    async with open_call(sim, sid) as ws:
        frames = [await recv(ws) for _ in range(4)]
    assert [f["type"] for f in frames] == [
        "connection_established",
        "call_status",
        "transcript",
        "transcript",
    ]
    assert frames[0]["message"] == "Connected to live transcript stream"
    assert frames[1]["status"] == "in-progress"
    assert frames[1]["metadata"]["customer_phone_number"] == "+15550111"
    assert contents(frames) == ["My bill is wrong", "Let me check"]
    assert frames[3]["data"]["confidence"] is None
    for frame in frames[2:]:
        assert "id" not in frame and "id" not in frame["data"]
        assert set(frame["data"]) == {
            "content",
            "speaker",
            "is_final",
            "confidence",
            "segment_start",
            "segment_end",
            "created_at",
        }
        assert frame["data"]["created_at"].endswith("Z")
        assert not frame["timestamp"].endswith("Z")


async def test_every_connection_replays_the_finals_but_never_the_interims(sim: Simulator) -> None:
    sid = sim.add_call()
    sim.add_segment(sid, "user", "I want", is_final=False)
    sim.add_segment(sid, "user", "I want to cancel")
    replays = []
    for _ in range(2):
        async with open_call(sim, sid) as ws:
            frames = [await recv(ws) for _ in range(3)]
            replays.append(frames[2]["data"])
    assert replays[0] == replays[1]
    assert replays[0]["content"] == "I want to cancel"
    assert sim.connections_total(f"call:{sid}") == 2


async def test_a_live_segment_can_land_in_the_middle_of_the_replay(sim: Simulator) -> None:
    sid = sim.add_call()
    for n in range(3):
        sim.add_segment(sid, "user", f"old {n}")
    sim.faults.replay_delay = 0.5
    async with open_call(sim, sid) as ws:
        frames = [await recv(ws) for _ in range(3)]
        sim.add_segment(sid, "assistant", "live one")
        frames += [await recv(ws) for _ in range(3)]
    assert contents(frames) == ["old 0", "live one", "old 1", "old 2"]


async def test_live_segments_follow_the_greeting_in_order(sim: Simulator) -> None:
    sid = sim.add_call()
    async with open_call(sim, sid) as ws:
        await skip(ws, 2)
        await sim.wait_for_connections(f"call:{sid}", 1)
        sim.add_segment(sid, "user", "Hel", is_final=False, confidence=0.5)
        sim.add_segment(sid, "user", "Hello there")
        interim, final = await recv(ws), await recv(ws)
    assert (interim["data"]["is_final"], final["data"]["is_final"]) == (False, True)
    assert interim["data"]["segment_start"] == final["data"]["segment_start"]


async def test_ping_gets_a_pong_and_request_status_a_fresh_status(sim: Simulator) -> None:
    sid = sim.add_call()
    async with open_call(sim, sid) as ws:
        await skip(ws, 2)
        await ws.send(json.dumps({"type": "ping"}))
        pong = await recv(ws)
        await ws.send(json.dumps({"type": "request_status"}))
        status = await recv(ws)
        await ws.send("not json at all")  # ignored, as Burki does
        await ws.send(json.dumps({"type": "ping"}))
        assert (await recv(ws))["type"] == "pong"
    assert set(pong) == {"type", "timestamp"}
    assert pong["type"] == "pong"
    assert status["type"] == "call_status"
    assert status["status"] == "in-progress"


async def test_a_status_change_is_broadcast_and_the_call_ends(sim: Simulator) -> None:
    sid = sim.add_call()
    async with open_call(sim, sid) as ws:
        await skip(ws, 2)
        await sim.wait_for_connections(f"call:{sid}", 1)
        sim.set_call_status(sid, "completed")
        status = await recv(ws)
    assert status["status"] == "completed"
    assert status["metadata"]["duration"] == 0
    assert sim.store.calls[sid].ended_at is not None


async def test_the_eleventh_connection_to_a_call_is_rate_limited(sim: Simulator) -> None:
    sid = sim.add_call()
    key = f"call:{sid}"
    sockets = [await open_call(sim, sid) for _ in range(10)]
    await sim.wait_for_connections(key, 10)
    async with open_call(sim, sid) as eleventh:
        frames = await until_closed(eleventh)
        assert (eleventh.close_code, eleventh.close_reason) == (1008, "Rate limit exceeded")
    assert frames[0]["error"] == "rate_limit_exceeded"
    assert frames[0]["message"] == "Rate limit exceeded: too many connections to this call"
    assert sim.connections_total(key) == 10
    await sockets[0].close()
    await sim.wait_for_connections(key, 9)
    async with open_call(sim, sid) as again:
        assert (await recv(again))["type"] == "connection_established"
    for ws in sockets[1:]:
        await ws.close()
    await sim.wait_for_connections(key, 0)


async def test_the_limit_can_be_lifted() -> None:
    async with Simulator(api_key=KEY, autoplay=False, max_connections_per_call=None) as sim:
        sid = sim.add_call()
        sockets = [await open_call(sim, sid) for _ in range(12)]
        await sim.wait_for_connections(f"call:{sid}", 12)
        for ws in sockets:
            await ws.close()


async def test_connections_are_counted_live_and_in_total_per_stream(sim: Simulator) -> None:
    sid = sim.add_call()
    key = f"call:{sid}"
    assert (sim.connections(key), sim.connections_total(key)) == (0, 0)
    async with open_call(sim, sid), open_call(sim, sid):
        await sim.wait_for_connections(key, 2)
        assert sim.connections(f"call:{sim.add_call()}") == 0
    await sim.wait_for_connections(key, 0)
    assert sim.connections_total(key) == 2
    assert sim.attempts(key) == 2


async def test_the_peak_counts_sockets_at_once_not_one_after_another(sim: Simulator) -> None:
    sid = sim.add_call()
    key = f"call:{sid}"
    for _ in range(3):  # a client reconnecting: three connections, never two at once
        async with open_call(sim, sid):
            await sim.wait_for_connections(key, 1)
        await sim.wait_for_connections(key, 0)
    assert (sim.connections_total(key), sim.connections_peak(key)) == (3, 1)
    async with open_call(sim, sid), open_call(sim, sid):
        await sim.wait_for_connections(key, 2)
    assert (sim.connections_total(key), sim.connections_peak(key)) == (5, 2)


async def test_waiting_for_a_count_that_never_comes_times_out(sim: Simulator) -> None:
    with pytest.raises(TimeoutError, match="0 live connections, not 1"):
        await sim.wait_for_connections("call:CA1", 1, timeout=0.05)


async def test_a_stream_key_must_name_a_call_or_a_campaign(sim: Simulator) -> None:
    with pytest.raises(ValueError, match="not a stream key"):
        sim.connections("calls/CA1")
