"""Building a node's cluster parts, and refusing a cluster that cannot work."""

from __future__ import annotations

import logging
import os
import socket
from urllib.parse import urlsplit

from redis.asyncio import Redis

from webapp.access.netaddr import is_loopback
from webapp.cluster.bus import Bus, BusConfig, Trouble
from webapp.cluster.replica import Cluster

ANSWER_WAIT = 3.0  # seconds Redis has to answer at start-up

log = logging.getLogger(__name__)


class ClusterUnusable(Exception):
    """The configured Redis does not answer: one line that says so."""


def node_id(configured: str) -> str:
    return configured or f"{socket.gethostname()}-{os.getpid()}"


def cluster(url: str, config: BusConfig) -> Cluster:
    return Cluster(Bus.connect(url, config))


def exposure(url: str) -> list[str]:
    """What is unsafe about reaching Redis at ``url`` (never the password itself)."""
    parts = urlsplit(url)
    found = []
    if parts.scheme in ("redis", "rediss") and not parts.password:
        found.append("REDIS_URL has no password: anyone who reaches Redis can deny service")
    if parts.scheme == "redis" and not is_loopback(parts.hostname or ""):
        found.append("REDIS_URL is redis:// to another machine: use rediss:// (TLS)")
    return found


async def check(url: str) -> None:
    """Raise :class:`ClusterUnusable` unless Redis at ``url`` answers a PING; warn (once,
    at start-up) about a Redis without a password or reached across machines without TLS."""
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
    for warning in exposure(url):  # a cluster that starts: a refusal stays one line
        log.warning("%s", warning)
