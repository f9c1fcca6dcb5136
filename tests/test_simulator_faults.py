"""The simulator's fault knobs and transport-level faults, over real sockets."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from tests.conftest import SIM_KEY
from webapp.simulator import Faults, Simulator, serve_forever
from webapp.simulator.faults import MALFORMED_FRAME

KEY = SIM_KEY  # the key of the shared ``sim`` fixture
PACED = re.compile(r"t=(\d+\.\d{6}) n=(\d+)")


def open_call(sim: Simulator, sid: str) -> connect:
    return connect(f"{sim.ws_url}/live-transcript/{sid}?token={KEY}")


async def recv_text(ws: ClientConnection) -> str | bytes:
    async with asyncio.timeout(2):
        return await ws.recv()


async def recv(ws: ClientConnection) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(await recv_text(ws))
    return frame


async def skip(ws: ClientConnection, n: int) -> None:
    for _ in range(n):
        await recv(ws)


async def stays_silent(ws: ClientConnection, seconds: float = 0.3) -> bool:
    """True if nothing at all, not even a pong to a protocol ping, arrives in time."""
    pong = await ws.ping()
    receiving = asyncio.ensure_future(ws.recv())
    done, _ = await asyncio.wait(
        [receiving, pong], timeout=seconds, return_when=asyncio.FIRST_COMPLETED
    )
    receiving.cancel()  # recv() is cancellation-safe: no frame is lost
    await asyncio.wait([receiving])
    if not receiving.cancelled():
        receiving.exception()
    return not done


async def closed_frames(ws: ClientConnection) -> list[str | bytes]:
    frames = []
    try:
        while True:
            frames.append(await recv_text(ws))
    except ConnectionClosed:
        return frames


# asyncio runs a timer up to one clock resolution before it is due (seen: 0.297 s for 0.3).
EARLY = 0.01


async def test_latency_delays_every_frame_but_keeps_order_and_pipelines(sim: Simulator) -> None:
    sid = sim.add_call()
    sim.faults.latency = 0.3
    loop = asyncio.get_running_loop()
    async with open_call(sim, sid) as ws:
        asked = loop.time()
        await skip(ws, 2)
        assert loop.time() - asked >= 0.3 - EARLY
        await sim.wait_for_connections(f"call:{sid}", 1)
        produced = loop.time()
        for n in range(3):
            sim.add_segment(sid, "user", f"segment {n}")
        frames = [await recv(ws) for _ in range(3)]
        elapsed = loop.time() - produced
    assert [f["data"]["content"] for f in frames] == ["segment 0", "segment 1", "segment 2"]
    assert 0.3 - EARLY <= elapsed < 0.85  # a delay line, not 3 x 0.3 s


async def test_refuse_all_answers_upgrades_with_503_while_rest_keeps_working(
    sim: Simulator,
) -> None:
    sid = sim.add_call()
    sim.faults.refuse_all = True
    with pytest.raises(InvalidStatus) as refused:
        async with open_call(sim, sid):
            pass
    assert refused.value.response.status_code == 503
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        headers = {"Authorization": f"Bearer {KEY}"}
        assert (await http.get(f"/api/v1/calls/sid/{sid}", headers=headers)).status_code == 200
    assert (sim.attempts(f"call:{sid}"), sim.connections_total(f"call:{sid}")) == (1, 0)
    sim.faults.refuse_all = False
    async with open_call(sim, sid) as ws:
        assert (await recv(ws))["type"] == "connection_established"


async def test_drop_after_messages_aborts_each_new_connection_without_a_close_frame(
    sim: Simulator,
) -> None:
    sid = sim.add_call()
    for n in range(5):
        sim.add_segment(sid, "user", f"old {n}")
    sim.faults.drop_after_messages = 3
    for _ in range(2):
        async with open_call(sim, sid) as ws:
            frames = await closed_frames(ws)
            assert ws.close_code == 1006  # no close frame: the TCP connection was aborted
        assert len(frames) == 3
    assert sim.connections_total(f"call:{sid}") == 2


async def test_hang_on_connect_accepts_then_says_and_answers_nothing(sim: Simulator) -> None:
    sid = sim.add_call()
    key = f"call:{sid}"
    sim.faults.hang_on_connect = True
    async with open_call(sim, sid) as ws:
        assert await stays_silent(ws)
        assert (sim.connections(key), sim.connections_total(key)) == (0, 1)
        await sim.drop(key)
        assert await closed_frames(ws) == []


async def test_close_code_on_connect_closes_at_once_before_anything_is_sent(
    sim: Simulator,
) -> None:
    sid = sim.add_call()
    sim.faults.close_code_on_connect = 1011
    async with open_call(sim, sid) as ws:
        assert await closed_frames(ws) == []
        assert ws.close_code == 1011
    assert (sim.attempts(f"call:{sid}"), sim.connections_total(f"call:{sid}")) == (1, 0)


async def test_malformed_every_puts_garbage_before_every_nth_live_message(
    sim: Simulator,
) -> None:
    sid = sim.add_call()
    sim.add_segment(sid, "user", "history is not live")
    sim.faults.malformed_every = 2
    async with open_call(sim, sid) as ws:
        await skip(ws, 3)
        await sim.wait_for_connections(f"call:{sid}", 1)
        for n in range(4):
            sim.add_segment(sid, "user", f"live {n}")
        texts = [await recv_text(ws) for _ in range(6)]
    assert [
        MALFORMED_FRAME if t == MALFORMED_FRAME else json.loads(t)["data"]["content"] for t in texts
    ] == [
        "live 0",
        MALFORMED_FRAME,
        "live 1",
        "live 2",
        MALFORMED_FRAME,
        "live 3",
    ]


async def test_segment_rate_paces_stamped_finals_on_every_watched_call(sim: Simulator) -> None:
    watched, unwatched = sim.add_call(), sim.add_call()
    async with open_call(sim, watched) as ws:
        await skip(ws, 2)
        await sim.wait_for_connections(f"call:{watched}", 1)
        started = time.time()
        sim.faults.segment_rate = 50
        frames = [await recv(ws) for _ in range(10)]
        sim.faults.segment_rate = None
    marks = [PACED.match(f["data"]["content"]) for f in frames]
    assert all(m is not None for m in marks)
    stamps = [float(m[1]) for m in marks if m]
    counters = [int(m[2]) for m in marks if m]
    assert all(f["data"]["is_final"] for f in frames)
    assert counters == sorted(counters) and len(set(counters)) == 10
    assert started <= stamps[0] <= stamps[-1] <= time.time()
    assert stamps[-1] - started >= 0.15  # 10 segments at 50/s take at least 9/50 s
    assert not sim.store.calls[unwatched].segments


async def test_replacing_the_faults_object_takes_effect(sim: Simulator) -> None:
    sid = sim.add_call()
    async with open_call(sim, sid) as ws:
        await skip(ws, 2)
        await sim.wait_for_connections(f"call:{sid}", 1)
        sim.faults = Faults(segment_rate=100)
        assert PACED.match((await recv(ws))["data"]["content"])
        sim.faults = Faults()


async def test_send_raw_sends_any_frame_verbatim(sim: Simulator) -> None:
    sid = sim.add_call()
    async with open_call(sim, sid) as ws:
        await skip(ws, 2)
        await sim.wait_for_connections(f"call:{sid}", 1)
        sim.send_raw(f"call:{sid}", "{not json")
        sim.send_raw(f"call:{sid}", b"\x00\x01binary")
        sim.send_raw(f"call:{sid}", "x" * 200_000)
        received = [await recv_text(ws) for _ in range(3)]
    assert received == ["{not json", b"\x00\x01binary", "x" * 200_000]


async def test_drop_aborts_the_streams_sockets_and_returns_when_they_are_gone(
    sim: Simulator,
) -> None:
    sid = sim.add_call()
    key = f"call:{sid}"
    async with open_call(sim, sid) as ws:
        await skip(ws, 2)
        await sim.wait_for_connections(key, 1)
        await sim.drop(key)
        assert sim.connections(key) == 0
        assert await closed_frames(ws) == []
        assert ws.close_code == 1006
    assert sim.connections_total(key) == 1


async def test_close_ends_the_streams_sockets_with_the_code_given(sim: Simulator) -> None:
    sid = sim.add_call()
    async with open_call(sim, sid) as ws:
        await skip(ws, 2)
        await sim.wait_for_connections(f"call:{sid}", 1)
        await sim.close(f"call:{sid}", code=1011, reason="Internal error")
        assert await closed_frames(ws) == []
        assert (ws.close_code, ws.close_reason) == (1011, "Internal error")
    assert sim.connections(f"call:{sid}") == 0


async def test_hang_makes_current_sockets_silent_until_dropped(sim: Simulator) -> None:
    sid = sim.add_call()
    key = f"call:{sid}"
    async with open_call(sim, sid) as ws:
        await skip(ws, 2)
        await sim.wait_for_connections(key, 1)
        assert not await stays_silent(ws)  # the pong comes back while it is not hung
        sim.hang(key)
        sim.add_segment(sid, "user", "nobody hears this")
        await ws.send(json.dumps({"type": "ping"}))
        assert await stays_silent(ws)
        assert sim.connections(key) == 0
        async with open_call(sim, sid) as fresh:  # a new connection is not hung
            assert (await recv(fresh))["type"] == "connection_established"
        await sim.drop(key)
        assert await closed_frames(ws) == []


async def test_stop_is_prompt_and_leaves_no_task_behind() -> None:
    sim = Simulator(api_key=KEY, speed=20)
    await sim.start()
    sid = sim.add_call()
    live = await open_call(sim, sid)
    hung = await open_call(sim, sid)
    await sim.wait_for_connections(f"call:{sid}", 2)
    sim.hang(f"call:{sid}")
    sim.faults.hang_on_connect = True
    hung_at_once = await open_call(sim, sid)
    await sim.wait_for_connections(f"call:{sid}", 0)
    loop = asyncio.get_running_loop()
    began = loop.time()
    await sim.stop()
    await sim.stop()  # idempotent
    assert loop.time() - began < 1.0
    names = {task.get_coro().__qualname__ for task in asyncio.all_tasks()}  # type: ignore[union-attr]
    ours = {"serve.<locals>.protocol_handler", "Peer.run_writer", "run_pacer", "run_autoplay"}
    assert not names & ours
    for ws in (live, hung, hung_at_once):
        await ws.close()


async def test_serve_forever_runs_until_cancelled_then_stops() -> None:
    ready: asyncio.Future[Simulator] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        serve_forever(0, api_key=KEY, autoplay=False, on_ready=ready.set_result)
    )
    sim = await ready
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(base_url=sim.base_url, headers=headers) as http:
        assert (await http.get("/api/v1/calls")).json() == []
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        with pytest.raises(httpx.ConnectError):
            await http.get("/api/v1/calls")


async def test_the_key_never_reaches_a_simulator_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG):
        async with Simulator(api_key=KEY, autoplay=False) as sim:
            sid = sim.add_call()
            url = f"{sim.ws_url}/live-transcript/{sid}"
            for ws in (
                connect(f"{url}?token={KEY}"),
                connect(url, additional_headers={"Authorization": f"Bearer {KEY}"}),
                connect(url, subprotocols=[Subprotocol(f"burki-token-{KEY}")]),
                connect(f"{url}?token={KEY}-wrong"),
            ):
                async with ws as client:
                    await recv(client)
            async with httpx.AsyncClient(base_url=sim.base_url) as http:
                await http.get("/api/v1/calls", headers={"Authorization": f"Bearer {KEY}"})
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("webapp.simulator")]
    assert any("GET /live-transcript" in line for line in ours), "no debug line: proves nothing"
    assert not [line for line in ours if KEY in line]
