"""The monitor: every call and campaign the directory lists, held open with nobody watching.

Without it a stream exists only while someone watches; with it every ongoing call and
running campaign Burki lists has its stream (the same one viewers join: still one upstream
per call), so health, alerts, attention, claims and the webhook routes run at night too,
and a page opened later shows every call's state at once.

Each look (a change of the directory's lists, or every ``recheck`` s): the held streams that
ended, retired or were refused are let go; the listed streams this node should monitor are
queued for the opener, which opens at most ``open_rate`` a second (Burki is not hammered
when the dashboard starts with hundreds of calls); the streams no longer listed are let go
(an ended call's stream lingers as any does). At most ``max_streams`` are held: the rest are
named in :attr:`Monitor.unmonitored`, logged and counted, never left silently.

A call Burki refuses (access denied: another organisation's) is left alone and counted, and
not opened again while it is listed. In a cluster the :class:`~webapp.watch.placement.Placement`
says which node holds each stream's lease: a node takes free streams up to its share (plus
``SLACK``), lets go of those another node holds, and gives back, a few per look, the streams it
holds past its share that no viewer watches here; a dead node's leases run out and the
others take its streams.

Each organisation has its own monitor (``org``): it reads its own organisation's directory,
holds streams keyed by that organisation, and has its own cap (``MONITOR_MAX_STREAMS`` per
organisation), opener and refusals, so one organisation's Burki refusing or down never
slows another's monitoring.

Ownership: the app's lifespan owns the monitor (:meth:`start`, :meth:`close`); the monitor
owns two tasks, the look loop and the opener. The hub owns the streams; the monitor holds
and lets go of them through :meth:`Hub.hold`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from webapp.relay.hub import Hub, HubClosed
from webapp.relay.stream import Stream
from webapp.relay.subscriber import Subscriber
from webapp.watch.placement import Alone, Placement, Survey
from webapp.wire.rest import CallSummary, CampaignSummary
from webapp.wire.streamkey import DEFAULT_ORG, BadStreamId, StreamKey

log = logging.getLogger(__name__)

REMEMBERED = 4096  # ended and refused streams remembered (not reopened while listed)
SLACK = 1  # streams a cluster node may hold past its share
GIVE_BACK = 2  # streams past its share a node lets go of per look
REFUSED_KINDS = frozenset({"access_denied"})  # what Burki says of another organisation's call


@dataclass(frozen=True, slots=True)
class MonitorConfig:
    enabled: bool
    max_streams: int
    open_rate: float  # streams opened a second at most


class Listing(Protocol):
    """What the monitor reads of the directory (``webapp.watch.directory.Directory``)."""

    calls: list[CallSummary]
    campaigns: list[CampaignSummary]
    loaded: bool

    async def refresh(self) -> bool: ...
    def watch(self, sub: Subscriber) -> None: ...
    def unwatch(self, sub: Subscriber) -> None: ...


class Monitor:
    def __init__(
        self,
        hub: Hub,
        listing: Listing,
        config: MonitorConfig,
        placement: Placement | None = None,
        org: str = DEFAULT_ORG,
    ) -> None:
        self.hub = hub
        self.org = org  # the organisation whose listed streams it holds
        self.listing = listing
        self.config = config
        self.placement: Placement = placement or Alone()
        self.held: dict[StreamKey, Stream] = {}
        self.unmonitored: list[StreamKey] = []  # listed, not held: the cap was reached
        self.refused: OrderedDict[StreamKey, None] = OrderedDict()  # left alone while listed
        self.refusals = 0  # streams Burki refused, counted
        self.counts: dict[str, int] = {}  # streams each node monitors (from the last look)
        self._ended: OrderedDict[StreamKey, None] = OrderedDict()
        self._given_back: dict[StreamKey, float] = {}  # let go here; its lease may linger
        self._queue: deque[StreamKey] = deque()
        self._queued: set[StreamKey] = set()
        self._wanted: set[StreamKey] = set()
        self._more = asyncio.Event()
        self._idle = asyncio.Event()  # the opener has nothing queued
        self._looked = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def enabled(self) -> bool:
        return self.config.enabled

    @property
    def holding(self) -> int:
        """The held streams whose upstream this node runs (in a cluster: whose lease it holds)."""
        return sum(1 for stream in self.held.values() if stream.runs_upstream)

    def start(self) -> None:
        if self.config.enabled and not self._tasks:
            self._tasks = [
                asyncio.create_task(self._run(), name=f"monitor {self.org}"),
                asyncio.create_task(self._open(), name=f"monitor opener {self.org}"),
            ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def opener_idle(self) -> None:
        """Return once every queued stream is open (tests and the benchmark await it)."""
        await self._idle.wait()

    async def looked(self) -> None:
        """Return after the next look is done (tests await it)."""
        self._looked.clear()
        await self._looked.wait()

    # -- the look loop -----------------------------------------------------------------

    async def _run(self) -> None:
        sub: Subscriber | None = None
        try:
            while True:
                if sub is None or sub.closed_reason is not None:
                    sub = Subscriber(64)  # the directory's changes; it polls while watched
                    self.listing.watch(sub)
                try:
                    if not self.listing.loaded:
                        await self.listing.refresh()
                    await self.look()
                except HubClosed:
                    return
                except Exception:  # a look that failed must not end monitoring: next one
                    log.exception("monitor %s: a look at the listed streams failed", self.org)
                await _next_change(sub, self.placement.recheck)
        finally:
            if sub is not None:
                self.listing.unwatch(sub)

    async def look(self) -> None:
        """Bring the held streams in line with the directory's lists (one look)."""
        self._let_go_done()
        every = _keys(self.listing, self.org)
        self._forget_unlisted(set(every))
        listed = [k for k in every if k not in self.refused and k not in self._ended]
        try:
            survey = await self.placement.survey(listed, self.holding)
        except Exception as exc:  # Redis away: hold what is held, take nothing, look again
            name = type(exc).__name__
            log.warning("monitor %s: the cluster's placement is unavailable (%s)", self.org, name)
            return
        self.counts = survey.counts
        for key in survey.refused:
            self._remember(self.refused, key)
        listed = [k for k in listed if k not in survey.refused]
        self._wanted = set(listed)
        mine = self._sort_out(survey)
        self._take(listed, survey, mine)
        self._give_back(self._limit(len(listed), survey.nodes))
        self._looked.set()

    def _limit(self, listed: int, nodes: int) -> int:
        """How many streams this node should hold: its share of the listed ones, at most the cap."""
        if nodes <= 1:
            return self.config.max_streams
        return min(self.config.max_streams, math.ceil(listed / nodes) + SLACK)

    def _sort_out(self, survey: Survey) -> int:
        """Let go of the held streams not listed or held by another node; how many remain."""
        me = self.placement.node
        for key in list(self.held):
            holder = survey.holders.get(key)
            if key not in self._wanted:
                self._let_go(key)
            elif holder is not None and holder != me:  # it lost the race for the lease
                self._let_go(key, grace=False)
        return len(self.held)

    def _take(self, listed: list[StreamKey], survey: Survey, mine: int) -> None:
        me, now = self.placement.node, time.monotonic()
        free = [
            k
            for k in listed
            if k not in self.held
            and survey.holders.get(k, me) == me
            and self._given_back.get(k, 0.0) <= now
        ]
        if survey.nodes > 1:  # nodes looking at once take different streams, mostly
            random.shuffle(free)
        # Ours already (a viewer's stream here) first, then those queued at an earlier look.
        free.sort(key=lambda k: (survey.holders.get(k) != me, k not in self._queued))
        room = max(0, self._limit(len(listed), survey.nodes) - mine)
        for key in free[:room]:
            if key not in self._queued:
                self._queued.add(key)
                self._queue.append(key)
        if self._queue:
            self._idle.clear()
            self._more.set()
        capped = mine + room >= self.config.max_streams
        self._note_unmonitored(free[room:] if capped else [])

    def _note_unmonitored(self, left: list[StreamKey]) -> None:
        if left and len(left) != len(self.unmonitored):
            log.warning(
                "monitor %s: the cap of %d monitored streams is reached; %d listed streams are"
                " not monitored (MONITOR_MAX_STREAMS; /admin names them)",
                self.org,
                self.config.max_streams,
                len(left),
            )
        elif self.unmonitored and not left:
            log.info("monitor %s: every listed stream is monitored again", self.org)
        self.unmonitored = left

    def _give_back(self, limit: int) -> None:
        """Past its share, a node lets go of a few streams no viewer here watches."""
        excess = len(self.held) - limit
        if excess <= 0:
            return
        idle = [k for k, s in self.held.items() if not s.subscribers][: min(excess, GIVE_BACK)]
        wait = 3 * self.placement.recheck  # another node's look takes it meanwhile
        for key in idle:
            self._given_back[key] = time.monotonic() + wait
            self._let_go(key, grace=False)  # its lease goes with it, at once

    # -- held streams ------------------------------------------------------------------

    def _let_go_done(self) -> None:
        """Forget the held streams that retired or ended; leave refused ones alone."""
        for key, stream in list(self.held.items()):
            if self.hub.streams.get(key) is not stream:
                del self.held[key]
            elif stream.ended:
                self._remember(self._ended, key)
                self._let_go(key)
            elif _refused(stream):
                self._refuse(key)

    def _refuse(self, key: StreamKey) -> None:
        self.refusals += 1
        self._remember(self.refused, key)
        self._let_go(key)
        log.warning("monitor %s: Burki refused %s; it is left alone while listed", self.org, key)
        task = asyncio.create_task(self.placement.refuse(key), name=f"refused {key}")
        task.add_done_callback(_logged)

    def _let_go(self, key: StreamKey, *, grace: bool = True) -> None:
        if self.held.pop(key, None) is not None:
            self.hub.hold(key, held=False, grace=grace)

    def _forget_unlisted(self, listed: set[StreamKey]) -> None:
        """A stream that left the lists may be opened again if it comes back (a new call
        under an old id is unlikely; a campaign paused and resumed is not)."""
        for memory in (self.refused, self._ended):
            for key in [k for k in memory if k not in listed]:
                del memory[key]
        now = time.monotonic()
        self._given_back = {k: t for k, t in self._given_back.items() if t > now}

    def _remember(self, memory: OrderedDict[StreamKey, None], key: StreamKey) -> None:
        memory[key] = None
        while len(memory) > REMEMBERED:
            memory.popitem(last=False)

    # -- the opener --------------------------------------------------------------------

    async def _open(self) -> None:
        """Open the queued streams, at most ``open_rate`` a second."""
        pause = 1.0 / self.config.open_rate
        while True:
            while not self._queue:
                self._idle.set()
                self._more.clear()
                await self._more.wait()
            key = self._queue.popleft()
            self._queued.discard(key)
            if key not in self._wanted or key in self.held:
                continue
            try:
                stream = self.hub.hold(key)
            except HubClosed:
                return
            if stream is not None:
                self.held[key] = stream
            await asyncio.sleep(pause)


def _keys(listing: Listing, org: str) -> list[StreamKey]:
    """The listed calls, then the listed campaigns, as stream keys of ``org`` (unnamable
    ids skipped)."""
    keys: list[StreamKey] = []
    ids: Iterable[tuple[str, str]] = [
        *(("call", c.call_sid) for c in listing.calls),
        *(("campaign", str(c.id)) for c in listing.campaigns),
    ]
    for kind, ident in ids:
        try:
            keys.append(StreamKey.of(kind, ident, org))
        except BadStreamId:
            continue
    return keys


def _refused(stream: Stream) -> bool:
    connection = stream.connection
    return connection.get("state") == "error" and connection.get("reason") in REFUSED_KINDS


async def _next_change(sub: Subscriber, wait: float) -> None:
    """Return on the directory's next change, or after ``wait`` s."""
    try:
        async with asyncio.timeout(wait):
            await sub.get_batch()
    except TimeoutError:
        pass


def _logged(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("monitor: a refusal was not shared (%s)", type(task.exception()).__name__)
