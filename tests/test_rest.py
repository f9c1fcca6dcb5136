"""The Burki REST client over real sockets: the simulator for the happy paths, a
small scripted server on 127.0.0.1 for every failure the simulator does not make."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.conftest import SIM_KEY
from webapp.simulator import Simulator
from webapp.wire.events import Progress, Transcript
from webapp.wire.rest import (
    BadResponse,
    BurkiRest,
    CallSummary,
    CampaignSummary,
    NetworkError,
    NotFound,
    RateLimited,
    RestError,
    ServerError,
    Unauthorized,
)

KEY = "live-key-7d3f0a9b2c4e6f81"


# -- a scripted server: each path answers what the test says ----------------------------


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    text: str | None = None  # a non-JSON body
    hold: bool = False  # never answer (until the server stops)


@dataclass
class Seen:
    path: str
    raw_path: bytes
    query: str
    authorization: str | None


class Scripted:
    """A Starlette app that checks the key like Burki, then answers from a script."""

    def __init__(self, key: str = KEY) -> None:
        self.key = key
        self.replies: dict[str, Reply] = {}
        self.seen: list[Seen] = []
        self.release = asyncio.Event()
        self.app = Starlette(routes=[Route("/{path:path}", self.handle)])

    async def handle(self, request: Request) -> Response:
        auth = request.headers.get("authorization")
        raw = request.scope.get("raw_path") or b""
        self.seen.append(Seen(request.url.path, raw, request.url.query, auth))
        reply = self.replies.get(request.url.path)
        if reply is None:
            return JSONResponse({"detail": "Not Found"}, 404)
        if auth != f"Bearer {self.key}" and reply.status != 307:
            return JSONResponse({"detail": "Invalid API key"}, 401)
        if reply.hold:
            await self.release.wait()
        if reply.text is not None:
            return PlainTextResponse(reply.text, reply.status, headers=reply.headers)
        if reply.status == 307:
            return RedirectResponse(reply.headers["location"], 307)
        return JSONResponse(reply.body, reply.status, headers=reply.headers)


@contextlib.asynccontextmanager
async def serve(app: Callable[..., Awaitable[None]]) -> AsyncIterator[str]:
    """Run ``app`` under uvicorn on a free port of 127.0.0.1; yield its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.005)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest.fixture
async def scripted() -> AsyncIterator[tuple[Scripted, str]]:
    script = Scripted()
    async with serve(script.app) as url:
        try:
            yield script, url
        finally:
            script.release.set()


def client(url: str, timeout: float = 5.0, key: str = KEY) -> BurkiRest:
    return BurkiRest(url, key, timeout=timeout)


CALL_PATH = "/api/v1/calls/sid/CA1"


# -- happy paths, against the simulator --------------------------------------------------


async def test_ongoing_calls_are_listed_with_their_dashboard_fields(sim: Simulator) -> None:
    sid = sim.add_call(assistant_name="Front desk", customer_phone="+15550123")
    sim.add_call(status="completed")
    async with BurkiRest(sim.base_url, SIM_KEY) as rest:
        calls = await rest.list_calls(status="ongoing")
    assert [c.call_sid for c in calls] == [sid]
    call = calls[0]
    assert (call.status, call.assistant_name, call.customer_phone) == (
        "in-progress",  # Burki's "ongoing": one word for a call that is on
        "Front desk",
        "••••0123",  # a caller's number is labelled where it is read (REDACTION_CALLER_NUMBERS)
    )
    assert call.started_at is not None and call.started_at.tzinfo is UTC


@pytest.mark.parametrize("shape", ["list", "page"])
async def test_lists_accept_a_bare_list_and_a_page(shape: Any) -> None:
    async with Simulator(api_key=SIM_KEY, autoplay=False, list_shape=shape) as sim:
        sid = sim.add_call()
        cid = sim.add_campaign(name="Renewals", dialect="C", contacts=20)
        async with BurkiRest(sim.base_url, SIM_KEY) as rest:
            calls = await rest.list_calls()
            campaigns = await rest.list_campaigns()
    assert [c.call_sid for c in calls] == [sid]
    assert [(c.id, c.name, c.status, c.total_contacts) for c in campaigns] == [
        (cid, "Renewals", "running", 20)
    ]


