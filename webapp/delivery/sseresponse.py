"""A lean SSE response: the bytes a stream already rendered, written with as little as can be.

A relay writes the same frames to thousands of viewers, so the cost of one
write per viewer is the cost of the product. This response sends the chunks of
an async generator (pre-rendered frames, batched when several are queued) and
does only what must be done per viewer:

- the response start goes through the middleware stack (security headers, the
  session cookie); then the response hands its body to the request's
  :class:`webapp.access.held.Held` and returns, so the stack unwinds and no layer's
  frame stays alive while the viewer watches: the app serves the body with the
  server's own ``send`` (without a ``Held``, as under a plain Starlette app, the body
  is written in place, through the stack's send wrappers, which pass it as it is);
- once the start and the opening are out, a frame can skip the viewer's task
  altogether: :func:`direct_sink` hands the stream's serving loop the response's
  direct path (:class:`DirectSink`), which writes a chunk straight to the connection's
  socket when nothing is buffered (``os.write`` on its descriptor; what the socket does
  not take waits in the transport), and says False otherwise (the frame is then queued
  and the task writes it, with the server's flow control and the stall watchdog);
  see "The direct path" below;
- the response's own task writes; nothing else waits: where our protocol serves the
  connection, its loss (:func:`connection_lost`) and a revoked principal
  (:meth:`RevocableReceive.notify`) stop the writing by callback; elsewhere one watcher
  task notices the client's disconnect in ``receive``;
- a watchdog timer, not a per-write timeout, cuts a viewer whose socket has
  accepted nothing for ``stall_timeout`` seconds (counted by ``on_stall``): a write
  that has not returned (the server's flow control waits for the socket), or bytes
  left in the connection's own buffer (the direct path hands a frame over and
  returns; uvicorn's send returns below its high-water mark) that the socket has not
  taken a byte of since the last look. It runs only while one of those holds, so an
  idle viewer holds no timer for it; heartbeats come from the loop's one sweep of
  every viewer (``webapp.relay.heartbeats``).
- a stalled viewer's connection is reset, not closed: a close waits for the unsent
  bytes to leave, which for a socket that never reads is never.

Ownership: the response's ASGI call owns the watcher and the watchdog, and
cancels them and closes the generator on every way out; only when the response
ended with bytes still unsent does the watchdog outlive it, until they leave or the
stall timeout aborts the connection.

The direct path: the server's protocol (``webapp.delivery.protocol``) offers the ASGI app
its connection's transport through :data:`CONNECTION`, a context variable set
while it parses a request, so the request's task inherits it: a small,
explicit extension of our own server, no reach into uvicorn's internals. Only an
HTTP/1.1 GET response (chunked, as h11 frames it) is written to directly, with
the same chunk framing; the final chunk still goes through the server. What this
relies on in uvicorn and h11 (the task inherits the context of the parse, a body
send is one chunk written before it returns) is pinned by ``tests/test_uvicorn_pin.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
from collections.abc import AsyncGenerator, Callable
from contextvars import ContextVar
from functools import partial
from typing import Protocol

from starlette.types import Message, Receive, Scope, Send

from webapp.access.held import held_of
from webapp.access.streamguard import RevocableReceive
from webapp.relay.frames import Frame

CONNECTION: ContextVar[asyncio.WriteTransport | None] = ContextVar("burki_connection", default=None)
"""The transport of the connection whose request is being handled (set by our server)."""


class DirectSink(Protocol):
    """What a stream response offers its chunk generator: writes that skip its task."""

    def write(self, chunk: bytes) -> bool:
        """Write one chunk now; False (nothing written) when the socket cannot take it at
        once: the caller then queues it for the response's own writer."""

    def frames(
        self, encode: Callable[[list[Frame]], bytes], heartbeat: bytes, until_end: bool
    ) -> Callable[[list[Frame]], bool]:
        """A writer of frames: ``encode(frames)`` (``heartbeat`` for ``[]``) written now, as
        :meth:`write`; False, writing nothing, for a batch ending in the ``end`` that
        ends the response (with ``until_end``): the response's own writer ends it."""


_SINK: ContextVar[DirectSink | None] = ContextVar("burki_sink", default=None)


def direct_sink() -> DirectSink | None:
    """In a stream response's chunk generator: its direct path, or None (not offered)."""
    return _SINK.get()


HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"x-accel-buffering", b"no"),
    (b"connection", b"keep-alive"),
]


