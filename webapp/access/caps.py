"""Caps on open streams: per viewer session, per user, and in total.

Each open SSE response holds a :class:`Lease` until it ends. ``take`` checks
the three counts and takes all three in one call that never awaits, so
concurrent openings cannot all pass the check before any is counted.
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

    async def take(self, user: str, session: str | None) -> SharedPlace | None: ...
    async def close(self) -> None: ...


class Lease:
    def __init__(self, caps: StreamCaps, keys: list[str]) -> None:
        self._caps, self._keys = caps, keys
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._caps._give_back(self._keys)


class StreamCaps:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.open: Counter[str] = Counter()

    def take(self, user: str, session: str | None) -> Lease:
        """A lease on one more stream of ``user`` (and ``session``), or CapReached."""
        keys = [f"user:{user}", "total"]
        if session is not None:
            keys.append(f"session:{session}")
        if self.open["total"] >= self.limits.total:
            raise CapReached("The dashboard has as many streams open as it allows.")
        if self.open[f"user:{user}"] >= self.limits.per_user:
            raise CapReached(f"You have {self.limits.per_user} streams open, the most allowed.")
        if session is not None and self.open[f"session:{session}"] >= self.limits.per_session:
            raise CapReached(
                f"This session has {self.limits.per_session} streams open, the most allowed."
            )
        self.open.update(keys)
        return Lease(self, keys)

    def _give_back(self, keys: list[str]) -> None:
        self.open.subtract(keys)
        for key in keys:
            if self.open[key] <= 0:
                del self.open[key]
