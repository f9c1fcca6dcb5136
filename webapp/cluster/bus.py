"""The cluster's shared store: Redis, through ``redis.asyncio``.

Per stream (``<prefix><what>:<stream key>``):

- ``lease``: which node runs the stream's Burki upstream, as ``<node>:<token>``,
  with a time to live. ``fence`` counts the leases ever given, so each holder's
  value is new; a node publishes only through :data:`_PUBLISH`, which checks its
  value atomically with the write: a node whose lease ran out (paused, cut off,
  taken over) can never publish again under it.
- ``in``: the stream's inputs, a Redis Stream capped with ``XADD MAXLEN ~`` and
  given a time to live that each write renews (and shortens after the end). Each
  input carries its number ``n`` (``count`` counts them, in the same atomic step):
  a reader whose next input is not the one after the last it read knows inputs were
  trimmed before it read them (or the log started over), never just goes on.
- ``epoch``: the epoch of the stream's event ids, the same on every node.
- ``req``: inputs a node that does not hold the lease asks the holder to publish (a
  claim, an action's outcome), a capped Redis Stream any node appends to. The holder
  publishes each under its entry id (the ``req`` field of the input), so whichever node
  holds the stream next knows where to go on: each is published once. ``answered``
  keeps the newest request published, beside the log, since the input that answered it
  may be trimmed from the log long before the request leaves ``req``.
- ``sent``: how far each webhook route's frames were delivered (``webapp.cluster.marks``).

Every input and request is sealed (:mod:`webapp.cluster.sealing`): encrypted and
authenticated with a key derived from the cluster's shared secret, bound to its stream,
its number and the lease value that wrote it. :meth:`Bus.read` and :meth:`Bus.requests`
hand back an entry that does not open, or carries no number, as ``forged`` (logged
without its content and counted in :attr:`Bus.refused`), for the reader to skip.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import Counter, OrderedDict
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from webapp.cluster.sealing import Forged, Sealer

log = logging.getLogger(__name__)

PREFIX = "burki:"

_TICK = """
local cur = redis.call('GET', KEYS[1])
if cur and cur == ARGV[2] then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {1, cur, tonumber(ARGV[3])}
end
if cur then return {0, cur, redis.call('PTTL', KEYS[1])} end
local token = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
local value = ARGV[1] .. ':' .. token
redis.call('SET', KEYS[1], value, 'PX', ARGV[3])
return {1, value, tonumber(ARGV[3])}
"""

_PUBLISH = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return false end
local n = (tonumber(redis.call('GET', KEYS[3])) or 0) + 1
if n ~= tonumber(ARGV[6]) then return {'', n} end
redis.call('SET', KEYS[3], n)
local fields = {'i', ARGV[2], 'by', ARGV[1], 'n', n}
if ARGV[5] ~= '' then
  fields[7] = 'req'; fields[8] = ARGV[5]
  redis.call('SET', KEYS[4], ARGV[5] .. ' ' .. ARGV[7])
end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', unpack(fields))
for i = 2, 4 do redis.call('PEXPIRE', KEYS[i], ARGV[4]) end
return {id, n}
"""

_REQUEST = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'i', ARGV[1], 't', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return id
"""
REQUESTS_KEPT = 1000  # requests kept per stream for the holder (a few a minute at most)
# A request is served only this close (s) to when it was sealed: a copy of an old one is not.
REQUEST_WINDOW = 120.0

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

_EPOCH = """
redis.call('SET', KEYS[1], ARGV[1], 'NX')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return redis.call('GET', KEYS[1])
"""

Trouble = (RedisError, OSError)  # what a call to Redis may raise while Redis is away
T = TypeVar("T")


async def checked(call: Awaitable[T]) -> T:
    """``call``'s result, or the cancellation it swallowed.

    On Python 3.11 ``asyncio.wait_for``, which redis-py wraps around each socket write,
    returns the write's result when a cancellation lands as the write completes: the
    task carries on as if never cancelled. A replica's loop then never ends (its task
    group cancels it once) and a stopped upstream runs on. Every call to Redis here goes
    through this, so the cancellation is raised right after the call instead.
    """
    result = await call
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
    return result


@dataclass(frozen=True, slots=True)
class BusConfig:
    """The cluster's settings (built by ``webapp.configs``: no defaults here but fixed tuning)."""

    node_id: str
    lease_seconds: float  # a dead holder's streams are taken over within this (+ a tick)
    log_entries: int  # inputs kept per stream (approximately: MAXLEN ~)
    secret: str = field(repr=False)  # the cluster's shared secret: seals entries
    retention_seconds: float = 86_400.0  # a stream's keys live this long after its last input
    block_seconds: float = 1.0  # how long one read waits for new inputs