class StreamResponse:
    def __init__(
        self,
        chunks: AsyncGenerator[bytes, None],
        *,
        stall_timeout: float,
        on_stall: Callable[[], None],
    ) -> None:
        self.chunks = chunks
        self.stall_timeout = stall_timeout
        self.on_stall = on_stall
        self.stalled = False
        self._since: float | None = None  # when the write under way began
        # The connection's unsent bytes at the watchdog's last look, the bytes handed to it
        # since, and when the socket last took any: no progress for stall_timeout is a stall.
        self._left = 0
        self._handed = 0
        self._moved_at = 0.0
        self._exhausted = False
        self._watchdog: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[object] | None = None  # the response's own (the writer)
        self._transport: asyncio.WriteTransport | None = None
        self._fd = -1  # the transport's socket, when the direct path may write to it itself
        self._encode: Callable[[list[Frame]], bytes] | None = None  # the direct path's frames
        self._heartbeat = b""
        self._until_end = False
        self._stopping = False  # the watcher or the watchdog cancelled the writing
        self._done = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("http_version") == "1.1" and scope.get("method") == "GET":
            self._transport = CONNECTION.get()
            self._fd = _plain_fd(self._transport)
        # The start goes through the whole stack (its headers, the session cookie); the body
        # needs none of it. Where the app serves held bodies, this returns at once and the
        # stack unwinds: no layer's frame stays alive for as long as the viewer watches.
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        held = held_of(scope)
        if held is None:
            await self.serve(receive, send)
        else:
            held.hold(partial(self.serve, receive, held.send))

    async def serve(self, receive: Receive, send: Send) -> None:
        """Write the body (the start is out), until the chunks end, the client leaves, or
        the watchdog cuts a viewer that stopped reading."""
        # The writing happens in this task (an idle viewer costs memory per task). The
        # client leaving, a revocation and the watchdog end the writing by cancelling this
        # task, which then carries on as if the write had returned. Where our protocol serves
        # the connection they call ``stop``; elsewhere a watcher task waits in ``receive``.
        task = asyncio.current_task()
        assert task is not None
        stop = partial(self._stop, task)
        told = self._told(receive, stop)
        watcher = None if told is not None else asyncio.ensure_future(_disconnected(receive))
        if watcher is not None:
            watcher.add_done_callback(lambda _: stop())
        del receive
        self._task = task
        sink = _SINK.set(self if self._transport is not None else None)
        try:
            await self._write(send)
        except asyncio.CancelledError:
            if not self._stopping or task.uncancel() > 0:
                raise  # cancelled from outside (shutdown): not ours to swallow
        finally:
            self._done = True
            self._since = None
            self._encode = None  # the endpoint's, with whatever it holds
            _SINK.reset(sink)
            if self._watchdog is not None and (self.stalled or not self._unsent()):
                # A cancelled timer stays in the loop's heap until its time; its context
                # holds the sink (this response's method): dropped, so no cycle is left.
                # Else it watches the last bytes leave (or resets the connection), then
                # drops itself.
                self._watchdog.cancel()
                self._watchdog = None
            self._task = None
            if told is not None:  # no callback outlives the response (nor keeps its task)
                told.notify(None)
                if self._transport is not None:
                    _LOST.pop(self._transport, None)
            if watcher is not None:
                watcher.cancel()
                await asyncio.gather(watcher, return_exceptions=True)
            await self.chunks.aclose()
        if self.stalled:
            if not self._exhausted:
                self.on_stall()  # cut for not reading; its browser resumes with its last id
            if self._abort():
                # One loop turn: the server hears of the reset before this returns, and does
                # not log an unfinished response as an error.
                await asyncio.sleep(0)

    def _told(self, receive: Receive, stop: Callable[[], None]) -> RevocableReceive | None:
        """Have ``stop`` called when the client leaves or the stream is revoked, with no task
        waiting for it (the ``receive`` that will call it, or None: not here). Only where
        our protocol serves the connection (it calls :func:`connection_lost`) and
        ``receive`` is the gate's, which says nothing but that the client left or lost
        the right to watch: a GET's body is in before its response starts."""
        transport = self._transport
        if transport is None or not isinstance(receive, RevocableReceive):
            return None
        if transport.is_closing() or not receive.notify(stop):
            stop()  # gone (or revoked) already: the first write ends
        else:
            _LOST[transport] = stop
        return receive

    def _stop(self, task: asyncio.Task[object]) -> None:
        if not self._done and not self._stopping:
            self._stopping = True
            task.cancel()

    def _writing(self, loop: asyncio.AbstractEventLoop) -> None:
        """A write begins: note when, and make sure the watchdog runs."""
        self._since = loop.time()
        self._arm(loop)

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._watchdog is None:
            self._left, self._handed, self._moved_at = self._unsent(), 0, loop.time()
            self._watchdog = loop.call_later(self.stall_timeout / 2, self._watch, loop)

    def _watch(self, loop: asyncio.AbstractEventLoop) -> None:
        self._watchdog = None
        if self._stuck(loop.time()):
            self.stalled = True
            if self._done:
                self._abort()  # the response is over; its last bytes never left
            elif self._task is not None:
                self._stop(self._task)
        elif self._since is not None or self._left:  # something still to watch
            self._watchdog = loop.call_later(self.stall_timeout / 2, self._watch, loop)

    def _stuck(self, now: float) -> bool:
        """A write under way for ``stall_timeout``, or unsent bytes the socket has taken
        none of for as long (bytes handed over are counted without the chunk framing,
        so a socket that took only that much is not counted as moving)."""
        since = self._since
        if since is not None and now - since >= self.stall_timeout:
            return True
        unsent = self._unsent()
        moved = self._left + self._handed - unsent
        self._left, self._handed = unsent, 0
        if not unsent or moved > 0:
            self._moved_at = now
            return False
        return now - self._moved_at >= self.stall_timeout

    def _unsent(self) -> int:
        transport = self._transport
        if transport is None or transport.is_closing():
            return 0
        return transport.get_write_buffer_size()

    def _abort(self) -> bool:
        """Reset the connection now (False: no transport of ours to reset). Closing the
        socket alone would leave the kernel sending what it holds (megabytes, for a socket
        that never reads) before a FIN the viewer never gets: the connection would stay
        up, orphaned, for minutes."""
        transport = self._transport
        if transport is None:
            return False
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
        transport.abort()
        return True

    async def _write(self, send: Send) -> None:
        loop = asyncio.get_running_loop()
        async for chunk in self.chunks:
            self._writing(loop)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            self._handed += len(chunk)
            self._since = None
            del chunk  # an idle viewer holds no written bytes (the opening snapshot is big)
        # The frames ran out: the stream ended, or it cut a viewer that fell behind
        # (counted there, so a stalled final write is not counted again).
        self._exhausted = True
        self._writing(loop)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    def frames(
        self, encode: Callable[[list[Frame]], bytes], heartbeat: bytes, until_end: bool
    ) -> Callable[[list[Frame]], bool]:
        """:class:`DirectSink`: this response's writer of frames (one bound method, one call
        per write: it runs once per viewer for every frame, so no layer sits in between)."""
        self._encode, self._heartbeat, self._until_end = encode, heartbeat, until_end
        return self._write_frames

    def _write_frames(self, frames: list[Frame]) -> bool:
        if not frames:
            return self.write(self._heartbeat)
        if self._until_end and frames[-1].type == "end":
            return False  # the response's own writer writes it, and ends the response
        assert self._encode is not None
        return self.write(self._encode(frames))

    def write(self, chunk: bytes) -> bool:
        """Write ``chunk`` as one HTTP/1.1 chunk now, if the socket takes it without buffering.

        With nothing buffered in the transport, the bytes go to its socket with one
        ``os.write`` (what the transport's ``write`` would do, less its Python around the
        call); what the socket does not take waits in the transport, which sends it when
        the socket can (the watchdog watches it leave). The descriptor is the transport's
        own for as long as the transport is not closing: it closes its socket only after
        (checked just before, on the loop's thread, with nothing in between)."""
        transport = self._transport
        if not chunk or transport is None or transport.is_closing():
            return False
        if transport.get_write_buffer_size():
            return False
        framed = _framed(chunk)
        if self._fd < 0:
            transport.write(framed)
            sent = len(framed) - transport.get_write_buffer_size()
        else:
            try:
                sent = os.write(self._fd, framed)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:  # reset or gone: the transport meets it too, and closes
                transport.write(framed)
                return True
            if sent < len(framed):
                transport.write(framed[sent:])  # sent when the socket can take it
        if self._watchdog is not None:
            self._handed += len(framed)
        elif sent < len(framed):  # the socket took only part: watch the rest
            self._arm(asyncio.get_running_loop())
        return True


