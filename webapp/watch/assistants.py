"""Assistant names for call lists whose rows carry only an ``assistant_id``.

The open-source Burki server's call objects have no ``assistant_name``. The names
come from ``GET /api/v1/assistants``, read at most once per ``ttl`` seconds (and
again early when a call names an assistant not seen yet, at most once a minute);
a Burki without that endpoint is asked again only after ``ttl``. A call whose
assistant has no known name shows its id (``Assistant #7``), so the assistant
filter of the overview keeps working either way.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable

from webapp.wire.rest import BurkiRest, CallSummary, NotFound, RestError

TTL = 600.0
RECHECK_UNKNOWN = 60.0


def fallback_name(assistant_id: int) -> str:
    return f"Assistant #{assistant_id}"


class AssistantNames:
    def __init__(
        self, rest: BurkiRest, ttl: float = TTL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rest = rest
        self.ttl = ttl
        self.clock = clock
        self.names: dict[int, str] = {}
        self._read_at: float | None = None
        self._missing = False  # Burki said 404: not asked again before ttl
        self._reading: asyncio.Future[None] | None = None  # the read streams wait for

    async def fill(self, calls: list[CallSummary]) -> list[CallSummary]:
        """``calls`` with every missing ``assistant_name`` filled (a name, else the id)."""
        wanted = {c.assistant_id for c in calls if not c.assistant_name and c.assistant_id}
        if not wanted:
            return calls
        if self._due(unknown=bool(wanted - self.names.keys())):
            await self._read()
        return [
            dataclasses.replace(
                call,
                assistant_name=self.names.get(call.assistant_id, "")
                or fallback_name(call.assistant_id),
            )
            if not call.assistant_name and call.assistant_id
            else call
            for call in calls
        ]

    async def name_of(self, assistant_id: int) -> str:
        """One assistant's name (read as :meth:`fill` reads them), else its id in words."""
        if self._reading is None and self._due(unknown=assistant_id not in self.names):
            self._reading = asyncio.ensure_future(self._read())  # one read for every stream
            self._reading.add_done_callback(self._read_done)
        if self._reading is not None:
            await asyncio.shield(self._reading)
        return self.names.get(assistant_id) or fallback_name(assistant_id)

    def _read_done(self, _: asyncio.Future[None]) -> None:
        self._reading = None

    def _due(self, unknown: bool) -> bool:
        if self._read_at is None:
            return True
        age = self.clock() - self._read_at
        return age >= self.ttl or (unknown and not self._missing and age >= RECHECK_UNKNOWN)

    async def _read(self) -> None:
        self._read_at = self.clock()
        try:
            self.names = await self.rest.assistants()
            self._missing = False
        except NotFound:
            self._missing = True  # not on this Burki: ids are shown
        except RestError:
            pass  # down: the names known so far stay
