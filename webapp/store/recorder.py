"""The history's writer: records taken without waiting, written in order by one task.

A stream hands each record to :meth:`Recorder.offer`, which never awaits nor
touches the database: the record joins a bounded queue in memory. One task
(:meth:`Recorder.run`, owned by the app's lifespan, which starts it and
:meth:`Recorder.close`\\ s it) writes the queue in batches. While the database is
unreachable the batch stays at the head of the queue and is tried again after a
growing pause (``retry`` up to ``retry_max`` seconds), so live viewing goes on
and the records are written, in order, once the database is back.

The queue holds at most ``limit`` records; past that a new record is refused,
counted in :attr:`Recorder.dropped` and logged (the first, then every
thousandth), never blocking the stream. A batch the database refuses for
another reason (a bug, not an outage) is written record by record and the
refused ones are logged and dropped, so one bad record never stops the rest.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence

from webapp.store.database import StoreUnavailable
from webapp.store.history import History
from webapp.store.records import Record

log = logging.getLogger(__name__)

BATCH = 200


class Recorder:
    def __init__(
        self, history: History, limit: int = 10_000, retry: float = 0.5, retry_max: float = 15.0
    ) -> None:
        self.history = history
        self.limit = limit
        self.dropped = 0
        self.written = 0
        self.outage = asyncio.Event()  # set while the database is out of reach
        self._queue: deque[Record] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._retry = (retry, retry_max)
        self._task: asyncio.Task[None] | None = None

    @property
    def unreachable(self) -> bool:
        """The last write found the database out of reach."""
        return self.outage.is_set()

    @property
    def backlog(self) -> int:
        return len(self._queue)

    def offer(self, record: Record) -> bool:
        """Queue ``record`` for writing; False (and counted) when the queue is full."""
        if len(self._queue) >= self.limit:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.warning(
                    "history: %d records refused, %d waiting for the database",
                    self.dropped,
                    len(self._queue),
                )
            return False
        self._queue.append(record)
        self._idle.clear()
        self._wake.set()
        return True

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="history-recorder")

    async def close(self, wait: float = 5.0) -> None:
        """Write what is queued (for at most ``wait`` seconds), then stop the writer."""
        if self._task is None:
            return
        try:
            await asyncio.wait_for(self.drained(), wait)
        except TimeoutError:
            log.warning("history: %d records not written at shutdown", len(self._queue))
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    async def drained(self) -> None:
        """Return once every record offered so far is written."""
        await self._idle.wait()

    async def run(self) -> None:
        pause = self._retry[0]
        while True:
            if not self._queue:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = [self._queue[i] for i in range(min(BATCH, len(self._queue)))]
            try:
                await self._write(batch)
            except StoreUnavailable as exc:
                if not self.unreachable:
                    log.warning("history: %s; %d records wait in memory", exc, len(self._queue))
                self.outage.set()
                await asyncio.sleep(pause)
                pause = min(pause * 2, self._retry[1])
                continue
            if self.unreachable:
                log.info("history: the database is back; writing %d records", len(self._queue))
            self.outage.clear()
            pause = self._retry[0]
            for _ in batch:
                self._queue.popleft()
            self.written += len(batch)

    async def _write(self, batch: Sequence[Record]) -> None:
        try:
            await self.history.write(batch)
        except StoreUnavailable:
            raise
        except Exception:
            await self._one_by_one(batch)

    async def _one_by_one(self, batch: Sequence[Record]) -> None:
        for record in batch:
            try:
                await self.history.write([record])
            except StoreUnavailable:
                raise
            except Exception:
                log.exception("history: a %s record was refused; dropped", type(record).__name__)