async def test_open_source_list_redirect_is_followed_with_the_key(oss_sim: Simulator) -> None:
    sid = oss_sim.add_call()
    async with BurkiRest(oss_sim.base_url, SIM_KEY) as rest:
        assert [c.call_sid for c in await rest.list_calls()] == [sid]
        with pytest.raises(NotFound):  # the open-source server has no campaigns
            await rest.list_campaigns()


async def test_call_by_sid_and_its_transcripts(sim: Simulator) -> None:
    sid = sim.add_call()
    sim.add_segment(sid, "assistant", "Hello, how can I help?")
    sim.add_segment(sid, "user", "My order is late", is_final=True)
    async with BurkiRest(sim.base_url, SIM_KEY) as rest:
        call = await rest.call(sid)
        segments = await rest.transcripts(sid)
    assert (call.call_sid, call.status) == (sid, "in-progress")
    assert [(s.speaker, s.content, s.call_sid) for s in segments] == [
        ("assistant", "Hello, how can I help?", sid),
        ("user", "My order is late", sid),
    ]
    assert all(isinstance(s, Transcript) and s.created_at is not None for s in segments)


async def test_naive_open_source_timestamps_read_as_utc(oss_sim: Simulator) -> None:
    sid = oss_sim.add_call()
    oss_sim.add_segment(sid, "user", "hi")
    async with BurkiRest(oss_sim.base_url, SIM_KEY) as rest:
        (segment,) = await rest.transcripts(sid)
        call = await rest.call(sid)
    assert segment.created_at is not None and segment.created_at.tzinfo is UTC
    assert call.started_at is not None and call.started_at.tzinfo is UTC


async def test_campaign_and_its_progress(sim: Simulator) -> None:
    cid = sim.add_campaign(name="Renewals", dialect="C", contacts=20)
    sim.advance_campaign(cid, outcome="success")
    sim.advance_campaign(cid, outcome="success")
    sim.advance_campaign(cid, outcome="failed")
    async with BurkiRest(sim.base_url, SIM_KEY) as rest:
        campaign = await rest.campaign(cid)
        progress = await rest.campaign_progress(cid)
    assert (campaign.id, campaign.name, campaign.total_contacts) == (cid, "Renewals", 20)
    assert isinstance(progress, Progress)
    assert (progress.campaign_id, progress.status) == (cid, "running")
    counters = progress.counters
    assert (counters.total, counters.completed, counters.successful, counters.failed) == (
        20,
        3,
        2,
        1,
    )
    assert counters.success_rate == pytest.approx(200 / 3)
    assert counters.percent_done == pytest.approx(15.0)
    assert {c.outcome for c in progress.contacts} <= {"success", "failed"}
    assert len(progress.contacts) >= 1


async def test_call_exists_tells_a_missing_call_from_a_present_one(sim: Simulator) -> None:
    sid = sim.add_call()
    async with BurkiRest(sim.base_url, SIM_KEY) as rest:
        assert await rest.call_exists(sid) is True
        assert await rest.call_exists("CA" + "f" * 32) is False


async def test_simulator_refuses_a_wrong_key_as_unauthorized(sim: Simulator) -> None:
    async with BurkiRest(sim.base_url, "not-the-key") as rest:
        with pytest.raises(Unauthorized) as caught:
            await rest.list_calls()
        assert await rest.call_exists("CA" + "f" * 32) is None
    assert caught.value.status == 401


async def test_unknown_call_and_campaign_are_not_found(sim: Simulator) -> None:
    async with BurkiRest(sim.base_url, SIM_KEY) as rest:
        with pytest.raises(NotFound):
            await rest.call("CA" + "e" * 32)
        with pytest.raises(NotFound):
            await rest.transcripts("CA" + "e" * 32)
        with pytest.raises(NotFound):
            await rest.campaign_progress(999)


# -- shapes and tolerance, against the scripted server -------------------------------------


