"""One SSE viewer as a bare asyncio protocol: an HTTP/1.1 GET, a de-chunker, an SSE splitter.

Cheap on purpose, so that one process can hold thousands of viewers and its
own overhead adds little to the latency it measures: each read is stamped with
``time.time()`` once, and an event's only inspection is a search for the
simulator's send-time marker ``t=<seconds> n=<seq>``.
"""

from __future__ import annotations

import asyncio
import re
import time

MARKER = re.compile(rb"t=(\d+\.\d+) n=(\d+)")
# A snapshot holds every segment so far, an alert quotes one: neither is a delivery.
_STATE_TYPES = (b"event: snapshot", b"event: reset", b"event: alert")


class SseViewer(asyncio.Protocol):
    """Records ``(n, sent, received)`` for every marker in a live (non-snapshot) event,
    and the arrival time of every event.

    ``ready`` resolves at the first complete event or comment (headers and a first
    frame came through: nchan opens with a ``: hi`` comment, we with a snapshot), or
    fails if the response is not a 200 or the socket ends.
    """

    def __init__(
        self, host: str, port: int, path: str, sids: tuple[str, ...], token: str | None
    ) -> None:
        self.sids = sids
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}"
            "Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n"
        ).encode()
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.marks: list[tuple[int, float, float]] = []
        self.received: list[float] = []
        """When each event (not comment) arrived: every frame the proxy wrote, counted."""
        self.sizes: list[int] = []
        """Each event's bytes (its lines and the blank line ending it), as ``received``."""
        self.comments = 0
        self.closed_at: float | None = None
        self.transport: asyncio.Transport | None = None
        self._head: bytes | None = b""
        self._chunked = False
        self._raw = b""
        self._chunk_left = 0
        self._sse = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed_at = time.time()
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"closed before the first event: {exc!r}"))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        now = time.time()
        if self._head is not None:
            head = self._head + data
            end = head.find(b"\r\n\r\n")
            if end < 0:
                self._head = head
                return
            self._head = None
            if not self._accept(head[:end]):
                return
            data = head[end + 4 :]
        if self._chunked:
            data = self._dechunk(data)
        if data:
            self._split(data, now)

    def _accept(self, head: bytes) -> bool:
        status, _, headers = head.partition(b"\r\n")
        if status.split(b" ", 2)[1] != b"200":
            self.ready.set_exception(ConnectionError(status.decode(errors="replace")))
            self.close()
            return False
        self._chunked = b"transfer-encoding: chunked" in headers.lower()
        return True

    def _dechunk(self, data: bytes) -> bytes:
        if not self._raw and not self._chunk_left:  # the usual read: whole chunks, often one
            size_end = data.find(b"\r\n")
            if size_end > 0:
                size = int(data[:size_end].split(b";", 1)[0], 16)
                end = size_end + 2 + size
                if size and len(data) == end + 2 and data.endswith(b"\r\n"):
                    return data[size_end + 2 : end]
        buf, pos, out = self._raw + data, 0, []
        while True:
            if self._chunk_left == 0:
                line_end = buf.find(b"\r\n", pos)
                if line_end < 0:
                    break
                line, pos = buf[pos:line_end], line_end + 2
                if not line:  # the CRLF that closes a chunk's data
                    continue
                self._chunk_left = int(line.split(b";", 1)[0], 16)
                if self._chunk_left == 0:  # the last chunk: the response ended
                    break
            take = min(self._chunk_left, len(buf) - pos)
            if take == 0:
                break
            out.append(buf[pos : pos + take])
            pos += take
            self._chunk_left -= take
        self._raw = buf[pos:]
        return b"".join(out)

    def _split(self, data: bytes, now: float) -> None:
        *complete, self._sse = (self._sse + data).split(b"\n\n")
        for event in complete:
            self._event(event, now)

    def _event(self, event: bytes, now: float) -> None:
        if not self.ready.done():
            self.ready.set_result(None)
        if not event or event.startswith(b":"):  # a heartbeat comment
            self.comments += 1
            return
        self.received.append(now)
        self.sizes.append(len(event) + 2)
        header = event[: event.find(b"data:")]
        if any(kind in header for kind in _STATE_TYPES):
            return
        match = MARKER.search(event)
        if match is not None:
            self.marks.append((int(match[2]), float(match[1]), now))
