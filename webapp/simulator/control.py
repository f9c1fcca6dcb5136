"""What tests and benchmarks do to one organisation's live sockets: count them, wait for
them, and drop, close, silence or kill them. A mixin of :class:`Simulator`, whose
``session`` holds the sockets of its own organisation's world.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from webapp.simulator.handshake import parse_key

if TYPE_CHECKING:
    from webapp.simulator.session import Session


class StreamControl:
    session: Session

    # -- connection counting ----------------------------------------------------------

    def connections(self, key: str) -> int:
        """Live streaming sockets of ``key`` (``call:<sid>`` or ``campaign:<id>``) now."""
        return self.session.streams.count(parse_key(key).key)

    def connections_total(self, key: str) -> int:
        """Sockets of ``key`` ever accepted past authentication (hung ones included)."""
        return self.session.streams.total(parse_key(key).key)

    def connections_peak(self, key: str) -> int:
        """The most live sockets of ``key`` there ever were at once: 1 when each connection
        came after the previous one ended (a client's reconnect), whatever the total."""
        return self.session.streams.peak(parse_key(key).key)

    def attempts(self, key: str) -> int:
        """WebSocket upgrade requests ever made for ``key``, whatever became of them."""
        return self.session.streams.attempts(parse_key(key).key)

    async def wait_for_connections(
        self,
        key: str,
        n: int,
        timeout: float = 5.0,
    ) -> None:
        """Return once ``connections(key) == n``; TimeoutError after ``timeout`` s."""
        await self.session.streams.wait_for(parse_key(key).key, n, timeout)

    def send_raw(self, key: str, frame: str | bytes) -> None:
        """Send any frame (malformed, oversized, binary) to every live socket of ``key``."""
        for peer in self.session.streams.peers(parse_key(key).key):
            peer.send(frame)

    async def drop(self, key: str) -> None:
        """Abort the TCP connections of ``key`` (no close frame); returns once they are gone."""
        peers = self.session.streams.all_peers(parse_key(key).key)
        for peer in peers:
            peer.abort()
        await asyncio.gather(*(peer.finished.wait() for peer in peers))

    async def close(self, key: str, code: int = 1011, reason: str = "Internal error") -> None:
        """Close the live sockets of ``key`` with ``code``; returns once they are gone."""
        peers = self.session.streams.peers(parse_key(key).key)
        await asyncio.gather(*(peer.ws.close(code, reason) for peer in peers))
        await asyncio.gather(*(peer.finished.wait() for peer in peers))

    def kill_handlers(self, key: str) -> None:
        """Make the handlers of ``key``'s live sockets die as a bad client frame makes them
        die in the open-source server: the socket stays open and answers protocol pings,
        but JSON pings get no ``pong`` and no broadcast arrives any more."""
        for peer in self.session.streams.peers(parse_key(key).key):
            self.session.kill(peer)

    def hang(self, key: str) -> None:
        """Make the live sockets of ``key`` silent: they stop reading (no pong of any
        kind) and sending. They no longer count as live; ``drop`` or ``stop`` ends them."""
        streams = self.session.streams
        for peer in streams.peers(parse_key(key).key):
            peer.hang()
            streams.mark_hung(peer)
