"""A cluster stream's webhook frames, kept on every node so a new holder posts what the old
one could not.

Only the lease holder posts webhooks, but every node derives the same frames under the
same ids. Each node numbers the frames per route (endpoint) and keeps the last ones (as
many as one route's queue holds: an older frame the holder had not delivered was dropped
from its queue anyway). While this node holds the lease and has taken the stream over
(:meth:`take_over`), it sends each frame as it comes; until then it only keeps them. On
takeover the dispatcher queues, per route, every kept frame after the route's shared
delivery mark (the number it reached), and counts and logs what was no longer kept.

Owned by its stream; pure bookkeeping but for the one await of :meth:`take_over`.
"""

from __future__ import annotations

from collections import Counter, deque

from webapp.relay.frames import Frame
from webapp.relay.ports import Outgoing, Webhooks
from webapp.relay.replaylog import parse_id
from webapp.wire.streamkey import StreamKey

WEBHOOK_TYPES = frozenset({"progress", "contact", "campaign_completed", "alert", "call_status"})


def event_id(key: StreamKey, frame: Frame) -> str:
    """A webhook's idempotency key: the frame's id, or for an alert the stream and its id
    (an alert keeps it when the stream is rebuilt and Burki replays the call)."""
    return f"{key}/{frame.data['id']}" if frame.type == "alert" else frame.id


class Outbox:
    def __init__(self, key: StreamKey, webhooks: Webhooks) -> None:
        self.key = key
        self._webhooks = webhooks
        self._kept: deque[Outgoing] = deque(maxlen=max(webhooks.kept, 1))
        self._counts: Counter[str] = Counter()
        self._epoch = ""
        self.posting = False  # this node holds the lease and has taken the stream over

    def emit(self, frame: Frame) -> None:
        """Number a frame of a webhook type for the routes that take it; send it if posting."""
        routes = self._webhooks.routes(self.key, frame.type, frame.data)
        parsed = parse_id(frame.id)
        if not routes or parsed is None:
            return
        if parsed[0] != self._epoch:  # renumbered: other numbers from here on
            self._epoch, self._counts = parsed[0], Counter()
            self._kept.clear()
        self._counts.update(routes)
        numbers = tuple((route, self._counts[route]) for route in routes)
        item = Outgoing(event_id(self.key, frame), frame.type, frame.data, self._epoch, numbers)
        self._kept.append(item)
        if self.posting:
            self._webhooks.send(self.key, item)

    async def take_over(self) -> None:
        """This node runs the upstream now: queue what no holder delivered, then post on.

        The kept frames are read after the dispatcher's await, and posting starts with no
        await after it: a frame emitted meanwhile is queued once, in order.
        """
        await self._webhooks.take_over(self.key, self._kept, self._counts)
        self.posting = True

    def stop(self) -> None:
        """This node no longer runs the upstream: keep frames, post none."""
        self.posting = False