async def test_list_rows_missing_their_id_or_not_objects_are_dropped(
    scripted: tuple[Scripted, str],
) -> None:
    script, url = scripted
    script.replies["/api/v1/calls"] = Reply(
        body={"items": [{"call_sid": "CA1"}, {"status": "ongoing"}, 7, None], "total": 4}
    )
    script.replies["/api/v1/campaigns"] = Reply(body=[{"id": 3}, {"name": "no id"}, "x"])
    async with client(url) as rest:
        assert await rest.list_calls() == [CallSummary(call_sid="CA1")]
        assert await rest.list_campaigns() == [CampaignSummary(id=3)]


async def test_summaries_tolerate_wrong_typed_fields(scripted: tuple[Scripted, str]) -> None:
    script, url = scripted
    row = {
        "call_sid": "CA1",
        "status": 5,
        "duration": "long",
        "transcript_count": True,
        "started_at": "not a time",
        "assistant": {"name": "Nested bot"},
    }
    script.replies[CALL_PATH] = Reply(body=row)
    async with client(url) as rest:
        assert await rest.call("CA1") == CallSummary(call_sid="CA1", assistant_name="Nested bot")


async def test_list_query_carries_status_skip_and_limit(scripted: tuple[Scripted, str]) -> None:
    script, url = scripted
    script.replies["/api/v1/calls"] = Reply(body=[])
    script.replies["/api/v1/campaigns"] = Reply(body=[])
    async with client(url) as rest:
        await rest.list_calls()
        await rest.list_campaigns(status=None, skip=50, limit=10)
    assert [s.query for s in script.seen] == [
        "status=ongoing&skip=0&limit=100",
        "skip=50&limit=10",
    ]


async def test_same_origin_redirect_keeps_the_authorization_header(
    scripted: tuple[Scripted, str],
) -> None:
    script, url = scripted
    script.replies["/api/v1/calls"] = Reply(
        307, headers={"location": f"{url}/api/v1/calls/?status=ongoing&skip=0&limit=100"}
    )
    script.replies["/api/v1/calls/"] = Reply(body=[{"call_sid": "CA1"}])
    async with client(url) as rest:
        assert [c.call_sid for c in await rest.list_calls()] == ["CA1"]
    assert [(s.path, s.authorization) for s in script.seen] == [
        ("/api/v1/calls", f"Bearer {KEY}"),
        ("/api/v1/calls/", f"Bearer {KEY}"),
    ]


async def test_redirect_to_another_origin_drops_the_key_and_says_so(
    scripted: tuple[Scripted, str],
) -> None:
    script, url = scripted
    elsewhere = Scripted()
    elsewhere.replies["/api/v1/calls/"] = Reply(body=[])
    async with serve(elsewhere.app) as other:
        script.replies["/api/v1/calls"] = Reply(307, headers={"location": f"{other}/api/v1/calls/"})
        async with client(url) as rest:
            with pytest.raises(Unauthorized, match="another origin"):
                await rest.list_calls()
    assert [s.authorization for s in elsewhere.seen] == [None]


async def test_an_id_stays_one_path_segment(scripted: tuple[Scripted, str]) -> None:
    script, url = scripted
    async with client(url) as rest:
        with pytest.raises(NotFound):
            await rest.call("../../campaigns")
    (seen,) = script.seen
    assert seen.raw_path == b"/api/v1/calls/sid/%2E%2E%2F%2E%2E%2Fcampaigns"


async def test_transcripts_drop_unusable_rows_and_keep_the_rest(
    scripted: tuple[Scripted, str],
) -> None:
    script, url = scripted
    rows = [
        {"id": 1, "speaker": "user", "content": "hi", "timestamp": "2025-08-01T10:00:00"},
        {"id": 2, "speaker": "system", "content": "prompt"},
        {"id": 3, "speaker": "assistant", "content": 5},
        {"id": 4, "speaker": "assistant", "content": "hello", "is_final": False},
    ]
    script.replies[f"{CALL_PATH}/transcripts"] = Reply(body={"items": rows})
    async with client(url) as rest:
        segments = await rest.transcripts("CA1")
    assert [(s.speaker, s.content, s.is_final) for s in segments] == [
        ("user", "hi", True),
        ("assistant", "hello", False),
    ]
    assert segments[0].at == datetime(2025, 8, 1, 10, tzinfo=UTC)


