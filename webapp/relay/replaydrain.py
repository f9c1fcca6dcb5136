"""Reading an ended call's replay to its end.

Burki sends an ended call's ``call_status: completed`` *before* replaying every
stored segment (the open-source server does, on every connection), and nothing
on the wire marks the end of the replay. So a call stream does not stop at the
terminal status: it keeps reading until the stored transcript is in, decided by
whichever comes first:

- Burki's REST transcript (``/calls/sid/{sid}/transcripts``) arrived and was
  applied: every stored segment is then held (the stream's dedupe drops the
  socket's copies of the same segments);
- ``quiet`` seconds passed without a frame (REST unreachable: the replay is a
  burst, and a pause after it means it is over);
- the upstream ended, or ``bound`` seconds passed in all (never hang on a
  socket that trickles).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


async def drain(
    items: AsyncIterator[T],
    stored: Awaitable[R | None],
    on_item: Callable[[T], None],
    on_stored: Callable[[R], None],
    *,
    quiet: float,
    bound: float,
) -> str:
    """Feed ``items`` to ``on_item`` until the replay is over; return why it ended.

    ``stored`` yields the stored transcript (None: could not be fetched), handed to
    ``on_stored`` once. Both pending awaitables are cancelled and awaited on return.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + bound
    fetch: asyncio.Future[Any] = asyncio.ensure_future(stored)
    following: asyncio.Future[T] = asyncio.ensure_future(anext(items))
    waiting: set[asyncio.Future[Any]] = {fetch, following}
    try:
        while (left := deadline - loop.time()) > 0:
            done, _ = await asyncio.wait(
                waiting, timeout=min(quiet, left), return_when=asyncio.FIRST_COMPLETED
            )
            if fetch in done:
                waiting.discard(fetch)  # unusable: rely on the quiet period from now on
                result = fetch.result() if fetch.exception() is None else None
                if result is not None:
                    on_stored(result)
                    return "stored transcript"
            if following in done:
                if following.exception() is not None:
                    return "upstream ended"
                on_item(following.result())
                waiting.discard(following)
                following = asyncio.ensure_future(anext(items))
                waiting.add(following)
            elif not done:
                return "quiet"
        return "bound"
    finally:
        for pending in (fetch, following):
            pending.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(fetch, following, return_exceptions=True)
