"""An open stream's access, checked again on a timer and ended through its own ``receive``.

A stream stays open for hours, so who may watch it is checked again every
``recheck`` seconds (a signed-out, removed or demoted viewer loses it). With
thousands of idle viewers per process, what each one holds is the cost of the
product, so an open stream holds no task of its own for this:

- :class:`Recheck` is one loop timer per stream; when it fires, the check runs
  in a short task (it reads the store) and its done callback either re-arms
  the timer or revokes the stream;
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
from collections.abc import Callable, Coroutine, MutableMapping
from typing import Any

from starlette.types import Message, Receive

RENEWAL = "burki.renewal"  # where a request's state keeps its stream's renewal listener
# Told the principal a re-check found (the gate's Principal); False: the stream ends.
RenewalListener = Callable[[Any], bool]


def on_renewal(scope: MutableMapping[str, Any], listener: RenewalListener) -> None:
    """Hand ``listener`` the principal of each re-check of this request's stream that holds.

    Kept in the request's ``state``, which every copy of the scope shares with the gate."""
    scope.setdefault("state", {})[RENEWAL] = listener


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
    is False (or raises: a check that cannot decide does not keep a stream open).

    Ownership: the check task is this object's; :meth:`stop` cancels it."""

    __slots__ = ("_every", "_holds", "_loop", "_revoke", "_stopped", "_task", "_timer")

    def __init__(
        self,
        every: float,
        holds: Callable[[], Coroutine[Any, Any, bool]],
        revoke: Callable[[], None],
    ) -> None:
        self._every = every
        self._holds = holds
        self._revoke = revoke
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[bool] | None = None
        self._stopped = False
        self._arm()

    def _arm(self) -> None:
        self._timer = self._loop.call_later(self._every, self._check)

    def _check(self) -> None:
        self._timer = None
        if not self._stopped:
            self._task = self._loop.create_task(self._holds())
            self._task.add_done_callback(self._checked)

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
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is not None:
            self._task.cancel()
            self._task = None