async def test_flat_progress_body_of_older_servers_is_read_as_dialect_b(
    scripted: tuple[Scripted, str],
) -> None:
    script, url = scripted
    body = {
        "campaign_id": 4,
        "status": "running",
        "total_contacts": 10,
        "completed_contacts": 3,
        "failed_contacts": 1,
        "pending_contacts": 5,
        "in_progress_contacts": 1,
    }
    script.replies["/api/v1/campaigns/4/progress"] = Reply(body=body)
    async with client(url) as rest:
        progress = await rest.campaign_progress(4)
    assert (progress.campaign_id, progress.status) == (4, "running")
    assert (progress.counters.completed, progress.counters.successful) == (4, 3)


async def test_progress_without_a_campaign_id_gets_the_one_asked_for(
    scripted: tuple[Scripted, str],
) -> None:
    script, url = scripted
    body = {"progress": {"total_contacts": 2, "completed": 1, "failed": 0}, "metrics": {}}
    script.replies["/api/v1/campaigns/8/progress"] = Reply(body=body)
    async with client(url) as rest:
        assert (await rest.campaign_progress(8)).campaign_id == 8


# -- failures -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (404, NotFound),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (403, RestError),
        (422, RestError),
    ],
)
async def test_error_status_raises_its_own_error(
    scripted: tuple[Scripted, str], status: int, kind: type[RestError]
) -> None:
    script, url = scripted
    script.replies[CALL_PATH] = Reply(status, body={"detail": "nope"})
    async with client(url) as rest:
        with pytest.raises(kind) as caught:
            await rest.call("CA1")
    assert type(caught.value) is kind
    assert caught.value.status == status
    assert str(status) in str(caught.value) and CALL_PATH in str(caught.value)


async def test_wrong_key_is_unauthorized(scripted: tuple[Scripted, str]) -> None:
    script, url = scripted
    script.replies[CALL_PATH] = Reply(body={"call_sid": "CA1"})
    async with client(url, key="wrong-key-123") as rest:
        with pytest.raises(Unauthorized, match=r"401.*API key may be wrong") as caught:
            await rest.call("CA1")
    assert caught.value.status == 401


@pytest.mark.parametrize(
    ("header", "expected"),
    [({"Retry-After": "7"}, 7.0), ({"Retry-After": "soon"}, None), ({}, None)],
)
async def test_rate_limit_carries_retry_after_in_seconds(
    scripted: tuple[Scripted, str], header: dict[str, str], expected: float | None
) -> None:
    script, url = scripted
    script.replies["/api/v1/campaigns"] = Reply(429, body={"detail": "Too many"}, headers=header)
    async with client(url) as rest:
        with pytest.raises(RateLimited) as caught:
            await rest.list_campaigns()
    assert (caught.value.status, caught.value.retry_after) == (429, expected)


async def test_rate_limit_retry_after_as_an_http_date(scripted: tuple[Scripted, str]) -> None:
    script, url = scripted
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    script.replies["/api/v1/campaigns"] = Reply(429, headers={"Retry-After": when})
    async with client(url) as rest:
        with pytest.raises(RateLimited) as caught:
            await rest.list_campaigns()
    assert caught.value.retry_after is not None and 100 < caught.value.retry_after <= 120


@pytest.mark.parametrize(
    "reply",
    [
        Reply(text="<html>gateway</html>"),
        Reply(body={"calls": []}),
        Reply(body="a string"),
    ],
    ids=["not-json", "object-without-items", "string"],
)
async def test_list_body_of_the_wrong_shape_is_bad_response(
    scripted: tuple[Scripted, str], reply: Reply
) -> None:
    script, url = scripted
    script.replies["/api/v1/calls"] = reply
    async with client(url) as rest:
        with pytest.raises(BadResponse):
            await rest.list_calls()


