"""Server-rendered pages against a real server and simulator."""

from __future__ import annotations

from tests.live import running_app
from webapp.simulator import Simulator


async def test_the_index_lists_ongoing_calls_and_running_campaigns(sim: Simulator) -> None:
    sid = sim.add_call(assistant_name="Billing bot", customer_phone="+15550123")
    ended = sim.add_call()
    sim.set_call_status(ended, "completed")
    sim.add_campaign(name="Spring renewals", dialect="B", contacts=12)
    async with running_app(sim) as live, live.client() as client:
        page = await client.get(live.url + "/")
    assert page.status_code == 200
    assert sid in page.text
    assert ended not in page.text
    assert "Billing bot" in page.text and "••••0123" in page.text
    assert "Spring renewals" in page.text


async def test_demo_data_is_clearly_marked_only_in_demo_mode(sim: Simulator) -> None:
    async with running_app(sim) as live, live.client() as client:
        assert "Demo data" not in (await client.get(live.url + "/")).text
        live.state.demo = True
        assert "Demo data" in (await client.get(live.url + "/")).text


async def test_an_unreachable_burki_is_a_message_on_the_page_not_a_traceback(
    sim: Simulator,
) -> None:
    wrong = {"burki_api_key": "wrong-key-000"}
    async with running_app(sim, **wrong) as live, live.client() as client:
        page = await client.get(live.url + "/")
    assert page.status_code == 200
    assert 'role="alert"' in page.text
    assert "Traceback" not in page.text
    assert "wrong-key-000" not in page.text


async def test_unknown_pages_get_an_html_404_and_api_paths_a_json_one(sim: Simulator) -> None:
    async with running_app(sim) as live, live.client() as client:
        page = await client.get(live.url + "/no/such/page")
        api = await client.get(live.url + "/api/no/such")
    assert page.status_code == 404 and "Not found" in page.text
    assert page.headers["content-type"].startswith("text/html")
    assert api.status_code == 404 and api.json()["error"] == "not_found"
