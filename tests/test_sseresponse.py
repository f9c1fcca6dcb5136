"""The lean SSE response: headers, chunks in order, the end, a leaving client, a stalled one."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager

import httpx
import uvicorn
from starlette.types import Message, Receive, Scope, Send

from tests.live import wait_started
from webapp.delivery.protocol import DashboardConfig, HeadTimeoutProtocol
from webapp.delivery.sseresponse import DirectSink, StreamResponse, direct_sink


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


class Direct:
    """A response whose generator hands its direct path to the test, then yields what the
    test queues (the response's own writer)."""

    def __init__(self) -> None:
        self.source = Source()
        self.sink: asyncio.Future[DirectSink] = asyncio.get_running_loop().create_future()

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        sink = direct_sink()
        assert sink is not None  # our protocol serves the connection
        self.sink.set_result(sink)
        async for chunk in self.source.chunks():
            yield chunk

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            response = StreamResponse(self.chunks(), stall_timeout=5, on_stall=self.source.stalled)
            await response(scope, receive, send)


@asynccontextmanager
async def our_server(app: Direct) -> AsyncIterator[int]:
    config = DashboardConfig(
        app, host="127.0.0.1", port=0, log_config=None, lifespan="off", http=HeadTimeoutProtocol
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    await wait_started(server, task)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def reader(port: int, rcvbuf: int = 4096) -> socket.socket:
    """A viewer's socket with a small receive buffer that has sent its request and read
    nothing yet."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", port))
    await loop.sock_sendall(sock, b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
    return sock


async def read_until(sock: socket.socket, end: bytes, got: bytes = b"") -> bytes:
    loop = asyncio.get_running_loop()
    while end not in got:
        data = await asyncio.wait_for(loop.sock_recv(sock, 65536), 10)
        assert data, "the connection closed early"
        got += data
    return got


async def test_a_direct_write_the_socket_takes_part_of_reaches_the_viewer_whole_and_in_order() -> (
    None
):
    """The direct path hands a socket what it takes now; the rest waits in the transport
    (nothing more goes direct meanwhile), and the viewer gets every byte in order."""
    app = Direct()
    async with our_server(app) as port:
        sock = await reader(port)
        try:
            sink = await asyncio.wait_for(app.sink, 10)
            big = b"data: " + b"x" * 8_000_000 + b"\n\n"  # far more than the socket buffers
            assert sink.write(big) is True  # handed over: part sent, the rest waits
            assert sink.write(b"data: next\n\n") is False  # bytes wait: the writer's turn
            app.source.queue.put_nowait(b"data: next\n\n")
            got = await read_until(sock, b"data: next\n\n")
            body = got.split(b"\r\n\r\n", 1)[1]
            assert body == b"%x\r\n%b\r\n" % (len(big), big) + b"c\r\ndata: next\n\n\r\n"
        finally:
            sock.close()
        await asyncio.wait_for(app.source.closed.wait(), 10)
    assert app.source.stalls == 0


async def test_a_direct_write_to_a_connection_the_viewer_reset_ends_its_response() -> None:
    """The socket refuses the bytes (the viewer reset it): the transport hears it too, the
    connection is lost, and the response stops; nothing raises, nothing is counted stalled."""
    app = Direct()
    async with our_server(app) as port:
        sock = await reader(port)
        sink = await asyncio.wait_for(app.sink, 10)
        app.source.queue.put_nowait(b"data: 1\n\n")
        await read_until(sock, b"data: 1\n\n")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # a reset, and the write right after it meets the reset socket
        sink.write(b"data: 2\n\n")
        await asyncio.wait_for(app.source.closed.wait(), 10)
        assert sink.write(b"data: 3\n\n") is False  # the connection is gone
    assert app.source.stalls == 0
