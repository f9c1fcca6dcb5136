"""A stream's features as one pipeline: each input goes in, the changes viewers must see come out.

A call's event is redacted first (a possible card number's start may be held back),
folded into the call's state; each change the state makes is followed by what the
call's alerts derive from it (sentiment, alerts); health observes them all, then
measures, and a call that ended lets its claim go. A campaign's event goes into its
state alone.

:meth:`CallFeatures.apply` is a generator, and the relay emits each change before it
asks for the next: a page view renders each frame from the state at that moment (a
transcript line before the alert it raised), exactly as when each stage handed its
changes on at once. Nothing here calls back into the relay and nothing here keeps a
timer: :attr:`CallFeatures.holding` and the health's :attr:`~CallHealth.due` say when
the relay's timers (``webapp.relay.alarms``) must feed an input back.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from webapp.calls.callhealth import CallHealth
from webapp.calls.callstate import CallState
from webapp.calls.campaignstate import CampaignState
from webapp.calls.change import RIDERS, Change, carried, iso
from webapp.calls.claims import ACTIONS, ClaimRefused, Claims
from webapp.calls.health import HealthConfig
from webapp.calls.inputs import (
    ActionTaken,
    CampaignNamed,
    ClaimMade,
    Finished,
    HealthDue,
    HoldReleased,
    Input,
    PollBatch,
    WentQuiet,
)
from webapp.calls.redactor import CallRedactor, Redacted, RedactionConfig
from webapp.wire.events import CallStatus, Event, Transcript, UpstreamError
from webapp.wire.streamkey import StreamKey
from webapp.wire.upstream import Connecting, GaveUp, Live, Reconnecting

log = logging.getLogger("webapp.relay.stream")


class Alerts(Protocol):
    """One call's alert state (``webapp.alerts.callalerts.CallAlerts``): changes derived
    from the call's changes, and its snapshot."""

    def on_change(self, change: Change) -> list[Change]: ...
    def snapshot(self) -> dict[str, Any]: ...


class Attention(Protocol):
    """Scores how much a call needs a supervisor, from its health figures and its alerts
    (``webapp.alerts.attention.Attention``)."""

    def assess(self, figures: dict[str, Any], alerts: dict[str, Any]) -> dict[str, Any]: ...


def _assess(
    attention: Attention | None, alerts: Alerts | None, figures: dict[str, Any]
) -> dict[str, Any]:
    if attention is None:
        return {"score": 0, "reasons": []}
    return attention.assess(figures, alerts.snapshot() if alerts is not None else {})


@dataclass(frozen=True, slots=True)
class ActionShown:
    """An ``action`` change: a person's action on the call or campaign, as told."""

    action: ActionTaken

    def json(self) -> dict[str, Any]:
        return dataclasses.asdict(self.action)


def _with_figures(shown: list[Change], figures: list[Change]) -> list[Change]:
    """The call's figures after ``shown`` ride in its last segment's event; alone when
    ``shown`` has no segment (a status, a claim cleared, dead air noticed)."""
    last = next((i for i in reversed(range(len(shown))) if shown[i].type == "transcript"), None)
    if last is None:
        return [*shown, *figures]
    shown[last] = carried(shown[last], figures)
    return shown


