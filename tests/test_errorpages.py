"""Errors mapped once: the same exception is a page, or the JSON the route's readers expect."""

from __future__ import annotations

from tests.live import running_app
from webapp.simulator import Simulator


async def test_a_bad_stream_id_is_a_404_page_a_404_update_stream_and_a_documented_api_400(
    sim: Simulator,
) -> None:
    async with running_app(sim) as live, live.client() as client:
        page = await client.get(live.url + "/calls/bad%20id")
        export = await client.get(live.url + "/calls/bad%20id/transcript.txt")
        updates = await client.get(live.url + "/live/call/call/bad%20id")
        api = await client.get(live.url + "/api/calls/bad%20id/events")
        assert live.hub.streams == {}
    for response in (page, export):
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert "No such page: a call id is 1 to 128" in response.text
    assert updates.status_code == 404 and updates.json()["error"] == "bad_stream_id"
    assert api.status_code == 400 and api.json()["error"] == "bad_stream_id"
    assert api.json()["message"] == updates.json()["message"]


async def test_a_closing_hub_is_a_503_page_and_a_503_api_answer(sim: Simulator) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live, live.client() as client:
        await live.hub.close()
        page = await client.get(f"{live.url}/calls/{sid}")
        board = await client.get(f"{live.url}/wallboard")
        api = await client.get(f"{live.url}/api/calls/{sid}/events")
    for response in (page, board):
        assert response.status_code == 503
        assert "The dashboard is shutting down." in response.text
    assert api.status_code == 503
    assert api.json() == {"error": "shutting_down", "message": "The dashboard is shutting down."}


async def test_an_unknown_view_of_an_update_stream_is_json_not_a_page(sim: Simulator) -> None:
    async with running_app(sim) as live, live.client() as client:
        response = await client.get(live.url + "/live/nosuch/call/CA1")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "message": "no such view"}
