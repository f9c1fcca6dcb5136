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


@dataclass(frozen=True, slots=True)
class ClaimShown:
    """A ``claim`` change: the claim now held (None: nobody's), and why it changed."""

    claim: Claim | None
    at: str
    released_by: str | None = None  # a holder (or an admin) let go
    took_over_from: str | None = None  # someone else held it
    reason: str | None = None  # the call ended

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"claim": None if self.claim is None else self.claim.payload()}
        if self.released_by is not None:
            data["released_by"] = self.released_by
        if self.reason is not None:
            data["reason"] = self.reason
        data["at"] = self.at
        if self.took_over_from is not None:
            data["took_over_from"] = self.took_over_from
        return data


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
            return Change("claim", ClaimShown(None, at, released_by=who))
        if action == "ack" and held is not None and held.kind == "claim" and held.by != who:
            raise ClaimRefused(f"{held.by} is already on it.")
        if held is not None and held.by == who and held.kind == action:
            return None
        self.current = Claim(who, action, at)
        took = held.by if held is not None and held.by != who else None
        return Change("claim", ClaimShown(self.current, at, took_over_from=took))

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
        return Change("claim", ClaimShown(None, at, reason="call ended"))

    def snapshot(self) -> dict[str, Any] | None:
        return None if self.current is None else self.current.payload()
