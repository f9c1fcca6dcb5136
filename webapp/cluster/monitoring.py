"""The monitor's placement on the cluster's Redis: who holds which stream, who monitors.

Each look of a node's monitor (``webapp.watch.monitor``) is one round trip: the node says it
is alive (``monitors``, a sorted set scored by when each node's word runs out, a lease time
after it was given) and how many streams it holds (``monitored``), and reads every listed
stream's lease holder and whether a node found Burki refusing it (``refused:<stream>``, kept
for an hour). The streams themselves are placed by their existing leases (``webapp.cluster.bus``):
a node opens a free stream, its replica takes the lease; a dead node's leases run out and
its word with them, so the others' share grows and they take its streams.

Each organisation's monitor has its own placement (:class:`RedisPlacement` ``org``): its own
``monitors`` and ``monitored`` (``<org>/monitors`` for an organisation other than the
default), so a node's share and cap are counted per organisation, and a node that does not
serve an organisation yet (it has not read it from the book) is not counted among its
monitors. The streams' leases and ``refused`` marks are named by their keys, org included.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from webapp.cluster.bus import PREFIX, Bus, checked
from webapp.watch.placement import Survey
from webapp.wire.streamkey import DEFAULT_ORG, StreamKey

NODES = PREFIX + "monitors"
COUNTS = PREFIX + "monitored"
REFUSED_FOR = 3600  # seconds a refused stream is left alone by every node


def of_org(name: str, org: str) -> str:
    """The key ``name`` (``burki:<what>``) of organisation ``org``'s monitors."""
    return name if org == DEFAULT_ORG else f"{PREFIX}{org}/{name.removeprefix(PREFIX)}"


class RedisPlacement:
    """One organisation's monitor's :class:`~webapp.watch.placement.Placement` on Redis."""

    def __init__(self, bus: Bus, org: str = DEFAULT_ORG) -> None:
        self.bus = bus
        self.org = org
        self.nodes, self.counts = of_org(NODES, org), of_org(COUNTS, org)

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
        pipe.zadd(self.nodes, {node: now + self.bus.config.lease_seconds})
        pipe.zremrangebyscore(self.nodes, "-inf", now)
        pipe.zrange(self.nodes, 0, -1)
        pipe.hset(self.counts, node, holding)
        pipe.hgetall(self.counts)
        if names:
            pipe.mget([PREFIX + "lease:" + n for n in names])
            pipe.mget([PREFIX + "refused:" + n for n in names])
        answers = await checked(pipe.execute())
        alive = set(answers[2]) | {node}
        counts = {n: int(c) for n, c in answers[4].items() if n in alive}
        if len(answers[4]) > len(counts):  # forget the dead nodes' counts
            await checked(self.bus.redis.hdel(self.counts, *(set(answers[4]) - alive)))
        leases, refused = (answers[5], answers[6]) if names else ([], [])
        holders = {
            k: str(v).rpartition(":")[0] for k, v in zip(keys, leases, strict=True) if v is not None
        }
        gone = frozenset(k for k, v in zip(keys, refused, strict=True) if v is not None)
        return Survey(holders, gone, len(alive), counts)

    async def refuse(self, key: StreamKey) -> None:
        await checked(self.bus.redis.set(PREFIX + "refused:" + str(key), "1", ex=REFUSED_FOR))
