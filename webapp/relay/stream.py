"""One relayed stream (a call or a campaign): its state, its replay log, its viewers, its tasks.

Concurrency: everything here runs on the event loop thread, and the methods
that change state (:meth:`attach`, :meth:`detach`, ``_emit``) never await, so a
viewer attaching sees either all of an event or none of it: no race between
the snapshot and the next frame.

Ownership: the :class:`~webapp.relay.hub.Hub` owns each Stream; the Stream owns its
three tasks (the upstream pump, the REST poller while in fallback, and one
timer for the grace period or the linger after the end). :meth:`close` cancels
and awaits all three. No other code cancels them (the poller's task is held by
its :mod:`webapp.relay.poller`, reached through the :mod:`webapp.relay.connection`
status that starts and stops it). Its parts own the rest, and
:meth:`close` ends them too: the "no activity" timer (:mod:`webapp.relay.quiet`),
a cluster holder's timed publications (:mod:`webapp.relay.timedinputs`), and a
call's redaction hold and health timers (:mod:`webapp.relay.callextras`). Those
parts hand every change back to the stream, which alone numbers and emits frames.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from webapp.relay.callextras import CallExtras
from webapp.relay.callhealth import CallHealth
from webapp.relay.callstate import CallState
from webapp.relay.campaignstate import CampaignState
from webapp.relay.claims import Action, ClaimRefused, Claims
from webapp.relay.coalesce import Coalescer
from webapp.relay.connection import UpstreamStatus
from webapp.relay.frames import Change, Frame, iso, render
from webapp.relay.health import HealthConfig
from webapp.relay.inputs import (
    ActionTaken,
    CampaignNamed,
    ClaimMade,
    Feed,
    Finished,
    HealthDue,
    HoldReleased,
    Input,
    PollBatch,
    WentQuiet,
)
from webapp.relay.metrics import Metrics
from webapp.relay.outbox import WEBHOOK_TYPES, Outbox, event_id
from webapp.relay.poller import Poller
from webapp.relay.ports import Alerts, Attention, FrameView, History, Sharing, Webhooks
from webapp.relay.pump import pump
from webapp.relay.quiet import QuietTimer
from webapp.relay.redactor import CallRedactor, Redacted, RedactionConfig, Remasked
from webapp.relay.replaylog import ReplayLog
from webapp.relay.subscriber import Subscriber
from webapp.relay.timedinputs import TimedInputs
from webapp.relay.weak import weakly
from webapp.wire.events import CallStatus, UpstreamError
from webapp.wire.sources import Sources
from webapp.wire.streamkey import StreamKey
from webapp.wire.upstream import Connecting, GaveUp, Item, Live, Reconnecting

log = logging.getLogger(__name__)


FORWARD_WAIT = 3.0  # seconds a claim made on a node that does not hold the call waits to show


@dataclass(frozen=True, slots=True)
class Integrations:
    """What a stream feeds besides its viewers: call alerts, the webhook dispatcher, a feed."""

    alerts: Callable[[], Alerts] | None = None
    webhooks: Webhooks | None = None
    on_alert: Callable[[StreamKey, dict[str, Any]], None] | None = None
    on_quiet: Callable[[], None] | None = None  # a call went quiet or woke up (the overview)
    sharing: Sharing | None = None  # several nodes on Redis: the stream's inputs are shared
    redaction: RedactionConfig | None = None
    attention: Attention | None = None
    # The call's assistant by name where Burki's call list has it (its stream may carry only
    # an id): display only, never state or an event.
    assistant_of: Callable[[str], str | None] | None = None
    # A call's assistant by name, when Burki's status names only its id (the open-source).
    assistant_name: Callable[[int], Awaitable[str]] | None = None
    history: History | None = None  # what a shift leaves behind (alerts, actions, summaries)


@dataclass(frozen=True, slots=True)
class RelayConfig:
    """The relay's settings (``RELAY_*``, built by ``webapp.configs``: no defaults here)."""

    grace_period: float
    linger: float
    log_size: int
    viewer_queue: int
    poll_interval: float
    poll_after_failures: int
    heartbeat: float  # seconds of silence before an SSE response sends a heartbeat
    stall_timeout: float  # seconds a viewer's socket may accept nothing before it is cut
    replay_quiet: float  # an ended call's replay is over after this long without a frame
    no_activity: float  # seconds without a segment before a call shows "no activity"
    health: HealthConfig
    progress_interval: float = 0.25  # at most about four progress renders a second (no setting)


