"""Closed socket transports that reference counting frees: CPython 3.12's fix, on 3.11.

On Python 3.11 an asyncio socket transport keeps a bound method of itself
(``_read_ready_cb``) for as long as it exists, so every connection that ends (a
viewer's, an upstream's, a REST call's) leaves a reference cycle (the transport,
its socket object and its extra info) that only the cycle detector frees: and
while the server freezes long-lived objects (:mod:`webapp.collector`), not before
the next sweep. CPython 3.12 drops the method when the transport closes
(gh-100348); :func:`release_closed_transports` does the same here, once per process.
It touches nothing a live transport uses: the method is dropped after the
protocol was told the connection is lost, when the transport has no socket left.
"""

from __future__ import annotations

import sys
from asyncio import selector_events
from collections.abc import Callable
from typing import Any

_DONE = "_burki_releases_read_ready_cb"


def release_closed_transports() -> None:
    """Make every socket transport of this process drop its read callback once closed."""
    if sys.version_info >= (3, 12):
        return  # CPython does it
    transport: Any = getattr(selector_events, "_SelectorSocketTransport", None)
    if transport is None or getattr(transport, _DONE, False):
        return
    lost: Callable[[Any, BaseException | None], None] = transport._call_connection_lost

    def _call_connection_lost(self: Any, exc: BaseException | None) -> None:
        try:
            lost(self, exc)
        finally:
            self._read_ready_cb = None

    transport._call_connection_lost = _call_connection_lost
    setattr(transport, _DONE, True)
