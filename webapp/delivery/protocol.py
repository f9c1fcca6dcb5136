"""Our HTTP/1.1 protocol: uvicorn's h11 protocol, with the deadlines and limits it lacks.

uvicorn's h11 protocol has no timeout for a request's head (a half-sent request would
hold its connection forever) nor for its body, bounds a head only while it is
incomplete, and limits connections in total only. :class:`HeadTimeoutProtocol` adds
a head deadline, a size bound on the head however it arrives, a minimum rate and a
deadline for the body, and each client address's share of connections (the
bookkeeping is :mod:`webapp.delivery.connguard`); and it offers the app its
connection's transport (:data:`webapp.delivery.sseresponse.CONNECTION`), the SSE
responses' direct path. :class:`DashboardConfig` is the uvicorn configuration that
carries those limits (``webapp.server.uvicorn_config`` builds it from the settings).

What this relies on in uvicorn and h11 is pinned by ``tests/test_uvicorn_pin.py``.
"""

from __future__ import annotations

import asyncio
import math
import weakref
from collections.abc import Hashable
from typing import Protocol

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from webapp.delivery.connguard import AddressShare, BodyClock, BodyPace, head_too_large, refusal
from webapp.delivery.sseresponse import CONNECTION, connection_lost


class DashboardConfig(uvicorn.Config):
    header_timeout: float = 10.0
    max_head_bytes: int = 32_768
    body_pace: BodyPace = BodyPace(grace=10.0, min_rate=500.0, timeout=30.0)
    address_share: AddressShare | None = None  # this server's connections per client address
    gc_freeze_interval: float = 0.0
    gc_sweep: float = 0.0


class HeadTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request head or body is not complete
    in time, refusing heads over the size limit and peers over their share of connections,
    and offering the app its connection's transport (``delivery.sseresponse.CONNECTION``).

    The head clock runs whenever the connection waits for a request head: from
    connect, and again from the first byte of each keep-alive request (idle
    time before it is uvicorn's keep-alive timeout). The body clock runs from the
    head's end until the body is in (:class:`webapp.delivery.connguard.BodyClock`).
    """

    # No attribute of our own: one more than uvicorn's would give every connection's
    # instance dict a table of its own (~1.5 KiB per idle viewer). The head deadline is
    # kept by HeadDeadlines, the transport is uvicorn's.

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        share = getattr(self.config, "address_share", None)
        if share is not None and not share.admit(self, self.client[0] if self.client else None):
            self.logger.info("refused a connection: its address holds its share of connections")
            self.transport.write(refusal(503, "Service Unavailable", "Too many connections."))
            self.transport.close()
            return
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE and self._head_too_large(data):
            self.logger.info("refused a request head over the size limit")
            self._disarm()
            self.transport.write(refusal(431, "Request Header Fields Too Large", "Too large."))
            self.transport.close()
            return
        # A request task started while parsing inherits this: the SSE responses' direct path.
        token = CONNECTION.set(self.transport)
        try:
            super().data_received(data)
        finally:
            CONNECTION.reset(token)
        state = self.conn.their_state
        if self.transport.is_closing():
            self._disarm()
        elif state is h11.IDLE:
            self._arm()  # still waiting for (the rest of) a head
        elif state is h11.SEND_BODY:
            self._receiving(len(data))
        else:
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        connection_lost(self.transport)  # an SSE response on it stops (no task waits for this)
        share = getattr(self.config, "address_share", None)
        if share is not None:
            share.leave(self)
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.transport.is_closing():
            return
        # A pipelined request read with the last one: its head or body is on the clock too.
        state = self.conn.their_state
        if state is h11.SEND_BODY:
            self._receiving(0)
        elif state is h11.IDLE and len(getattr(self.conn, "_receive_buffer", b"")):
            self._arm()

    def _head_too_large(self, data: bytes) -> bool:
        # h11 bounds an incomplete head only: a whole head in one read passes at any size.
        limit = getattr(self.config, "max_head_bytes", DashboardConfig.max_head_bytes)
        buffered = len(getattr(self.conn, "_receive_buffer", b""))
        return head_too_large(buffered, data, limit)

    def _arm(self) -> None:
        seconds = getattr(self.config, "header_timeout", DashboardConfig.header_timeout)
        _deadlines_of(self.loop).add(self, seconds)

    def _receiving(self, size: int) -> None:
        clock = _bodies_of(self.loop)
        if self not in clock:  # the head just ended: its deadline gives way to the body's
            _deadlines_of(self.loop).discard(self)
            clock.begin(self, self.loop.time())
            _deadlines_of(self.loop).add(self, self._pace().grace)
        clock.received(self, size)

    def _disarm(self) -> None:
        _deadlines_of(self.loop).discard(self)
        _bodies_of(self.loop).end(self)

    def _pace(self) -> BodyPace:
        return getattr(self.config, "body_pace", DashboardConfig.body_pace)

    def too_slow(self) -> None:
        """A deadline passed (called by :class:`HeadDeadlines`): close the connection if its
        head, or its body, is late; a body still on pace waits for its next deadline."""
        if self.transport.is_closing():
            return
        state = self.conn.their_state
        if state is h11.IDLE:
            self.logger.info("closed a connection that sent no complete request head in time")
            self.transport.close()
        elif state is h11.SEND_BODY:
            due = _bodies_of(self.loop).due(self, self._pace())
            if due is not None and due > self.loop.time():
                _deadlines_of(self.loop).add(self, due - self.loop.time())
                return
            self.logger.info("closed a connection whose request body came too slowly")
            self._disarm()
            self.transport.close()


class Waiting(Protocol, Hashable):
    def too_slow(self) -> None: ...


class HeadDeadlines:
    """Connections waiting for a request head, grouped by deadline into ``GRAIN``-second
    buckets with one loop timer per bucket.

    A timer per connection, cancelled once its head is in, would stay in the loop's
    heap until its deadline: with thousands of SSE viewers connecting at once, that
    is a cancelled handle per viewer for ``header_timeout`` seconds. A bucket's set
    forgets a connection at once. A deadline is met up to ``GRAIN`` seconds late.
    """

    GRAIN = 0.1

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.buckets: dict[int, set[Waiting]] = {}
        self.waiting: dict[Waiting, int] = {}  # each waiting connection's bucket

    def add(self, protocol: Waiting, seconds: float) -> None:
        """Call ``protocol.too_slow()`` in ``seconds`` (rounded up to the grain), unless it
        already waits (its first deadline stands) or is discarded first."""
        if protocol in self.waiting:
            return
        slot = math.ceil((self.loop.time() + seconds) / self.GRAIN)
        bucket = self.buckets.get(slot)
        if bucket is None:
            bucket = self.buckets[slot] = set()
            self.loop.call_at(slot * self.GRAIN, self._expire, slot)
        bucket.add(protocol)
        self.waiting[protocol] = slot

    def discard(self, protocol: Waiting) -> None:
        slot = self.waiting.pop(protocol, None)
        if slot is not None and (bucket := self.buckets.get(slot)) is not None:
            bucket.discard(protocol)

    def _expire(self, slot: int) -> None:
        for protocol in self.buckets.pop(slot, ()):
            del self.waiting[protocol]
            protocol.too_slow()


_deadlines: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, HeadDeadlines] = (
    weakref.WeakKeyDictionary()
)


def _deadlines_of(loop: asyncio.AbstractEventLoop) -> HeadDeadlines:
    found = _deadlines.get(loop)
    if found is None:
        found = _deadlines[loop] = HeadDeadlines(loop)
    return found


_bodies: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, BodyClock] = (
    weakref.WeakKeyDictionary()
)


def _bodies_of(loop: asyncio.AbstractEventLoop) -> BodyClock:
    found = _bodies.get(loop)
    if found is None:
        found = _bodies[loop] = BodyClock()
    return found
