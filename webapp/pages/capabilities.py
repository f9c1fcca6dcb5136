"""What this Burki can do: an action endpoint that answered 404 is remembered as missing.

The open-source Burki server has no action endpoints (``/calls/{sid}/terminate``,
``/campaigns/{id}/pause|start|stop``); it answers 404 ``{"detail":"Not Found"}``.
Once one did, the buttons for it are shown disabled ("this Burki cannot end
calls") for ``ttl`` seconds, then offered again (Burki may have been upgraded).
Pure apart from the clock; one per app.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from webapp.access.users import Role

Capability = Literal["end_call", "campaign_control"]

CANNOT: dict[Capability, str] = {
    "end_call": "This Burki cannot end calls.",
    "campaign_control": "This Burki cannot pause, resume or stop campaigns.",
}


class Capabilities:
    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._missing_until: dict[Capability, float] = {}

    def missing(self, what: Capability) -> None:
        """Burki answered 404 for ``what``: remember it for ``ttl`` seconds."""
        self._missing_until[what] = self._clock() + self.ttl

    def lacks(self, what: Capability) -> bool:
        until = self._missing_until.get(what)
        if until is None:
            return False
        if self._clock() >= until:
            del self._missing_until[what]
            return False
        return True

    def notes(self) -> dict[str, str]:
        """What this Burki is known to lack, as a sentence each (for templates)."""
        return {what: CANNOT[what] for what in CANNOT if self.lacks(what)}


@dataclass
class ActionPolicy:
    """Who may act (the settings) and what Burki can do (remembered)."""

    end_call_roles: frozenset[Role] = frozenset({Role.SUPERVISOR, Role.ADMIN})
    campaign_roles: frozenset[Role] = frozenset({Role.MANAGER, Role.ADMIN})
    capabilities: Capabilities = field(default_factory=lambda: Capabilities(600.0))
