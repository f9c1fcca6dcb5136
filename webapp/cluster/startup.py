"""Building a node's cluster parts, and refusing a cluster that cannot work."""

from __future__ import annotations

import os
import socket

from redis.asyncio import Redis

from webapp.cluster.bus import Bus, BusConfig, Trouble
from webapp.cluster.replica import Cluster

ANSWER_WAIT = 3.0  # seconds Redis has to answer at start-up


class ClusterUnusable(Exception):
    """The configured Redis does not answer: one line that says so."""


def node_id(configured: str) -> str:
    return configured or f"{socket.gethostname()}-{os.getpid()}"


def cluster(url: str, config: BusConfig) -> Cluster:
    return Cluster(Bus.connect(url, config))


async def check(url: str) -> None:
    """Raise :class:`ClusterUnusable` unless Redis at ``url`` answers a PING."""
    redis = Redis.from_url(url, socket_timeout=ANSWER_WAIT, socket_connect_timeout=ANSWER_WAIT)
    try:
        answered = await redis.ping()
    except (*Trouble, ValueError) as exc:
        raise ClusterUnusable(
            f"REDIS_URL: Redis does not answer ({type(exc).__name__}); a cluster node cannot start"
        ) from None
    finally:
        await redis.aclose()
    if not answered:
        raise ClusterUnusable("REDIS_URL: Redis does not answer PING")