def _plain_fd(transport: asyncio.WriteTransport | None) -> int:
    """The descriptor of ``transport``'s socket, when bytes written to it go to the peer as
    they are (no TLS on it); -1 otherwise (its ``write`` is used)."""
    if transport is None or transport.get_extra_info("sslcontext") is not None:
        return -1
    sock = transport.get_extra_info("socket")
    return sock.fileno() if sock is not None else -1


def _framed(chunk: bytes) -> bytes:
    """``chunk`` as one HTTP/1.1 chunk; framed once for all the viewers that write it in turn
    (a single-stream frame's bytes are the same object for each of them)."""
    global _last_framed
    last, framed = _last_framed
    if last is not chunk:
        framed = b"%x\r\n%b\r\n" % (len(chunk), chunk)
        _last_framed = (chunk, framed)
    return framed


_last_framed: tuple[bytes, bytes] = (b"", b"0\r\n\r\n")
_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() resets, discarding what is unsent


_LOST: dict[asyncio.BaseTransport, Callable[[], None]] = {}


def connection_lost(transport: asyncio.BaseTransport) -> None:
    """The connection of ``transport`` is gone (our protocol says so): stop its response."""
    stop = _LOST.pop(transport, None)
    if stop is not None:
        stop()


async def _disconnected(receive: Receive) -> None:
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            return
