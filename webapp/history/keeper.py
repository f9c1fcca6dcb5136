"""The history's running parts: the recorder's task and the retention prune, one owner.

The app's lifespan makes one :class:`Keeper`, :meth:`~Keeper.start`\\ s it and
:meth:`~Keeper.close`\\ s it (the queued records are written first, for a few
seconds at most). The prune runs at start and then every ``PRUNE_EVERY``
seconds; each kind of record keeps its own number of days. In a cluster every
node prunes: deleting what another node deleted already deletes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from webapp.history.recording import Recording, utcnow
from webapp.store.database import StoreUnavailable
from webapp.store.history import History, Kind
from webapp.store.recorder import Recorder

log = logging.getLogger(__name__)

PRUNE_EVERY = 3600.0  # seconds


@dataclass(frozen=True, slots=True)
class Retention:
    """Days each kind of record is kept."""

    alerts: int
    actions: int
    summaries: int

    def cutoffs(self, now: datetime) -> dict[Kind, datetime]:
        days: dict[Kind, int] = {
            "alerts": self.alerts,
            "actions": self.actions,
            "calls": self.summaries,
            "campaigns": self.summaries,
        }
        return {kind: now - timedelta(days=n) for kind, n in days.items()}


class Keeper:
    def __init__(
        self,
        rows: History,
        retention: Retention,
        queue: int = 10_000,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.rows = rows
        self.retention = retention
        self.recorder = Recorder(rows, queue)
        self.recording = Recording(self.recorder, clock)
        self._clock = clock
        self._pruner: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.recorder.start()
        if self._pruner is None:
            self._pruner = asyncio.create_task(self._prune_every(PRUNE_EVERY), name="history-prune")

    async def close(self) -> None:
        if self._pruner is not None:
            self._pruner.cancel()
            await asyncio.gather(self._pruner, return_exceptions=True)
            self._pruner = None
        await self.recorder.close()

    async def prune(self) -> dict[Kind, int]:
        """Delete every kind's rows past its retention; how many went of each."""
        gone: dict[Kind, int] = {}
        for kind, before in self.retention.cutoffs(self._clock()).items():
            gone[kind] = await self.rows.prune(kind, before)
        return gone

    async def _prune_every(self, seconds: float) -> None:
        while True:
            try:
                gone = await self.prune()
                if any(gone.values()):
                    log.info("history: pruned %s", ", ".join(f"{n} {k}" for k, n in gone.items()))
            except StoreUnavailable as exc:
                log.warning("history: not pruned (%s); next try in %.0f s", exc, seconds)
            except Exception:  # never silent, never the end of the pruning
                log.exception("history: the prune failed")
            await asyncio.sleep(seconds)
