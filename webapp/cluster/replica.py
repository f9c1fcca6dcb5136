"""One stream's link to the cluster: read the shared inputs, hold the lease, run the upstream.

Every node that shows a stream runs two loops for it (the stream's pump owns
them): the *reader* feeds the stream each input of the shared log in order, so
every node holds the same state and numbers the same frames; the *lease loop*
renews or takes the stream's lease every third of its time to live and runs
Burki's upstream exactly while it holds it, publishing each item through the
fenced script. A publish refused, or Redis unreachable, stops the upstream at
once: a node never runs an upstream without its lease.

The holder feeds its own stream each input right after the log took it (so its
state is current when the upstream code looks at it, as alone), and its reader
skips those entries. A new holder first reads the log to its end: no other node
can append once the lease is its own, so its inputs follow everyone else's in
the log's order on every node. Whichever of the publisher and the reader meets
one of the holder's entries first feeds it, exactly once.

Inputs are sealed and numbered in the log (:mod:`webapp.cluster.sealing`): an entry that
does not open, or a copy of an earlier one (a number at or below the last fed, other
than 1, where a log that started over begins), is skipped, logged and counted, never fed.
A node whose next input is not the one after the last
it fed (it started on a log whose first inputs were trimmed, or it fell so far behind
that inputs it had not read were trimmed, or Redis lost the log) holds a state no
other node holds: it numbers its frames under an epoch of its own from there
(:meth:`Stream.renumber`: its viewers get reset + snapshot), never under ids that name
other frames on other nodes.

What only this node sees (Redis away, the holder silent) is shown to its
viewers as a local "reconnecting" status that moves no event id.

A node that does not run the upstream and must tell every viewer something (a claim, an
action's outcome) asks the holder through the shared requests (:meth:`Replica.forward`);
while it runs the upstream, the holder publishes each request once, in order, marked
with its id, so the next holder goes on after the last one the log holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from webapp.calls.inputs import ActionTaken, ClaimMade, Input
from webapp.cluster import codec
from webapp.cluster.bus import Bus, Trouble, entry_after
from webapp.relay.ports import Forwarded
from webapp.relay.stream import Stream

log = logging.getLogger(__name__)

CATCH_UP_WAIT = 5.0  # seconds a new viewer waits at most for its node to catch up
CANCEL_AGAIN = 0.1  # seconds between cancellations of an upstream that ignored one
STORE_AWAY = "The dashboard lost its shared store (Redis); reconnecting."
HOLDER_SILENT = "The node running this stream's Burki connection is silent; taking over."


REQUESTABLE = (ClaimMade, ActionTaken)  # what another node may ask the holder to publish

Publish = Callable[[Input, str], Awaitable[None]]  # an input, and the request it answers


class LeaseLost(Exception):
    """The fenced publish was refused: another node holds the stream now."""


class Replica:
    def __init__(self, bus: Bus, stream: Stream) -> None:
        self.bus = bus
        self.stream = stream
        self.name = str(stream.key)
        self._value: str | None = None  # our lease value while we hold it
        self._upstream: asyncio.Task[None] | None = None
        self._last = "0"  # the newest input fed to the stream
        self._n = 0  # its number in the log (0: none fed yet)
        self._epoch_set = False
        self._advanced = asyncio.Condition()
        self._trouble: dict[str, str] = {}
        self._mine: set[str] = set()  # lease values this node held: its own entries carry them
        self._fed_by_publisher: set[str] = set()  # own entries fed before the reader met them
        self._fed_by_reader: set[str] = set()  # own entries the reader met first
        self._req_last = "0"  # the newest request the log answers (read or published)
        # One publish (and its feed) at a time: the holder's own order is the log's.
        self._publishing = asyncio.Lock()

    @property
    def holds(self) -> bool:
        return self._value is not None

    async def run(self) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._read_loop(), name=f"read {self.name}")
                group.create_task(self._lease_loop(), name=f"lease {self.name}")
        finally:
            await self._stop_upstream()
            value, self._value = self._value, None
            if value is not None:  # hand over at once rather than after the lease runs out
                with contextlib.suppress(*Trouble, TimeoutError):
                    await asyncio.wait_for(self.bus.release(self.name, value), 1.0)

    async def caught_up(self) -> None:
        """Return once every input published before now was fed (at most a few seconds)."""
        await self._read_to_end(CATCH_UP_WAIT)

    async def _read_to_end(self, wait: float) -> bool:
        """Whether the reader fed every input now in the log within ``wait`` seconds."""
        try:
            async with asyncio.timeout(wait):
                newest = await self.bus.newest(self.name)
                async with self._advanced:
                    await self._advanced.wait_for(
                        lambda: (
                            self._epoch_set
                            and (newest is None or not entry_after(newest, self._last))
                        )
                    )
        except (TimeoutError, *Trouble):
            return False
        return True

    # -- reading ---------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        delay = 0.2
        while True:
            try:
                if not self._epoch_set:
                    self.stream.set_epoch(await self.bus.epoch(self.name))
                    self._epoch_set = True
                    await self._notify()
                entries = await self.bus.read(self.name, self._last)
            except Trouble as exc:
                log.warning(
                    "stream %s: shared store unreachable (%s)", self.name, type(exc).__name__
                )
                self._set_trouble("store", STORE_AWAY)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            delay = 0.2
            self._set_trouble("store", None)
            for entry in entries:
                self._last = entry.id
                if entry.forged:
                    continue  # the bus logged and counted it
                if entry.by in self._mine and entry.id in self._fed_by_publisher:
                    self._fed_by_publisher.discard(entry.id)
                    self._answered(entry.req)
                    continue
                if entry.n <= self._n and entry.n != 1:  # 1: the log started over
                    self.bus.forged("in", self.name, entry.id, f"a copy of input {entry.n}")
                    continue
                self._answered(entry.req)
                if entry.by in self._mine:
                    self._fed_by_reader.add(entry.id)
                self._follow(entry.n)
                self._feed(entry.payload)
                # Let this input's frames out before the next: a batch fed in one go would
                # hold the loop's flush back until every viewer's queue overflowed.
                await asyncio.sleep(0)
            await self._notify()

    def _follow(self, n: int) -> None:
        """Before input number ``n`` is fed: renumber unless it is the one after the last."""
        if n != self._n + 1:
            log.warning(
                "stream %s: inputs %d to %d were gone from the shared log before this node"
                " read them; its frames now have ids of their own",
                self.name,
                self._n + 1,
                n - 1,
            )
            self.stream.renumber()
        self._n = n

    def _answered(self, req: str) -> None:
        if req and entry_after(req, self._req_last):
            self._req_last = req

    async def forward(self, item: Input, wait: float) -> Forwarded:
        """Ask whichever node holds the stream (now or next) to publish ``item``.

        ``"applied"`` once this node fed it (within ``wait`` s), ``"asked"`` when it was
        not seen within that (or ``wait`` is 0), ``"failed"`` when Redis did not take it.
        """
        try:
            req = await self.bus.request(self.name, codec.encode(item))
        except Trouble as exc:
            log.warning("stream %s: request not sent (%s)", self.name, type(exc).__name__)
            return "failed"
        if wait <= 0:
            return "asked"
        try:
            async with asyncio.timeout(wait), self._advanced:
                await self._advanced.wait_for(lambda: not entry_after(req, self._req_last))
        except TimeoutError:
            return "asked"
        return "applied"

    async def _serve_requests(self, publish: Publish) -> None:
        """The holder publishes what other nodes asked for, in their order, each once."""
        after: str | None = None
        while True:
            try:
                if after is None:  # the log's answers may be trimmed: Redis keeps the newest
                    after = await self.bus.answered(self.name)
                if entry_after(self._req_last, after):
                    after = self._req_last  # published under an earlier lease, or read so
                asked = await self.bus.requests(self.name, after)
            except Trouble:
                await asyncio.sleep(self.bus.config.block_seconds)
                continue
            for req in asked:
                item = None if req.forged else _requested(req.payload)
                if item is not None:
                    await publish(item, req.id)  # LeaseLost ends this with the upstream
                after = req.id

    async def _notify(self) -> None:
        async with self._advanced:
            self._advanced.notify_all()

    def _feed(self, payload: str) -> None:
        try:
            item = codec.decode(payload)
        except ValueError:
            log.warning("stream %s: an unreadable input was skipped", self.name)
            return
        self.stream.feed(item)

    # -- the lease and the upstream --------------------------------------------------------

    async def _lease_loop(self) -> None:
        interval = self.bus.config.lease_seconds / 3
        while not self.stream.ended:
            started = time.monotonic()
            await self._tick()
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))
        await self._stop_upstream()
        value, self._value = self._value, None
        with contextlib.suppress(*Trouble):
            if value is not None:
                await self.bus.release(self.name, value)
            await self.bus.expire(self.name, self.stream.linger)

    async def _tick(self) -> None:
        try:
            tick = await self.bus.tick(self.name, self._value)
        except Trouble:
            await self._stop_upstream()  # the lease may run out unseen: stop before it does
            self._value = None
            return
        if not tick.mine:
            if self._value is not None:
                log.info("stream %s: lease lost to another node", self.name)
            await self._stop_upstream()
            self._value = None
            # The holder renews every third of the lease: a lease this short was not renewed.
            late = tick.ttl_ms < self.bus.lease_ms / 3
            self._set_trouble("holder", HOLDER_SILENT if late else None)
            return
        self._set_trouble("holder", None)
        if tick.value != self._value:
            await self._stop_upstream()  # a new lease: the old upstream's publishes are fenced
            self._value = tick.value
            self._mine.add(tick.value)
        # Once the lease is ours no other node can append: read to the end, then run.
        idle = self._upstream is None or self._upstream.done()
        if idle and await self._read_to_end(self.bus.config.lease_seconds / 3):
            self._start_upstream(tick.value)

    def _start_upstream(self, value: str) -> None:
        async def publish(item: Input, req: str = "") -> None:
            async with self._publishing:
                payload = codec.encode(item)
                entry = await self.bus.publish(self.name, value, payload, req, self._n + 1)
                if entry is not None and not entry.id:  # the log numbers from elsewhere
                    entry = await self.bus.publish(self.name, value, payload, req, entry.n)
                if entry is None or not entry.id:
                    raise LeaseLost
                self._answered(req)
                if entry.id in self._fed_by_reader:  # the reader met it first and fed it
                    self._fed_by_reader.discard(entry.id)
                else:
                    self._fed_by_publisher.add(entry.id)
                    self._follow(entry.n)
                    self.stream.feed(item)

        log.info("stream %s: this node holds the lease; running the upstream", self.name)
        upstream = self._guarded(self.stream.run_upstream(publish), publish)
        self._upstream = asyncio.create_task(upstream, name=f"upstream {self.name}")

    async def _guarded(self, upstream: Coroutine[Any, Any, None], publish: Publish) -> None:
        """Run the upstream, and the other nodes' requests beside it: one lifetime (a
        fenced publish ends the requests; the upstream's next publish meets the same fence)."""
        requests = asyncio.create_task(self._serve_requests(publish), name=f"req {self.name}")
        try:
            await upstream
        except LeaseLost:
            log.info("stream %s: publish fenced off; upstream stopped", self.name)
        except Trouble as exc:
            log.warning(
                "stream %s: publish failed (%s); upstream stopped", self.name, type(exc).__name__
            )
        finally:
            requests.cancel()  # its Redis calls raise a cancellation they swallowed
            await asyncio.wait([requests])
            if not requests.cancelled() and not isinstance(requests.exception(), LeaseLost):
                log.error("stream %s: requests failed", self.name, exc_info=requests.exception())
            self.stream.upstream_stopped()

    async def _stop_upstream(self) -> None:
        """Cancel the upstream and await its end.

        Cancelled again until it ends: on Python 3.11 ``asyncio.wait_for`` (redis-py wraps
        each socket write in one) returns the write's result, swallowing a cancellation
        that lands as the write completes. The upstream then ran on, publishing, and this
        wait (the lease loop's, or the stream's close) hung until an item came after the
        lease ran out.
        """
        task, self._upstream = self._upstream, None
        if task is None:
            return
        while not task.done():
            task.cancel()
            await asyncio.wait([task], timeout=CANCEL_AGAIN)
        with contextlib.suppress(asyncio.CancelledError):
            await task  # done: its own failure, if any, is the caller's

    def _set_trouble(self, what: str, message: str | None) -> None:
        if message is None:
            self._trouble.pop(what, None)
        else:
            self._trouble[what] = message
        shown = next(iter(self._trouble.values()), None)
        self.stream.show_local_status("reconnecting" if shown else None, shown or "")


class Cluster:
    """Several nodes on one Redis: makes each stream's :class:`Replica` (a ``Sharing``)."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    def link(self, stream: Stream) -> Replica:
        return Replica(self.bus, stream)


def _requested(payload: str) -> Input | None:
    """The input another node asked for, if it is one a node may ask for."""
    try:
        item = codec.decode(payload)
    except ValueError:
        item = None
    if not isinstance(item, REQUESTABLE):
        log.warning("a request that is not a claim or an action was dropped")
        return None
    return item
