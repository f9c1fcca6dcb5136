"""Inputs a stream's own timers decide: the call went quiet, the redaction hold ran out, a
health threshold is due with no frame from Burki.

Alone the stream feeds such an input to itself at once. In a cluster only the lease
holder decides, as an input it publishes, so that every node applies it at the same
place among the inputs; at most one publication of each kind is in flight. A node that
cannot publish right now (``publish`` gives None: no lease, or a lease whose upstream has
not started because the shared log is not read to its end yet) decides nothing: feeding
the input to itself alone would number its frames apart from every other node's. The
timer fires again on the holder that can.

Ownership: this owns those publishing tasks (one per kind of input, never more); the
stream that owns this cancels and awaits them through :meth:`tasks` when it closes.
No other code cancels them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from webapp.calls.inputs import Feed, HealthDue, HoldReleased, Input, WentQuiet
from webapp.wire.streamkey import StreamKey

log = logging.getLogger("webapp.relay.stream")

Timed = WentQuiet | HoldReleased | HealthDue


class TimedInputs:
    def __init__(
        self,
        key: StreamKey,
        shared: bool,
        feed: Callable[[Input], None],
        publish: Callable[[], Feed | None],
    ) -> None:
        self._key = key
        self._shared = shared
        self._feed = feed
        self._publish = publish
        self._tasks: dict[type, asyncio.Task[None]] = {}

    def decide(self, item: Timed) -> None:
        """A timer fired: feed ``item`` here (alone) or publish it (a cluster's holder)."""
        if not self._shared:
            self._feed(item)
        elif self._publish() is not None and type(item) not in self._tasks:  # the holder, once
            self._tasks[type(item)] = asyncio.create_task(self._publish_timed(item))

    def tasks(self) -> list[asyncio.Task[None]]:
        """The publications in flight, for the stream's close to cancel and await."""
        return list(self._tasks.values())

    async def _publish_timed(self, item: Timed) -> None:
        """Publish an input a holder's timer decided (its task is the stream's)."""
        try:
            publish = self._publish()  # read again: the task starts after the decision
            if publish is None:
                log.info("stream %s: %s not published (the lease moved)", self._key, item)
                return
            await publish(item)
        except Exception as exc:  # the lease moved or Redis went: the next holder decides
            log.info("stream %s: %s not published (%s)", self._key, item, type(exc).__name__)
        finally:
            self._tasks.pop(type(item), None)
