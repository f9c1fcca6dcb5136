"""Who is connected to which stream, and how many ever were.

A stream key is ``call:<sid>`` or ``campaign:<id>``. A peer is *live* from the end
of its greeting until its connection ends; a hung peer (``Simulator.hang``,
``Faults.hang_on_connect``) no longer counts as live, because it no longer streams,
but it is kept so that ``drop`` and ``stop`` can abort it.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict

from webapp.simulator.peer import Peer


class Streams:
    def __init__(self) -> None:
        self._live: defaultdict[str, set[Peer]] = defaultdict(set)
        self._hung: defaultdict[str, set[Peer]] = defaultdict(set)
        self._total: Counter[str] = Counter()
        self._peak: Counter[str] = Counter()  # the most live at once
        self._attempts: Counter[str] = Counter()
        self._changed = asyncio.Event()

    def attempted(self, key: str) -> None:
        self._attempts[key] += 1

    def add(self, peer: Peer) -> None:
        self._live[peer.key].add(peer)
        self._total[peer.key] += 1
        self._peak[peer.key] = max(self._peak[peer.key], len(self._live[peer.key]))
        self._notify()

    def add_hung(self, peer: Peer) -> None:
        self._hung[peer.key].add(peer)
        self._total[peer.key] += 1

    def mark_hung(self, peer: Peer) -> None:
        self._live.get(peer.key, set()).discard(peer)
        self._hung[peer.key].add(peer)
        self._notify()

    def remove(self, peer: Peer) -> None:
        for peers in (self._live, self._hung):
            if peer.key in peers:
                peers[peer.key].discard(peer)
                if not peers[peer.key]:
                    del peers[peer.key]
        self._notify()

    def every_peer(self) -> list[Peer]:
        """Every live socket of every stream."""
        return [peer for peers in self._live.values() for peer in peers]

    def peers(self, key: str) -> list[Peer]:
        return list(self._live.get(key, ()))

    def all_peers(self, key: str) -> list[Peer]:
        return [*self._live.get(key, ()), *self._hung.get(key, ())]

    def hung_peers(self) -> list[Peer]:
        return [peer for peers in self._hung.values() for peer in peers]

    def live_keys(self, kind: str) -> list[str]:
        return [key for key, peers in self._live.items() if peers and key.startswith(kind + ":")]

    def count(self, key: str) -> int:
        return len(self._live.get(key, ()))

    def total(self, key: str) -> int:
        return self._total[key]

    def peak(self, key: str) -> int:
        return self._peak[key]

    def attempts(self, key: str) -> int:
        return self._attempts[key]

    async def wait_for(self, key: str, n: int, timeout: float) -> None:
        """Return once ``count(key) == n``; TimeoutError after ``timeout`` seconds."""
        try:
            async with asyncio.timeout(timeout):
                while self.count(key) != n:
                    await self._changed.wait()
        except TimeoutError:
            have = self.count(key)
            raise TimeoutError(f"{key} has {have} live connections, not {n}") from None

    def _notify(self) -> None:
        # Wake every waiter of this change; later waiters wait for the next one.
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