class CallFeatures:
    """One call: its state, redaction, alerts, health and claim, fed its inputs in order."""

    def __init__(
        self,
        sid: str,
        health: HealthConfig,
        redaction: RedactionConfig | None = None,
        alerts: Alerts | None = None,
        attention: Attention | None = None,
        *,
        shared: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state = CallState(sid)
        self.redactor = (
            CallRedactor(redaction) if redaction is not None and redaction.enabled else None
        )
        self.alerts = alerts
        self.health = CallHealth(health, functools.partial(_assess, attention, alerts), clock)
        self.health.shared = shared  # a cluster: figures at the inputs' moments only
        self.claims = Claims()
        self.last_action: dict[str, Any] | None = None  # the latest person's action, told
        self.stirred = False  # the last input showed activity: "no activity" counts afresh
        self.redaction_took: float | None = None  # seconds the last transcript's redaction took

    @property
    def holding(self) -> bool:
        """The redactor holds a segment back until the speaker's next one (or the hold ends)."""
        return self.redactor is not None and self.redactor.holding

    def apply(self, item: Input) -> Iterator[Change]:
        """The changes ``item`` makes, in the order viewers must get them (often none)."""
        self.stirred, self.redaction_took = False, None
        match item:
            case PollBatch():
                self.state.connection_started()
            case HoldReleased() | Finished():  # what still waits for a next segment: shown
                yield from self._release()
            case HealthDue(at=at):
                yield from self.health.tick(at)
            case ClaimMade(action=action, who=who, admin=admin, at=at):
                yield from self._claim(action, who, admin, at)
            case WentQuiet():
                yield from self._offer(self.state.mark_quiet())
            case ActionTaken() | CampaignNamed():  # the relay tells the action itself
                pass
            case Connecting() | Live() | Reconnecting() | GaveUp() | UpstreamError():
                pass  # the upstream's state: the relay's
            case _:
                yield from self._event(item)

    def act(self, item: ActionTaken) -> Change:
        """A person's action on the call, kept for late viewers: the ``action`` change."""
        change = Change("action", ActionShown(item))
        self.last_action = change.data
        return change

    def view_state(self, *, transcript: bool = True) -> dict[str, Any]:
        """The call as a viewer sees it: its state, sentiment and alerts, health, claim
        (``transcript=False``: without the final segments, which a page view reads from
        the state's :attr:`~CallState.finals` as it needs them)."""
        extra = self.alerts.snapshot() if self.alerts is not None else {}
        extra |= {"metrics": self.health.current(), "claim": self.claims.snapshot()}
        if self.last_action is not None:
            extra["action"] = self.last_action
        return {**self.state.snapshot(transcript=transcript), **extra}

    def _event(self, event: Event) -> Iterator[Change]:
        """Fold ``event`` into the state, redacted first when redaction is on: nothing
        after the redactor (the state, page views, exports, alerts) sees the raw text."""
        if self.redactor is None:
            yield from self._fold(event)
            return
        began = time.perf_counter()
        redacted = self.redactor.feed(event)
        if isinstance(event, Transcript):
            self.redaction_took = time.perf_counter() - began
        for each in redacted:
            yield from self._fold(each)

    def _release(self) -> Iterator[Change]:
        for each in self.redactor.release() if self.redactor is not None else []:
            yield from self._fold(each)

    def _fold(self, event: Redacted) -> Iterator[Change]:
        changes = self.state.apply(event)
        yield from self._offer(changes)
        if any(c.type == "transcript" for c in changes) or isinstance(event, CallStatus):
            self.stirred = True

    def _offer(self, changes: Iterable[Change]) -> Iterator[Change]:
        """``changes``, each followed by what the alerts derive from it, the sentiment and
        the call's figures riding in the segment's own event (one id: ``docs/api.md``)."""
        shown: list[Change] = []
        for change in changes:
            self.health.observe(change)
            derived = self.alerts.on_change(change) if self.alerts is not None else []
            for each in derived:
                self.health.observe(each)
            riding = change.type == "transcript"
            shown.append(carried(change, [d for d in derived if riding and d.type in RIDERS]))
            shown += [d for d in derived if not (riding and d.type in RIDERS)]
        if self.state.ended and not self.claims.closed:  # a call's claim ends with it
            cleared = self.claims.end(iso(datetime.now(UTC)) or "")
            if cleared is not None:
                shown.append(cleared)
        yield from _with_figures(shown, self.health.publish())

    def _claim(self, action: str, who: str, admin: bool, at: str) -> Iterator[Change]:
        chosen = next((a for a in ACTIONS if a == action), None)
        try:
            change = self.claims.act(chosen, who, at, admin=admin) if chosen else None
        except ClaimRefused as refused:  # decided elsewhere first (a cluster's race)
            log.info("call %s: a claim was refused (%s)", self.state.call_sid, refused)
            return
        if change is not None:
            yield change
            self.health.observe(change)
            yield from self.health.publish()


class CampaignFeatures:
    """One campaign: its state, fed its inputs in order."""

    redactor: None = None
    health: None = None
    holding = False
    stirred = False
    redaction_took: None = None

    def __init__(self, campaign_id: int) -> None:
        self.state = CampaignState(campaign_id)
        self.claims = Claims()  # a campaign takes no claim: never acted on
        self.last_action: dict[str, Any] | None = None

    def apply(self, item: Input) -> Iterator[Change]:
        match item:
            case ActionTaken(status=status) if status:  # as Burki confirmed it
                yield from self.state.set_status(status)
            case PollBatch() | CampaignNamed() | Finished() | HoldReleased() | HealthDue():
                pass
            case ClaimMade() | WentQuiet() | ActionTaken():
                pass
            case Connecting() | Live() | Reconnecting() | GaveUp() | UpstreamError():
                pass  # the upstream's state: the relay's
            case _:
                yield from self.state.apply(item)

    def act(self, item: ActionTaken) -> Change:
        change = Change("action", ActionShown(item))
        self.last_action = change.data
        return change

    def rename(self, name: str | None) -> list[Change]:
        return self.state.rename(name)

    def view_state(self, *, transcript: bool = True) -> dict[str, Any]:
        extra = {"action": self.last_action} if self.last_action is not None else {}
        return {**self.state.snapshot(), **extra}


Features = CallFeatures | CampaignFeatures


@dataclass(frozen=True, slots=True)
class Seen:
    """What a page view reads of a stream when it renders a frame: the call's or
    campaign's features and the connection line as they are then, nothing of the relay
    (which renders each frame for its views: it never calls up into a page and back)."""

    key: StreamKey
    features: Features
    connection: dict[str, Any]
    assistant_hint: str | None

    @property
    def state(self) -> CallState | CampaignState:
        return self.features.state

    def view_state(self, *, transcript: bool = True) -> dict[str, Any]:
        return self.features.view_state(transcript=transcript)
