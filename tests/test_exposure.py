"""What leaks through side doors: tokens in logs, webhook URLs, links built from a forged Host,
counts on an anonymous probe."""

from __future__ import annotations

import json
import logging
import re

import httpx
import pytest

from tests.live import running_app
from webapp.access.users import Role
from webapp.logs import mask_query_tokens
from webapp.simulator import Simulator

SLACK = "https://hooks.slack.com/services/T0AAA/B0BBB/PathSecret0123456789"


async def test_embed_tokens_are_masked_in_the_access_log(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live, httpx.AsyncClient() as client:
        token = live.state.access.embeds.mint("call", sid, 3600, "test").token
        with caplog.at_level(logging.INFO, logger="uvicorn.access"):
            page = await client.get(f"{live.url}/embed/calls/{sid}?token={token}")
            assert page.status_code == 200
            link = live.state.access.links.issue("a", Role.ADMIN)
            await client.get(live.url + link)
        lines = [record.getMessage() for record in caplog.records]
        assert any(f"/embed/calls/{sid}?token=[redacted]" in line for line in lines), lines
        assert token not in caplog.text
        assert link.partition("token=")[2] not in caplog.text


def test_query_tokens_are_masked_wherever_they_stand() -> None:
    line = 'GET /embed/live/call/call/CA1?last_event_id=4&token=abc.def-ghi HTTP/1.1" 200'
    assert mask_query_tokens(line) == (
        'GET /embed/live/call/call/CA1?last_event_id=4&token=[redacted] HTTP/1.1" 200'
    )
    assert mask_query_tokens("/signin/link?token=xyz") == "/signin/link?token=[redacted]"
    assert mask_query_tokens("/calls/CA1?tokens=1") == "/calls/CA1?tokens=1"


async def test_webhook_urls_show_scheme_host_and_hash_only(sim: Simulator) -> None:
    hooks = json.dumps([{"url": SLACK, "secret": "a webhook secret of some length"}])
    async with running_app(sim, webhook_endpoints=hooks) as live, live.client() as admin:
        for path in ("/admin", "/metrics"):
            text = (await admin.get(live.url + path)).text
            assert "hooks.slack.com" in text, path
            assert "PathSecret" not in text and "/services/" not in text, path


async def test_admin_embed_links_ignore_a_forged_host(sim: Simulator) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live, live.client() as admin:
        link = await make_link(live.url, admin, sid, host="evil.example")
        assert link.startswith("/embed/calls/") and "evil.example" not in link
        assert (await make_link(live.url, admin, sid)).startswith(f"{live.url}/embed/calls/")
    public = {"dashboard_public_url": "https://live.example.com/"}
    async with running_app(sim, **public) as live, live.client() as admin:
        link = await make_link(live.url, admin, sid, host="evil.example")
        assert link.startswith("https://live.example.com/embed/calls/")


async def make_link(base: str, admin: httpx.AsyncClient, sid: str, host: str = "") -> str:
    page = (await admin.get(f"{base}/admin")).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf
    form = {"kind": "call", "ident": sid, "ttl": "1h", "csrf": csrf[1]}
    headers = {"Host": host} if host else {}
    made = await admin.post(f"{base}/admin/embed-link", data=form, headers=headers)
    link = re.search(r'class="embed-link">([^<]+)<', made.text)
    assert made.status_code == 200 and link
    return link[1].replace("&amp;", "&")


async def test_readyz_tells_strangers_no_counts(sim: Simulator) -> None:
    sid = sim.add_call()
    async with (
        running_app(sim) as live,
        live.client(Role.SUPERVISOR) as viewer,
        viewer.stream("GET", f"{live.url}/api/calls/{sid}/events") as stream,
        httpx.AsyncClient() as stranger,
    ):
        assert stream.status_code == 200
        ready = await stranger.get(f"{live.url}/readyz")
        assert ready.status_code == 200 and ready.json() == {"status": "ready"}
