""" "No activity": a call Burki keeps "ongoing" with nothing said.

:class:`QuietTimer` owns one loop ``call_later`` handle (never more than one per call),
(re)armed from the call's last activity each time someone speaks. The stream that
owns it disarms it when the call finishes and when the stream closes; when it fires,
the stream decides the :class:`~webapp.calls.inputs.WentQuiet` input through its
:class:`~webapp.relay.timedinputs.TimedInputs`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from webapp.calls.callstate import CallState
from webapp.calls.campaignstate import CampaignState


class QuietTimer:
    def __init__(self, no_activity: float, went_quiet: Callable[[], None]) -> None:
        self._no_activity = no_activity
        self._went_quiet = went_quiet
        self._handle: asyncio.TimerHandle | None = None

    def arm(self, state: CallState | CampaignState) -> None:
        """(Re)start the countdown to "no activity" from the call's last activity."""
        self.disarm()
        if not isinstance(state, CallState) or state.ended:
            return
        last = state.last_activity()
        since = (datetime.now(UTC) - last).total_seconds() if last is not None else 0.0
        delay = max(0.0, self._no_activity - since)
        loop = asyncio.get_running_loop()
        self._handle = loop.call_later(delay, self._fire)

    def disarm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        self._handle = None
        self._went_quiet()
