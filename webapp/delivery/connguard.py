"""What one client may hold of the server: a share of its connections, a bounded request head,
and a body that arrives in time.

uvicorn's h11 protocol limits connections in total only, bounds a request head only while
it is incomplete (a whole head in one read is taken at any size), and never times out a
body: a client sending one byte every few seconds holds its connection for as long as it
likes, and a thousand of them from one host leave nobody else a connection.
:class:`webapp.delivery.protocol.HeadTimeoutProtocol` asks this module three things:

- :meth:`AddressShare.admit`: may this peer open one more connection? Each client address
  (an IPv6 address counts as its /64) holds at most its share; trusted proxies (whose
  connections carry many clients) are not counted.
- :func:`head_too_large`: does the head arriving now exceed the limit, however it was split?
- :class:`BodyClock`: when must the body be in? A body gets ``grace`` seconds, then must
  keep an average of ``min_rate`` bytes a second, and must be whole within ``timeout``.

Pure bookkeeping: no sockets, no timers (the protocol owns those).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass

from webapp.access.netaddr import Network, contains
from webapp.access.throttle import address_key

_HEAD_END = re.compile(rb"\n\r?\n")  # what h11 takes for the end of a head


def head_too_large(buffered: int, data: bytes, limit: int) -> bool:
    """Whether a head of which ``buffered`` bytes are already held, and ``data`` just came,
    is (or will be) larger than ``limit`` bytes. Only the part of ``data`` up to the head's
    end counts: a body in the same read is not the head's."""
    if buffered + len(data) <= limit:
        return False
    end = _HEAD_END.search(data)
    return buffered + (end.end() if end is not None else len(data)) > limit


class AddressShare:
    """Open connections per client address, each address under ``share``."""

    def __init__(self, share: int, trusted: list[Network]) -> None:
        self.share = share
        self.trusted = trusted
        self.open: Counter[str] = Counter()
        self._of: dict[Hashable, str] = {}  # only connections counted (not trusted proxies)

    def admit(self, conn: Hashable, address: str | None) -> bool:
        """Count ``conn`` against its address, or False when the address holds its share."""
        if address is None or contains(self.trusted, address):
            return True
        key = address_key(address)
        if self.open[key] >= self.share:
            return False
        self.open[key] += 1
        self._of[conn] = key
        return True

    def leave(self, conn: Hashable) -> None:
        key = self._of.pop(conn, None)
        if key is not None:
            self.open[key] -= 1
            if self.open[key] <= 0:
                del self.open[key]


@dataclass(frozen=True, slots=True)
class BodyPace:
    grace: float  # seconds before the rate counts
    min_rate: float  # bytes per second, on average, after the grace
    timeout: float  # seconds for the whole body


class BodyClock:
    """Bodies being received: when each began and how much of it came."""

    def __init__(self) -> None:
        self.bodies: dict[Hashable, list[float]] = {}  # conn -> [began, bytes received]

    def __contains__(self, conn: Hashable) -> bool:
        return conn in self.bodies

    def begin(self, conn: Hashable, now: float) -> None:
        self.bodies[conn] = [now, 0.0]

    def received(self, conn: Hashable, size: int) -> None:
        body = self.bodies.get(conn)
        if body is not None:
            body[1] += size

    def end(self, conn: Hashable) -> None:
        self.bodies.pop(conn, None)

    def due(self, conn: Hashable, pace: BodyPace) -> float | None:
        """When ``conn``'s body is late: each byte buys ``1 / min_rate`` seconds after the
        grace, never past the whole-body timeout. None: no body is being received."""
        body = self.bodies.get(conn)
        if body is None:
            return None
        began, size = body
        return began + min(pace.timeout, pace.grace + size / pace.min_rate)


def refusal(status: int, reason: str, message: str) -> bytes:
    """A whole response that closes the connection, for a request the app never sees."""
    body = message.encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"connection: close\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode() + body
