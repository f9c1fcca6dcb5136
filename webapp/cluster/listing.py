"""One poller of Burki's lists for the whole cluster (the directory of ongoing calls).

The node that holds the ``directory`` lease polls Burki's REST and stores the
lists in Redis; every other node reads them from there. The lease is taken and
renewed at each poll, with a time to live of a few polls: when the polling
node's watchers leave (its poll stops) or it dies, another watching node takes
over at its next poll. Without a stored listing (none yet, or Redis away) a node
polls for itself: a board is never empty for want of Redis. The stored lists are sealed
(:mod:`webapp.cluster.sealing`: they hold callers' numbers, and a forged list would put
made-up calls on every board); lists that do not open are logged, counted and polled
for instead.

Each organisation has its own lease, lists and sealing key, named as its streams are
(:func:`listing_name`: ``directory`` for the default organisation, ``<org>/directory``
for another): one organisation's poller never answers another's directory, and lists
sealed for one organisation do not open as another's (a copy under another's key is
refused as forged).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable

from webapp.cluster import codec
from webapp.cluster.bus import PREFIX, Bus, Trouble
from webapp.cluster.sealing import Forged
from webapp.watch.directory import Listed
from webapp.wire.streamkey import DEFAULT_ORG

log = logging.getLogger(__name__)

LEASE = "directory"
POLLS_PER_LEASE = 3  # the lease outlives this many polls, so one late poll does not move it


def listing_name(org: str = DEFAULT_ORG) -> str:
    """The organisation's listing in Redis keys and seals, rendered as its streams are: no
    stream key is ``directory`` or ``<org>/directory`` (they are ``[<org>/]<kind>:<id>``)."""
    return LEASE if org == DEFAULT_ORG else f"{org}/{LEASE}"


class RedisListing:
    """One organisation's ``SharedListing`` (``webapp.watch.directory``) on the cluster's Redis."""

    def __init__(self, bus: Bus, interval: float, org: str = DEFAULT_ORG) -> None:
        self.bus = bus
        self.name = listing_name(org)
        self.ttl_ms = int(max(interval * POLLS_PER_LEASE, bus.config.lease_seconds) * 1000)
        self._value: str | None = None
        self._seal = bus.sealer.key(LEASE, self.name)

    async def lists(self, fetch: Callable[[], Awaitable[Listed]]) -> Listed:
        try:
            tick = await self.bus.tick(self.name, self._value, ttl_ms=self.ttl_ms)
            self._value = tick.value if tick.mine else None
            if not tick.mine:
                stored = await self.bus.redis.get(PREFIX + self.name)
                if stored is not None:
                    text = self._seal.open(str(stored), self.name)
                    calls, error, campaigns, campaign_error, has = codec.decode(text)
                    return list(calls), error, list(campaigns), campaign_error, bool(has)
        except Forged:
            self.bus.forged(LEASE, self.name, PREFIX + self.name, "it does not open")
            return await fetch()
        except (*Trouble, ValueError) as exc:
            log.warning("directory: shared listing unavailable (%s)", type(exc).__name__)
            return await fetch()
        listed = await fetch()
        if self._value is not None:
            with contextlib.suppress(*Trouble):
                sealed = self._seal.seal(codec.encode(listed), self.name)
                await self.bus.redis.set(PREFIX + self.name, sealed, px=self.ttl_ms)
        return listed
