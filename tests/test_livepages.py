"""Live pages over HTTP: first renders, error pages, exports, embeds, the HTML update stream."""

from __future__ import annotations

import json
import re

import pytest

from tests.live import Viewer, has_segment, running_app
from webapp.simulator import Simulator


async def test_an_unknown_call_is_a_404_page(sim: Simulator) -> None:
    async with running_app(sim) as live, live.client() as client:
        page = await client.get(f"{live.url}/calls/CA{'0' * 32}")
    assert page.status_code == 404
    assert "Burki has no call with this id" in page.text
    assert page.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    "path", ["/calls/..%2Fx", "/calls/" + "A" * 129, "/calls/...", "/campaigns/abc"]
)
async def test_bad_ids_in_page_urls_are_404_pages(sim: Simulator, path: str) -> None:
    async with running_app(sim) as live, live.client() as client:
        page = await client.get(live.url + path)
    assert page.status_code == 404
    assert "Traceback" not in page.text
    assert live.hub.streams == {}


async def test_a_refused_key_is_an_error_page_that_says_so(sim: Simulator) -> None:
    sid = sim.add_call()
    wrong = {"burki_api_key": "wrong-key-777"}
    async with running_app(sim, **wrong) as live, live.client() as client:
        page = await client.get(f"{live.url}/calls/{sid}")
    assert page.status_code == 502
    assert "refused the dashboard&#39;s API key" in page.text
    assert "wrong-key-777" not in page.text


async def test_the_call_page_renders_the_transcript_so_far_and_resumes_after_it(
    sim: Simulator,
) -> None:
    sid = sim.add_call()
    sim.add_segment(sid, "user", "Is anyone there?")
    async with running_app(sim) as live, live.client() as client:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        await viewer.wait_for(has_segment("Is anyone there?"))
        stream = next(iter(live.hub.streams.values()))
        page = await client.get(f"{live.url}/calls/{sid}")
        await viewer.stop()
    assert "Is anyone there?" in page.text
    assert f'last_event_id={stream.log.last_id}"' in page.text
    assert 'hx-sse:connect="/live/call/call/' in page.text


async def test_exports_give_the_transcript_as_text_and_json(sim: Simulator) -> None:
    sid = sim.add_call(assistant_name="Returns desk", customer_phone="+15550142")
    sim.add_segment(sid, "user", "Hello <there>")
    sim.add_segment(sid, "assistant", "Hi!")
    async with running_app(sim) as live, live.client() as client:
        text = await client.get(f"{live.url}/calls/{sid}/transcript.txt")
        data = await client.get(f"{live.url}/calls/{sid}/transcript.json")
    assert text.status_code == 200
    head, _, body = text.text.partition("\n\n")
    lines = body.splitlines()
    assert lines[0].endswith("Caller: Hello <there>") and lines[1].endswith("Assistant: Hi!")
    assert f"Call: {sid}" in head and "Caller: ••••0142" in head
    assert "Assistant: Returns desk" in head and re.search(r"Date: \d{4}-\d\d-\d\d ", head)
    assert "attachment" in text.headers["content-disposition"]
    payload = json.loads(data.text)
    assert [s["content"] for s in payload["segments"]] == ["Hello <there>", "Hi!"]


async def test_embeds_have_no_chrome(sim: Simulator) -> None:
    sid = sim.add_call()
    cid = sim.add_campaign(name="Embedded", dialect="B", contacts=3)
    async with running_app(sim) as live, live.client() as client:
        call = await client.get(f"{live.url}/embed/calls/{sid}")
        campaign = await client.get(f"{live.url}/embed/campaigns/{cid}")
    for page in (call, campaign):
        assert page.status_code == 200
        assert 'class="embed"' in page.text
        assert "Wallboard</a>" not in page.text
        assert "hx-sse:connect" in page.text
    assert "Embedded" in campaign.text


async def test_the_html_stream_sends_unnamed_html_and_ends_with_a_named_end(
    sim: Simulator,
) -> None:
    sid = sim.add_call()
    hostile = "<script>alert(1)</script>\r\nsecond line"
    async with running_app(sim) as live, live.client(timeout=10) as client:
        url = f"{live.url}/live/call/call/{sid}"
        async with client.stream("GET", url) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            raw = b""
            sent = False
            async for chunk in response.aiter_bytes():
                raw += chunk
                if not sent and b"Connected to Burki." in raw:
                    sim.add_segment(sid, "user", hostile)
                    sim.set_call_status(sid, "completed")
                    sent = True
                if raw.endswith(b"event: end\ndata: \n\n"):
                    break
    messages = raw.decode().split("\n\n")
    assert all("event:" not in m for m in messages if "hx-partial" in m)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw.decode()
    assert "<script>" not in raw.decode()
    assert "\r" not in raw.decode()
