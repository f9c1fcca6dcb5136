"""Webhook delivery marks in Redis (``burki:sent:<stream key>``), for
:mod:`webapp.alerts.marks`.

One hash per stream: a field per route (endpoint digest), its value ``<epoch> <n> <mac>``,
the MAC (HMAC-SHA256 under the cluster's key for the stream's marks) binding the mark to
its stream and route: a forged mark (one that would make the holder skip alerts) is
logged, counted and read as no mark (the frames after it are posted again: at least
once holds). A mark only moves forward under one epoch (a late or lagging holder cannot
move it back); a mark of another epoch is replaced. The hash lives as long as the
stream's inputs (it takes their time to live at each write; :meth:`Bus.expire` shortens
it with them).
"""

from __future__ import annotations

from webapp.cluster.bus import PREFIX, Bus, Trouble, checked
from webapp.cluster.sealing import Seal
from webapp.relay.ports import Mark, MarksUnavailable
from webapp.wire.streamkey import StreamKey

_ADVANCE = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  local epoch, n = string.match(cur, '^(%S+) (%d+)')
  if epoch == ARGV[2] and tonumber(n) >= tonumber(ARGV[3]) then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. ARGV[5])
local ttl = redis.call('PTTL', KEYS[2])
if ttl < 0 then ttl = tonumber(ARGV[4]) end
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
"""


class RedisMarks:
    """The cluster's delivery marks (a ``DeliveryMarks``)."""

    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self._advance = bus.redis.register_script(_ADVANCE)

    async def marks(self, key: StreamKey) -> dict[str, Mark]:
        stream = str(key)  # its name in the store
        try:
            fields = await checked(self._bus.redis.hgetall(PREFIX + "sent:" + stream))
        except Trouble as exc:
            raise MarksUnavailable(type(exc).__name__) from exc
        found = {}
        for route, value in fields.items():
            mark, seal = _parse(str(value)), self._seal(stream)
            mac = str(value).rpartition(" ")[2]
            if mark is None or not seal.verify(mac, stream, str(route), mark.epoch, mark.n):
                self._bus.forged("sent", stream, str(route), "its MAC does not match")
                continue
            found[str(route)] = mark
        return found

    async def advance(self, key: StreamKey, route: str, mark: Mark) -> None:
        stream = str(key)  # its name in the store
        keys = [PREFIX + "sent:" + stream, PREFIX + "in:" + stream]
        mac = self._seal(stream).mac(stream, route, mark.epoch, mark.n)
        args: list[str | int] = [route, mark.epoch, mark.n, self._bus.retention_ms, mac]
        try:
            await checked(self._advance(keys=keys, args=args))
        except Trouble as exc:
            raise MarksUnavailable(type(exc).__name__) from exc

    def _seal(self, stream: str) -> Seal:
        return self._bus.sealer.key("sent", stream)


def _parse(value: str) -> Mark | None:
    epoch, n, _ = [*value.split(" "), "", ""][:3]
    return Mark(epoch, int(n)) if epoch and n.isascii() and n.isdigit() else None
