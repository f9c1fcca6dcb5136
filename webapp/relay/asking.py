"""What a person asks of a stream from the dashboard: a claim on a call, an action's outcome.

Both are inputs, so every node of a cluster shows them under the same event id: alone
the stream feeds them to itself; in a cluster the node running the upstream publishes
them, and another node asks it to (``StreamLink.forward``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from webapp.calls.change import iso
from webapp.calls.claims import Action, ClaimRefused
from webapp.calls.inputs import ActionTaken, ClaimMade

if TYPE_CHECKING:
    from webapp.relay.stream import Stream

log = logging.getLogger("webapp.relay.stream")

FORWARD_WAIT = 3.0  # seconds a claim made on a node that does not hold the call waits to show


async def claim(
    stream: Stream, action: Action, who: str, *, admin: bool = False
) -> dict[str, Any] | None:
    """A supervisor claims, acknowledges or releases a call; every viewer sees it.

    Returns the claim now held; raises ``ClaimRefused`` (see ``calls.claims``). In a
    cluster the claim is an input the lease holder publishes, so every node shows it
    under the same event id; another node asks the holder to publish it and waits a
    little to see it applied (a claim decided elsewhere first is refused alike on every
    node, and the returned claim says whose it is).
    """
    at = iso(datetime.now(UTC)) or ""
    stream.claims.check(action, who, admin=admin)
    publish, made = stream.decider(), ClaimMade(action, who, admin, at)
    if stream.link is None:
        stream.feed(made)
        return stream.claims.snapshot()
    if publish is not None:
        try:
            await publish(made)
            return stream.claims.snapshot()
        except Exception as exc:  # the lease moved (unseen yet) or Redis went
            log.info("stream %s: claim not published (%s)", stream.key, type(exc).__name__)
    # Whoever holds the stream now (or next) publishes it.
    if await stream.link.forward(made, FORWARD_WAIT) == "failed":
        raise ClaimRefused(
            "The dashboard cannot reach its shared store (Redis) right now; try again."
        )
    return stream.claims.snapshot()


async def announce(stream: Stream, by: str, outcome: str, message: str, status: str = "") -> bool:
    """A person's action on a call or campaign (ended, paused, failed...): an ``action``
    event for every viewer, kept in the snapshot for late ones. Published by the lease
    holder (asked of it by another node). Returns False when it could not be published
    nor asked for: the outcome then reaches other screens only through Burki's events."""
    at = iso(datetime.now(UTC)) or ""
    item = ActionTaken(by, stream.key.kind, outcome, message, at, status)
    publish = stream.decider()
    if publish is None:  # fed here alone it would number this node's frames apart
        return stream.link is not None and await stream.link.forward(item, 0) != "failed"
    try:
        await publish(item)
    except Exception as exc:  # the lease moved or Redis went
        log.info("stream %s: action not published (%s)", stream.key, type(exc).__name__)
        return False
    return True
