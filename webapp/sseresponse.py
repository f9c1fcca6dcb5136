"""A lean SSE response: the bytes a stream already rendered, written with as little as can be.

A relay writes the same frames to thousands of viewers, so the cost of one
write per viewer is the cost of the product. This response sends the chunks of
an async generator (pre-rendered frames, batched when several are queued) and
does only what must be done per viewer: one watcher task for the client's
disconnect, and a deadline on each write, so a viewer whose socket accepts
nothing for ``stall_timeout`` seconds is cut (and counted) instead of holding
its frames. Heartbeats come from the generator (see :mod:`webapp.api`).

Ownership: the response's own task (the ASGI call) owns the watcher and the
generator, cancels the one and closes the other on every way out.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable

from starlette.types import Message, Receive, Scope, Send

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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        watcher = asyncio.ensure_future(_disconnected(receive))
        writer = asyncio.ensure_future(self._write(send))
        try:
            await asyncio.wait((watcher, writer), return_when=asyncio.FIRST_COMPLETED)
        finally:
            watcher.cancel()
            writer.cancel()
            await asyncio.gather(watcher, writer, return_exceptions=True)
            await self.chunks.aclose()

    async def _write(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        try:
            async for chunk in self.chunks:
                async with asyncio.timeout(self.stall_timeout):
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except TimeoutError:
            self.on_stall()  # the viewer stopped reading: cut it, its browser resumes later
            return
        # The frames ran out (the stream ended, or cut a viewer that fell behind: counted
        # there, so a stalled final write is not counted again).
        async with asyncio.timeout(self.stall_timeout):
            await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _disconnected(receive: Receive) -> None:
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            return