@dataclass(frozen=True, slots=True)
class Tick:
    """One lease check: whether ``value`` is ours, and how long it still runs (ms)."""

    mine: bool
    value: str
    ttl_ms: int


@dataclass(frozen=True, slots=True)
class Entry:
    """One input of the shared log: its entry id, its JSON, the lease value it was written under."""

    id: str
    payload: str
    by: str
    req: str = ""  # the request it answers (an input another node asked for)
    n: int = 0  # its number in the stream's inputs, from 1 (0: not numbered)
    forged: bool = False  # it did not open with the cluster's key: skip it


@dataclass(frozen=True, slots=True)
class Published:
    """Where the log took an input: its entry id and its number (no id: the log's next
    number is ``n``, not the one proposed; nothing was written)."""

    id: str
    n: int


class Bus:
    """One node's client of the shared store (one connection pool for every stream)."""

    def __init__(self, redis: Redis, config: BusConfig) -> None:
        self.redis = redis
        self.config = config
        self.sealer = Sealer(config.secret)
        self.refused: Counter[str] = Counter()  # entries skipped as forged, by key kind
        self._requests_seen: OrderedDict[str, str] = OrderedDict()  # sealed -> entry id
        self._tick = redis.register_script(_TICK)
        self._publish = redis.register_script(_PUBLISH)
        self._release = redis.register_script(_RELEASE)
        self._epoch = redis.register_script(_EPOCH)
        self._request = redis.register_script(_REQUEST)

    @classmethod
    def connect(cls, url: str, config: BusConfig) -> Bus:
        redis = Redis.from_url(
            url, decode_responses=True, socket_timeout=5.0, socket_connect_timeout=2.0
        )
        return cls(redis, config)

    async def close(self) -> None:
        await self.redis.aclose()

    async def ping(self) -> bool:
        try:
            return bool(await self.redis.ping())
        except Trouble:
            return False

    @property
    def lease_ms(self) -> int:
        return int(self.config.lease_seconds * 1000)

    @property
    def retention_ms(self) -> int:
        return int(self.config.retention_seconds * 1000)

    async def tick(self, stream: str, value: str | None, ttl_ms: int | None = None) -> Tick:
        """Renew our lease on ``stream`` (``value``), or take it when nobody holds it."""
        keys = [PREFIX + "lease:" + stream, PREFIX + "fence:" + stream]
        ttl = ttl_ms or self.lease_ms
        args: list[str | int] = [self.config.node_id, value or "", ttl, self.retention_ms]
        mine, holder, ttl = await checked(self._tick(keys=keys, args=args))
        return Tick(bool(mine), str(holder), int(ttl))

    async def publish(
        self, stream: str, value: str, payload: str, req: str = "", n: int = 1
    ) -> Published | None:
        """Append ``payload``, sealed as input number ``n``, to the stream's inputs if
        ``value`` still holds its lease.

        ``req``: the request it answers, if another node asked for it. Returns where the
        log took it; None when the lease is not ``value``'s (fenced off); a ``Published``
        without an id when the log's next number is not ``n`` (nothing written: publish
        again under the number it names).
        """
        keys = [PREFIX + what + stream for what in ("lease:", "in:", "count:", "answered:")]
        sealed = self.sealer.key("in", stream).seal(payload, stream, n, value, req)
        args: list[str | int] = [value, sealed, self.config.log_entries, self.retention_ms, req]
        answered = self.sealer.key("answered", stream).mac(stream, req) if req else ""
        entry = await checked(self._publish(keys=keys, args=[*args, n, answered]))
        return Published(str(entry[0]), int(entry[1])) if entry is not None else None

    async def release(self, stream: str, value: str) -> None:
        await checked(self._release(keys=[PREFIX + "lease:" + stream], args=[value]))

    async def epoch(self, stream: str) -> str:
        """The stream's epoch: the first node to ask sets it."""
        keys = [PREFIX + "epoch:" + stream]
        epoch = self._epoch(keys=keys, args=[secrets.token_hex(4), self.retention_ms])
        return str(await checked(epoch))

    async def read(self, stream: str, after: str, count: int = 500) -> list[Entry]:
        """Inputs after entry ``after`` (``0``: all kept), waiting a little for new ones."""
        block = int(self.config.block_seconds * 1000)
        answer: Any = await checked(
            self.redis.xread({PREFIX + "in:" + stream: after}, count, block)
        )
        return [
            self._opened(stream, entry, fields)
            for _, entries in answer
            for entry, fields in entries
        ]

    def _opened(self, stream: str, entry: str, fields: dict[str, str]) -> Entry:
        by, req, n = fields.get("by", ""), fields.get("req", ""), fields.get("n", "")
        number = int(n) if n.isascii() and n.isdigit() else 0
        try:
            if number == 0:
                raise Forged("unnumbered")
            text = self.sealer.key("in", stream).open(fields.get("i", ""), stream, number, by, req)
        except Forged as exc:
            self.forged("in", stream, entry, str(exc))
            return Entry(entry, "", "", "", number, forged=True)
        return Entry(entry, text, by, req, number)

    def forged(self, what: str, stream: str, entry: str, why: str) -> None:
        """Note an entry of ``what`` that did not open (never its content)."""
        self.refused[what] += 1
        log.warning("stream %s: a %s entry in Redis was refused (%s): %s", stream, what, why, entry)

    async def request(self, stream: str, payload: str) -> str:
        """Ask the stream's holder, whoever it is now or next, to publish ``payload``."""
        keys = [PREFIX + "req:" + stream]
        at = str(int(time.time() * 1000))
        sealed = self.sealer.key("req", stream).seal(payload, stream, at)
        args: list[str | int] = [sealed, REQUESTS_KEPT, self.retention_ms, at]
        return str(await checked(self._request(keys=keys, args=args)))

    async def requests(self, stream: str, after: str, count: int = 50) -> list[Entry]:
        """Requests after entry ``after``, waiting a little for new ones."""
        block = int(self.config.block_seconds * 1000)
        key = PREFIX + "req:" + stream
        answer: Any = await checked(self.redis.xread({key: after}, count, block))
        return [
            self._request_opened(stream, e, fields)
            for _, entries in answer
            for e, fields in entries
        ]

    def _request_opened(self, stream: str, entry: str, fields: dict[str, str]) -> Entry:
        """A request, opened; forged when it does not open, was sealed far from when Redis
        took it, or is a copy of one already read under another entry id."""
        sealed, at = fields.get("i", ""), fields.get("t", "")
        try:
            text = self.sealer.key("req", stream).open(sealed, stream, at)
            if abs(int(entry.partition("-")[0]) - int(at)) > REQUEST_WINDOW * 1000:
                raise Forged("sealed long before it was sent")
            if self._requests_seen.setdefault(sealed, entry) != entry:
                raise Forged("a copy of an earlier request")
        except Forged as exc:
            self.forged("req", stream, entry, str(exc))
            return Entry(entry, "", "", forged=True)
        self._requests_seen.move_to_end(sealed)
        while len(self._requests_seen) > 10_000:
            self._requests_seen.popitem(last=False)
        return Entry(entry, text, "")

    async def answered(self, stream: str) -> str:
        """The newest request the stream's inputs ever answered (``0``: none, or a value that
        is not this cluster's: requests older than :data:`REQUEST_WINDOW` are refused anyway)."""
        stored = str(await checked(self.redis.get(PREFIX + "answered:" + stream)) or "")
        req, _, mac = stored.partition(" ")
        if not req:
            return "0"
        if not self.sealer.key("answered", stream).verify(mac, stream, req):
            self.forged("answered", stream, PREFIX + "answered:" + stream, "its MAC does not match")
            return "0"
        return req

    async def newest(self, stream: str) -> str | None:
        """The id of the newest input kept, None when there is none."""
        last = await checked(self.redis.xrevrange(PREFIX + "in:" + stream, count=1))
        return str(last[0][0]) if last else None

    async def expire(self, stream: str, seconds: float) -> None:
        """The stream ended: its inputs and epoch go ``seconds`` from now."""
        ms = max(int(seconds * 1000), 1000)
        async with self.redis.pipeline(transaction=False) as pipe:
            for what in ("in:", "epoch:", "req:", "count:", "answered:", "sent:"):
                pipe.pexpire(PREFIX + what + stream, ms)
            await checked(pipe.execute())


def entry_after(a: str, b: str) -> bool:
    """Whether Redis Stream entry id ``a`` is after ``b``."""
    return _parts(a) > _parts(b)


def _parts(entry: str) -> tuple[int, int]:
    ms, _, seq = entry.partition("-")
    return int(ms), int(seq or 0)
