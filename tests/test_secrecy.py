"""The Burki key leaves the server in no byte, and hostile input gets a clean 4xx."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx
import pytest

from tests.conftest import SIM_KEY
from tests.live import Viewer, is_event, running_app
from tests.receiver import receiving
from tests.test_access import paths
from tests.test_alerts_live import endpoints
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
            link = (await live.state.access.embeds.mint("call", sid, 600, "test")).url(live.url)
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


class _Keep(logging.Handler):
    """Keeps every record's final text, traceback included."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def every_logger_at_debug() -> Iterator[_Keep]:
    """Every logger that exists (websockets, httpx, httpcore, uvicorn, ours) at debug, enabled,
    and recorded, those that do not propagate too; loggers made later inherit the root's."""
    keep, root = _Keep(), logging.getLogger()
    loggers = [
        root,
        *(v for v in root.manager.loggerDict.values() if isinstance(v, logging.Logger)),
    ]
    saved = [(logger, logger.level, logger.disabled) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
        if logger is root or not logger.propagate:
            logger.addHandler(keep)
    try:
        yield keep
    finally:
        for logger, level, disabled in saved:
            logger.setLevel(level)
            logger.disabled = disabled
            logger.removeHandler(keep)


async def test_no_transcript_text_and_no_key_reach_any_logger_at_debug(sim: Simulator) -> None:
    short, long = "Zyzzyva", "the quokka ate my marmalade lawyer"  # "lawyer": a keyword alert
    sid = sim.add_call()
    async with receiving() as receiver:
        hooks = endpoints(receiver.url, "alert", "call_status")
        async with running_app(sim, webhook_endpoints=hooks) as live:
            with every_logger_at_debug() as logs:
                async with live.client(timeout=10) as client:
                    viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
                    await viewer.wait_for(is_event("status", state="live"))
                    sim.add_segment(sid, "user", short)
                    sim.add_segment(sid, "user", long)
                    sim.add_segment(sid, "assistant", short, is_final=False)
                    # Frames whose text falls in what websockets shows of a frame at debug
                    # (a short one whole; a long one's start and end).
                    for data in ({"content": short}, {"speaker": "user", "content": long}):
                        frame = {"type": "transcript", "call_sid": sid, "data": data}
                        sim.session.broadcast(f"call:{sid}", [frame])
                    await viewer.wait_for(lambda e: e.event == "alert")
                    await receiver.wait_for(1)
                    for path in (f"/calls/{sid}", f"/calls/{sid}/transcript.txt", "/"):
                        assert (await client.get(live.url + path)).status_code == 200
                    await viewer.stop()
    text = "\n".join(logs.lines)
    names = {line.split(" ", 1)[0] for line in logs.lines}
    assert {"httpcore.http11", "httpx"} <= names, names  # REST and webhook requests did log
    assert any(name.startswith(("websockets", "webapp.wire.upstream")) for name in names), names
    assert "TEXT" in text  # the frames were logged, as their kind and size
    for planted in (short, long, "quokka", "marmalade"):
        assert planted not in text, planted
    assert SIM_KEY not in text and quote(SIM_KEY) not in text
    assert "5550100" not in text  # nor the caller's number (the end of a status frame)
