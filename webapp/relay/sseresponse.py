"""A lean SSE response: the bytes a stream already rendered, written with as little as can be.

A relay writes the same frames to thousands of viewers, so the cost of one
write per viewer is the cost of the product. This response sends the chunks of
an async generator (pre-rendered frames, batched when several are queued) and
does only what must be done per viewer:

- the response start goes through the middleware stack (security headers, the
  session cookie); the body chunks go straight to the server's own ``send``
  (``scope["burki.raw_send"]``, set by the app), skipping send wrappers that
  only ever act on the start;
- once the start and the opening are out, a frame can skip the viewer's task
  altogether: :func:`direct_sink` hands the stream's serving loop a function that
  writes a chunk straight to the connection's transport when the socket can take
  it now (nothing buffered), and says False otherwise (the frame is then queued
  and the task writes it, with the server's flow control and the stall watchdog);
  see "The direct path" below;
- the response's own task writes; one watcher task notices the client's disconnect;
- a watchdog timer, not a per-write timeout, cuts a viewer whose socket has
  accepted nothing for ``stall_timeout`` seconds (counted by ``on_stall``); it
  runs only while a write is under way, so an idle viewer holds no timer for it;
  heartbeats come from the subscriber's own timer.

Ownership: the response's ASGI call owns the watcher and the watchdog, and
cancels them and closes the generator on every way out.

The direct path: the server's protocol (``webapp.server``) offers the ASGI app
its connection's transport through :data:`CONNECTION`, a context variable set
while it parses a request, so the request's task inherits it: a small,
explicit extension of our own server, no reach into uvicorn's internals. Only an
HTTP/1.1 GET response (chunked, as h11 frames it) is written to directly, with
the same chunk framing; the final chunk still goes through the server.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from contextvars import ContextVar

from starlette.types import Message, Receive, Scope, Send

RAW_SEND = "burki.raw_send"
CONNECTION: ContextVar[asyncio.WriteTransport | None] = ContextVar("burki_connection", default=None)
"""The transport of the connection whose request is being handled (set by our server)."""
_SINK: ContextVar[Callable[[bytes], bool] | None] = ContextVar("burki_sink", default=None)


def direct_sink() -> Callable[[bytes], bool] | None:
    """In a stream response's chunk generator: a function writing one chunk now, or None.

    The function returns False (writing nothing) when the socket cannot take the
    bytes at once: the caller then queues them for the response's own writer.
    """
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
        self._exhausted = False
        self._watchdog: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[object] | None = None  # the response's own (the writer)
        self._transport: asyncio.WriteTransport | None = None
        self._stopping = False  # the watcher or the watchdog cancelled the writing
        self._done = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_send: Send = scope.get(RAW_SEND, send)
        if scope.get("http_version") == "1.1" and scope.get("method") == "GET":
            self._transport = CONNECTION.get()
        # The writing happens in this task; only the watcher is a task of its own (an idle
        # viewer costs memory per task). The watcher and the watchdog end the writing by
        # cancelling this task, which then carries on as if the write had returned.
        task = asyncio.current_task()
        assert task is not None
        watcher = asyncio.ensure_future(_disconnected(receive))
        watcher.add_done_callback(lambda _: self._stop(task))
        self._task = task
        sink = _SINK.set(self._write_now if self._transport is not None else None)
        try:
            await self._write(send, raw_send)
        except asyncio.CancelledError:
            if not self._stopping or task.uncancel() > 0:
                raise  # cancelled from outside (shutdown): not ours to swallow
        finally:
            self._done = True
            _SINK.reset(sink)
            if self._watchdog is not None:
                # A cancelled timer stays in the loop's heap until its time; its context
                # holds the sink (this response's method): dropped, so no cycle is left.
                self._watchdog.cancel()
                self._watchdog = None
            self._task = None
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
            await self.chunks.aclose()
        if self.stalled and not self._exhausted:
            self.on_stall()  # cut for not reading; its browser resumes with its last id

    def _stop(self, task: asyncio.Task[object]) -> None:
        if not self._done and not self._stopping:
            self._stopping = True
            task.cancel()

    def _writing(self, loop: asyncio.AbstractEventLoop) -> None:
        """A write begins: note when, and make sure the watchdog runs."""
        self._since = loop.time()
        if self._watchdog is None:
            self._watchdog = loop.call_later(self.stall_timeout / 2, self._watch, loop)

    def _watch(self, loop: asyncio.AbstractEventLoop) -> None:
        since = self._since
        if since is None:  # no write under way: sleep until the next one
            self._watchdog = None
            return
        if loop.time() - since >= self.stall_timeout and self._task is not None:
            self._watchdog = None
            self.stalled = True
            self._stop(self._task)
            return
        self._watchdog = loop.call_later(self.stall_timeout / 2, self._watch, loop)

    async def _write(self, send: Send, raw_send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        loop = asyncio.get_running_loop()
        async for chunk in self.chunks:
            self._writing(loop)
            await raw_send({"type": "http.response.body", "body": chunk, "more_body": True})
            self._since = None
            del chunk  # an idle viewer holds no written bytes (the opening snapshot is big)
        # The frames ran out: the stream ended, or it cut a viewer that fell behind
        # (counted there, so a stalled final write is not counted again).
        self._exhausted = True
        self._writing(loop)
        await raw_send({"type": "http.response.body", "body": b"", "more_body": False})

    def _write_now(self, chunk: bytes) -> bool:
        """Write ``chunk`` as one HTTP/1.1 chunk now, if the socket takes it without buffering."""
        transport = self._transport
        if not chunk or transport is None or transport.is_closing():
            return False
        if transport.get_write_buffer_size():
            return False
        transport.write(_framed(chunk))
        return True


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


async def _disconnected(receive: Receive) -> None:
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            return
