"""One relayed stream (a call or a campaign): its features, its replay log, its viewers, its tasks.

A :class:`Stream` is its way in (:class:`~webapp.relay.intake.Intake`: Burki's upstream,
the REST poller, the connection line), its way out (:class:`~webapp.relay.emitter.Emitter`:
numbering, page views, webhooks, viewers) and, between them, the call's or campaign's
features (``webapp.calls.pipeline``). An input goes in once (:meth:`Stream.feed`); the
features answer it with changes, which the stream emits one by one as they come; then
its timers follow what the features say is due (``webapp.relay.alarms``). No part calls
back into the stream but its timers, whose inputs are fed like any other.

Concurrency: everything here runs on the event loop thread, and the methods
that change state (:meth:`attach`, :meth:`detach`, :meth:`feed`) never await, so a
viewer attaching sees either all of an event or none of it: no race between
the snapshot and the next frame.

Ownership: the :class:`~webapp.relay.hub.Hub` owns each Stream; the Stream owns its
three tasks (the upstream pump, the REST poller while in fallback, and one timer for
the grace period or the linger after the end); :meth:`close` cancels and awaits them,
and no other code does. Its parts own the rest, which :meth:`close` ends too: its
alarms, and a cluster holder's timed publications (``webapp.relay.timedinputs``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from webapp.calls.callhealth import CallHealth
from webapp.calls.callstate import CallState
from webapp.calls.campaignstate import CampaignState
from webapp.calls.change import Change
from webapp.calls.claims import Action, Claims
from webapp.calls.inputs import (
    MARKERS,
    ActionTaken,
    CampaignNamed,
    Finished,
    Input,
    WentQuiet,
)
from webapp.calls.pipeline import CallFeatures, CampaignFeatures, Features
from webapp.calls.redactor import CallRedactor
from webapp.relay import asking
from webapp.relay.alarms import Alarms
from webapp.relay.coalesce import Coalescer
from webapp.relay.config import Integrations, RelayConfig
from webapp.relay.connection import Ended
from webapp.relay.frames import Frame
from webapp.relay.intake import Intake
from webapp.relay.metrics import Metrics
from webapp.relay.subscriber import Subscriber
from webapp.relay.timedinputs import TimedInputs
from webapp.relay.weak import weakly
from webapp.wire.events import UpstreamError
from webapp.wire.sources import Sources
from webapp.wire.streamkey import StreamKey
from webapp.wire.upstream import Connecting, GaveUp, Live, Reconnecting

log = logging.getLogger(__name__)


def features_of(key: StreamKey, config: RelayConfig, i: Integrations, shared: bool) -> Features:
    """A call's features (with its alert state, when alerts are on) or a campaign's."""
    if key.kind != "call":
        return CampaignFeatures(int(key.id))
    alerts = i.alerts() if i.alerts is not None else None
    return CallFeatures(key.id, config.health, i.redaction, alerts, i.attention, shared=shared)


class Stream(Intake):
    def __init__(
        self,
        key: StreamKey,
        sources: Sources,
        config: RelayConfig,
        metrics: Metrics,
        retire: Callable[[Stream], Awaitable[None]],
        integrations: Integrations | None = None,
    ) -> None:
        self._integrations = i = integrations or Integrations()
        self.key = key  # a cluster's link reads it
        self.link = i.sharing.link(self) if i.sharing is not None else None
        super().__init__(key, sources, config, metrics, i, self.link is not None)
        self.features = features_of(key, config, i, self.link is not None)
        self.held = False  # kept open without viewers (the monitor, ``webapp.watch``)
        self._retire = retire
        self._pump: asyncio.Task[None] | None = None
        self._timer: asyncio.Task[None] | None = None
        self._dedupe_seen = 0
        self._finished = False
        self.finished = asyncio.Event()  # set with the end: an ended call's replay is all in
        # Coalescing follows a clock; shared inputs must make the same frames on every node.
        emit = weakly(self._emit)
        self._progress = Coalescer(0.0 if self.link else config.progress_interval, emit)
        # Timers decide weakly (relay.weak): no cycle, so a retired stream is freed at once.
        timed = TimedInputs(key, self.link is not None, weakly(self.feed), weakly(self.decider))
        hold = i.redaction.hold if i.redaction is not None else 0.0
        self.alarms = Alarms(timed, config.no_activity, hold)
        self._timed = timed

    # -- what the pages and the metrics read -------------------------------------------

    @property
    def health(self) -> CallHealth | None:
        return self.features.health

    @property
    def claims(self) -> Claims:
        return self.features.claims

    @property
    def redactor(self) -> CallRedactor | None:
        return self.features.redactor

    @property
    def linger(self) -> float:
        """Seconds an ended stream stays for late viewers."""
        return self._config.linger

    @property
    def ended(self) -> bool:
        """The stream is over: viewers got ``end`` (a call's state may end earlier: its
        replay is still being read)."""
        return self._finished

    def view_state(self, *, transcript: bool = True) -> dict[str, Any]:
        """The whole state: the call or campaign, plus the call's sentiment and alerts
        (``transcript=False``: a call's without its final segments)."""
        return self.features.view_state(transcript=transcript)

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        pump = self.link.run() if self.link is not None else self.run_upstream()
        self._pump = asyncio.create_task(pump, name=f"pump {self.key}")
        self._pump.add_done_callback(self._task_done)
        # A page render creates a stream before its SSE viewer attaches; if none
        # ever does, the grace period still ends it.
        self._timer = asyncio.create_task(self._retire_after(self._config.grace_period))
        self.alarms.arm_quiet(self.features)

    async def close(self, reason: str = "shutdown") -> None:
        """Cancel and await every task of this stream, and end every viewer."""
        self.alarms.close()
        own = [t for t in (self._pump, self._poller.task, self._timer) if t is not None]
        tasks = own + self._timed.tasks()
        current = asyncio.current_task()
        for task in tasks:
            if task is not current:
                task.cancel()
        await asyncio.gather(*(t for t in tasks if t is not current), return_exceptions=True)
        # A cancelled task keeps its CancelledError, whose traceback holds the frames that
        # hold this stream (or its poller): let the tasks go, or each is a reference cycle.
        self._pump = self._timer = None
        self._poller.stop()
        self._progress.close()
        self.close_viewers(reason)

    # -- viewers -------------------------------------------------------------------------

    def attach(self, sub: Subscriber, last_id: str | None) -> list[Frame]:
        """Register a viewer; return what it must be sent first (see ``Emitter.join``)."""
        self._cancel_timer_unless_ended()
        return self.join(sub, last_id)

    def detach(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)
        self._retire_unless_watched()

    def hold(self, held: bool = True, *, grace: bool = True) -> None:
        """Keep this stream open with no viewer (True) or let it go as viewers do (False;
        ``grace=False``: with no viewer it retires now). A held stream has no grace period;
        an ended one lingers and retires all the same."""
        self.held = held
        self._cancel_timer_unless_ended()
        self._retire_unless_watched(self._config.grace_period if grace else 0.0)

    def _cancel_timer_unless_ended(self) -> None:
        if self._timer is not None and not self.ended:
            self._timer.cancel()
            self._timer = None

    def _retire_unless_watched(self, grace: float | None = None) -> None:
        if not (self.subscribers or self.held or self.ended) and self._timer is None:
            wait = self._config.grace_period if grace is None else grace
            self._timer = asyncio.create_task(self._retire_after(wait))

    def name_campaign(self, name: str | None) -> None:
        """The campaign's name as Burki's REST gives it; a new name is an event for every viewer.

        The stream fetches it when it starts; a page that fetched it first hands it over here.
        The stream is the only writer of its state.
        """
        if isinstance(self.features, CampaignFeatures):
            for change in self.features.rename(name):
                self._emit(change)

    def feed(self, item: Input) -> None:
        """Apply one input: an upstream item or one of the stream's own markers.

        Every frame the input makes (a final segment: its transcript, the caller's
        sentiment, the call's metrics) reaches each viewer in one offer, as one write:
        each keeps its own id, so resume is exactly as frame by frame.
        """
        with self.holding():
            self._apply(item)

    def _apply(self, item: Input) -> None:
        match item:
            case Connecting() | Live() | Reconnecting() | GaveUp() | UpstreamError():
                self._connection(item)
            case CampaignNamed(name=name):
                self.name_campaign(name)
            case Finished():
                if not self._finished:
                    self._finish()
            case WentQuiet() if self._finished or not isinstance(self.state, CallState):
                pass
            case ActionTaken():
                self._emit(self.features.act(item))
                self._offer(self.features.apply(item))
            case _:
                self._features(item)
                ended = isinstance(self.state, CampaignState) and self.state.ended
                if ended and not self._finished and not isinstance(item, MARKERS):
                    self._finish()  # a call finishes once its replay is read (see pump)

    def _features(self, item: Input) -> None:
        """``item`` through the features: their changes offered, their timers followed."""
        quiet = isinstance(self.state, CallState) and self.state.no_activity
        if not isinstance(item, MARKERS):
            self._metrics.events_in.labels(self.key.kind).inc()
        self._offer(self.features.apply(item))
        took = self.features.redaction_took
        if took is not None:
            self._metrics.redaction_seconds.observe(took)
        drops = self.state.dedupe_drops if isinstance(self.state, CallState) else 0
        if drops > self._dedupe_seen:
            self._metrics.dedupe_drops.inc(drops - self._dedupe_seen)
            self._dedupe_seen = drops
        self.alarms.follow(self.features)
        now = isinstance(self.state, CallState) and self.state.no_activity
        bulletin = self._integrations.bulletin
        if bulletin is not None and (isinstance(item, WentQuiet) or quiet != now):
            bulletin.tell()  # a call went quiet or someone spoke again: the overview says so

    def _offer(self, changes: Iterable[Change]) -> None:
        """Each change emitted (through the coalescer) before the features derive the next."""
        bulletin = self._integrations.bulletin
        for change in changes:
            self._progress.offer(change)
            if change.type == "alert" and bulletin is not None:
                bulletin.alert(self.key, change.data)

    def _finish(self) -> None:
        self._features(Finished())  # what still waits for a next segment: none will come
        self._finished = True
        self.finished.set()
        self.alarms.disarm_quiet()
        self._progress.flush()
        self._poller.stop()
        what = "call" if self.key.kind == "call" else "campaign"
        self._set_connection("ended", f"The {what} has ended.")
        self._emit(Change("end", Ended(f"{what} ended")))
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.create_task(self._retire_after(self._config.linger))

    # -- what people ask (see relay.asking) ----------------------------------------------

    async def claim(
        self, action: Action, who: str, *, admin: bool = False
    ) -> dict[str, Any] | None:
        return await asking.claim(self, action, who, admin=admin)

    async def announce(self, by: str, outcome: str, message: str, status: str = "") -> bool:
        return await asking.announce(self, by, outcome, message, status)

    # -- timers and task hygiene ---------------------------------------------------------

    async def _retire_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self._timer = None
        await self._retire(self)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("stream %s: task %s failed", self.key, task.get_name(), exc_info=exc)
            message = "Burki Live lost this stream (the error was logged)."
            self._set_connection("error", message, reason="internal")
