"""What the relay asks of the rooms above it, as small Protocols, so its imports point down.

A page view renders each frame for its page (``webapp.pages.views.View``);
webhooks take the frames an operator subscribed to
(``webapp.alerts.webhooks.WebhookDispatcher``); a cluster links each stream to the
other nodes (``webapp.cluster``). What a call's features ask of the alerts room
(its alert state, the attention score) is in ``webapp.calls.pipeline``. The root wiring
hands the concrete ones to the hub; the relay never imports them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from webapp.calls.inputs import Input
from webapp.calls.pipeline import Seen
from webapp.relay.frames import Frame
from webapp.wire.sources import Sources
from webapp.wire.streamkey import StreamKey

if TYPE_CHECKING:
    from webapp.relay.emitter import Emitter
    from webapp.relay.stream import Stream


Forwarded = Literal["applied", "asked", "failed"]  # what became of an input asked of the holder


class SourceBook(Protocol):
    """Where each stream's events come from: its organisation's sources (a single
    organisation's :class:`~webapp.wire.sources.Sources` is a book of one)."""

    def of(self, key: StreamKey) -> Sources: ...


class FrameView(Protocol):
    """A page's view of a stream: renders each frame once, when the stream emits it, from
    what it :class:`Seen` of the stream then."""

    @property
    def name(self) -> str: ...
    def update(self, stream: Seen, frame: Frame) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A frame for the webhooks, as every node of a cluster derives it.

    ``numbers``: for each route (endpoint) that takes it, its number among that route's
    frames of the stream under ``epoch``, from 1: the same on every node, so a route's
    delivery mark (the number it reached) means the same everywhere.
    """

    event_id: str
    type: str
    data: dict[str, Any]
    epoch: str
    numbers: tuple[tuple[str, int], ...]


class MarksUnavailable(Exception):
    """The shared store could not be asked or told (it is away or too slow)."""


@dataclass(frozen=True, slots=True)
class Mark:
    """The number of the last frame delivered (or given up) on a route, under ``epoch``."""

    epoch: str
    n: int

    def covers(self, epoch: str, n: int) -> bool:
        return epoch == self.epoch and n <= self.n


class DeliveryMarks(Protocol):
    """A cluster's webhook delivery marks (``webapp.cluster.marks.RedisMarks``), read and
    moved by the dispatcher (``webapp.alerts.marks``); raise MarksUnavailable."""

    async def marks(self, stream: StreamKey) -> dict[str, Mark]: ...
    async def advance(self, stream: StreamKey, route: str, mark: Mark) -> None: ...


class Webhooks(Protocol):
    """Takes a frame for delivery and never blocks the stream (a bounded queue of its own).

    Alone a stream :meth:`offer`s each frame. In a cluster every node numbers each frame
    per :meth:`routes`, keeps the last :attr:`kept`, and the lease holder :meth:`send`s
    them; a node that takes a stream over first hands what it kept to :meth:`take_over`,
    which queues what no holder delivered yet (after each route's shared mark).
    """

    @property
    def kept(self) -> int: ...
    def offer(
        self, stream_key: StreamKey, event_id: str, type: str, data: dict[str, Any]
    ) -> None: ...
    def routes(self, stream_key: StreamKey, type: str, data: dict[str, Any]) -> list[str]: ...
    def send(self, stream_key: StreamKey, item: Outgoing) -> None: ...
    async def take_over(
        self, stream_key: StreamKey, kept: Sequence[Outgoing], counts: Mapping[str, int]
    ) -> None: ...


class StreamLink(Protocol):
    """One stream's link to the other nodes (``webapp.cluster.replica.Replica``).

    :meth:`run` is the stream's pump: it feeds the stream every shared input,
    in the cluster's order, and runs Burki's upstream while this node holds the
    stream's lease. :meth:`caught_up` returns once the stream holds every input
    published before it was called (or the wait is bounded out). :meth:`forward` asks
    the node running the upstream to publish an input this node cannot (a claim, an
    action's outcome): ``"applied"`` once this node fed it within ``wait`` s,
    ``"asked"`` when it is on its way, ``"failed"`` when the shared store did not take it.
    """

    @property
    def holds(self) -> bool: ...
    async def run(self) -> None: ...
    async def caught_up(self) -> None: ...
    async def forward(self, item: Input, wait: float) -> Forwarded: ...


class Sharing(Protocol):
    """Several nodes on one shared store: makes each stream's link (``webapp.cluster``)."""

    def link(self, stream: Stream) -> StreamLink: ...


class History(Protocol):
    """Remembers what streams showed people (``webapp.history.recording.Recording``): sees
    every frame a stream emits and never blocks it (the writing is a task of its own)."""

    def observe(self, stream: Emitter, frame: Frame) -> None: ...


class SharedStore(Protocol):
    """The store a cluster's nodes share (``webapp.cluster.bus.Bus``): reachable or not."""

    async def ping(self) -> bool: ...
    async def close(self) -> None: ...
