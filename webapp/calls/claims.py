"""Who is on a call: one supervisor's claim ("Ada is on it") or acknowledgement, per call.

A claim travels as a ``claim`` change on the call's stream, so every screen
that shows the call (call page, wallboard, overview) sees it at once, and a
late viewer finds it in the snapshot. When the call ends the claim is cleared
(the change says why). Pure: no I/O; the stream is its only writer.

Actions:

- ``claim``: "<who> is on it". Another supervisor may take it over; the
  change names whom they took it from, so nobody loses track.
- ``ack``: "<who> has seen it" (no one has to act). A claim is not turned
  back into an acknowledgement by someone else.
- ``release``: the holder (or an admin) lets go.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from webapp.calls.change import Change

Action = Literal["claim", "ack", "release"]
ACTIONS: tuple[Action, ...] = ("claim", "ack", "release")


class ClaimRefused(Exception):
    """The action cannot be done (the call ended, the claim is someone else's); says why."""


@dataclass(frozen=True, slots=True)
class Claim:
    by: str
    kind: Literal["claim", "ack"]
    at: str

    def payload(self) -> dict[str, Any]:
        return {"by": self.by, "kind": self.kind, "at": self.at}


class Claims:
    """The claim of one call (None: nobody's)."""

    def __init__(self) -> None:
        self.current: Claim | None = None
        self.closed = False

    def act(self, action: Action, who: str, at: str, *, admin: bool = False) -> Change | None:
        """Apply ``action`` by ``who``; the change to emit (None: nothing changed).

        Raises :class:`ClaimRefused` for an ended call, a release of someone
        else's claim (unless ``admin``), or an acknowledgement over a claim.
        """
        if self.closed:
            raise ClaimRefused("The call has ended.")
        held = self.current
        if action == "release":
            if held is None:
                return None
            if held.by != who and not admin:
                raise ClaimRefused(f"Only {held.by} (or an admin) can release this call.")
            self.current = None
            return Change("claim", {"claim": None, "released_by": who, "at": at})
        if action == "ack" and held is not None and held.kind == "claim" and held.by != who:
            raise ClaimRefused(f"{held.by} is already on it.")
        if held is not None and held.by == who and held.kind == action:
            return None
        self.current = Claim(who, action, at)
        data: dict[str, Any] = {"claim": self.current.payload(), "at": at}
        if held is not None and held.by != who:
            data["took_over_from"] = held.by
        return Change("claim", data)

    def check(self, action: Action, who: str, *, admin: bool = False) -> None:
        """Raise :class:`ClaimRefused` if :meth:`act` would; change nothing."""
        probe = Claims()
        probe.current, probe.closed = self.current, self.closed
        probe.act(action, who, "", admin=admin)

    def end(self, at: str) -> Change | None:
        """The call ended: no more claims; the change that clears one, if any."""
        self.closed = True
        if self.current is None:
            return None
        self.current = None
        return Change("claim", {"claim": None, "reason": "call ended", "at": at})

    def snapshot(self) -> dict[str, Any] | None:
        return None if self.current is None else self.current.payload()
