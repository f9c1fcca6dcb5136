"""One streaming WebSocket connection of the simulator and its outbound queue.

Broadcasting is synchronous (``Simulator.add_segment`` is a plain method), so a
frame for a client is never sent in place: :meth:`Peer.send` queues it and the
peer's writer task sends the queue in order. The writer task is created and
cancelled by the connection handler that owns the peer; nothing else awaits it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from webapp.simulator.faults import MALFORMED_FRAME, Faults

logger = logging.getLogger("webapp.simulator")

QUEUE_LIMIT = 10_000
"""Frames queued for one client before the simulator gives up on it (TCP abort)."""


class Peer:
    """A connection that passed the handshake checks and streams a key.

    ``faults`` is read at each send (latency, malformed frames); ``drop_after``
    was read from the faults when the connection arrived.
    """

    def __init__(
        self,
        ws: ServerConnection,
        key: str,
        faults: Callable[[], Faults],
        drop_after: int | None = None,
    ) -> None:
        self.ws = ws
        self.key = key
        self.sent = 0
        self.silent = False
        self.handler_dead = False  # open-source mode: reads and ignores, answers no JSON ping
        self.finished = asyncio.Event()
        """Set by the owning handler once the peer is unregistered and its writer gone."""
        self._faults = faults
        self._drop_after = drop_after
        self._live = 0
        self._queue: asyncio.Queue[tuple[float, str | bytes]] = asyncio.Queue(QUEUE_LIMIT)

    def send(self, frame: str | bytes) -> None:
        """Queue a frame; it leaves no earlier than ``latency`` seconds from now."""
        if self.silent:
            return
        due = asyncio.get_running_loop().time() + max(0.0, self._faults().latency)
        try:
            self._queue.put_nowait((due, frame))
        except asyncio.QueueFull:
            logger.warning("%s: a client fell %d frames behind; dropped", self.key, QUEUE_LIMIT)
            self.abort()

    def send_live(self, frame: str | bytes) -> None:
        """Queue a live (broadcast) frame, after a garbage frame every Nth time if asked."""
        self._live += 1
        every = self._faults().malformed_every
        if every and self._live % every == 0:
            self.send(MALFORMED_FRAME)
        self.send(frame)

    async def run_writer(self) -> None:
        """Send the queue in order; abort the TCP connection after ``drop_after`` frames."""
        loop = asyncio.get_running_loop()
        while not self._should_drop():
            due, frame = await self._queue.get()
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if self.silent:
                continue
            try:
                await self.ws.send(frame)
            except ConnectionClosed:
                return
            self.sent += 1
        logger.info("%s: dropping the connection after %d frames", self.key, self.sent)
        self.abort()

    def _should_drop(self) -> bool:
        return self._drop_after is not None and self.sent >= self._drop_after

    def hang(self) -> None:
        """Go silent: read nothing (so no pong, not even to protocol pings), send nothing."""
        self.silent = True
        self.ws.transport.pause_reading()
        # Our own keepalive would notice the missing pongs and close the socket,
        # which is not silent; a hung server stops pinging too.
        if self.ws.keepalive_task is not None:
            self.ws.keepalive_task.cancel()

    def abort(self) -> None:
        """Drop the TCP connection with no close frame."""
        self.ws.transport.abort()
