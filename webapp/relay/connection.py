"""The upstream's state as a stream's viewers see it, and when the REST fallback runs.

:class:`UpstreamStatus` turns Burki's connection items (connecting, live,
reconnecting, gave up) into ``status`` changes and starts or stops the stream's
:class:`~webapp.relay.poller.Poller`. It keeps two states: the shared one, which
every node of a cluster emits alike as a frame, and what this node alone sees
(shown under the newest id, so it moves no viewer's resume position).

The stream owns this and stays the only emitter: changes go out through its
``emit`` and ``show`` callbacks, and nothing here awaits. It owns no task or timer
of its own; the poller's task is the stream's to cancel (see ``webapp.relay.poller``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from webapp.calls.change import Change
from webapp.relay.metrics import Metrics
from webapp.relay.poller import Poller
from webapp.wire.events import UpstreamError
from webapp.wire.failures import FailureKind
from webapp.wire.streamkey import StreamKey
from webapp.wire.upstream import Connecting, GaveUp, Live, Reconnecting

log = logging.getLogger("webapp.relay.stream")

ConnectionItem = Connecting | Live | Reconnecting | GaveUp | UpstreamError


class UpstreamStatus:
    def __init__(
        self,
        key: StreamKey,
        poller: Poller,
        poll_interval: float,
        poll_after_failures: int,
        metrics: Metrics,
        emit: Callable[[Change], None],
        show: Callable[[], None],
        may_poll: Callable[[], bool],
        on_live: Callable[[], None],
    ) -> None:
        self._key = key
        self.poller = poller
        self._poll_interval = poll_interval
        self._poll_after_failures = poll_after_failures
        self._metrics = metrics
        self._emit = emit
        self._show = show
        self._may_poll = may_poll
        self._on_live = on_live
        self._connection: dict[str, Any] = {
            "state": "connecting",
            "message": "Connecting to Burki.",
        }
        self._local_status: dict[str, Any] | None = None  # what this node alone sees (cluster)

    @property
    def current(self) -> dict[str, Any]:
        """The upstream's state as this node's viewers see it."""
        return self._local_status or self._connection

    def on_item(self, item: ConnectionItem) -> None:
        """Apply a connection item (and log an error Burki reported)."""
        match item:
            case Connecting(attempt=0):
                self.set("connecting", "Connecting to Burki.")
            case Connecting():
                pass
            case Live():
                self.stop_polling()
                self.set("live", "Connected to Burki.")
                self._on_live()
            case Reconnecting():
                self._reconnecting(item)
            case GaveUp(failure=failure):
                self.stop_polling()
                self.set("error", failure.message, reason=failure.kind.value)
                error = {"reason": failure.kind.value, "message": failure.message}
                self._emit(Change("error", error))
            case UpstreamError():
                log.info("stream %s: Burki reported an error (%s)", self._key, item.code)

    def _reconnecting(self, item: Reconnecting) -> None:
        attempt, delay, failure = item.attempt, item.delay, item.failure
        self._metrics.reconnects.inc()
        polls = attempt >= self._poll_after_failures or (failure.kind is FailureKind.RATE_LIMITED)
        if failure.kind is FailureKind.AUTH:  # REST refuses the key too: no polling
            self.stop_polling()
            self.set(
                "reconnecting",
                failure.message,
                attempt=attempt,
                retry_in=round(delay, 1),
                reason=failure.kind.value,
            )
        elif polls:
            self.start_polling(failure.message)
        else:
            self.set("reconnecting", failure.message, attempt=attempt, retry_in=round(delay, 1))

    def start_polling(self, why: str) -> None:
        message = f"{why} Showing data polled every {self._poll_interval:g} s."
        self.set("polling", message)
        if self._may_poll():
            self.poller.start()

    def stop_polling(self) -> None:
        self.poller.stop()

    def set(self, state: str, message: str, **extra: Any) -> None:
        connection = {"state": state, "message": message, **extra}
        if connection != self._connection:
            self._connection = connection
            self._local_status = None
            self._emit(Change("status", connection))

    def show_local(self, state: str | None, message: str = "") -> None:
        """What this node alone knows of the upstream (None: back to the shared state)."""
        local = {"state": state, "message": message} if state is not None else None
        if local == self._local_status:
            return
        self._local_status = local
        self._show()
