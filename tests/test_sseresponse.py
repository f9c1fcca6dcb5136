"""The lean SSE response: headers, chunks in order, the end, a leaving client, a stalled one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager

import httpx
import uvicorn
from starlette.types import Message, Receive, Scope, Send

from tests.live import wait_started
from webapp.delivery.sseresponse import StreamResponse


class Source:
    """Chunks handed out one by one as the test feeds them; knows when it was closed."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.closed = asyncio.Event()
        self.stalls = 0

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        try:
            while (chunk := await self.queue.get()) is not None:
                yield chunk
        finally:
            self.closed.set()

    def response(self, stall_timeout: float = 5.0) -> StreamResponse:
        return StreamResponse(self.chunks(), stall_timeout=stall_timeout, on_stall=self.stalled)

    def stalled(self) -> None:
        self.stalls += 1


@asynccontextmanager
async def serving(source: Source) -> AsyncIterator[str]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await source.response()(scope, receive, send)

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="off")
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    await wait_started(server, task)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}/"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def test_headers_come_at_once_then_each_chunk_in_order_then_the_end() -> None:
    source = Source()
    async with (
        serving(source) as url,
        httpx.AsyncClient() as client,
        client.stream("GET", url) as response,
    ):
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-accel-buffering"] == "no"
        chunks = response.aiter_raw()
        for chunk in (b"data: 1\n\n", b"data: 2\n\n"):
            source.queue.put_nowait(chunk)
            assert await anext(chunks) == chunk
        source.queue.put_nowait(None)
        assert [chunk async for chunk in chunks] == []
    assert source.closed.is_set() and source.stalls == 0


async def test_a_client_that_leaves_closes_the_chunks_it_was_reading() -> None:
    source = Source()
    async with serving(source) as url, httpx.AsyncClient() as client:
        async with client.stream("GET", url) as response:
            source.queue.put_nowait(b"data: 1\n\n")
            assert await anext(response.aiter_raw()) == b"data: 1\n\n"
        await asyncio.wait_for(source.closed.wait(), 5)
    assert source.stalls == 0


async def test_a_write_the_client_never_accepts_is_cut_after_the_stall_timeout() -> None:
    source = Source()
    source.queue.put_nowait(b"data: stuck\n\n")
    never = asyncio.Event()

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            await never.wait()  # a socket whose buffers are full: the write never returns

    async def receive() -> Message:
        await never.wait()
        return {"type": "http.disconnect"}

    scope: Scope = {"type": "http"}
    await asyncio.wait_for(source.response(stall_timeout=0.05)(scope, receive, send), 5)
    assert source.stalls == 1 and source.closed.is_set()


async def test_the_stall_watchdog_runs_only_while_a_write_is_under_way() -> None:
    """An idle viewer holds no watchdog timer; the next write starts it again."""
    source = Source()
    response = source.response(stall_timeout=0.05)
    sent: asyncio.Queue[bytes] = asyncio.Queue()
    gone = asyncio.Event()

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            sent.put_nowait(message["body"])

    async def receive() -> Message:
        await gone.wait()
        return {"type": "http.disconnect"}

    serving = asyncio.create_task(response({"type": "http"}, receive, send))
    source.queue.put_nowait(b"data: 1\n\n")
    assert await asyncio.wait_for(sent.get(), 5) == b"data: 1\n\n"
    assert response._watchdog is not None  # armed by the write
    await asyncio.sleep(0.1)  # the watchdog fires once, finds no write under way, and stops
    assert response._watchdog is None
    source.queue.put_nowait(b"data: 2\n\n")
    assert await asyncio.wait_for(sent.get(), 5) == b"data: 2\n\n"
    assert response._watchdog is not None
    gone.set()
    await asyncio.wait_for(serving, 5)
    assert source.stalls == 0
