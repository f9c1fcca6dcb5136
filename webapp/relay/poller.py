"""The REST fallback: Burki's REST polled while its socket is down.

Each poll returns the whole transcript (or the campaign's progress); :func:`poll`
publishes a :class:`~webapp.calls.inputs.PollBatch` marker and then each event, as
the stream's inputs, and stops when the stream has ended.

Ownership: the :class:`~webapp.relay.stream.Stream` owns its :class:`Poller` and its one
task (never more than one). :meth:`Poller.stop` cancels it without waiting (the task may
be the caller, when a poll saw the end); the stream's close cancels and awaits
:attr:`Poller.task`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from webapp.calls.callstate import CallState
from webapp.calls.campaignstate import CampaignState
from webapp.calls.inputs import Feed, Finished, PollBatch
from webapp.relay.metrics import Metrics
from webapp.wire.sources import Sources
from webapp.wire.streamkey import StreamKey

log = logging.getLogger("webapp.relay.stream")


class Polled(Protocol):
    """What the poller reads of its stream."""

    @property
    def key(self) -> StreamKey: ...
    @property
    def state(self) -> CallState | CampaignState: ...
    @property
    def ended(self) -> bool: ...
    def publisher(self) -> Feed: ...


class Poller:
    def __init__(self, sources: Sources, interval: float, metrics: Metrics) -> None:
        self._sources = sources
        self._interval = interval
        self._metrics = metrics
        self.task: asyncio.Task[None] | None = None

    def start(self, stream: Polled) -> asyncio.Task[None] | None:
        """Poll for ``stream``; its task, or None when it polls already."""
        if self.task is not None:
            return None
        self.task = asyncio.create_task(self._poll(stream), name=f"poll {stream.key}")
        return self.task

    def stop(self) -> None:
        if self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()
        self.task = None

    async def _poll(self, stream: Polled) -> None:
        while not stream.ended:
            try:
                events = await self._sources.poll(stream.key)
            except Exception as exc:  # RestError and friends: shown, and tried again
                self._metrics.poll_errors.inc()
                log.warning("stream %s: poll failed: %s", stream.key, type(exc).__name__)
            else:
                self._metrics.polls.inc()
                await stream.publisher()(PollBatch())  # each poll returns the whole transcript
                for event in events:
                    await stream.publisher()(event)
                    if stream.state.ended:  # a poll puts an ended call's status last
                        if not stream.ended:
                            await stream.publisher()(Finished())
                        return
            await asyncio.sleep(self._interval)
