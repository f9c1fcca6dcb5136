"""What our server relies on in uvicorn and h11, pinned over real sockets.

``webapp.delivery.protocol.HeadTimeoutProtocol`` extends uvicorn's h11 protocol, the SSE
response (``webapp.delivery.sseresponse``) writes frames straight to the connection's
transport, and ``webapp.server.DashboardServer`` ends the viewers when uvicorn shuts
down. None of that is uvicorn's public API: an upgrade that changes one of these
behaviours fails the test named after it here, instead of quietly turning a deadline,
the direct path or a prompt shutdown off.

Each test serves a small ASGI app with the dashboard's own uvicorn configuration
(``uvicorn_config``) and a recording subclass of our protocol, and talks raw HTTP/1.1
to it over 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import h11
from starlette.applications import Starlette

from tests.live import wait_started
from webapp.delivery.protocol import HeadTimeoutProtocol
from webapp.delivery.sseresponse import CONNECTION, _framed
from webapp.server import DashboardServer, uvicorn_config
from webapp.settings import Settings

App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@dataclass(frozen=True)
class Seen:
    """The h11 connection as our protocol sees it after one of uvicorn's calls returned."""

    call: str
    their_state: object  # one of h11's state sentinels
    buffered: int
    received: int  # bytes handed to data_received on this connection so far


@dataclass
class Probe:
    """What the recording protocol saw, connection by connection, as it happened."""

    protocols: list[HeadTimeoutProtocol] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    paused: asyncio.Event = field(default_factory=asyncio.Event)
    on_resume: list[Callable[[], None]] = field(default_factory=list)
    small_send_buffer: bool = False

    def note(self, protocol: HeadTimeoutProtocol, call: str, received: int) -> None:
        buffered = len(getattr(protocol.conn, "_receive_buffer", b"missing"))
        self.seen.append(Seen(call, protocol.conn.their_state, buffered, received))
        self.changed.set()

    async def until(self, check: Callable[[Seen], bool]) -> Seen:
        while True:
            for seen in self.seen:
                if check(seen):
                    return seen
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), 10)


def recording(probe: Probe) -> type[HeadTimeoutProtocol]:
    """Our protocol, telling ``probe`` what h11 holds after each of uvicorn's calls."""
    received: dict[int, int] = {}

    class Recording(HeadTimeoutProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            if probe.small_send_buffer:
                sock = transport.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
            super().connection_made(transport)
            probe.protocols.append(self)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            received[id(self)] = received.get(id(self), 0) + len(data)
            probe.note(self, "data_received", received[id(self)])

        def on_response_complete(self) -> None:
            super().on_response_complete()
            probe.note(self, "on_response_complete", received.get(id(self), 0))

        def pause_writing(self) -> None:
            super().pause_writing()
            probe.paused.set()

        def resume_writing(self) -> None:
            for hook in probe.on_resume:
                hook()
            super().resume_writing()

    return Recording


class Server(DashboardServer):
    """The dashboard's server class, noting when uvicorn calls its shutdown."""

    def __init__(self, config: Any, app: Starlette) -> None:
        super().__init__(config, app)
        self.at_shutdown: list[int] = []  # open connections when shutdown was called
        self.before_shutdown: Callable[[], None] = lambda: None

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.at_shutdown.append(len(self.server_state.connections))
        self.before_shutdown()
        await super().shutdown(sockets)


@asynccontextmanager
async def serving(app: App, probe: Probe) -> AsyncIterator[tuple[int, Server]]:
    """``app`` served the way the dashboard is served, with ``probe``'s protocol."""
    starlette = Starlette()  # what DashboardServer reads the app's state from: none here
    config = uvicorn_config(
        app,  # type: ignore[arg-type]
        Settings(),
        host="127.0.0.1",
        port=0,
        http=recording(probe),
        timeout_graceful_shutdown=5,
        lifespan="off",
    )
    server = Server(config, starlette)
    task = asyncio.create_task(server.serve())
    await wait_started(server, task)
    try:
        yield server.servers[0].sockets[0].getsockname()[1], server
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def connect(port: int, receive_buffer: int | None = None) -> Conn:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer is not None:  # before connecting, so the window is small from the start
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    return await asyncio.open_connection(sock=sock)


async def read_until(reader: asyncio.StreamReader, end: bytes) -> bytes:
    return await asyncio.wait_for(reader.readuntil(end), 10)


async def read_response(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One chunked response: its head and its body as sent (chunk framing and all)."""
    head = await read_until(reader, b"\r\n\r\n")
    return head, await read_until(reader, b"0\r\n\r\n")


async def ok(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Reads the whole body, answers its length, chunked (no content-length)."""
    size, more = 0, True
    while more:
        message = await receive()
        size, more = size + len(message.get("body", b"")), message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"%d" % size})


