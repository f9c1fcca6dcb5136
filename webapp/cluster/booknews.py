"""Word that the organisation book changed, from the node that changed it to every other.

The book itself lives in the shared database; every node re-reads it on its own every
``ORG_REFRESH_SECONDS``. A change made on one node's /admin is served there at once; this
tells the other nodes to read the book now rather than at their next refresh, so the nodes
agree within a round trip instead of a refresh interval. The word carries nothing but the
sending node's id: it is a reason to read the database, never what to serve (Redis is input,
not truth). A flood of words costs at most one read of the book per :data:`SPACING` seconds.

Ownership: :meth:`BookNews.listen` is the org runner's task; cancelling it ends it (its
subscription closes with it); :meth:`BookNews.close` closes the client it was made with.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from webapp.cluster.bus import PREFIX, Trouble

log = logging.getLogger(__name__)

CHANNEL = PREFIX + "orgs:changed"
SPACING = 1.0  # seconds: at most one read of the book this often, however many words come
RETRY = (0.5, 10.0)  # a lost subscription is taken up again after this, doubling to the cap


class BookNews:
    """Tell the other nodes the book changed; read it again when one tells this node."""

    def __init__(self, redis: Redis, node: str) -> None:
        self.redis = redis
        self.node = node

    @classmethod
    def connect(cls, url: str, node: str) -> BookNews:
        """A client of its own: a subscription waits for words as long as none come, so
        no read timeout (the bus's would end it every few idle seconds)."""
        redis = Redis.from_url(
            url, decode_responses=True, socket_connect_timeout=2.0, socket_keepalive=True
        )
        return cls(redis, node)

    async def close(self) -> None:
        await self.redis.aclose()

    async def tell(self) -> None:
        """Say the book changed (Redis away: the others read it at their next refresh)."""
        try:
            await self.redis.publish(CHANNEL, self.node)
        except Trouble as exc:
            log.warning(
                "org book: the other nodes were not told of a change (%s)", type(exc).__name__
            )

    async def listen(self, read_book: Callable[[], Awaitable[None]]) -> None:
        """Await ``read_book`` each time another node says the book changed; until cancelled."""
        delay = RETRY[0]
        while True:
            try:
                await self._listen(read_book)
            except Trouble as exc:
                log.warning(
                    "org book: no word of changes from other nodes (%s)", type(exc).__name__
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY[1])

    async def _listen(self, read_book: Callable[[], Awaitable[None]]) -> None:
        told = asyncio.Event()  # words since the last read: many words, one read
        reader = asyncio.create_task(_read_when_told(told, read_book), name="org book news")
        try:
            async with self.redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                await pubsub.subscribe(CHANNEL)
                async for message in pubsub.listen():
                    if message.get("data") != self.node:  # our own word: already read
                        told.set()
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)


async def _read_when_told(told: asyncio.Event, read_book: Callable[[], Awaitable[None]]) -> None:
    while True:
        await told.wait()
        told.clear()
        try:
            await read_book()
        except Exception:  # a failed read must not end the listening
            log.exception("org book: reading it after another node's word failed")
        await asyncio.sleep(SPACING)
