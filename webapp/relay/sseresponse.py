"""A lean SSE response: the bytes a stream already rendered, written with as little as can be.

A relay writes the same frames to thousands of viewers, so the cost of one
write per viewer is the cost of the product. This response sends the chunks of
an async generator (pre-rendered frames, batched when several are queued) and
does only what must be done per viewer:

- the response start goes through the middleware stack (security headers, the
  session cookie); the body chunks go straight to the server's own ``send``
  (``scope["burki.raw_send"]``, set by the app), skipping send wrappers that
  only ever act on the start;
- one watcher task notices the client's disconnect;
- a watchdog timer, not a per-write timeout, cuts a viewer whose socket has
  accepted nothing for ``stall_timeout`` seconds (counted by ``on_stall``);
  heartbeats come from the subscriber's own timer.

Ownership: the response's ASGI call owns the watcher, the writer and the
watchdog, and cancels them and closes the generator on every way out.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable

from starlette.types import Message, Receive, Scope, Send

RAW_SEND = "burki.raw_send"
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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_send: Send = scope.get(RAW_SEND, send)
        watcher = asyncio.ensure_future(_disconnected(receive))
        writer = asyncio.ensure_future(self._write(send, raw_send))
        loop = asyncio.get_running_loop()
        self._watchdog = loop.call_later(self.stall_timeout, self._watch, loop, writer)
        try:
            await asyncio.wait((watcher, writer), return_when=asyncio.FIRST_COMPLETED)
        finally:
            if self._watchdog is not None:
                self._watchdog.cancel()
            watcher.cancel()
            writer.cancel()
            await asyncio.gather(watcher, writer, return_exceptions=True)
            await self.chunks.aclose()
        if self.stalled and not self._exhausted:
            self.on_stall()  # cut for not reading; its browser resumes with its last id

    def _watch(self, loop: asyncio.AbstractEventLoop, writer: asyncio.Future[None]) -> None:
        since = self._since
        if since is not None and loop.time() - since >= self.stall_timeout:
            self.stalled = True
            writer.cancel()
            return
        self._watchdog = loop.call_later(self.stall_timeout / 2, self._watch, loop, writer)

    async def _write(self, send: Send, raw_send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        loop = asyncio.get_running_loop()
        async for chunk in self.chunks:
            self._since = loop.time()
            await raw_send({"type": "http.response.body", "body": chunk, "more_body": True})
            self._since = None
        # The frames ran out: the stream ended, or it cut a viewer that fell behind
        # (counted there, so a stalled final write is not counted again).
        self._exhausted = True
        self._since = loop.time()
        await raw_send({"type": "http.response.body", "body": b"", "more_body": False})


async def _disconnected(receive: Receive) -> None:
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            return