async def test_a_request_task_inherits_the_connection_set_while_uvicorn_parses() -> None:
    """uvicorn creates a request's task inside ``data_received`` with the context of that
    moment (no fresh context per task, ``reset_contextvars`` off): without this the SSE
    responses' direct path is silently off."""
    probe = Probe()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        transport = CONNECTION.get()
        peer = b"none" if transport is None else b"%s:%d" % _peer(transport)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": peer})

    async with serving(app, probe) as (port, _):
        reader, writer = await connect(port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        _, body = await read_response(reader)
        here = writer.get_extra_info("sockname")
        assert body == _framed(b"%s:%d" % (here[0].encode(), here[1])) + b"0\r\n\r\n"
        protocol = probe.protocols[0]
        assert protocol.transport.get_extra_info("peername") == here
        assert protocol.client == here  # what each address's share of connections counts
        writer.close()
    assert CONNECTION.get() is None  # set only while uvicorn parses


def _peer(transport: asyncio.BaseTransport) -> tuple[bytes, int]:
    host, port = transport.get_extra_info("peername")[:2]
    return host.encode(), port


async def test_a_body_send_is_framed_as_one_chunk_and_written_before_it_returns() -> None:
    """h11 frames a GET response without a length as HTTP/1.1 chunks, as ``_framed`` does,
    and uvicorn's ``send`` hands them to the transport before it returns (no buffer of its
    own): a chunk written straight to the transport between two sends arrives between
    them, and the body stays one valid chunked stream."""
    probe = Probe()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        transport = probe.protocols[-1].transport
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"one\n", "more_body": True})
        transport.write(_framed(b"two\n"))
        await send({"type": "http.response.body", "body": b"three\n", "more_body": True})
        transport.write(_framed(b"four\n"))
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async with serving(app, probe) as (port, _):
        reader, writer = await connect(port)
        writer.write(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        head, body = await read_response(reader)
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"\r\ntransfer-encoding: chunked\r\n" in head.lower()
        assert body == b"4\r\none\n\r\n4\r\ntwo\n\r\n6\r\nthree\n\r\n5\r\nfour\n\r\n0\r\n\r\n"
        client = h11.Connection(h11.CLIENT)
        client.send(h11.Request(method="GET", target="/events", headers=[("Host", "x")]))
        client.send(h11.EndOfMessage())
        client.receive_data(head + body)
        data = b""
        while not isinstance(event := client.next_event(), h11.EndOfMessage):
            data += event.data if isinstance(event, h11.Data) else b""
        assert data == b"one\ntwo\nthree\nfour\n"
        writer.close()


async def test_h11_says_idle_and_buffers_a_head_until_it_is_whole_then_send_body() -> None:
    """The head and body deadlines read h11's state (IDLE while a head is incomplete,
    SEND_BODY while a body is due) and its private ``_receive_buffer`` (the bytes of an
    incomplete head) after uvicorn's ``data_received`` returns."""
    probe = Probe()
    async with serving(ok, probe) as (port, _):
        reader, writer = await connect(port)
        sent = 0
        for piece in (b"POST / HTTP/1.1\r\nHost: x\r\n", b"Content-Length: 10\r\n"):
            writer.write(piece)
            sent += len(piece)
            seen = await probe.until(lambda s, n=sent: s.received == n)
            assert (seen.their_state, seen.buffered) == (h11.IDLE, sent)
        writer.write(b"\r\nabc")
        seen = await probe.until(lambda s, n=sent + 5: s.received == n)
        assert seen.their_state is h11.SEND_BODY
        writer.write(b"defghij")
        _, body = await read_response(reader)
        assert body == b"2\r\n10\r\n0\r\n\r\n"
        writer.close()


async def test_a_pipelined_partial_head_waits_in_h11s_buffer_once_a_response_is_out() -> None:
    """uvicorn reads a pipelined request with the one before it and calls
    ``on_response_complete`` when the first response is out, h11 then holding the second
    head's bytes: our override puts them on the head clock from there."""
    probe = Probe()
    async with serving(ok, probe) as (port, _):
        reader, writer = await connect(port)
        second = b"GET /b HTTP/1.1\r\nHost: x\r\n"
        writer.write(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n" + second)
        _, body = await read_response(reader)
        assert body == b"1\r\n0\r\n0\r\n\r\n"
        seen = await probe.until(lambda s: s.call == "on_response_complete")
        assert (seen.their_state, seen.buffered) == (h11.IDLE, len(second))
        writer.write(b"\r\n")
        _, body = await read_response(reader)
        assert body == b"1\r\n0\r\n0\r\n\r\n"
        writer.close()


async def test_uvicorns_send_returns_under_the_high_water_mark_and_waits_above_it() -> None:
    """The stall watchdog watches two things: bytes left in the transport's buffer after a
    ``send`` returned (below the high-water mark uvicorn does not wait), and a ``send`` that
    has not returned (above it, uvicorn's flow control waits until the socket drains)."""
    probe = Probe(small_send_buffer=True)
    chunk = b"x" * 8192
    returned_with_unsent: list[int] = []
    pending_at_resume: list[bool] = []
    waited = asyncio.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        transport = probe.protocols[-1].transport
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while not probe.paused.is_set():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if not probe.paused.is_set() and transport.get_write_buffer_size():
                returned_with_unsent.append(transport.get_write_buffer_size())
        blocked = asyncio.ensure_future(
            send({"type": "http.response.body", "body": chunk, "more_body": True})
        )
        probe.on_resume.append(lambda: pending_at_resume.append(not blocked.done()))
        await asyncio.sleep(0)  # one loop turn: a send that does not wait is done by now
        waited.set()
        await blocked
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async with serving(app, probe) as (port, _):
        reader, writer = await connect(port, receive_buffer=4096)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # and read nothing until it waits
        await asyncio.wait_for(waited.wait(), 10)
        received = b""
        while not received.endswith(b"\r\n0\r\n\r\n"):  # the whole response, then its end
            received += await asyncio.wait_for(reader.read(65536), 10)
        writer.close()
    assert returned_with_unsent  # bytes still in the transport after send returned
    assert pending_at_resume[:1] == [True]  # the send above the mark waited for the drain


async def test_uvicorn_calls_the_servers_shutdown_while_responses_are_still_open() -> None:
    """``DashboardServer.shutdown`` releases the viewers before uvicorn waits for open
    responses (an SSE response never ends by itself): uvicorn must call it first."""
    probe = Probe()
    release = asyncio.Event()
    streaming = asyncio.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"open\n", "more_body": True})
        streaming.set()
        await release.wait()
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async with serving(app, probe) as (port, server):
        server.before_shutdown = release.set
        reader, writer = await connect(port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        await asyncio.wait_for(streaming.wait(), 10)
    assert server.at_shutdown == [1]  # called once, the streaming connection still open
    assert not server.force_exit
    _, body = await read_response(reader)
    assert body == b"5\r\nopen\n\r\n0\r\n\r\n"
    writer.close()