class Stream:
    def __init__(
        self,
        key: StreamKey,
        sources: Sources,
        config: RelayConfig,
        metrics: Metrics,
        retire: Callable[[Stream], Awaitable[None]],
        integrations: Integrations | None = None,
    ) -> None:
        self.key = key
        self.state: CallState | CampaignState = (
            CallState(key.id) if key.kind == "call" else CampaignState(int(key.id))
        )
        self.log = ReplayLog(max(config.log_size, 300))
        self.subscribers: set[Subscriber] = set()
        self._sources = sources
        self._config = config
        self._metrics = metrics
        self._retire = retire
        self._pump: asyncio.Task[None] | None = None
        self._timer: asyncio.Task[None] | None = None
        self._dedupe_seen = 0
        self._finished = False
        self.finished = asyncio.Event()  # set with the end: an ended call's replay is all in
        # Parts call back weakly (relay.weak): no cycle, so a retired stream is freed at once.
        self._quiet = QuietTimer(config.no_activity, weakly(self._went_quiet))
        self.views: dict[str, FrameView] = {}
        self._integrations = integrations or Integrations()
        sharing = self._integrations.sharing
        self.link = sharing.link(self) if sharing is not None else None
        hooks = self._integrations.webhooks
        self.outbox = Outbox(key, hooks) if self.link is not None and hooks is not None else None
        # Coalescing follows a clock; shared inputs must make the same frames on every node.
        emit = weakly(self._emit)
        self._progress = Coalescer(0.0 if self.link else config.progress_interval, emit)
        self._publish_to: Feed | None = None  # where inputs go (None: fed here)
        self._status = self._upstream_status(emit)
        self._timed = TimedInputs(
            key, self.link is not None, weakly(self.feed), weakly(self._decider)
        )
        make_alerts = self._integrations.alerts
        self.alerts = make_alerts() if make_alerts is not None and key.kind == "call" else None
        self.extras = self._call_extras()
        self.last_action: dict[str, Any] | None = None  # the latest person's action, told
        self._held: list[Frame] | None = None  # the frames of the input being applied

    def _upstream_status(self, emit: Callable[[Change], None]) -> UpstreamStatus:
        """The connection status and its REST poller, which feed this stream (built once)."""
        config = self._config
        poller = Poller(
            self.key,
            self._sources,
            config.poll_interval,
            self._metrics,
            self.state,
            weakly(self._is_finished),
            weakly(self._publisher),
            weakly(self._task_done),
        )
        return UpstreamStatus(
            self.key,
            poller,
            config.poll_interval,
            config.poll_after_failures,
            self._metrics,
            emit,
            weakly(self._show_status),
            weakly(self._may_poll),
            weakly(self._connection_started),
        )

    def _is_finished(self) -> bool:
        return self._finished

    def _publisher(self) -> Feed:
        return self._publish_to or self._feed_here

    def _show_status(self) -> None:
        self._deliver(render(self.log.last_id, "status", self.connection, self.key))

    def _may_poll(self) -> bool:
        return not self.ended and self._decider() is not None

    def _call_extras(self) -> CallExtras:
        """A call's redaction hold, health and claims, which hand changes to this stream."""
        i = self._integrations
        return CallExtras(
            self.key,
            self._config.health,
            i.redaction,
            i.attention,
            self.alerts,
            self.link is not None,
            self._progress.offer,
            weakly(self._fold),
            self._timed,
            self._metrics,
        )

    # -- what the metrics and the endpoints read ------------------------------------------

    @property
    def kind(self) -> str:
        return self.key.kind

    @property
    def assistant_hint(self) -> str | None:
        """The call's assistant as Burki's call list names it (None when not known)."""
        lookup = self._integrations.assistant_of
        return lookup(self.key.id) if lookup is not None else None

    @property
    def connection(self) -> dict[str, Any]:
        """The upstream's state as this node's viewers see it."""
        return self._status.current

    @property
    def connection_state(self) -> str:
        return str(self.connection["state"])

    @property
    def runs_upstream(self) -> bool:
        """This node runs the upstream (always, alone; in a cluster, while it holds the lease)."""
        return self.link is None or self.link.holds

    def _decider(self) -> Feed | None:
        """Where an input this node decides goes (a timer's, a claim, an action, a poll).

        Alone: into this stream. In a cluster: the shared log, through the running
        upstream's fenced publish, which feeds it here right after. None while this node
        cannot publish: it does not hold the lease, or holds it but has not read the log
        to its end yet (its upstream starts only then), or its upstream stopped. An input
        fed here alone would number this node's frames apart from every other node's, and
        a viewer resuming elsewhere would then skip or repeat a frame without a reset.
        """
        if self.link is None:
            return self._feed_here
        return self._publish_to

    @property
    def linger(self) -> float:
        """Seconds an ended stream stays for late viewers."""
        return self._config.linger

    @property
    def viewer_count(self) -> int:
        return len(self.subscribers)

    @property
    def redactor(self) -> CallRedactor | None:
        return self.extras.redactor

    @property
    def health(self) -> CallHealth | None:
        return self.extras.health

    @property
    def claims(self) -> Claims:
        return self.extras.claims

    @property
    def ended(self) -> bool:
        """The stream is over: viewers got ``end`` (a call's state may end earlier: its
        replay is still being read)."""
        return self._finished

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        pump = self.link.run() if self.link is not None else self.run_upstream()
        self._pump = asyncio.create_task(pump, name=f"pump {self.key}")
        self._pump.add_done_callback(self._task_done)
        # A page render creates a stream before its SSE viewer attaches; if none
        # ever does, the grace period still ends it.
        self._timer = asyncio.create_task(self._retire_after(self._config.grace_period))
        self._quiet.arm(self.state)

    async def close(self, reason: str = "shutdown") -> None:
        """Cancel and await every task of this stream, and end every viewer."""
        self._quiet.disarm()
        own = [t for t in (self._pump, self._status.poller.task, self._timer) if t is not None]
        tasks = own + self._timed.tasks()
        current = asyncio.current_task()
        for task in tasks:
            if task is not current:
                task.cancel()
        await asyncio.gather(*(t for t in tasks if t is not current), return_exceptions=True)
        # A cancelled task keeps its CancelledError, whose traceback holds the frames that
        # hold this stream (or its poller): let the tasks go, or each is a reference cycle.
        self._pump = self._timer = None
        self._status.stop_polling()
        self._progress.close()
        self.extras.close()
        for sub in list(self.subscribers):
            sub.close(reason)
        self.subscribers.clear()

    # -- viewers ---------------------------------------------------------------------------

    def attach(self, sub: Subscriber, last_id: str | None) -> list[Frame]:
        """Register a viewer; return what it must be sent first.

        No ``last_id``: a snapshot. A resumable one: exactly the frames after it.
        Any other: an explicit ``reset``, then a snapshot. Never a silent gap.
        """
        self._cancel_timer_unless_ended()
        self.subscribers.add(sub)
        if last_id is None:
            return [self.snapshot()]
        missed = self.log.since(last_id)
        if missed is not None:
            return missed
        reset = render(self.log.last_id, "reset", {"reason": "resume"}, self.key)
        return [reset, self.snapshot()]

    def detach(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)
        if not self.subscribers and not self.ended and self._timer is None:
            self._timer = asyncio.create_task(self._retire_after(self._config.grace_period))

    def watch_view(self, view: FrameView) -> None:
        """Render every frame from now on for ``view`` too (a page shows this stream)."""
        self.views.setdefault(view.name, view)

    def view_state(self) -> dict[str, Any]:
        """The whole state: the call or campaign, plus the call's sentiment and alerts."""
        extra = self.alerts.snapshot() if self.alerts is not None else {}
        extra |= self.extras.view_state()
        if self.last_action is not None:
            extra["action"] = self.last_action
        return {**self.state.snapshot(), **extra}

    def for_view(self, frames: list[Frame], view: FrameView) -> list[Frame]:
        """``frames`` if each carries ``view``'s HTML, else a snapshot to start over.

        Frames emitted before the view was watched were never rendered for it.
        """
        if any(f.type not in ("snapshot", "reset") and view.name not in f.html for f in frames):
            return [self.snapshot()]
        return frames

    def name_campaign(self, name: str | None) -> None:
        """The campaign's name as Burki's REST gives it; a new name is an event for every viewer.

        The stream fetches it when it starts; a page that fetched it first hands it over here.
        The stream is the only writer of its state.
        """
        if isinstance(self.state, CampaignState):
            for change in self.state.rename(name):
                self._emit(change)

    def snapshot(self) -> Frame:
        data = {"connection": self.connection, **self.view_state()}
        return render(self.log.last_id, "snapshot", data, self.key)

    def status_frame(self) -> Frame:
        """The current connection state, to send without an id (it does not move the cursor)."""
        return render("", "status", self.connection, self.key)

    # -- the upstream and the fallback -----------------------------------------------------

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
            self.key,
            self._sources,
            self.state,
            replay_quiet=self._config.replay_quiet,
            shared=self.link is not None,
            finished=self._is_finished,
            feed=self.feed,
            publish=self._publisher,
            name=self._integrations.assistant_name,
        )

    def upstream_stopped(self) -> None:
        """This node no longer runs the upstream (it lost its lease): no poller either."""
        self._status.stop_polling()
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

    def feed(self, item: Input) -> None:
        """Apply one input: an upstream item or one of the stream's own markers.

        Every frame the input makes (a final segment: its transcript, the caller's
        sentiment, the call's metrics) reaches each viewer in one offer, as one write:
        each keeps its own id, so resume is exactly as frame by frame.
        """
        if self._held is not None:  # an input fed while applying another joins its frames
            self._apply(item)
            return
        self._held = []
        try:
            self._apply(item)
        finally:
            held, self._held = self._held, None
            if held:
                self._fan_out(held)

    def _apply(self, item: Input) -> None:
        match item:
            case PollBatch():
                if isinstance(self.state, CallState):
                    self.state.connection_started()
            case CampaignNamed(name=name):
                self.name_campaign(name)
            case Finished():
                if not self._finished:
                    self._finish()
            case HoldReleased():
                self.extras.release_now()
            case HealthDue(at=at):
                self.extras.tick(at)
            case ClaimMade(action=action, who=who, admin=admin, at=at):
                self.extras.apply_claim(action, who, admin, at)
            case ActionTaken(status=status):
                self.last_action = dataclasses.asdict(item)
                self._emit(Change("action", self.last_action))
                if status and isinstance(self.state, CampaignState):
                    self._offer(self.state.set_status(status))
            case WentQuiet():
                if isinstance(self.state, CallState) and not self._finished:
                    self._offer(self.state.mark_quiet())
                    self._quiet_changed()
            case _:
                self._on_item(item)

    def _on_item(self, item: Item) -> None:
        if isinstance(item, Connecting | Live | Reconnecting | GaveUp | UpstreamError):
            self._status.on_item(item)
        else:
            self._metrics.events_in.labels(self.key.kind).inc()
            self.extras.apply(item)

    def _connection_started(self) -> None:
        if isinstance(self.state, CallState):
            self.state.connection_started()

    def _fold(self, event: Redacted) -> None:
        was_quiet = isinstance(self.state, CallState) and self.state.no_activity
        if isinstance(self.state, CallState):
            changes = self.state.apply(event)
        elif isinstance(event, Remasked):  # a campaign has no transcript to mask
            changes = []
        else:
            changes = self.state.apply(event)
        drops = getattr(self.state, "dedupe_drops", 0)
        if drops > self._dedupe_seen:
            self._metrics.dedupe_drops.inc(drops - self._dedupe_seen)
            self._dedupe_seen = drops
        self._offer(changes)
        if any(c.type == "transcript" for c in changes) or isinstance(event, CallStatus):
            if was_quiet and isinstance(self.state, CallState) and not self.state.no_activity:
                self._quiet_changed()  # someone spoke again: the overview says so
            self._quiet.arm(self.state)
        if self.state.ended and isinstance(self.state, CampaignState) and not self._finished:
            self._finish()  # a call finishes once its replay is read (see run_upstream)

    def _offer(self, changes: list[Change]) -> None:
        for change in changes:
            self._progress.offer(change)
            self.extras.observe(change)
            for derived in self.alerts.on_change(change) if self.alerts is not None else ():
                self._progress.offer(derived)
                self.extras.observe(derived)
                if derived.type == "alert" and self._integrations.on_alert is not None:
                    self._integrations.on_alert(self.key, derived.data)
        if self.state.ended:  # a call's state ends before its replay is read: claims go now
            self.extras.clear_claim()
        self.extras.publish_health()

    def _went_quiet(self) -> None:
        self._timed.decide(WentQuiet())

    def _quiet_changed(self) -> None:
        if self._integrations.on_quiet is not None:
            self._integrations.on_quiet()

    def _finish(self) -> None:
        self.extras.release()  # what still waits for a next segment: none will come
        self._finished = True
        self.finished.set()
        self._quiet.disarm()
        self._progress.flush()
        self._status.stop_polling()
        what = "call" if self.key.kind == "call" else "campaign"
        self._set_connection("ended", f"The {what} has ended.")
        self._emit(Change("end", {"reason": f"{what} ended"}))
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.create_task(self._retire_after(self._config.linger))

    # -- claims (calls only) ------------------------------------------------------------

    async def claim(
        self, action: Action, who: str, *, admin: bool = False
    ) -> dict[str, Any] | None:
        """A supervisor claims, acknowledges or releases this call; every viewer sees it.

        Returns the claim now held; raises ``ClaimRefused`` (see ``relay.claims``). In a
        cluster the claim is an input the lease holder publishes, so every node shows it
        under the same event id; another node asks the holder to publish it and waits a
        little to see it applied (a claim decided elsewhere first is refused alike on every
        node, and the returned claim says whose it is).
        """
        at = iso(datetime.now(UTC)) or ""
        self.claims.check(action, who, admin=admin)
        publish, made = self._decider(), ClaimMade(action, who, admin, at)
        if self.link is None:
            self.extras.apply_claim(action, who, admin, at)
            return self.claims.snapshot()
        if publish is not None:
            try:
                await publish(made)
                return self.claims.snapshot()
            except Exception as exc:  # the lease moved (unseen yet) or Redis went
                log.info("stream %s: claim not published (%s)", self.key, type(exc).__name__)
        # Whoever holds the stream now (or next) publishes it.
        if await self.link.forward(made, FORWARD_WAIT) == "failed":
            raise ClaimRefused(
                "The dashboard cannot reach its shared store (Redis) right now; try again."
            )
        return self.claims.snapshot()

    async def announce(self, by: str, outcome: str, message: str, status: str = "") -> bool:
        """A person's action on this call or campaign (ended, paused, failed...): an
        ``action`` event for every viewer, kept in the snapshot for late ones. An input,
        so every node of a cluster shows it under the same id: published by the lease
        holder (asked of it by another node). Returns False when it could not be published
        nor asked for: the outcome then reaches other screens only through Burki's events."""
        at = iso(datetime.now(UTC)) or ""
        item = ActionTaken(by, self.key.kind, outcome, message, at, status)
        publish = self._decider()
        if publish is None:  # fed here alone it would number this node's frames apart
            return self.link is not None and await self.link.forward(item, 0) != "failed"
        try:
            await publish(item)
        except Exception as exc:  # the lease moved or Redis went
            log.info("stream %s: action not published (%s)", self.key, type(exc).__name__)
            return False
        return True

    # -- emitting --------------------------------------------------------------------------

    def _set_connection(self, state: str, message: str, **extra: Any) -> None:
        self._status.set(state, message, **extra)

    def show_local_status(self, state: str | None, message: str = "") -> None:
        """What this node alone knows of the upstream (None: back to the shared state).

        Sent under the newest id, so it moves no viewer's resume position and
        every node keeps numbering the shared frames alike.
        """
        self._status.show_local(state, message)

    def set_epoch(self, epoch: str) -> None:
        """Number frames under the cluster's epoch for this stream (before the first frame)."""
        if len(self.log) == 0 and self.log.epoch != epoch:
            self.log = ReplayLog(self.log.capacity, epoch)

    def renumber(self) -> None:
        """Number frames under a new epoch of this node's own from now on.

        For a node whose state stopped following the shared inputs (some were trimmed
        before it read them): its next frames are not other nodes' frames under the same
        ids. Its viewers get ``reset`` + ``snapshot`` now, and a viewer resuming across
        nodes with either epoch's id gets the same: never frames it did not miss.
        """
        self.log = ReplayLog(self.log.capacity)
        self._deliver(render(self.log.last_id, "reset", {"reason": "gap"}, self.key))
        self._deliver(self.snapshot())

    def _emit(self, change: Change) -> None:
        frame = self.log.append(change, self.key)
        webhooks = self._integrations.webhooks
        if webhooks is not None and frame.type in WEBHOOK_TYPES:
            if self.outbox is not None:  # a cluster: kept on every node, sent by the holder
                self.outbox.emit(frame)
            elif self.runs_upstream:
                webhooks.offer(self.key, event_id(self.key, frame), frame.type, frame.data)
        if self._integrations.history is not None:
            self._integrations.history.observe(self, frame)
        self._deliver(frame)

    def _deliver(self, frame: Frame) -> None:
        for name, view in list(self.views.items()):
            try:
                frame.html[name] = view.update(self, frame)
            except Exception:  # a template bug must not stop the stream, nor log every frame
                log.exception("stream %s: view %s failed to render; detached", self.key, name)
                del self.views[name]  # its pages get full renders; a new page load re-adds it
        if self._held is not None:
            self._held.append(frame)  # offered with the rest of its input's frames
        else:
            self._fan_out([frame])

    def _fan_out(self, frames: list[Frame]) -> None:
        """Offer ``frames`` (in order, one input's) to every viewer at once."""
        delivered = 0
        for sub in list(self.subscribers):
            if sub.offer_all(frames):
                delivered += 1
            else:  # fell behind: cut; its browser resumes with Last-Event-ID
                self.subscribers.discard(sub)
                self._metrics.viewer_cuts.labels(sub.closed_reason or "queue_full").inc()
        if delivered:  # one counter update per input, not per viewer (it takes a lock)
            self._metrics.events_out.inc(delivered * len(frames))

    # -- timers and task hygiene -----------------------------------------------------------

    def _cancel_timer_unless_ended(self) -> None:
        if self._timer is not None and not self.ended:
            self._timer.cancel()
            self._timer = None

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
