"""Caps on open streams: per viewer session, per user, and in total.

Each open SSE response holds a :class:`Lease` until it ends, on as many places as
streams it opens (a multiplexed request naming twelve calls holds twelve: each may
be an upstream connection to Burki). ``take`` checks the three counts and takes all
three in one call that never awaits, so concurrent openings cannot all pass the
check before any is counted.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Limits:
    per_session: int
    per_user: int
    total: int


class CapReached(Exception):
    """A cap is full; the message says which, for the 429 answer."""


class SharedPlace(Protocol):
    """One open stream's place in a cluster's counts (``webapp.cluster.streamcaps``)."""

    async def release(self) -> None: ...


class SharedCaps(Protocol):
    """The per-user and per-session caps counted across a cluster's nodes (Redis).

    Each node's own :class:`StreamCaps` still applies first. ``take`` raises
    :class:`CapReached`, or gives None when the shared counts cannot be reached (the
    stream opens under the node's own caps).
    """

    async def take(self, user: str, session: str | None, count: int = 1) -> SharedPlace | None: ...
    async def close(self) -> None: ...


class Lease:
    def __init__(self, caps: StreamCaps, keys: list[str], count: int) -> None:
        self._caps, self._keys, self._count = caps, keys, count
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._caps._give_back(self._keys, self._count)


class StreamCaps:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.open: Counter[str] = Counter()

    def take(self, user: str, session: str | None, count: int = 1) -> Lease:
        """A lease on ``count`` more streams of ``user`` (and ``session``), or CapReached."""
        keys = [f"user:{user}", "total"]
        if session is not None:
            keys.append(f"session:{session}")
        if self.open["total"] + count > self.limits.total:
            raise CapReached("The dashboard has as many streams open as it allows.")
        if self.open[f"user:{user}"] + count > self.limits.per_user:
            raise CapReached(over(count, self.limits.per_user, "You have"))
        if (
            session is not None
            and self.open[f"session:{session}"] + count > self.limits.per_session
        ):
            raise CapReached(over(count, self.limits.per_session, "This session has"))
        self.open.update(dict.fromkeys(keys, count))
        return Lease(self, keys, count)

    def _give_back(self, keys: list[str], count: int) -> None:
        self.open.subtract(dict.fromkeys(keys, count))
        for key in keys:
            if self.open[key] <= 0:
                del self.open[key]


def over(count: int, cap: int, who: str) -> str:
    """Why ``count`` more streams do not fit under ``cap``, for the 429 answer."""
    if count > cap:
        return f"This request names {count} streams; {cap} at most may be open."
    return f"{who} {cap} streams open, the most allowed."
