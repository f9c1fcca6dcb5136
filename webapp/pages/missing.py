"""Ids Burki just said do not exist, remembered for a short while.

Made-up ids are cheap to send and each would cost a Burki REST call (a page
load) or an upstream connection retrying its handshake (a stream): Burki may
rate-limit or ban the key for everyone. So a 404 from Burki is remembered for
``DASHBOARD_MISSING_CACHE_SECONDS``: meanwhile pages answer 404 without asking
again, and no route opens an upstream for the id. Bounded (LRU) so a flood of
made-up ids cannot grow it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from webapp.wire.streamkey import StreamKey

MAX_REMEMBERED = 10_000


class MissingIds:
    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._until: OrderedDict[StreamKey, float] = OrderedDict()

    def note(self, key: StreamKey) -> None:
        if self.ttl <= 0:
            return
        self._until[key] = self._clock() + self.ttl
        self._until.move_to_end(key)
        while len(self._until) > MAX_REMEMBERED:
            self._until.popitem(last=False)

    def __contains__(self, key: object) -> bool:
        until = self._until.get(key) if isinstance(key, StreamKey) else None
        if until is None:
            return False
        if until <= self._clock():
            del self._until[key]  # type: ignore[arg-type]
            return False
        return True

    def forget(self, key: StreamKey) -> None:
        self._until.pop(key, None)
