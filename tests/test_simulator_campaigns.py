"""The simulator's campaign-progress stream in dialects A, B and C, over real sockets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import SIM_KEY
from webapp.simulator import Simulator
from webapp.simulator.world import StartCall, World

KEY = SIM_KEY  # the key of the shared ``sim`` fixture
Frame = dict[str, Any]


def open_campaign(sim: Simulator, campaign_id: int) -> connect:
    return connect(f"{sim.ws_url}/ws/campaigns/{campaign_id}/progress?token={KEY}")


async def recv(ws: ClientConnection) -> Frame:
    async with asyncio.timeout(2):
        frame: Frame = json.loads(await ws.recv())
    return frame


async def skip(ws: ClientConnection, n: int) -> None:
    for _ in range(n):
        await recv(ws)


async def read_until(ws: ClientConnection, done: Callable[[Frame], bool]) -> list[Frame]:
    frames = [await recv(ws)]
    while not done(frames[-1]):
        frames.append(await recv(ws))
    return frames


async def run_to_completion(sim: Simulator, dialect: str) -> list[Frame]:
    """Greeting, then three contacts (success, failed, success) as seen by a client."""
    cid = sim.add_campaign(name="Renewals", dialect=dialect, contacts=3)  # type: ignore[arg-type]
    async with open_campaign(sim, cid) as ws:
        frames = [await recv(ws), await recv(ws)]
        await sim.wait_for_connections(f"campaign:{cid}", 1)
        for outcome in ("success", "failed", "success"):
            sim.advance_campaign(cid, outcome)  # type: ignore[arg-type]
        end = "progress_update" if dialect == "C" else "campaign_completed"
        frames += await read_until(ws, lambda f: f["type"] == end and _ended(f))
    return frames


def _ended(frame: Frame) -> bool:
    return frame["type"] == "campaign_completed" or frame["data"]["status"] == "completed"


async def test_dialect_a_nests_counts_in_data_and_counts_every_done_contact(
    sim: Simulator,
) -> None:
    frames = await run_to_completion(sim, "A")
    assert [f["type"] for f in frames] == [
        "connection_established",
        "progress",
        *["contact_completed", "progress"] * 3,
        "campaign_completed",
    ]
    assert frames[1]["data"] == {
        "total_contacts": 3,
        "completed_contacts": 0,
        "successful_contacts": 0,
        "failed_contacts": 0,
        "pending_contacts": 3,
        "success_rate": 0.0,
    }
    contact = frames[4]["data"]
    assert set(contact) == {"phone_number", "name", "outcome", "duration", "call_sid"}
    assert contact["outcome"] == "failed"
    final = frames[-1]["data"]
    assert (final["completed_contacts"], final["successful_contacts"]) == (3, 2)
    assert (final["failed_contacts"], final["success_rate"]) == (1, 66.67)
    assert not frames[-1]["timestamp"].endswith("Z")


async def test_dialect_b_is_flat_and_counts_successes_as_completed(sim: Simulator) -> None:
    frames = await run_to_completion(sim, "B")
    assert [f["type"] for f in frames] == [
        "connection_established",
        "progress",
        *["contact_update", "progress"] * 3,
        "campaign_completed",
    ]
    first = frames[1]
    assert "data" not in first
    assert (first["pending_contacts"], first["in_progress_contacts"]) == (2, 1)
    assert first["contact_id"] is None
    failed, progress = frames[4], frames[5]
    assert failed["status"] == "failed"
    assert failed["error_message"]
    assert isinstance(failed["contact_id"], int)
    assert (progress["completed_contacts"], progress["failed_contacts"]) == (1, 1)
    assert progress["completion_percentage"] == 66.67
    assert progress["contact_status"] == "failed"
    final = frames[-1]
    assert (final["total_contacts"], final["completed_contacts"], final["failed_contacts"]) == (
        3,
        2,
        1,
    )
    assert isinstance(final["total_duration"], int)
    assert isinstance(final["total_cost"], float)


async def test_dialect_c_uses_epoch_timestamps_and_ends_with_a_completed_status(
    sim: Simulator,
) -> None:
    frames = await run_to_completion(sim, "C")
    assert [f["type"] for f in frames] == [
        "connection_ack",
        "initial_progress",
        *["progress_update"] * 3,
    ]
    assert isinstance(frames[0]["timestamp"], float)
    data = frames[-1]["data"]
    assert data["status"] == "completed"
    assert data["completed_at"] is not None
    assert data["progress"] == {
        "total_contacts": 3,
        "completed": 2,
        "failed": 1,
        "processing": 0,
        "pending": 0,
        "progress_percentage": 100.0,
        "success_rate": 66.67,
    }
    assert [a["status"] for a in data["recent_activity"]] == ["completed", "failed", "completed"]
    assert set(data["recent_activity"][0]) == {
        "execution_id",
        "contact_phone",
        "status",
        "executed_at",
        "call_id",
    }


@pytest.mark.parametrize(
    ("dialect", "kind"), [("A", "progress"), ("B", "progress"), ("C", "progress_update")]
)
async def test_request_update_gets_fresh_progress_in_the_campaigns_dialect(
    sim: Simulator, dialect: str, kind: str
) -> None:
    cid = sim.add_campaign(dialect=dialect, contacts=4)  # type: ignore[arg-type]
    async with open_campaign(sim, cid) as ws:
        await skip(ws, 2)
        await ws.send(json.dumps({"type": "request_update"}))
        update = await recv(ws)
        await ws.send(json.dumps({"type": "ping"}))
        pong = await recv(ws)
    assert update["type"] == kind
    assert pong["type"] == "pong"
    assert isinstance(pong["timestamp"], float) == (dialect == "C")


async def test_dialect_c_answers_request_history_with_samples(sim: Simulator) -> None:
    cid = sim.add_campaign(dialect="C", contacts=4)
    sim.advance_campaign(cid, "success")
    sim.advance_campaign(cid, "failed")
    async with open_campaign(sim, cid) as ws:
        await skip(ws, 2)
        await ws.send(json.dumps({"type": "request_history", "hours": 2}))
        history = await recv(ws)
    assert history["type"] == "metrics_history"
    samples = history["data"]["history"]
    assert [(s["completed"], s["failed"]) for s in samples] == [(0, 0), (1, 0), (1, 1)]
    assert history["data"]["hours"] == 2


@pytest.mark.parametrize("dialect", ["A", "B"])
async def test_a_finished_campaign_says_so_on_connect(sim: Simulator, dialect: str) -> None:
    cid = sim.add_campaign(dialect=dialect, contacts=1)  # type: ignore[arg-type]
    sim.advance_campaign(cid, "success")
    async with open_campaign(sim, cid) as ws:
        frames = [await recv(ws) for _ in range(3)]
    assert [f["type"] for f in frames] == [
        "connection_established",
        "progress",
        "campaign_completed",
    ]


async def test_an_unknown_campaign_is_not_found_and_the_socket_stays_open(sim: Simulator) -> None:
    async with open_campaign(sim, 99) as ws:
        hello, error = await recv(ws), await recv(ws)
        await ws.send(json.dumps({"type": "ping"}))
        assert (await recv(ws))["message"] == "Campaign 99 not found"
    assert hello["type"] == "connection_established"
    assert error["message"] == "Campaign 99 not found"


async def test_advancing_past_the_last_contact_is_an_error(sim: Simulator) -> None:
    cid = sim.add_campaign(contacts=1)
    sim.advance_campaign(cid)
    with pytest.raises(ValueError, match="no contact left"):
        sim.advance_campaign(cid)
    with pytest.raises(KeyError):
        sim.advance_campaign(cid + 1)


async def test_campaign_dialect_sets_the_default_dialect() -> None:
    async with Simulator(api_key=KEY, autoplay=False, campaign_dialect="C") as sim:
        assert sim.store.campaigns[sim.add_campaign()].dialect == "C"
        assert sim.store.campaigns[sim.add_campaign(dialect="A")].dialect == "A"
    async with Simulator(api_key=KEY, autoplay=False) as sim:
        assert sim.store.campaigns[sim.add_campaign()].dialect == "B"


async def test_autoplay_runs_campaigns_1_2_3_in_dialects_a_b_c_to_completion() -> None:
    async with Simulator(api_key=KEY, speed=200) as sim:
        sockets = [await open_campaign(sim, cid) for cid in (1, 2, 3)]
        a = await read_until(sockets[0], lambda f: f["type"] == "campaign_completed")
        b = await read_until(sockets[1], lambda f: f["type"] == "campaign_completed")
        c = await read_until(sockets[2], lambda f: f["type"] == "progress_update" and _ended(f))
        for ws in sockets:
            await ws.close()
        assert any(f["type"] == "contact_completed" for f in a)
        assert any(f["type"] == "contact_update" for f in b)
        assert c[-1]["data"]["progress"]["pending"] == 0
        # A finished campaign is followed by a new one.
        async with open_campaign(sim, 4) as ws:
            frames = await read_until(ws, lambda f: f["type"] in ("progress", "progress_update"))
        assert frames[-1]["campaign_id"] == 4


async def test_autoplay_calls_talk_then_end() -> None:
    first_call = next(a for a in World(11).due(1.0) if isinstance(a, StartCall))
    async with Simulator(api_key=KEY, seed=11, speed=25) as sim:
        url = f"{sim.ws_url}/live-transcript/{first_call.sid}?token={KEY}"
        async with connect(url) as ws:
            frames = await read_until(
                ws, lambda f: f["type"] == "call_status" and f["status"] != "in-progress"
            )
    transcripts = [f["data"] for f in frames if f["type"] == "transcript"]
    assert {t["speaker"] for t in transcripts} == {"user", "assistant"}
    assert any(not t["is_final"] for t in transcripts)
    assert frames[-1]["status"] in ("completed", "failed")
