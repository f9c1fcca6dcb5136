"""An open stream's access, checked again on a timer and ended through its own ``receive``.

A stream stays open for hours, so who may watch it is checked again every
``recheck`` seconds (a signed-out, removed or demoted viewer loses it). With
thousands of idle viewers per process, what each one holds is the cost of the
product, so an open stream holds no task of its own for this:

- :class:`Recheck` holds no timer of its own: every open stream's next check is in
  the loop's :class:`Rechecks`, a wheel of buckets (a ``GRAIN`` of the period
  wide) with one loop timer per bucket, so the streams opened together are checked
  together, from one timer, for as long as they stay open (a timer per stream was a
  handle per viewer in memory and a wake-up of the loop per viewer and period);
  when a bucket is due, each of its checks runs in a short task (it reads the
  store) whose done callback either re-arms it for a period after it was due, or
  revokes the stream. Checks of one bucket that say they ask the same (``share``:
  the same request, to the byte, from the same address: one token's or one
  session's streams of one call; not a stream that listens to its re-checks, below)
  share one task: 500 viewers of one token were 500 reads of the store a minute, for
  one answer;
- :class:`RevocableReceive` wraps the server's ``receive``: once revoked it
  answers ``http.disconnect``. A caller already waiting in ``receive`` (the SSE
  response's disconnect watcher) is interrupted in its own task, so no helper
  task waits beside it.

Ownership: the gate that opens the stream owns both and calls
:meth:`Recheck.stop` on every way out; a check still running then is ignored.

A stream whose content depends on more than the route's own access (a board of every
organisation the person may see) registers a listener with :func:`on_renewal`: each
re-check that holds hands it the principal as it stands now, so the stream can narrow
what it shows while it stays open; the listener's False ends the stream as a failed
check would.
"""

from __future__ import annotations

import asyncio
import math
import weakref
from collections.abc import Callable, Coroutine, Hashable, MutableMapping
from typing import Any

from starlette.types import Message, Receive

RENEWAL = "burki.renewal"  # where a request's state keeps its stream's renewal listener
# Told the principal a re-check found (the gate's Principal); False: the stream ends.
RenewalListener = Callable[[Any], bool]


def on_renewal(scope: MutableMapping[str, Any], listener: RenewalListener) -> None:
    """Hand ``listener`` the principal of each re-check of this request's stream that holds.

    Kept in the request's ``state``, which every copy of the scope shares with the gate."""
    scope.setdefault("state", {})[RENEWAL] = listener


def renews(scope: MutableMapping[str, Any]) -> bool:
    """Whether this request's stream listens to its re-checks (its check is its own)."""
    return scope.get("state", {}).get(RENEWAL) is not None


def renewed(scope: MutableMapping[str, Any], principal: object) -> bool:
    """Tell this stream's listener (if any) the re-checked principal; whether it holds."""
    listener = scope.get("state", {}).get(RENEWAL)
    return bool(listener(principal)) if listener is not None else True


DISCONNECT: Message = {"type": "http.disconnect"}


class RevocableReceive:
    """``receive``, answering a disconnect once :meth:`revoke` was called."""

    __slots__ = ("_interrupting", "_notify", "_receive", "_waiter", "revoked")

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self.revoked = False
        self._waiter: asyncio.Task[object] | None = None
        self._interrupting = False
        self._notify: Callable[[], None] | None = None

    def notify(self, revoked: Callable[[], None] | None) -> bool:
        """Call ``revoked()`` on revocation (None: no longer), for a caller that does not
        wait in ``receive`` (it learns of the client leaving from the server); False if
        revoked already."""
        self._notify = revoked
        return not self.revoked

    async def __call__(self) -> Message:
        if self.revoked:
            return DISCONNECT
        task = asyncio.current_task()
        self._waiter = task
        try:
            return await self._receive()
        except asyncio.CancelledError:
            # Our own interruption becomes the disconnect; anyone else's cancel stands.
            if not self._interrupting or task is None or task.uncancel() > 0:
                raise
            return DISCONNECT
        finally:
            self._waiter = None
            self._interrupting = False
            # A cancelled task keeps its CancelledError, whose traceback keeps this frame:
            # the frame must not keep the task, or the two are a cycle the collector must find.
            task = None

    def revoke(self) -> None:
        """From now on ``receive`` says the client left; a waiting caller is told now."""
        if self.revoked:
            return
        self.revoked = True
        waiter, notify = self._waiter, self._notify
        self._notify = None
        if waiter is not None and not waiter.done():
            self._interrupting = True
            waiter.cancel()
        elif notify is not None:
            notify()


