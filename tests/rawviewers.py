"""SSE viewers on raw sockets: a receive buffer set before connect, reading only while told.

A browser whose laptop lid closed, or a tab on a flaky Wi-Fi, stops reading while
its TCP connection stays up: the dashboard's writes fill the kernel's buffers, then
its own. :class:`RawViewer` is such a client, or a healthy one: it sends a plain
HTTP/1.1 GET and records, in order, the segment marks (``seg0042.``) it reads,
whatever the encoding (JSON, HTML, chunked); it stops reading for good once it has
seen the mark it was told to stall after.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Callable

import httpx

from tests.live import LiveApp

MARK = re.compile(rb"seg(\d{4})\.")
PING = re.compile(rb"\n: ping\n")  # the JSON API's heartbeat comment, after an event's end
_TAIL = 7  # a mark is 8 bytes, a ping 8: a tail this long never holds a whole one
TCP_ESTABLISHED = 1  # the first byte of Linux's tcp_info


def mark(n: int) -> str:
    return f"seg{n:04d}."


def big_segment(n: int, size: int = 16_000) -> str:
    """A ~``size``-byte segment carrying mark ``n`` (words, as speech is written)."""
    words = "and then we went over the whole thing again "
    return mark(n) + " " + (words * (size // len(words) + 1))[:size]


def cookie_of(client: httpx.AsyncClient) -> str:
    """The header line that signs a raw viewer in as ``client`` is."""
    return "Cookie: " + "; ".join(f"{name}={value}" for name, value in client.cookies.items())


def bearer(token: str) -> str:
    return f"Authorization: Bearer {token}"


class RawViewer:
    """One SSE connection on a socket of its own.

    ``auth`` is the header line that signs it in (:func:`cookie_of`, :func:`bearer`).
    ``stall_after``: None reads for ever; -1 never reads a byte; ``n`` stops reading
    once mark ``n`` is in. ``rcvbuf`` is the socket's ``SO_RCVBUF``, set before connect.
    """

    def __init__(
        self,
        url: str,
        path: str,
        auth: str,
        *,
        rcvbuf: int | None = None,
        stall_after: int | None = None,
    ) -> None:
        self.host, port = url.removeprefix("http://").split(":")
        self.port = int(port)
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{auth}\r\n"
            "Accept: text/event-stream\r\n\r\n"
        ).encode()
        self.rcvbuf = rcvbuf
        self.stall_after = stall_after
        self.seen: list[int] = []
        self.pings = 0  # heartbeat comments read
        self.ended = False  # the server closed or reset the connection
        self.sock = socket.socket()
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def local_port(self) -> int:
        return int(self.sock.getsockname()[1])

    @property
    def connected(self) -> bool:
        """The TCP connection is up, as the kernel sees it (read without reading a byte:
        a server's reset shows here at once, its FIN only after every byte before it)."""
        return self.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] == TCP_ESTABLISHED

    async def open(self) -> RawViewer:
        if self.rcvbuf is not None:  # before connect, or the window is already agreed
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
        self.sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(self.sock, (self.host, self.port))
        await loop.sock_sendall(self.sock, self.request)
        if self.stall_after != -1:
            self._task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        tail = b""
        try:
            while self.stall_after is None or self.stall_after not in self.seen:
                data = await loop.sock_recv(self.sock, 1 << 16)
                if not data:
                    break
                window = tail + data
                self.seen += [int(m[1]) for m in MARK.finditer(window)]
                self.pings += len(PING.findall(window))
                tail = window[-_TAIL:]
                self._changed.set()
        except ConnectionError:
            pass
        else:
            if self.stall_after is not None and self.stall_after in self.seen:
                return  # stalled: the connection stays open, unread
        self.ended = True
        self._changed.set()

    async def wait_for(self, n: int, timeout: float = 30.0) -> None:
        """Until mark ``n`` is in; AssertionError (with what came) after ``timeout`` s."""
        await self._until(
            lambda: n in self.seen,
            lambda: f"the stream ended; last marks {self.seen[-5:]}",
            lambda: f"timed out; {len(self.seen)} marks, last {self.seen[-5:]}",
            timeout,
        )

    async def wait_for_pings(self, n: int, timeout: float = 30.0) -> None:
        """Until ``n`` heartbeat comments are in; AssertionError after ``timeout`` s."""
        await self._until(
            lambda: self.pings >= n,
            lambda: f"the stream ended after {self.pings} pings",
            lambda: f"timed out; {self.pings} pings",
            timeout,
        )

    async def _until(
        self,
        reached: Callable[[], bool],
        ended: Callable[[], str],
        late: Callable[[], str],
        timeout: float,
    ) -> None:
        """Until ``reached()``, looking again at each change; AssertionError saying ``ended()``
        if the stream ends first, ``late()`` after ``timeout`` s."""

        async def scan() -> None:
            while not reached():
                if self.ended:
                    raise AssertionError(ended())
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(scan(), timeout)
        except TimeoutError:
            raise AssertionError(late()) from None

    def in_order(self) -> list[int]:
        """The marks in the order they first came; AssertionError if one came back late."""
        assert self.seen == sorted(self.seen), "a mark came after a later one"
        return list(dict.fromkeys(self.seen))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self.sock.close()


def server_ports(live: LiveApp) -> set[int]:
    """The client ports of every connection the dashboard's server holds open."""
    return {proto.client[1] for proto in live.server.server_state.connections if proto.client}


async def cut(live: LiveApp, viewer: RawViewer, timeout: float = 10.0) -> None:
    """Until the dashboard holds ``viewer``'s connection no more and the viewer's own
    socket says so (reset: its unread bytes are not still on their way)."""
    port = viewer.local_port

    def gone() -> bool:
        return port not in server_ports(live) and not viewer.connected

    await until(gone, timeout, f"the viewer on {port} is cut")


async def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` (the server offers no event for it) until true or ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.05)