async def test_one_call_body_that_is_a_list_is_bad_response(
    scripted: tuple[Scripted, str],
) -> None:
    script, url = scripted
    script.replies[CALL_PATH] = Reply(body=[])
    async with client(url) as rest:
        with pytest.raises(BadResponse):
            await rest.call("CA1")


async def test_unusable_progress_is_bad_response(scripted: tuple[Scripted, str]) -> None:
    script, url = scripted
    script.replies["/api/v1/campaigns/4/progress"] = Reply(body={"progress": {"failed": -1}})
    async with client(url) as rest:
        with pytest.raises(BadResponse, match="unusable progress"):
            await rest.campaign_progress(4)


async def test_refused_connection_is_a_network_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with client(f"http://127.0.0.1:{port}") as rest:
        with pytest.raises(NetworkError) as caught:
            await rest.list_calls()
        assert await rest.call_exists("CA1") is None
    assert caught.value.status is None


async def test_slow_endpoint_times_out_as_a_network_error(scripted: tuple[Scripted, str]) -> None:
    script, url = scripted
    script.replies[CALL_PATH] = Reply(hold=True)
    async with client(url, timeout=0.3) as rest:
        with pytest.raises(NetworkError, match=r"no answer within 0\.3 s"):
            await rest.call("CA1")


@contextlib.asynccontextmanager
async def dripping() -> AsyncIterator[str]:
    """A raw server that answers 200 and then sends its body one byte every 50 ms."""
    handlers: set[asyncio.Task[None]] = set()

    async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n")
        writer.write(b"content-length: 1000\r\n\r\n[")
        with contextlib.suppress(ConnectionError):
            for _ in range(999):
                await writer.drain()
                await asyncio.sleep(0.05)
                writer.write(b" ")
        writer.close()

    server = await asyncio.start_server(drip, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}"
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)


async def test_timeout_bounds_the_whole_request_not_each_read() -> None:
    async with dripping() as url, client(url, timeout=0.4) as rest:
        with pytest.raises(NetworkError, match="no answer within"):
            await rest.list_calls()


@pytest.mark.parametrize(
    ("status", "expected"), [(200, True), (404, False), (403, None), (401, None), (500, None)]
)
async def test_call_exists_answers_only_what_the_status_proves(
    scripted: tuple[Scripted, str], status: int, expected: bool | None
) -> None:
    script, url = scripted
    script.replies[CALL_PATH] = Reply(status, body={"call_sid": "CA1"})
    async with client(url) as rest:
        assert await rest.call_exists("CA1") is expected


# -- the key stays secret -------------------------------------------------------------------


async def test_the_key_travels_only_in_the_authorization_header(
    scripted: tuple[Scripted, str],
) -> None:
    script, url = scripted
    script.replies["/api/v1/calls"] = Reply(body=[])
    script.replies[CALL_PATH] = Reply(body={"call_sid": "CA1"})
    async with client(url) as rest:
        await rest.list_calls()
        await rest.call("CA1")
    assert all(KEY not in s.query and KEY not in s.path for s in script.seen)
    assert {s.authorization for s in script.seen} == {f"Bearer {KEY}"}


async def test_no_key_sends_no_authorization_header(scripted: tuple[Scripted, str]) -> None:
    script, url = scripted
    async with client(url, key="") as rest:
        assert await rest.call_exists("CA1") is False
    assert [s.authorization for s in script.seen] == [None]


@contextlib.asynccontextmanager
async def raw_http(status_line: str) -> AsyncIterator[str]:
    """A raw server answering every request with ``status_line`` (any reason phrase)."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(f"{status_line}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".encode())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("status", [401, 404, 429, 500, 418])
async def test_error_messages_never_show_the_key_even_when_burki_echoes_it(status: int) -> None:
    async with raw_http(f"HTTP/1.1 {status} bad key {KEY}") as url, client(url) as rest:
        with pytest.raises(RestError) as caught:
            await rest.list_calls()
    assert caught.value.status == status
    assert KEY not in str(caught.value)
    assert "[redacted]" in str(caught.value)
