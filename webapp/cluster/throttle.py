"""The sign-in limits of :mod:`webapp.access.throttle`, counted in Redis for every node.

One Lua script checks the windows (the user's, and the address's or, for an
attempt with a device cookie, the device's) and counts the attempt in all of
them in one atomic step, so attempts racing on several nodes cannot all slip
under a limit. Each window is a sorted set of attempt times, trimmed to the
window on every check and expiring with it: bounded by its limit plus one (an
address also counts its device-cookie attempts, which its limit does not hold:
those are bounded by their users' and devices' limits).
"""

from __future__ import annotations

import math
import secrets
import time

from redis.asyncio import Redis

from webapp.access.throttle import (
    DEFAULT_PER_ADDRESS,
    DEFAULT_PER_DEVICE,
    DEFAULT_PER_USER,
    DEFAULT_WINDOW_SECONDS,
    throttle_keys,
)
from webapp.cluster.bus import PREFIX, Trouble

# KEYS: the windows; ARGV: now, window, ticket, then each window's limit (0: counted only).
_ATTEMPT = """
local now, window, ticket = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local wait = -1
for i = 1, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  local limit = tonumber(ARGV[3 + i])
  if limit > 0 and redis.call('ZCARD', KEYS[i]) >= limit then
    local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    wait = math.max(wait, tonumber(oldest[2]) + window - now)
  end
end
if wait >= 0 then return tostring(wait) end
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], now, ticket)
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
        per_device: int = DEFAULT_PER_DEVICE,
    ) -> None:
        self.redis = redis
        self.limits = (per_user, per_address, per_device)
        self.window = window
        self._attempt = redis.register_script(_ATTEMPT)
        self._tickets: dict[tuple[str, ...], str] = {}

    @classmethod
    def connect(cls, url: str) -> RedisAttempts:
        return cls(Redis.from_url(url, decode_responses=True, socket_timeout=2.0))

    async def attempt(self, user: str, address: str, device: str | None = None) -> int | None:
        """None: go ahead (counted as a failure until :meth:`succeeded`); else seconds to wait.

        With ``device`` (a genuine device cookie's id for ``user``) the device's limit
        holds instead of the address's, which still counts the attempt.
        Redis away: None (each node's own throttle still holds; sign-in must not
        depend on Redis more than on the users file).
        """
        keys = self._keys(user, address, device)
        ticket = f"{time.time():.6f}-{secrets.token_hex(4)}"
        per_user, per_address, per_device = self.limits
        limits = [per_user, per_address] if device is None else [per_user, 0, per_device]
        args: list[str | float] = [time.time(), self.window, ticket, *limits]
        try:
            wait = await self._attempt(keys=list(keys), args=args)
        except Trouble:
            return None
        if wait is not None:
            return max(1, math.ceil(float(wait)))
        if len(self._tickets) < 10_000:
            self._tickets[keys] = ticket
        return None

    async def succeeded(self, user: str, address: str, device: str | None = None) -> None:
        """Forget the user's failures; uncount this attempt from the address (and device)."""
        keys = self._keys(user, address, device)
        ticket = self._tickets.pop(keys, None)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.delete(keys[0])
                if ticket is not None:
                    for key in keys[1:]:
                        pipe.zrem(key, ticket)
                await pipe.execute()
        except Trouble:
            pass

    async def close(self) -> None:
        await self.redis.aclose()

    def _keys(self, user: str, address: str, device: str | None) -> tuple[str, ...]:
        user_key, address_key = throttle_keys(user, address)
        keys = (PREFIX + "signin:user:" + user_key, PREFIX + "signin:addr:" + address_key)
        return keys if device is None else (*keys, PREFIX + "signin:device:" + device[:64])
