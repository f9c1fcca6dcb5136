"""The per-user and per-session stream caps of :mod:`webapp.access.caps`, counted in Redis.

Each open stream holds a ticket in a sorted set per user (and per session), scored with
the moment it runs out; a request that opens several streams holds one ticket per
stream. One Lua script drops the tickets that ran out, checks both
counts and adds the tickets in one atomic step, on Redis's clock: streams racing to open
on several nodes cannot all slip under a cap. A node renews its tickets every third of
their time to live in one round trip, so a node killed with ``kill -9`` frees its viewers'
places within :data:`TICKET_SECONDS` (their reconnects may be refused until then).
Redis away: the stream opens (each node's own caps still apply first), as sign-in does.

Ownership: :class:`RedisStreamCaps` owns one renewal task, started with the first ticket;
:meth:`RedisStreamCaps.close` cancels and awaits it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets

from redis.asyncio import Redis

from webapp.access.caps import CapReached, Limits, over
from webapp.cluster.bus import PREFIX, Trouble

log = logging.getLogger(__name__)

TICKET_SECONDS = 15.0  # a ticket's time to live; renewed every third of it

_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local count = tonumber(ARGV[3])
for i = 1, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
  if redis.call('ZCARD', KEYS[i]) + count > tonumber(ARGV[3 + i]) then return i end
end
for i = 1, #KEYS do
  for j = 1, count do
    redis.call('ZADD', KEYS[i], now + tonumber(ARGV[2]), ARGV[1] .. ':' .. j)
  end
  redis.call('PEXPIRE', KEYS[i], math.ceil(tonumber(ARGV[2]) * 1000))
end
return 0
"""

_RENEW = """
local t = redis.call('TIME')
local until_ = tonumber(t[1]) + tonumber(t[2]) / 1000000 + tonumber(ARGV[1])
for i = 1, #KEYS do
  for j = 1, tonumber(ARGV[3]) do
    redis.call('ZADD', KEYS[i], 'XX', until_, ARGV[2] .. ':' .. j)
  end
  redis.call('PEXPIRE', KEYS[i], math.ceil(tonumber(ARGV[1]) * 1000))
end
return 0
"""


class SharedLease:
    """One open stream's place in the cluster-wide counts, until :meth:`release`."""

    def __init__(self, caps: RedisStreamCaps, ticket: str, keys: list[str], count: int) -> None:
        self._caps, self.ticket, self.keys, self.count = caps, ticket, keys, count

    @property
    def members(self) -> list[str]:
        return [f"{self.ticket}:{j}" for j in range(1, self.count + 1)]

    async def release(self) -> None:
        await self._caps.give_back(self)


class RedisStreamCaps:
    """:class:`webapp.access.caps.SharedCaps` on Redis: per user and per session."""

    def __init__(self, redis: Redis, limits: Limits, ttl: float = TICKET_SECONDS) -> None:
        self.redis = redis
        self.limits = limits
        self.ttl = ttl
        self._take = redis.register_script(_TAKE)
        self._renew = redis.register_script(_RENEW)
        self._held: dict[str, SharedLease] = {}
        self._renewing: asyncio.Task[None] | None = None

    @classmethod
    def connect(cls, url: str, limits: Limits) -> RedisStreamCaps:
        return cls(Redis.from_url(url, decode_responses=True, socket_timeout=2.0), limits)

    async def take(self, user: str, session: str | None, count: int = 1) -> SharedLease | None:
        """Places for ``count`` streams, or :class:`CapReached`; None when Redis does not
        answer."""
        keys = [PREFIX + "streams:user:" + user]
        caps: list[str | float] = [self.limits.per_user]
        if session is not None:
            keys.append(PREFIX + "streams:session:" + session)
            caps.append(self.limits.per_session)
        ticket = secrets.token_hex(8)
        try:
            full = int(await self._take(keys=keys, args=[ticket, self.ttl, count, *caps]))
        except Trouble as exc:
            log.warning("stream caps: shared store unreachable (%s)", type(exc).__name__)
            return None
        if full == 1:
            raise CapReached(over(count, self.limits.per_user, "You have"))
        if full == 2:
            raise CapReached(over(count, self.limits.per_session, "This session has"))
        lease = self._held[ticket] = SharedLease(self, ticket, keys, count)
        if self._renewing is None:
            self._renewing = asyncio.create_task(self._renew_all(), name="stream caps renewal")
        return lease

    async def give_back(self, lease: SharedLease) -> None:
        if self._held.pop(lease.ticket, None) is None:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in lease.keys:
                    pipe.zrem(key, *lease.members)
                await pipe.execute()
        except Trouble:
            pass  # it runs out on its own

    async def _renew_all(self) -> None:
        while True:
            await asyncio.sleep(self.ttl / 3)
            if not self._held:
                continue
            with contextlib.suppress(*Trouble):  # a missed renewal: the next one, or they run out
                async with self.redis.pipeline(transaction=False) as pipe:
                    for lease in self._held.values():
                        args: list[str | float] = [self.ttl, lease.ticket, lease.count]
                        await self._renew(keys=lease.keys, args=args, client=pipe)
                    await pipe.execute()

    async def close(self) -> None:
        task, self._renewing = self._renewing, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self.redis.aclose()
