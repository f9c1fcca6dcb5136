"""Ids Burki just said do not exist, remembered for a short while.

Made-up ids are cheap to send and each would cost a Burki REST call (a page
load) or an upstream connection retrying its handshake (a stream): Burki may
rate-limit or ban the key for everyone. So a 404 from Burki is remembered for
``DASHBOARD_MISSING_CACHE_SECONDS``: meanwhile pages answer 404 without asking
again, and no route opens an upstream for the id. Concurrent lookups of one id
share one REST call (:meth:`MissingIds.lookup`). Bounded (LRU) so a flood of
made-up ids cannot grow it.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from webapp.wire.rest import NoRoute, NotFound
from webapp.wire.streamkey import StreamKey

T = TypeVar("T")

MAX_REMEMBERED = 10_000


NO_CAMPAIGNS = "This Burki has no campaigns (it answers calls only)."


class MissingIds:
    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._until: OrderedDict[StreamKey, float] = OrderedDict()
        self._why: dict[StreamKey, str] = {}  # a sentence other than "no such id"
        self._asking: dict[StreamKey, asyncio.Task[Any]] = {}

    async def lookup(self, key: StreamKey, ask: Callable[[], Awaitable[T]]) -> T:
        """``ask()`` (a REST lookup of ``key``), one call shared by concurrent callers.

        Raises NotFound, remembered for the ttl, without asking while it is known.
        The shared call runs as a task of its own (it ends with the REST timeout),
        so a caller that goes away does not cancel it for the others.
        """
        if key in self:
            raise NotFound(f"{key.kind} {key.id} does not exist")
        task = self._asking.get(key)
        if task is None:
            task = self._asking[key] = asyncio.ensure_future(ask())
            task.add_done_callback(lambda done: self._settled(key, done))
        result: T = await asyncio.shield(task)
        return result

    def _settled(self, key: StreamKey, task: asyncio.Task[Any]) -> None:
        self._asking.pop(key, None)
        failed = None if task.cancelled() else task.exception()
        if isinstance(failed, NotFound):
            self.note(key, reason(key, failed) or "")

    def note(self, key: StreamKey, why: str = "") -> None:
        if self.ttl <= 0:
            return
        self._until[key] = self._clock() + self.ttl
        self._until.move_to_end(key)
        if why:
            self._why[key] = why
        while len(self._until) > MAX_REMEMBERED:
            gone, _ = self._until.popitem(last=False)
            self._why.pop(gone, None)

    def why(self, key: StreamKey, failed: NotFound | None = None) -> str | None:
        """Why ``key`` is missing when it is more than "no such id" (None): this Burki has
        no campaign API at all. ``failed``: the lookup's own 404, else what was remembered."""
        named = reason(key, failed) if failed is not None else None
        return named or self._why.get(key)

    def __contains__(self, key: object) -> bool:
        until = self._until.get(key) if isinstance(key, StreamKey) else None
        if until is None:
            return False
        if until <= self._clock():
            del self._until[key]  # type: ignore[arg-type]
            self._why.pop(key, None)  # type: ignore[call-overload]
            return False
        return True

    def forget(self, key: StreamKey) -> None:
        self._until.pop(key, None)
        self._why.pop(key, None)


def reason(key: StreamKey, failed: NotFound) -> str | None:
    """Burki's 404 for ``key`` in a sentence, when it says more than "no such id": no route
    at all for a campaign is the open-source server, which has no campaign API."""
    if isinstance(failed, NoRoute) and key.kind == "campaign":
        return NO_CAMPAIGNS
    return None
