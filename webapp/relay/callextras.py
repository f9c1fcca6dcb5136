"""What a call's stream keeps besides its state: the redaction hold, health and claims.

The stream owns one :class:`CallExtras` and stays the single owner of state, ids
and emission: everything here hands its changes to the stream's callbacks
(``fold`` an event into the state, ``offer`` a change for emission) and never awaits
while it changes anything.

Timers: the redaction hold timer (a loop ``call_later`` handle, never more than one)
lives here; :meth:`close` cancels it, and the stream calls :meth:`close` when it
closes. The health timer is :class:`~webapp.calls.callhealth.CallHealth`'s own,
cancelled by the same :meth:`close`. When a timer fires its input goes through the
stream's :class:`~webapp.relay.timedinputs.TimedInputs` (fed here alone, published by
a cluster's holder), whose tasks the stream cancels.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from webapp.calls.callhealth import CallHealth
from webapp.calls.change import Change, iso
from webapp.calls.claims import ACTIONS, ClaimRefused, Claims
from webapp.calls.health import HealthConfig
from webapp.calls.inputs import HealthDue, HoldReleased
from webapp.calls.redactor import CallRedactor, Redacted, RedactionConfig
from webapp.relay.metrics import Metrics
from webapp.relay.ports import Alerts, Attention
from webapp.relay.timedinputs import TimedInputs
from webapp.relay.weak import weakly
from webapp.wire.events import Event, Transcript
from webapp.wire.streamkey import StreamKey

log = logging.getLogger("webapp.relay.stream")


class CallExtras:
    def __init__(
        self,
        key: StreamKey,
        health: HealthConfig,
        redaction: RedactionConfig | None,
        attention: Attention | None,
        alerts: Alerts | None,
        shared: bool,
        offer: Callable[[Change], None],
        fold: Callable[[Redacted], None],
        timed: TimedInputs,
        metrics: Metrics,
    ) -> None:
        self._key = key
        self._attention = attention
        self._alerts = alerts
        self._offer = offer
        self._fold = fold
        self._timed = timed
        self._metrics = metrics
        self.redactor = (
            CallRedactor(redaction)
            if redaction is not None and redaction.enabled and key.kind == "call"
            else None
        )
        self._release: asyncio.TimerHandle | None = None
        self.health = (
            CallHealth(health, offer, weakly(self._assess), on_due=weakly(self._health_due))
            if (key.kind == "call")
            else None
        )
        if self.health is not None:
            self.health.shared = shared
        self.claims = Claims()

    def close(self) -> None:
        """Cancel the hold timer and the health timer (the stream closes)."""
        if self._release is not None:
            self._release.cancel()
        if self.health is not None:
            self.health.close()

    # -- redaction: hold a possible card number's start until the next segment -----------

    def apply(self, event: Event) -> None:
        """Fold ``event`` into the state, redacted first when redaction is on."""
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
        self._timed.decide(HoldReleased())

    def release_now(self) -> None:
        if self._release is not None:
            self._release.cancel()
            self._release = None
        self.release()

    def release(self) -> None:
        """Show whatever the redactor still holds (the call ended, or the hold ran out)."""
        if self.redactor is not None:
            for each in self.redactor.release():
                self._fold(each)

    # -- health and claims (calls only) -----------------------------------------------------

    def observe(self, change: Change) -> None:
        if self.health is not None:
            self.health.observe(change)

    def publish_health(self) -> None:
        if self.health is not None:
            self.health.publish()

    def tick(self, at: float) -> None:
        if self.health is not None:
            self.health.tick(at)

    def view_state(self) -> dict[str, Any]:
        if self.health is None:
            return {}
        return {"metrics": self.health.current(), "claim": self.claims.snapshot()}

    def _assess(self, figures: dict[str, Any]) -> dict[str, Any]:
        attention = self._attention
        if attention is None:
            return {"score": 0, "reasons": []}
        alerts = self._alerts.snapshot() if self._alerts is not None else {}
        return attention.assess(figures, alerts)

    def apply_claim(self, action: str, who: str, admin: bool, at: str) -> None:
        chosen = next((a for a in ACTIONS if a == action), None)
        try:
            change = self.claims.act(chosen, who, at, admin=admin) if chosen else None
        except ClaimRefused as refused:  # decided elsewhere first (a cluster's race)
            log.info("stream %s: a claim was refused (%s)", self._key, refused)
            return
        if change is not None:
            self._offer(change)
            self.observe(change)
            self.publish_health()

    def _health_due(self, at: float) -> None:
        """A health threshold is due with no frame: alone, measure now; in a cluster the
        holder publishes it, so every node emits the same ``metrics`` frame."""
        self._timed.decide(HealthDue(at))

    def clear_claim(self) -> None:
        if not self.claims.closed:
            cleared = self.claims.end(iso(datetime.now(UTC)) or "")
            if cleared is not None:
                self._offer(cleared)
