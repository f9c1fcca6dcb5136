"""What leaks through side doors: tokens in logs, webhook URLs, links built from a forged Host,
counts on an anonymous probe."""

from __future__ import annotations

import json
import logging
import re

import httpx
import pytest

from tests.live import Viewer, is_event, running_app
from tests.receiver import receiving
from tests.test_access import paths
from tests.test_alerts_live import endpoints
from tests.test_secrecy import body_start
from webapp.access.users import Role
from webapp.logs import mask_query_tokens
from webapp.simulator import Simulator
from webapp.wire.caller import caller_label

SLACK = "https://hooks.slack.com/services/T0AAA/B0BBB/PathSecret0123456789"


async def test_embed_tokens_are_masked_in_the_access_log(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live, httpx.AsyncClient() as client:
        token = (await live.state.access.embeds.mint("call", sid, 3600, "test")).token
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


CALLER = "+1 415 867 5309"


def caller_leaks(text: str) -> bool:
    return re.search(r"867\D{0,3}5309", text) is not None


async def test_a_callers_number_is_shown_and_sent_as_its_last_four_digits_only(
    sim: Simulator,
) -> None:
    sid = sim.add_call(customer_phone=CALLER)
    cid = sim.add_campaign(name="Q", dialect="B", contacts=3)
    async with receiving() as receiver:
        hooks = endpoints(receiver.url, "alert", "call_status")
        async with running_app(sim, webhook_endpoints=hooks) as live:
            async with live.client(Role.SUPERVISOR, timeout=10) as supervisor:
                viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(supervisor)
                await viewer.wait_for(is_event("status", state="live"))
                status = await viewer.wait_for(lambda e: e.event == "call_status")
                assert json.loads(status.data)["metadata"]["customer_phone_number"] == "••••5309"
                shown = ""
                for role in (Role.SUPERVISOR, Role.ADMIN):
                    async with live.client(role, timeout=10) as client:
                        urls = [*paths(sid, cid).values(), f"/calls/{sid}/end", "/wallboard?tv=1"]
                        urls += [f"/calls/{sid}/transcript.json", f"/?q={CALLER[-4:]}"]
                        for url in urls:
                            raw = (await body_start(client, live.url + url)).decode()
                            assert not caller_leaks(raw), (role, url)
                            shown += raw
                link = (await live.state.access.embeds.mint("call", sid, 600, "test")).url(live.url)
                async with live.client(role=None) as client:
                    shown += (await body_start(client, link)).decode()
                sim.add_segment(sid, "user", "I will call my lawyer")  # an alert
                sim.set_call_status(sid, "completed")
                await viewer.wait_for(lambda e: e.event == "end")
                await viewer.stop()
                posted = await receiver.wait_for(3)
            for request in posted:
                assert not caller_leaks(request.body.decode()), request.body
    assert "••••5309" in shown  # the call page, the card, the end-call question
    assert "End the call with ••••5309?" in shown
    assert not caller_leaks("\n".join(str(e.data) for e in viewer.events))


async def test_the_caller_numbers_setting_shows_them_in_full_or_not_at_all(
    sim: Simulator,
) -> None:
    sid = sim.add_call(customer_phone=CALLER)
    for setting, expected in (("full", CALLER), ("hidden", "[phone]")):
        async with (
            running_app(sim, redaction_caller_numbers=setting) as live,
            live.client(Role.SUPERVISOR) as client,
        ):
            overview = (await client.get(live.url + "/")).text
            confirm = (await client.get(f"{live.url}/calls/{sid}/end")).text
        assert f"End the call with {expected}?" in confirm, setting
        assert expected in overview, setting
    assert caller_label("+1 (415) 867-5309") == "••••5309"
    assert caller_label("••••5309") == "••••5309"  # labelled twice: the same label
    assert caller_label("911") == caller_label("x", "hidden") == "[phone]"
    assert caller_label(None) == caller_label("  ") == ""
