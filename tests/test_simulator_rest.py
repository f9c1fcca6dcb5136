"""The simulator's REST API, on the same port as its streams, over real sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import SIM_KEY
from webapp.simulator import Simulator

KEY = SIM_KEY  # the key of the shared ``sim`` fixture
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
async def http(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sim.base_url, headers=AUTH) as client:
        yield client


async def test_calls_are_listed_newest_first_and_filtered_by_rest_status(
    sim: Simulator, http: httpx.AsyncClient
) -> None:
    first, second = sim.add_call(), sim.add_call()
    ended = sim.add_call()
    sim.set_call_status(ended, "failed")
    everything = (await http.get("/api/v1/calls")).json()
    ongoing = (await http.get("/api/v1/calls", params={"status": "ongoing"})).json()
    failed = (await http.get("/api/v1/calls", params={"status": "failed"})).json()
    assert [c["call_sid"] for c in everything] == [ended, second, first]
    assert [c["call_sid"] for c in ongoing] == [second, first]
    assert {c["status"] for c in ongoing} == {"ongoing"}
    assert [c["call_sid"] for c in failed] == [ended]


async def test_a_call_has_the_documented_fields_and_agrees_with_the_stream(
    sim: Simulator, http: httpx.AsyncClient
) -> None:
    sid = sim.add_call(assistant_name="Billing bot", customer_phone="+15550123")
    sim.add_segment(sid, "user", "Hello", is_final=False)
    sim.add_segment(sid, "user", "Hello there")
    sim.set_call_status(sid, "completed")
    call = (await http.get(f"/api/v1/calls/sid/{sid}")).json()
    expected = {
        "id",
        "call_sid",
        "status",
        "direction",
        "customer_phone",
        "twilio_phone",
        "assistant_id",
        "assistant_name",
        "started_at",
        "ended_at",
        "duration",
        "transcript_count",
    }
    assert expected <= set(call)
    assert (call["status"], call["assistant_name"], call["customer_phone"]) == (
        "completed",
        "Billing bot",
        "+15550123",
    )
    assert call["transcript_count"] == 1
    assert call["started_at"].endswith("Z")
    assert isinstance(call["duration"], int)


async def test_transcripts_have_ids_and_only_finals(
    sim: Simulator, http: httpx.AsyncClient
) -> None:
    sid = sim.add_call()
    sim.add_segment(sid, "user", "I", is_final=False)
    sim.add_segment(sid, "user", "I need help")
    sim.add_segment(sid, "assistant", "Sure", confidence=None)
    rows = (await http.get(f"/api/v1/calls/sid/{sid}/transcripts")).json()
    call_id = (await http.get(f"/api/v1/calls/sid/{sid}")).json()["id"]
    assert [r["content"] for r in rows] == ["I need help", "Sure"]
    assert all(
        {"id", "call_id", "speaker", "content", "is_final", "confidence", "timestamp", "created_at"}
        <= set(r)
        for r in rows
    )
    assert rows[0]["id"] < rows[1]["id"]
    assert {r["call_id"] for r in rows} == {call_id}
    assert rows[1]["confidence"] is None


async def test_campaigns_and_their_progress_agree_with_the_stream(
    sim: Simulator, http: httpx.AsyncClient
) -> None:
    cid = sim.add_campaign(name="Renewals", contacts=4)
    sim.advance_campaign(cid, "success")
    sim.advance_campaign(cid, "failed")
    done = sim.add_campaign(name="Old", contacts=1)
    sim.advance_campaign(done, "success")
    running = (await http.get("/api/v1/campaigns", params={"status": "running"})).json()
    campaign = (await http.get(f"/api/v1/campaigns/{cid}")).json()
    progress = (await http.get(f"/api/v1/campaigns/{cid}/progress")).json()
    assert [c["id"] for c in running] == [cid]
    assert (campaign["name"], campaign["campaign_type"], campaign["status"]) == (
        "Renewals",
        "call",
        "running",
    )
    assert (campaign["total_contacts"], campaign["completed_contacts"]) == (4, 1)
    assert campaign["failed_contacts"] == 1
    assert progress["progress"] == {
        "total_contacts": 4,
        "completed": 1,
        "failed": 1,
        "processing": 1,
        "pending": 1,
        "progress_percentage": 50.0,
        "success_rate": 50.0,
    }
    assert set(progress["metrics"]) == {
        "total_duration_seconds",
        "average_duration_seconds",
        "success_rate",
        "answer_rate",
        "completion_rate",
        "cost_estimate",
        "actual_cost",
        "last_updated",
    }
    assert [a["status"] for a in progress["recent_activity"]] == ["failed", "completed"]


@pytest.mark.parametrize(
    "path",
    ["/api/v1/calls/sid/CA404", "/api/v1/calls/sid/CA404/transcripts", "/api/v1/campaigns/7"],
)
async def test_a_missing_call_or_campaign_is_404_with_a_detail(
    http: httpx.AsyncClient, path: str
) -> None:
    response = await http.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert "not found" in response.json()["detail"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": KEY}])
async def test_a_bad_or_missing_key_is_401(sim: Simulator, headers: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=sim.base_url, headers=headers) as client:
        response = await client.get("/api/v1/calls")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid API key"}


async def test_unknown_paths_and_other_methods_are_refused(http: httpx.AsyncClient) -> None:
    assert (await http.get("/api/v1/nothing")).status_code == 404
    assert (await http.post("/api/v1/calls/")).status_code == 405


async def test_skip_and_limit_page_through_a_list(sim: Simulator, http: httpx.AsyncClient) -> None:
    sids = [sim.add_call() for _ in range(5)]
    window = (await http.get("/api/v1/calls", params={"skip": 1, "limit": 2})).json()
    assert [c["call_sid"] for c in window] == [sids[3], sids[2]]
    assert (await http.get("/api/v1/calls", params={"limit": "x"})).status_code == 422


async def test_the_page_shape_wraps_items_with_counts() -> None:
    async with Simulator(api_key=KEY, autoplay=False, list_shape="page") as sim:
        for _ in range(3):
            sim.add_call()
        async with httpx.AsyncClient(base_url=sim.base_url, headers=AUTH) as http:
            page = (await http.get("/api/v1/calls", params={"limit": 2})).json()
    assert set(page) == {"items", "total", "skip", "limit"}
    assert (len(page["items"]), page["total"], page["skip"], page["limit"]) == (2, 3, 0, 2)


async def test_oss_lists_redirect_to_a_trailing_slash_and_timestamps_are_naive() -> None:
    async with Simulator(api_key=KEY, autoplay=False, oss_quirks=True) as sim:
        sid = sim.add_call()
        async with httpx.AsyncClient(base_url=sim.base_url, headers=AUTH) as http:
            redirect = await http.get("/api/v1/calls", params={"status": "ongoing"})
            followed = await http.get(
                "/api/v1/calls", params={"status": "ongoing"}, follow_redirects=True
            )
            campaigns = await http.get("/api/v1/campaigns")
            call = (await http.get(f"/api/v1/calls/sid/{sid}")).json()
    assert redirect.status_code == 307
    assert redirect.headers["location"] == f"{sim.base_url}/api/v1/calls/?status=ongoing"
    assert campaigns.status_code == 307
    assert [c["call_sid"] for c in followed.json()] == [sid]
    assert not call["started_at"].endswith("Z")
