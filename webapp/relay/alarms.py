"""A stream's timers: the inputs its own clock decides (``webapp.relay.timedinputs``).

Three, each a loop ``call_later`` handle, never more than one of a kind per stream:

- **no activity**: (re)armed from the call's last activity each time someone speaks (or
  its status changes); fires :class:`~webapp.calls.inputs.WentQuiet`;
- **the redaction hold**: set when the redactor starts holding a segment back, cancelled
  when it holds none; fires :class:`~webapp.calls.inputs.HoldReleased`;
- **health**: set for the next moment a health figure crosses a threshold with no frame
  from Burki, again each time the figures are published; fires
  :class:`~webapp.calls.inputs.HealthDue`.

The stream owns this and calls :meth:`Alarms.follow` after each input, which reads what
the call's features say is due. :meth:`close` cancels every handle (the stream's close
and its end). When one fires its input goes through the stream's
:class:`~webapp.relay.timedinputs.TimedInputs` (fed here alone, published by a
cluster's holder), whose tasks the stream cancels.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from webapp.calls.callstate import CallState
from webapp.calls.inputs import HealthDue, HoldReleased, WentQuiet
from webapp.calls.pipeline import Features
from webapp.relay.timedinputs import TimedInputs


class Alarms:
    def __init__(self, timed: TimedInputs, no_activity: float, hold: float) -> None:
        self._timed = timed
        self._no_activity = no_activity
        self._hold = hold
        self._quiet: asyncio.TimerHandle | None = None
        self._release: asyncio.TimerHandle | None = None
        self._health: asyncio.TimerHandle | None = None
        self._measured = 0  # the health's publications the timer follows

    @property
    def health_armed(self) -> bool:
        """Whether the health timer is set (at most one per call)."""
        return self._health is not None

    def follow(self, features: Features) -> None:
        """After an input: the hold and health timers as the call's features now need them."""
        if features.stirred:
            self.arm_quiet(features)
        if features.holding and self._release is None:
            self._release = self._loop().call_later(self._hold, self._fire_release)
        elif not features.holding and self._release is not None:
            self._release.cancel()
            self._release = None
        health = features.health
        if health is not None and health.measured != self._measured:
            self._measured = health.measured
            self._cancel_health()
            delay = health.delay()
            if delay is not None:
                self._health = self._loop().call_later(delay, self._fire_health, health.now)

    def arm_quiet(self, features: Features) -> None:
        """(Re)start the countdown to "no activity" from the call's last activity."""
        self.disarm_quiet()
        state = features.state
        if not isinstance(state, CallState) or state.ended:  # a campaign is never quiet
            return
        last = state.last_activity()
        since = (datetime.now(UTC) - last).total_seconds() if last is not None else 0.0
        delay = max(0.0, self._no_activity - since)
        self._quiet = self._loop().call_later(delay, self._fire_quiet)

    def disarm_quiet(self) -> None:
        if self._quiet is not None:
            self._quiet.cancel()
            self._quiet = None

    def close(self) -> None:
        """Cancel every timer (the stream closes)."""
        self.disarm_quiet()
        if self._release is not None:
            self._release.cancel()
            self._release = None
        self._cancel_health()

    def _cancel_health(self) -> None:
        if self._health is not None:
            self._health.cancel()
            self._health = None

    def _fire_quiet(self) -> None:
        self._quiet = None
        self._timed.decide(WentQuiet())

    def _fire_release(self) -> None:
        """Show what waited for a next segment that did not come. In a cluster the
        holder's timer decides, as an input, so that every node releases at the same
        place among the inputs."""
        self._release = None
        self._timed.decide(HoldReleased())

    def _fire_health(self, now: Callable[[], float]) -> None:
        """A threshold is due with no frame: alone, measure now; in a cluster the holder
        publishes it, so every node emits the same ``metrics`` frame."""
        self._health = None
        self._timed.decide(HealthDue(now()))

    @staticmethod
    def _loop() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()
