"""The Burki key leaves the server in no byte, and hostile input gets a clean 4xx."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx
import pytest

from tests.conftest import SIM_KEY
from tests.live import running_app
from tests.test_access import paths
from webapp.access.users import Role
from webapp.simulator import Simulator

STATIC = Path(__file__).resolve().parent.parent / "static"
HOSTILE = [
    "../x",
    "..%2F..%2Fetc%2Fpasswd",
    "<script>alert(1)</script>",
    "A" * 10_000,
    "%00",
    "'; DROP TABLE calls; --",
    "😀ÇA",
    "%0d%0aSet-Cookie:%20x=1",
]
NOT_CAMPAIGN_IDS = ["-1", "1e9", "0", "07.5"]  # "-1" is a fine call SID: an opaque token


async def body_start(client: httpx.AsyncClient, url: str, limit: int = 64_000) -> bytes:
    """The whole body of a page, or the first frames of an endless stream."""
    async with client.stream("GET", url) as response:
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            return await response.aread() + str(response.headers).encode()
        raw = str(response.headers).encode()
        async for chunk in response.aiter_bytes():
            raw += chunk
            if len(raw) > limit or b"\n\n" in chunk:
                break
        return raw


def leaks(raw: bytes) -> bool:
    return SIM_KEY.encode() in raw or quote(SIM_KEY).encode() in raw


async def test_a_crawl_of_every_route_finds_the_key_in_no_byte_and_no_log_line(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    sid = sim.add_call()
    sim.add_segment(sid, "user", "Hello")
    cid = sim.add_campaign(name="Crawl", dialect="A", contacts=3)
    static = [f"/static/{p.relative_to(STATIC)}" for p in STATIC.rglob("*") if p.is_file()]
    with caplog.at_level(logging.DEBUG):
        async with running_app(sim) as live:
            urls = [*paths(sid, cid).values(), *static, "/signin", "/healthz", "/readyz"]
            urls += [f"/calls/CA{'0' * 32}", "/campaigns/999", f"/calls/{sid}/transcript.json"]
            urls += [f"/embed/calls/{sid}?token=forged", "/api/calls/..%2Fx/events"]
            for role in (None, Role.SUPERVISOR, Role.MANAGER, Role.ADMIN):
                async with live.client(role=role) as client:
                    for url in urls:
                        raw = await body_start(client, live.url + url)
                        assert not leaks(raw), f"{role} {url}"
            link = live.state.access.embeds.mint("call", sid, 600, "test").url(live.url)
            async with live.client(role=None) as client:
                assert not leaks(await body_start(client, link))
    assert len(caplog.records) > 20, "the crawl logged almost nothing: it would prove nothing"
    assert SIM_KEY not in caplog.text
    assert quote(SIM_KEY) not in caplog.text


async def test_hostile_values_in_paths_queries_and_forms_get_a_clean_4xx(sim: Simulator) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live, live.client() as client:
        for value in HOSTILE:
            for template in (
                "/calls/{v}",
                "/calls/{v}/captions",
                "/calls/{v}/transcript.txt",
                "/campaigns/{v}",
                "/embed/calls/{v}",
                "/live/{v}/call/" + sid,
                "/live/call/{v}/x",
                "/api/calls/{v}/events",
                "/api/campaigns/{v}/events",
            ):
                response = await client.get(live.url + template.format(v=value))
                assert 400 <= response.status_code < 500, (template, value, response.status_code)
                assert b"<script>alert(1)</script>" not in response.content
        for value in NOT_CAMPAIGN_IDS:
            for template in (
                "/campaigns/{v}",
                "/api/campaigns/{v}/events",
                "/api/events?campaign={v}",
            ):
                response = await client.get(live.url + template.format(v=value))
                assert 400 <= response.status_code < 500, (template, value, response.status_code)
        for value in HOSTILE:
            for query in (
                f"/api/events?call={quote(value)}",
                f"/api/events?campaign={quote(value)}",
                f"/?q={quote(value)}&status={quote(value)}&assistant={quote(value)}",
                f"/signin?next={quote(value)}",
            ):
                response = await client.get(live.url + query)
                assert response.status_code < 500, (query, response.status_code)
                assert b"<script>alert(1)</script>" not in response.content
            raw = value.encode()  # headers go as bytes: hostile ones need not be ASCII
            for header in ({"Last-Event-ID": raw[:4000]}, {"Last-Event-ID": raw[:200] + b",x=1"}):
                async with client.stream(
                    "GET", f"{live.url}/api/calls/{sid}/events", headers=header
                ) as response:
                    assert response.status_code == 200
                    first = await anext(response.aiter_bytes())
                    assert first.startswith(b"id: ") and b"event: reset" in first
            form = {"name": value, "password": value, "csrf": value, "next": value}
            response = await client.post(f"{live.url}/signin", data=form)
            too_large = len(urlencode(form)) > 16_384  # DASHBOARD_MAX_FORM_BYTES: never read
            assert response.status_code == (413 if too_large else 403), value
