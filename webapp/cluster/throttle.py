"""The sign-in limits of :mod:`webapp.access.throttle`, counted in Redis for every node.

One Lua script checks both windows (the user's, the address's) and counts the
attempt in one atomic step, so attempts racing on several nodes cannot all slip
under a limit. Each window is a sorted set of attempt times, trimmed to the
window on every check and expiring with it: bounded by the limit plus one.
"""

from __future__ import annotations

import math
import secrets
import time

from redis.asyncio import Redis

from webapp.access.throttle import (
    DEFAULT_PER_ADDRESS,
    DEFAULT_PER_USER,
    DEFAULT_WINDOW_SECONDS,
    throttle_keys,
)
from webapp.cluster.bus import PREFIX, Trouble

_ATTEMPT = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local wait = -1
for i = 1, 2 do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  if redis.call('ZCARD', KEYS[i]) >= tonumber(ARGV[2 + i]) then
    local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    wait = math.max(wait, tonumber(oldest[2]) + window - now)
  end
end
if wait >= 0 then return tostring(wait) end
for i = 1, 2 do
  redis.call('ZADD', KEYS[i], now, ARGV[5])
  redis.call('PEXPIRE', KEYS[i], math.ceil(window * 1000))
end
return false
"""


class RedisAttempts:
    """:class:`webapp.access.throttle.SharedAttempts` on Redis, with the default limits."""

    def __init__(
        self,
        redis: Redis,
        per_user: int = DEFAULT_PER_USER,
        per_address: int = DEFAULT_PER_ADDRESS,
        window: float = DEFAULT_WINDOW_SECONDS,
    ) -> None:
        self.redis = redis
        self.limits = (per_user, per_address)
        self.window = window
        self._attempt = redis.register_script(_ATTEMPT)
        self._tickets: dict[tuple[str, str], str] = {}

    @classmethod
    def connect(cls, url: str) -> RedisAttempts:
        return cls(Redis.from_url(url, decode_responses=True, socket_timeout=2.0))

    async def attempt(self, user: str, address: str) -> int | None:
        """None: go ahead (counted as a failure until :meth:`succeeded`); else seconds to wait.

        Redis away: None (each node's own throttle still holds; sign-in must not
        depend on Redis more than on the users file).
        """
        keys = self._keys(user, address)
        ticket = f"{time.time():.6f}-{secrets.token_hex(4)}"
        args: list[str | float] = [time.time(), self.window, *self.limits, ticket]
        try:
            wait = await self._attempt(keys=list(keys), args=args)
        except Trouble:
            return None
        if wait is not None:
            return max(1, math.ceil(float(wait)))
        if len(self._tickets) < 10_000:
            self._tickets[keys] = ticket
        return None

    async def succeeded(self, user: str, address: str) -> None:
        """Forget the user's failures; uncount this attempt from the address."""
        keys = self._keys(user, address)
        ticket = self._tickets.pop(keys, None)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.delete(keys[0])
                if ticket is not None:
                    pipe.zrem(keys[1], ticket)
                await pipe.execute()
        except Trouble:
            pass

    async def close(self) -> None:
        await self.redis.aclose()

    def _keys(self, user: str, address: str) -> tuple[str, str]:
        user_key, address_key = throttle_keys(user, address)
        return PREFIX + "signin:user:" + user_key, PREFIX + "signin:addr:" + address_key
