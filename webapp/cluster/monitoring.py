"""The monitor's placement on the cluster's Redis: who holds which stream, who monitors.

Each look of a node's monitor (``webapp.watch.monitor``) is one round trip: the node says it
is alive (``monitors``, a sorted set scored by when each node's word runs out, a lease time
after it was given) and how many streams it holds (``monitored``), and reads every listed
stream's lease holder and whether a node found Burki refusing it (``refused:<stream>``, kept
for an hour). The streams themselves are placed by their existing leases (``webapp.cluster.bus``):
a node opens a free stream, its replica takes the lease; a dead node's leases run out and
its word with them, so the others' share grows and they take its streams.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from webapp.cluster.bus import PREFIX, Bus, checked
from webapp.watch.placement import Survey
from webapp.wire.streamkey import StreamKey

NODES = PREFIX + "monitors"
COUNTS = PREFIX + "monitored"
REFUSED_FOR = 3600  # seconds a refused stream is left alone by every node


class RedisPlacement:
    """The monitor's :class:`~webapp.watch.placement.Placement` on the cluster's Redis."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    @property
    def node(self) -> str:
        return self.bus.config.node_id

    @property
    def recheck(self) -> float:
        return self.bus.config.lease_seconds / 3  # as often as a holder renews its leases

    async def survey(self, keys: Sequence[StreamKey], holding: int) -> Survey:
        now, node = time.time(), self.node
        names = [str(k) for k in keys]
        pipe = self.bus.redis.pipeline(transaction=False)
        pipe.zadd(NODES, {node: now + self.bus.config.lease_seconds})
        pipe.zremrangebyscore(NODES, "-inf", now)
        pipe.zrange(NODES, 0, -1)
        pipe.hset(COUNTS, node, holding)
        pipe.hgetall(COUNTS)
        if names:
            pipe.mget([PREFIX + "lease:" + n for n in names])
            pipe.mget([PREFIX + "refused:" + n for n in names])
        answers = await checked(pipe.execute())
        alive = set(answers[2]) | {node}
        counts = {n: int(c) for n, c in answers[4].items() if n in alive}
        if len(answers[4]) > len(counts):  # forget the dead nodes' counts
            await checked(self.bus.redis.hdel(COUNTS, *(set(answers[4]) - alive)))
        leases, refused = (answers[5], answers[6]) if names else ([], [])
        holders = {
            k: str(v).rpartition(":")[0] for k, v in zip(keys, leases, strict=True) if v is not None
        }
        gone = frozenset(k for k, v in zip(keys, refused, strict=True) if v is not None)
        return Survey(holders, gone, len(alive), counts)

    async def refuse(self, key: StreamKey) -> None:
        await checked(self.bus.redis.set(PREFIX + "refused:" + str(key), "1", ex=REFUSED_FOR))