class Recheck:
    """Awaits ``holds()`` (in a task of its own) every ``every`` seconds; ``revoke()`` once it
    is False (or raises: a check that cannot decide does not keep a stream open). A check
    runs up to a ``Rechecks.GRAIN`` of ``every`` late. Checks due together whose
    ``share()`` is equal (and not None) await one ``holds()`` between them: whoever passes
    one must know that their ``holds()`` answer alike at the same moment.

    Ownership: the check task is this object's (or its bucket's, shared); :meth:`stop`
    cancels one of its own and leaves a shared one to the others."""

    __slots__ = ("_due", "_every", "_holds", "_revoke", "_share", "_stopped", "_task", "_wheel")

    def __init__(
        self,
        every: float,
        holds: Callable[[], Coroutine[Any, Any, bool]],
        revoke: Callable[[], None],
        share: Callable[[], Hashable] | None = None,
    ) -> None:
        self._every = every
        self._holds = holds
        self._revoke = revoke
        self._share = share
        self._wheel = rechecks_of(asyncio.get_running_loop(), every)
        self._due = self._wheel.loop.time()
        self._task: asyncio.Task[bool] | None = None
        self._stopped = False
        self._arm()

    def _arm(self) -> None:
        # A period after the last was due, not after the check ended (a check that waited
        # for the store must not drift its stream out of the bucket it shares).
        self._due = self._wheel.add(self, self._due + self._every)

    def check(self, shared: dict[Hashable, asyncio.Task[bool]]) -> None:
        """Its bucket is due (called by :class:`Rechecks`): run the check, or await the one
        its bucket runs for its ``share`` (``shared``: the bucket's, by share)."""
        if self._stopped:
            return
        try:
            key = self._share() if self._share is not None else None
        except Exception:  # cannot say what it asks: it asks alone
            key = None
        task = shared.get(key) if key is not None else None
        if task is None:
            task = self._wheel.loop.create_task(self._holds())
            if key is not None:
                shared[key] = task
        self._task = task
        task.add_done_callback(self._checked)

    def _checked(self, done: asyncio.Future[bool]) -> None:
        self._task = None
        if self._stopped:
            return
        if not done.cancelled() and done.exception() is None and done.result():
            self._arm()
            return
        self._stopped = True
        self._revoke()

    def stop(self) -> None:
        """No more checks (the stream ended); a check under way is ignored."""
        self._stopped = True
        self._wheel.discard(self)
        if self._task is not None:
            if self._share is None:
                self._task.cancel()
            else:  # others may await it: only this one stops listening
                self._task.remove_done_callback(self._checked)
            self._task = None


class Rechecks:
    """The open streams' next checks, by due time, in buckets ``GRAIN`` of the period wide
    with one loop timer per bucket (the loop's, for one period)."""

    GRAIN = 0.05  # of the period: the default minute's checks run at most 3 s late

    def __init__(self, loop: asyncio.AbstractEventLoop, every: float) -> None:
        self.loop = loop
        self.width = every * self.GRAIN
        self.buckets: dict[int, dict[Recheck, None]] = {}
        self.waiting: dict[Recheck, int] = {}  # each waiting check's bucket

    def add(self, check: Recheck, at: float) -> float:
        """Run ``check.check()`` at ``at`` (rounded up to the bucket's end, which it returns)."""
        self.discard(check)
        slot = math.ceil(at / self.width)
        bucket = self.buckets.get(slot)
        if bucket is None:
            bucket = self.buckets[slot] = {}
            self.loop.call_at(slot * self.width, self._expire, slot)
        bucket[check] = None
        self.waiting[check] = slot
        return float(slot * self.width)

    def discard(self, check: Recheck) -> None:
        slot = self.waiting.pop(check, None)
        if slot is not None and (bucket := self.buckets.get(slot)) is not None:
            bucket.pop(check, None)

    def _expire(self, slot: int) -> None:
        shared: dict[Hashable, asyncio.Task[bool]] = {}  # this bucket's only: answers are fresh
        for check in self.buckets.pop(slot, ()):
            del self.waiting[check]
            check.check(shared)


_wheels: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[float, Rechecks]] = (
    weakref.WeakKeyDictionary()
)


def rechecks_of(loop: asyncio.AbstractEventLoop, every: float) -> Rechecks:
    wheels = _wheels.get(loop)
    if wheels is None:
        wheels = _wheels[loop] = {}
    found = wheels.get(every)
    if found is None:
        found = wheels[every] = Rechecks(loop, every)
    return found
