"""The fault knobs of the simulator.

A :class:`Faults` is a plain mutable dataclass: tests and benchmarks flip its
fields while the simulator runs. Knobs about *connecting* (``refuse_all``,
``hang_on_connect``, ``close_code_on_connect``, ``drop_after_messages``) are read
when a connection arrives, so they apply to connections made after they are set;
knobs about *sending* (``latency``, ``malformed_every``, ``replay_delay``) are read
at each send; ``segment_rate`` takes effect at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MALFORMED_FRAME = "<<simulated garbage: this frame is not JSON>>"
"""The text frame sent by ``malformed_every``."""


@dataclass
class Faults:
    latency: float = 0.0
    """Seconds between a frame being produced and leaving the socket (a delay line:
    frames keep their order and are not rate-limited)."""

    refuse_all: bool = False
    """Answer every WebSocket upgrade with HTTP 503. REST keeps working."""

    drop_after_messages: int | None = None
    """Abort each new connection (TCP reset, no close frame) after it was sent this
    many frames, counting every frame the connection sent, greeting included."""

    hang_on_connect: bool = False
    """Accept and authenticate each new connection, then go silent: nothing is sent
    and nothing is read (so no pong of any kind)."""

    close_code_on_connect: int | None = None
    """Accept each new connection, then close it at once with this code (before
    authentication and before anything is sent)."""

    malformed_every: int | None = None
    """On every connection, send a non-JSON text frame before every Nth live message
    (live: broadcast after the greeting and replay, not answers to the client)."""

    segment_rate: float | None = None
    """Emit this many final segments per second on every in-progress call that has a
    live socket. Content: ``"t=<time.time() with 6 decimals> n=<sequence number>"``."""

    replay_delay: float = 0.0
    """Seconds to wait between replayed transcript segments on connect, so a test can
    put a live segment in the middle of the replay."""

    greeting_delay: float = 0.0
    """Open-source mode: seconds between registering a new socket for broadcasts and
    sending its ``connection_established`` (live frames can come first, as in Burki)."""

    database_down: bool = False
    """Burki's database is down: every key is refused (WebSocket ``authentication_failed``
    and 1008, REST 401), the valid one included."""

    denied: frozenset[str] = frozenset()
    """Stream keys (``call:<sid>``) refused as another organisation's: an ``access_denied``
    error and 1008 on each connection, though the REST lists them."""

    _watchers: list[Callable[[], None]] = field(
        default_factory=list, init=False, repr=False, compare=False
    )

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        for watcher in getattr(self, "_watchers", ()):
            watcher()

    def watch(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after every change of a knob (the simulator wakes its pacer)."""
        self._watchers.append(callback)

    def unwatch(self, callback: Callable[[], None]) -> None:
        if callback in self._watchers:
            self._watchers.remove(callback)
