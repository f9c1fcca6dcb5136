"""Delivery marks: how far each route's webhooks of a stream were delivered, shared by the
nodes of a cluster, so the node that takes a stream over posts what its last holder could
not, and nothing it did.

A route's frames of a stream are numbered from 1 under the stream's epoch, alike on every
node (:class:`~webapp.relay.ports.Outgoing`). The holder moves a route's mark to a frame's
number once that frame was delivered or given up (frames go out in order, one at a time,
per route). A frame at or before the mark is never posted again; one after it that a new
holder still keeps is queued again; one it no longer keeps is counted as lost.

Delivery is at least once: a POST whose answer was lost, or whose mark could not be
written, is posted again by the next holder. The receiver dedupes on the event id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from webapp.relay.ports import DeliveryMarks, Mark, MarksUnavailable, Outgoing
from webapp.wire.streamkey import StreamKey

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Resumed:
    """What a new holder queues on one route, and how many frames after the mark it no
    longer keeps (posted by nobody)."""

    queue: list[Outgoing]
    lost: int


def resume(
    route: str,
    kept: Sequence[Outgoing],
    counts: Mapping[str, int],
    mark: Mark | None,
) -> Resumed:
    """Every kept frame of ``route`` after ``mark`` (None: nothing was ever delivered).

    A mark of another epoch (a node renumbered the stream) cannot be compared: every
    kept frame is queued again, at least once being the promise.
    """
    mine = [(item, n) for item in kept for r, n in item.numbers if r == route]
    epoch = kept[-1].epoch if kept else ""
    if mark is not None and mark.epoch != epoch:
        return Resumed([item for item, _ in mine], 0)
    done = mark.n if mark is not None else 0
    first = mine[0][1] if mine else counts.get(route, 0) + 1
    return Resumed([item for item, n in mine if n > done], max(0, first - 1 - done))


class Marks:
    """The dispatcher's side of the shared marks: each call bounded, trouble logged, and
    an unknown mark read as "not delivered" (at least once)."""

    def __init__(self, store: DeliveryMarks, timeout: float) -> None:
        self._store = store
        self._timeout = timeout

    async def fetch(self, stream: StreamKey) -> dict[str, Mark] | None:
        """Every route's mark of ``stream``; None when the store cannot say."""
        try:
            async with asyncio.timeout(self._timeout):
                return await self._store.marks(stream)
        except (MarksUnavailable, TimeoutError):
            log.warning("webhook: delivery marks of %s unavailable", stream)
            return None

    async def covers(self, stream: StreamKey, route: str, place: Mark) -> bool:
        """Whether ``route``'s mark says the frame at ``place`` was delivered (unknown: no)."""
        marks = await self.fetch(stream)
        mark = marks.get(route) if marks is not None else None
        return mark is not None and mark.covers(place.epoch, place.n)

    async def advance(self, stream: StreamKey, route: str, place: Mark) -> bool:
        """Move ``route``'s mark to ``place``; False when the store did not take it."""
        try:
            async with asyncio.timeout(self._timeout):
                await self._store.advance(stream, route, place)
        except (MarksUnavailable, TimeoutError):
            return False
        return True
