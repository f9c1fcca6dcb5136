"""The REST fallback: Burki's REST polled while its socket is down.

Each poll returns the whole transcript (or the campaign's progress); the poller
publishes a :class:`~webapp.calls.inputs.PollBatch` marker and then each event, as
the stream's inputs, and stops when the stream has ended.

Ownership: the :class:`~webapp.relay.stream.Stream` owns the poller and its one task
(never more than one). :meth:`stop` cancels it without waiting (the poller may be the
caller, when a poll saw the end); the stream's close cancels and awaits :attr:`task`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from webapp.calls.callstate import CallState
from webapp.calls.campaignstate import CampaignState
from webapp.calls.inputs import Feed, Finished, PollBatch
from webapp.relay.metrics import Metrics
from webapp.wire.sources import Sources
from webapp.wire.streamkey import StreamKey

log = logging.getLogger("webapp.relay.stream")


class Poller:
    def __init__(
        self,
        key: StreamKey,
        sources: Sources,
        interval: float,
        metrics: Metrics,
        state: CallState | CampaignState,
        ended: Callable[[], bool],
        publish: Callable[[], Feed],
        task_done: Callable[[asyncio.Task[None]], None],
    ) -> None:
        self._key = key
        self._sources = sources
        self._interval = interval
        self._metrics = metrics
        self._state = state
        self._ended = ended
        self._publish = publish
        self._task_done = task_done
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.task is None:
            self.task = asyncio.create_task(self._poll(), name=f"poll {self._key}")
            self.task.add_done_callback(self._task_done)

    def stop(self) -> None:
        if self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()
        self.task = None

    async def _poll(self) -> None:
        while not self._ended():
            try:
                events = await self._sources.poll(self._key)
            except Exception as exc:  # RestError and friends: shown, and tried again
                self._metrics.poll_errors.inc()
                log.warning("stream %s: poll failed: %s", self._key, type(exc).__name__)
            else:
                self._metrics.polls.inc()
                await self._publish()(PollBatch())  # each poll returns the whole transcript
                for event in events:
                    await self._publish()(event)
                    if self._state.ended:  # a poll puts an ended call's status last
                        if not self._ended():
                            await self._publish()(Finished())
                        return
            await asyncio.sleep(self._interval)
