"""One relayed stream (a call or a campaign): its state, its replay log, its viewers, its tasks.

Concurrency: everything here runs on the event loop thread, and the methods
that change state (:meth:`attach`, :meth:`detach`, ``_emit``) never await, so a
viewer attaching sees either all of an event or none of it: no race between
the snapshot and the next frame.

Ownership: the :class:`~webapp.relay.hub.Hub` owns each Stream; the Stream owns its
three tasks (the upstream pump, the REST poller while in fallback, and one
timer for the grace period or the linger after the end). :meth:`close` cancels
and awaits all three. No other code cancels them. It also owns the redaction
hold timer (a loop callback, not a task), which :meth:`close` cancels too.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from webapp.relay.callhealth import CallHealth
from webapp.relay.callstate import CallState
from webapp.relay.campaignstate import CampaignState
from webapp.relay.claims import ACTIONS, Action, ClaimRefused, Claims
from webapp.relay.coalesce import Coalescer
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
from webapp.relay.ports import Alerts, Attention, FrameView, Sharing, Webhooks
from webapp.relay.redactor import CallRedactor, RedactionConfig
from webapp.relay.replaydrain import drain
from webapp.relay.replaylog import ReplayLog
from webapp.relay.subscriber import Subscriber
from webapp.wire.events import CallStatus, Event, Transcript, UpstreamError
from webapp.wire.failures import FailureKind
from webapp.wire.sources import Sources
from webapp.wire.streamkey import StreamKey
from webapp.wire.upstream import Connecting, GaveUp, Item, Live, Reconnecting

log = logging.getLogger(__name__)


WEBHOOK_TYPES = frozenset({"progress", "contact", "campaign_completed", "alert", "call_status"})


@dataclass(frozen=True, slots=True)
class Integrations:
    """What a stream feeds besides its viewers: call alerts, the webhook dispatcher, a feed."""

    alerts: Callable[[], Alerts] | None = None
    webhooks: Webhooks | None = None
    on_alert: Callable[[str, dict[str, Any]], None] | None = None
    on_quiet: Callable[[], None] | None = None  # a call went quiet or woke up (the overview)
    sharing: Sharing | None = None  # several nodes on Redis: the stream's inputs are shared
    redaction: RedactionConfig | None = None
    attention: Attention | None = None


@dataclass(frozen=True, slots=True)
class RelayConfig:
    grace_period: float = 30.0
    linger: float = 300.0
    log_size: int = 500
    viewer_queue: int = 256
    poll_interval: float = 5.0
    poll_after_failures: int = 3
    progress_interval: float = 0.25  # at most about four progress renders a second
    heartbeat: float = 15.0  # seconds of silence before an SSE response sends a heartbeat
    stall_timeout: float = 5.0  # seconds a viewer's socket may accept nothing before it is cut
    replay_quiet: float = 1.0  # an ended call's replay is over after this long without a frame
    no_activity: float = 600.0  # seconds without a segment before a call shows "no activity"
    health: HealthConfig = field(default_factory=HealthConfig)


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
        self._connection: dict[str, Any] = {
            "state": "connecting",
            "message": "Connecting to Burki.",
        }
        self._local_status: dict[str, Any] | None = None  # what this node alone sees (cluster)
        self._sources = sources
        self._config = config
        self._metrics = metrics
        self._retire = retire
        self._pump: asyncio.Task[None] | None = None
        self._poller: asyncio.Task[None] | None = None
        self._timer: asyncio.Task[None] | None = None
        self._dedupe_seen = 0
        self._finished = False
        self.finished = asyncio.Event()  # set with the end: an ended call's replay is all in
        self._quiet_timer: asyncio.TimerHandle | None = None
        self.views: dict[str, FrameView] = {}
        self._integrations = integrations or Integrations()
        sharing = self._integrations.sharing
        self.link = sharing.link(self) if sharing is not None else None
        # Coalescing follows a clock; shared inputs must make the same frames on every node.
        self._progress = Coalescer(0.0 if self.link else config.progress_interval, self._emit)
        self._publish: Feed = self._feed_here
        self._drained: list[Input] | None = None  # a cluster holder's replay, published after
        self._quiet_publish: asyncio.Task[None] | None = None  # a holder's timed inputs
        self._release_publish: asyncio.Task[None] | None = None
        make_alerts = self._integrations.alerts
        self.alerts = make_alerts() if make_alerts is not None and key.kind == "call" else None
        redaction = self._integrations.redaction
        self.redactor = (
            CallRedactor(redaction)
            if redaction is not None and redaction.enabled and key.kind == "call"
            else None
        )
        self._release: asyncio.TimerHandle | None = None
        self.health = (
            CallHealth(config.health, self._progress.offer, self._assess, on_due=self._health_due)
            if (key.kind == "call")
            else None
        )
        if self.health is not None:
            self.health.shared = self.link is not None
        self._health_publish: asyncio.Task[None] | None = None  # a holder's timed input
        self.claims = Claims()
        self.last_action: dict[str, Any] | None = None  # the latest supervisor action's outcome

    # -- what the metrics and the endpoints read ------------------------------------------

    @property
    def kind(self) -> str:
        return self.key.kind

    @property
    def key_id(self) -> str:
        return self.key.id

    @property
    def connection(self) -> dict[str, Any]:
        """The upstream's state as this node's viewers see it."""
        return self._local_status or self._connection

    @property
    def connection_state(self) -> str:
        return str(self.connection["state"])

    @property
    def runs_upstream(self) -> bool:
        """This node runs the upstream (always, alone; in a cluster, while it holds the lease)."""
        return self.link is None or self.link.holds

    @property
    def linger(self) -> float:
        """Seconds an ended stream stays for late viewers."""
        return self._config.linger

    @property
    def viewer_count(self) -> int:
        return len(self.subscribers)

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
        self._arm_quiet_timer()

    async def close(self, reason: str = "shutdown") -> None:
        """Cancel and await every task of this stream, and end every viewer."""
        self._disarm_quiet_timer()
        tasks = [
            t
            for t in (
                self._pump,
                self._poller,
                self._timer,
                self._quiet_publish,
                self._release_publish,
                self._health_publish,
            )
            if t is not None
        ]
        current = asyncio.current_task()
        for task in tasks:
            if task is not current:
                task.cancel()
        await asyncio.gather(*(t for t in tasks if t is not current), return_exceptions=True)
        if self._release is not None:
            self._release.cancel()
        self._progress.close()
        if self.health is not None:
            self.health.close()
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
        if self.health is not None:
            extra |= {"metrics": self.health.current(), "claim": self.claims.snapshot()}
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
        self._publish = publish or self._feed_here
        if isinstance(self.state, CampaignState):
            await self._campaign_so_far()
        upstream = self._sources.upstream(self.key)
        async with aclosing(upstream.items()) as items:
            async for item in items:
                await self._publish(item)
                if self.state.ended or self._finished:
                    break
            if isinstance(self.state, CallState) and self.state.ended and not self._finished:
                await self._drain_replay(items)
        if self.state.ended and not self._finished:
            await self._publish(Finished())

    def upstream_stopped(self) -> None:
        """This node no longer runs the upstream (it lost its lease): no poller either."""
        self._stop_polling()
        self._publish = self._feed_here

    async def _feed_here(self, item: Input) -> None:
        self.feed(item)

    def feed(self, item: Input) -> None:
        """Apply one input: an upstream item or one of the stream's own markers."""
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
                self._release_now()
            case HealthDue(at=at):
                if self.health is not None:
                    self.health.tick(at)
            case ClaimMade(action=action, who=who, admin=admin, at=at):
                self._apply_claim(action, who, admin, at)
            case ActionTaken():
                self.last_action = dataclasses.asdict(item)
                self._emit(Change("action", self.last_action))
            case WentQuiet():
                if isinstance(self.state, CallState) and not self._finished:
                    self._offer(self.state.mark_quiet())
                    self._quiet_changed()
            case _:
                self._on_item(item)

    async def _drain_replay(self, items: AsyncIterator[Item]) -> None:
        """The call ended; Burki may be replaying its stored transcript after the status."""
        quiet = self._config.replay_quiet
        stored = self._sources.stored_transcript(self.key.id, timeout=10 * quiet)
        # Alone each replayed input is fed at once; a cluster's holder publishes them after.
        self._drained = [] if self.link is not None else None
        why = await drain(
            items, stored, self._on_drained, self._on_stored, quiet=quiet, bound=10 * quiet
        )
        drained, self._drained = self._drained or [], None
        for item in drained:
            await self._publish(item)
        log.info("stream %s: replay read to its end (%s)", self.key, why)

    async def _campaign_so_far(self) -> None:
        """Name and counters from REST before the socket: a campaign opened mid-run
        starts from where it stands, not from zero."""
        assert isinstance(self.state, CampaignState)
        if self.state.name is None:
            await self._publish(CampaignNamed(await self._sources.campaign_name(int(self.key.id))))
        progress = await self._sources.campaign_progress(int(self.key.id))
        if progress is not None and not self._finished:
            await self._publish(progress)

    def _on_drained(self, item: Item) -> None:
        if not isinstance(item, Connecting | Live | Reconnecting | GaveUp | UpstreamError):
            self._replayed(item)

    def _on_stored(self, segments: list[Transcript]) -> None:
        self._replayed(PollBatch())  # REST holds the whole transcript, as a replay does
        for segment in segments:
            self._replayed(segment)

    def _replayed(self, item: Input) -> None:
        if self._drained is not None:
            self._drained.append(item)
        else:
            self.feed(item)

    def _on_item(self, item: Item) -> None:
        match item:
            case Connecting(attempt=0):
                self._set_connection("connecting", "Connecting to Burki.")
            case Connecting():
                pass
            case Live():
                self._stop_polling()
                self._set_connection("live", "Live.")
                if isinstance(self.state, CallState):
                    self.state.connection_started()
            case Reconnecting(attempt=attempt, delay=delay, failure=failure):
                self._metrics.reconnects.inc()
                polls = attempt >= self._config.poll_after_failures or (
                    failure.kind is FailureKind.RATE_LIMITED
                )
                if failure.kind is FailureKind.AUTH:  # REST refuses the key too: no polling
                    self._stop_polling()
                    self._set_connection(
                        "reconnecting",
                        failure.message,
                        attempt=attempt,
                        retry_in=round(delay, 1),
                        reason=failure.kind.value,
                    )
                elif polls:
                    self._start_polling(failure.message)
                else:
                    self._set_connection(
                        "reconnecting", failure.message, attempt=attempt, retry_in=round(delay, 1)
                    )
            case GaveUp(failure=failure):
                self._stop_polling()
                self._set_connection("error", failure.message, reason=failure.kind.value)
                error = {"reason": failure.kind.value, "message": failure.message}
                self._emit(Change("error", error))
            case UpstreamError():
                log.info("stream %s: Burki reported an error (%s)", self.key, item.code)
            case _:
                self._apply(item)

    def _apply(self, event: Event) -> None:
        self._metrics.events_in.labels(self.key.kind).inc()
        if self.redactor is None:
            self._fold(event)
            return
        # Redacted here, before the state stores it: nothing downstream sees the raw text.
        began = time.perf_counter()
        redacted = self.redactor.feed(event)
        if isinstance(event, Transcript):
            self._metrics.redaction_seconds.observe(time.perf_counter() - began)
        for each in redacted:
            self._fold(each)
        if self.redactor.holding and self._release is None:
            hold = self.redactor.config.hold
            self._release = asyncio.get_running_loop().call_later(hold, self._release_held)
        elif not self.redactor.holding and self._release is not None:
            self._release.cancel()
            self._release = None

    def _release_held(self) -> None:
        """The hold timer: show what waited for a next segment that did not come.

        In a cluster the holder's timer decides, as an input, so that every node
        releases at the same place among the inputs.
        """
        self._release = None
        if self.link is None:
            self._release_now()
        elif self.runs_upstream and self._release_publish is None:
            self._release_publish = asyncio.create_task(self._publish_timed(HoldReleased()))

    def _release_now(self) -> None:
        if self._release is not None:
            self._release.cancel()
            self._release = None
        if self.redactor is not None:
            for segment in self.redactor.release():
                self._fold(segment)

    def _fold(self, event: Event) -> None:
        was_quiet = isinstance(self.state, CallState) and self.state.no_activity
        changes = self.state.apply(event)
        drops = getattr(self.state, "dedupe_drops", 0)
        if drops > self._dedupe_seen:
            self._metrics.dedupe_drops.inc(drops - self._dedupe_seen)
            self._dedupe_seen = drops
        self._offer(changes)
        if any(c.type == "transcript" for c in changes) or isinstance(event, CallStatus):
            if was_quiet and isinstance(self.state, CallState) and not self.state.no_activity:
                self._quiet_changed()  # someone spoke again: the overview says so
            self._arm_quiet_timer()
        if self.state.ended and isinstance(self.state, CampaignState) and not self._finished:
            self._finish()  # a call finishes once its replay is read (see run_upstream)

    def _offer(self, changes: list[Change]) -> None:
        for change in changes:
            self._progress.offer(change)
            self._observe(change)
            for derived in self.alerts.on_change(change) if self.alerts is not None else ():
                self._progress.offer(derived)
                self._observe(derived)
                if derived.type == "alert" and self._integrations.on_alert is not None:
                    self._integrations.on_alert(str(self.key), derived.data)
        if self.state.ended:  # a call's state ends before its replay is read: claims go now
            self._clear_claim()
        if self.health is not None:
            self.health.publish()

    # -- "no activity": a call Burki keeps "ongoing" with nothing said -----------------------

    def _arm_quiet_timer(self) -> None:
        """(Re)start the countdown to "no activity" from the call's last activity."""
        self._disarm_quiet_timer()
        state = self.state
        if not isinstance(state, CallState) or state.ended:
            return
        last = state.last_activity()
        since = (datetime.now(UTC) - last).total_seconds() if last is not None else 0.0
        delay = max(0.0, self._config.no_activity - since)
        loop = asyncio.get_running_loop()
        self._quiet_timer = loop.call_later(delay, self._went_quiet)

    def _disarm_quiet_timer(self) -> None:
        if self._quiet_timer is not None:
            self._quiet_timer.cancel()
            self._quiet_timer = None

    def _went_quiet(self) -> None:
        self._quiet_timer = None
        if self.link is None:
            self.feed(WentQuiet())
        elif self.runs_upstream and self._quiet_publish is None:  # the holder decides, once
            self._quiet_publish = asyncio.create_task(self._publish_timed(WentQuiet()))

    async def _publish_timed(self, item: HoldReleased | WentQuiet) -> None:
        """Publish an input a holder's timer decided (its task is the stream's)."""
        try:
            await self._publish(item)
        except Exception as exc:  # the lease moved or Redis went: the next holder decides
            log.info("stream %s: %s not published (%s)", self.key, item, type(exc).__name__)
        finally:
            if isinstance(item, WentQuiet):
                self._quiet_publish = None
            else:
                self._release_publish = None

    def _quiet_changed(self) -> None:
        if self._integrations.on_quiet is not None:
            self._integrations.on_quiet()

    def _finish(self) -> None:
        if self.redactor is not None:  # what still waits for a next segment: none will come
            for segment in self.redactor.release():
                self._fold(segment)
        self._finished = True
        self.finished.set()
        self._disarm_quiet_timer()
        self._progress.flush()
        self._stop_polling()
        what = "call" if self.key.kind == "call" else "campaign"
        self._set_connection("ended", f"The {what} has ended.")
        self._emit(Change("end", {"reason": f"{what} ended"}))
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.create_task(self._retire_after(self._config.linger))

    def _start_polling(self, why: str) -> None:
        message = f"{why} Showing data polled every {self._config.poll_interval:g} s."
        self._set_connection("polling", message)
        if self._poller is None and not self.ended and self.runs_upstream:
            self._poller = asyncio.create_task(self._poll(), name=f"poll {self.key}")
            self._poller.add_done_callback(self._task_done)

    def _stop_polling(self) -> None:
        if self._poller is not None and self._poller is not asyncio.current_task():
            self._poller.cancel()
        self._poller = None

    async def _poll(self) -> None:
        while not self.ended:
            try:
                events = await self._sources.poll(self.key)
            except Exception as exc:  # RestError and friends: shown, and tried again
                self._metrics.poll_errors.inc()
                log.warning("stream %s: poll failed: %s", self.key, type(exc).__name__)
            else:
                self._metrics.polls.inc()
                await self._publish(PollBatch())  # each poll returns the whole transcript
                for event in events:
                    await self._publish(event)
                    if self.state.ended:  # a poll puts an ended call's status last
                        if not self._finished:
                            await self._publish(Finished())
                        return
            await asyncio.sleep(self._config.poll_interval)

    # -- health and claims (calls only) -----------------------------------------------------

    def _observe(self, change: Change) -> None:
        if self.health is not None:
            self.health.observe(change)

    def _assess(self, figures: dict[str, Any]) -> dict[str, Any]:
        attention = self._integrations.attention
        if attention is None:
            return {"score": 0, "reasons": []}
        alerts = self.alerts.snapshot() if self.alerts is not None else {}
        return attention.assess(figures, alerts)

    async def claim(
        self, action: Action, who: str, *, admin: bool = False
    ) -> dict[str, Any] | None:
        """A supervisor claims, acknowledges or releases this call; every viewer sees it.

        Returns the claim now held; raises ``ClaimRefused`` (see ``relay.claims``). In a
        cluster the claim is an input the lease holder publishes, so every node shows it
        under the same event id; another node refuses it (not shared from there yet).
        """
        at = iso(datetime.now(UTC)) or ""
        self.claims.check(action, who, admin=admin)
        if self.link is None:
            self._apply_claim(action, who, admin, at)
        elif self.runs_upstream:
            await self._publish(ClaimMade(action, who, admin, at))
        else:
            raise ClaimRefused(
                "Another dashboard node holds this call right now; claims on it are taken "
                "there (not shared between nodes yet)."
            )
        return self.claims.snapshot()

    def _apply_claim(self, action: str, who: str, admin: bool, at: str) -> None:
        chosen = next((a for a in ACTIONS if a == action), None)
        try:
            change = self.claims.act(chosen, who, at, admin=admin) if chosen else None
        except ClaimRefused as refused:  # decided elsewhere first (a cluster's race)
            log.info("stream %s: a claim was refused (%s)", self.key, refused)
            return
        if change is not None:
            self._progress.offer(change)
            self._observe(change)
            if self.health is not None:
                self.health.publish()

    def _health_due(self, at: float) -> None:
        """A health threshold is due with no frame: alone, measure now; in a cluster the
        holder publishes it, so every node emits the same ``metrics`` frame."""
        if self.link is None:
            if self.health is not None:
                self.health.tick(at)
        elif self.runs_upstream and self._health_publish is None:
            self._health_publish = asyncio.create_task(self._publish_health(HealthDue(at)))

    async def _publish_health(self, item: HealthDue) -> None:
        try:
            await self._publish(item)
        except Exception as exc:  # the lease moved or Redis went: the next holder decides
            log.info("stream %s: %s not published (%s)", self.key, item, type(exc).__name__)
        finally:
            self._health_publish = None

    async def announce(self, by: str, outcome: str, message: str) -> bool:
        """A person's action on this call or campaign (ended, paused, failed...): an
        ``action`` event for every viewer, kept in the snapshot for late ones. An input,
        so every node of a cluster shows it under the same id: published by the lease
        holder. Returns False when this node cannot publish it (another node holds the
        stream): the outcome then reaches other screens only through Burki's own events."""
        item = ActionTaken(by, self.key.kind, outcome, message, iso(datetime.now(UTC)) or "")
        if self.link is not None and self._publish == self._feed_here:
            return False  # feeding it here alone would number this node's frames apart
        try:
            await self._publish(item)
        except Exception as exc:  # the lease moved or Redis went
            log.info("stream %s: action not published (%s)", self.key, type(exc).__name__)
            return False
        return True

    def _clear_claim(self) -> None:
        if not self.claims.closed:
            cleared = self.claims.end(iso(datetime.now(UTC)) or "")
            if cleared is not None:
                self._progress.offer(cleared)

    # -- emitting --------------------------------------------------------------------------

    def _set_connection(self, state: str, message: str, **extra: Any) -> None:
        connection = {"state": state, "message": message, **extra}
        if connection != self._connection:
            self._connection = connection
            self._local_status = None
            self._emit(Change("status", connection))

    def show_local_status(self, state: str | None, message: str = "") -> None:
        """What this node alone knows of the upstream (None: back to the shared state).

        Sent under the newest id, so it moves no viewer's resume position and
        every node keeps numbering the shared frames alike.
        """
        local = {"state": state, "message": message} if state is not None else None
        if local == self._local_status:
            return
        self._local_status = local
        self._deliver(render(self.log.last_id, "status", self.connection, self.key))

    def set_epoch(self, epoch: str) -> None:
        """Number frames under the cluster's epoch for this stream (before the first frame)."""
        if len(self.log) == 0 and self.log.epoch != epoch:
            self.log = ReplayLog(self.log.capacity, epoch)

    def _emit(self, change: Change) -> None:
        frame = self.log.append(change, self.key)
        webhooks = self._integrations.webhooks
        if webhooks is not None and frame.type in WEBHOOK_TYPES and self.runs_upstream:
            # An alert keeps its id when the stream is rebuilt and Burki replays the call.
            event_id = f"{self.key}/{frame.data['id']}" if frame.type == "alert" else frame.id
            webhooks.offer(str(self.key), event_id, frame.type, frame.data)
        self._deliver(frame)

    def _deliver(self, frame: Frame) -> None:
        for name, view in list(self.views.items()):
            try:
                frame.html[name] = view.update(self, frame)
            except Exception:  # a template bug must not stop the stream, nor log every frame
                log.exception("stream %s: view %s failed to render; detached", self.key, name)
                del self.views[name]  # its pages get full renders; a new page load re-adds it
        delivered = 0
        for sub in list(self.subscribers):
            if sub.offer(frame):
                delivered += 1
            else:  # fell behind: cut; its browser resumes with Last-Event-ID
                self.subscribers.discard(sub)
                self._metrics.viewer_cuts.labels(sub.closed_reason or "queue_full").inc()
        if delivered:  # one counter update per event, not per viewer (it takes a lock)
            self._metrics.events_out.inc(delivered)

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
