"""A stream's way in: where its inputs come from, and where this node's own decisions go.

:class:`Intake` is the half of a :class:`~webapp.relay.stream.Stream` that runs Burki's
upstream (the pump, ``webapp.relay.pump``), the REST poller while the socket is down
(``webapp.relay.poller``), and the connection line viewers see
(``webapp.relay.connection``); alone each input is fed to the stream, in a cluster the
lease holder publishes it to the shared log first (``webapp.cluster``). The stream's
:meth:`feed` applies each one.
"""

from __future__ import annotations

import asyncio
from typing import Any

from webapp.calls.callstate import CallState
from webapp.calls.inputs import Feed, Input
from webapp.relay.config import Integrations, RelayConfig
from webapp.relay.connection import UpstreamStatus
from webapp.relay.emitter import Emitter
from webapp.relay.frames import render
from webapp.relay.metrics import Metrics
from webapp.relay.poller import Poller
from webapp.relay.pump import pump
from webapp.wire.events import UpstreamError
from webapp.wire.sources import Sources
from webapp.wire.streamkey import StreamKey
from webapp.wire.upstream import Connecting, GaveUp, Live, Reconnecting


class Intake(Emitter):
    def __init__(
        self,
        key: StreamKey,
        sources: Sources,
        config: RelayConfig,
        metrics: Metrics,
        integrations: Integrations,
        shared: bool,
    ) -> None:
        i = integrations
        super().__init__(key, config.log_size, metrics, i.webhooks, shared, i.bulletin, i.history)
        self._sources = sources
        self._config = config
        self._assistant_name = integrations.assistant_name
        self._publish_to: Feed | None = None  # where inputs go (None: fed here)
        self._status = UpstreamStatus(
            key, config.poll_interval, config.poll_after_failures, metrics
        )
        self._poller = Poller(sources, config.poll_interval, metrics)

    @property
    def sources(self) -> Sources:
        """Where this stream reads Burki (its organisation's key and URL)."""
        return self._sources

    @property
    def ended(self) -> bool:
        raise NotImplementedError

    def feed(self, item: Input) -> None:
        raise NotImplementedError

    def _task_done(self, task: asyncio.Task[None]) -> None:
        raise NotImplementedError

    @property
    def connection(self) -> dict[str, Any]:
        """The upstream's state as this node's viewers see it."""
        return self._status.current

    def decider(self) -> Feed | None:
        """Where an input this node decides goes (a timer's, a claim, an action, a poll).

        Alone: into this stream. In a cluster: the shared log, through the running
        upstream's fenced publish, which feeds it here right after. None while this node
        cannot publish: it does not hold the lease, or holds it but has not read the log
        to its end yet (its upstream starts only then), or its upstream stopped. An input
        fed here alone would number this node's frames apart from every other node's, and
        a viewer resuming elsewhere would then skip or repeat a frame without a reset.
        """
        return self._feed_here if self.link is None else self._publish_to

    def publisher(self) -> Feed:
        """Where the upstream's and the poller's inputs go now."""
        return self._publish_to or self._feed_here

    # -- the upstream and the fallback ---------------------------------------------------

    async def run_upstream(self, publish: Feed | None = None) -> None:
        """Run Burki's upstream, feeding each input to ``publish`` (default: this stream).

        A cluster's lease holder hands in a ``publish`` that writes the input to
        the shared log and then feeds it here, so this stream's state is current
        after each ``await``, as alone.
        """
        if self.outbox is not None:  # post what the last holder did not, before anything new
            await self.outbox.take_over()
        self._publish_to = publish
        await pump(
            self,
            self._sources,
            replay_quiet=self._config.replay_quiet,
            shared=self.link is not None,
            name=self._assistant_name,
        )

    def upstream_stopped(self) -> None:
        """This node no longer runs the upstream (it lost its lease): no poller either."""
        self._poller.stop()
        self._publish_to = None
        if self.outbox is not None:
            self.outbox.stop()

    async def _feed_here(self, item: Input) -> None:
        self.feed(item)
        # One loop turn before the next input, so this one's frames go out first (the
        # subscribers' one flush, the readers woken for a backed-up socket). Burki's socket
        # hands over a burst without a pause, and fed back to back its inputs would fill
        # every viewer's queue before any frame left: all of them cut, healthy or not.
        await asyncio.sleep(0)

    def _connection(self, item: Connecting | Live | Reconnecting | GaveUp | UpstreamError) -> None:
        turn = self._status.on_item(item)
        if turn.poll is False:
            self._poller.stop()
        for change in turn.changes:
            self._emit(change)
        if turn.poll and not self.ended and self.decider() is not None:
            task = self._poller.start(self)
            if task is not None:
                task.add_done_callback(self._task_done)
        if turn.live and isinstance(self.state, CallState):
            self.state.connection_started()

    def _set_connection(self, state: str, message: str, *, reason: str | None = None) -> None:
        for change in self._status.set(state, message, reason=reason):
            self._emit(change)

    def show_local_status(self, state: str | None, message: str = "") -> None:
        """What this node alone knows of the upstream (None: back to the shared state).

        Sent under the newest id, so it moves no viewer's resume position and
        every node keeps numbering the shared frames alike.
        """
        if self._status.show_local(state, message):
            self._deliver(render(self.log.last_id, "status", self.connection, self.key))
