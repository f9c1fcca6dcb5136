"""Page views recorded once per session and page across the nodes (see ``pages.state.record``).

A balancer sends one session's reloads and stream reconnects to any node; each
node folds repeats in memory, so without this each node would write the page
view once. The first node to see a (who, via, what, address, session, organisation) key sets
``burki:audit:once:<sha256>`` with ``SET NX`` and a time to live; the others find
it and write nothing. The key is a hash: no name or session id is stored in Redis.
"""

from __future__ import annotations

import hashlib

from redis.asyncio import Redis

from webapp.cluster.bus import PREFIX, Trouble

KEY = PREFIX + "audit:once:"


class RedisOnce:
    """:class:`webapp.access.audit.SharedOnce` on Redis."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    @classmethod
    def connect(cls, url: str) -> RedisOnce:
        return cls(Redis.from_url(url, decode_responses=True, socket_timeout=2.0))

    async def first(self, key: tuple[str, ...], seconds: float) -> bool:
        digest = hashlib.sha256("\x1f".join(key).encode()).hexdigest()
        try:
            created = await self.redis.set(KEY + digest, "1", nx=True, px=int(seconds * 1000))
        except Trouble:
            return True  # Redis away: this node's own fold decides
        return bool(created)

    async def close(self) -> None:
        await self.redis.aclose()
