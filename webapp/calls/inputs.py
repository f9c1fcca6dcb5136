"""A stream's inputs: what it folds into its state, in order.

Burki's upstream yields items (normalised events and connection states); the
stream itself adds a few markers of what it decided from the outside world (a
REST poll began, REST named the campaign, the replay is over, the call went
quiet), so that everything that changes a stream's state is an input. Alone the
stream feeds them to itself; in a cluster the lease holder publishes them and
every node feeds the same inputs in the same order (``webapp.cluster``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from webapp.wire.upstream import Item


@dataclass(frozen=True, slots=True)
class PollBatch:
    """A whole transcript follows (a REST poll or the stored one): dedupe counts afresh."""


@dataclass(frozen=True, slots=True)
class CampaignNamed:
    """The campaign's name as Burki's REST gives it."""

    name: str | None


@dataclass(frozen=True, slots=True)
class Finished:
    """The stream is over: a call's replay was read to its end, or a poll saw the end."""


@dataclass(frozen=True, slots=True)
class WentQuiet:
    """Nothing was said for the configured while: the call shows "no activity"."""


@dataclass(frozen=True, slots=True)
class HoldReleased:
    """The redactor's hold ran out: what it held (a possible card number's start) is shown."""


@dataclass(frozen=True, slots=True)
class HealthDue:
    """A call's health crossed a threshold with no frame from Burki (dead air, a long call),
    as the holder's clock saw it at ``at`` (wall-time seconds)."""

    at: float


@dataclass(frozen=True, slots=True)
class ClaimMade:
    """A supervisor claimed, acknowledged or released the call (``webapp.calls.claims``)."""

    action: str
    who: str
    admin: bool
    at: str


@dataclass(frozen=True, slots=True)
class ActionTaken:
    """A person acted on the stream from the dashboard (ended the call, paused the campaign,
    or tried and Burki refused): every viewer is told."""

    by: str
    kind: str  # call or campaign
    outcome: str  # asked, done or failed
    message: str
    at: str
    status: str = ""  # a campaign's status once Burki did it (paused, running, cancelled)


Input = (
    Item
    | PollBatch
    | CampaignNamed
    | Finished
    | WentQuiet
    | HoldReleased
    | HealthDue
    | ClaimMade
    | ActionTaken
)
Feed = Callable[[Input], Awaitable[None]]

# The stream's own markers: everything that is not an upstream item.
MARKERS = (
    PollBatch,
    CampaignNamed,
    Finished,
    WentQuiet,
    HoldReleased,
    HealthDue,
    ClaimMade,
    ActionTaken,
)
