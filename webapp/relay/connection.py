"""The upstream's state as a stream's viewers see it, and when the REST fallback runs.

:class:`UpstreamStatus` turns Burki's connection items (connecting, live,
reconnecting, gave up) into ``status`` changes and says when the stream's REST
poller must start or stop (:class:`Turn`). It keeps two states: the shared one,
which every node of a cluster emits alike as a frame, and what this node alone sees
(shown under the newest id, so it moves no viewer's resume position).

Pure: the stream applies what each item gives (it emits the changes, starts or stops
its :class:`~webapp.relay.poller.Poller`); nothing here awaits or calls back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from webapp.calls.change import Change
from webapp.relay.metrics import Metrics
from webapp.wire.events import UpstreamError
from webapp.wire.failures import FailureKind
from webapp.wire.streamkey import StreamKey
from webapp.wire.upstream import Connecting, GaveUp, Live, Reconnecting

log = logging.getLogger("webapp.relay.stream")

ConnectionItem = Connecting | Live | Reconnecting | GaveUp | UpstreamError


@dataclass(frozen=True, slots=True)
class ConnectionLine:
    """A ``status`` change: the upstream's state and a sentence for people, and when set,
    the attempt and seconds to its retry (reconnecting) and why (an error, a refused key)."""

    state: str
    message: str
    attempt: int | None = None
    retry_in: float | None = None
    reason: str | None = None

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"state": self.state, "message": self.message}
        for name in ("attempt", "retry_in", "reason"):  # in this order, only when set
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        return data


@dataclass(frozen=True, slots=True)
class Ended:
    """An ``end`` change: the call or campaign ended (the single-stream response closes)."""

    reason: str

    def json(self) -> dict[str, Any]:
        return {"reason": self.reason}


@dataclass(frozen=True, slots=True)
class Refused:
    """An ``error`` change: Burki refused the stream for good, and why."""

    reason: str
    message: str

    def json(self) -> dict[str, Any]:
        return {"reason": self.reason, "message": self.message}


@dataclass(slots=True)
class Turn:
    """What a connection item asks of the stream: changes to emit, the poller to start
    (True) or stop (False) or leave (None), and whether a new connection went live."""

    changes: list[Change] = field(default_factory=list)
    poll: bool | None = None
    live: bool = False


class UpstreamStatus:
    def __init__(
        self, key: StreamKey, poll_interval: float, poll_after_failures: int, metrics: Metrics
    ) -> None:
        self._key = key
        self._metrics = metrics
        self._poll_interval = poll_interval
        self._poll_after_failures = poll_after_failures
        self._line = ConnectionLine("connecting", "Connecting to Burki.")
        self._connection: dict[str, Any] = self._line.json()
        self._local_status: dict[str, Any] | None = None  # what this node alone sees (cluster)

    @property
    def current(self) -> dict[str, Any]:
        """The upstream's state as this node's viewers see it."""
        return self._local_status or self._connection

    def on_item(self, item: ConnectionItem) -> Turn:
        """Apply a connection item (and log an error Burki reported)."""
        match item:
            case Connecting(attempt=0):
                return Turn(self.set("connecting", "Connecting to Burki."))
            case Live():
                return Turn(self.set("live", "Connected to Burki."), poll=False, live=True)
            case Reconnecting():
                return self._reconnecting(item)
            case GaveUp(failure=failure):
                changes = self.set("error", failure.message, reason=failure.kind.value)
                error = Refused(failure.kind.value, failure.message)
                return Turn([*changes, Change("error", error)], poll=False)
            case UpstreamError():
                log.info("stream %s: Burki reported an error (%s)", self._key, item.code)
        return Turn()

    def _reconnecting(self, item: Reconnecting) -> Turn:
        attempt, delay, failure = item.attempt, item.delay, item.failure
        self._metrics.reconnects.inc()
        polls = attempt >= self._poll_after_failures or (failure.kind is FailureKind.RATE_LIMITED)
        if failure.kind is FailureKind.AUTH:  # REST refuses the key too: no polling
            changes = self.set(
                "reconnecting",
                failure.message,
                attempt=attempt,
                retry_in=round(delay, 1),
                reason=failure.kind.value,
            )
            return Turn(changes, poll=False)
        if polls:
            message = f"{failure.message} Showing data polled every {self._poll_interval:g} s."
            return Turn(self.set("polling", message), poll=True)
        retry = round(delay, 1)
        return Turn(self.set("reconnecting", failure.message, attempt=attempt, retry_in=retry))

    def set(
        self,
        state: str,
        message: str,
        *,
        attempt: int | None = None,
        retry_in: float | None = None,
        reason: str | None = None,
    ) -> list[Change]:
        """The shared state: a ``status`` change when it is news."""
        line = ConnectionLine(state, message, attempt, retry_in, reason)
        if line == self._line:
            return []
        change = Change("status", line)
        self._line, self._connection = line, change.data
        self._local_status = None
        return [change]

    def show_local(self, state: str | None, message: str = "") -> bool:
        """What this node alone knows of the upstream (None: back to the shared state);
        True when viewers must be shown it."""
        local = {"state": state, "message": message} if state is not None else None
        if local == self._local_status:
            return False
        self._local_status = local
        return True
