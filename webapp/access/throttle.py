"""Sign-in throttling: too many failures for one user, or from one address, wait.

A sliding window of failure times per key, in memory, with an LRU cap on the
number of keys so that a flood of made-up names or addresses cannot grow it
without bound. Evicting a key forgets its failures; an attacker who evicts a
user's key by spraying names still runs into the per-address limit.

Why not the ``limits`` library: it is well kept (Flask-Limiter and slowapi use
it), but it counts hits against a rate, while sign-in needs "count failures
only, forget a user's on success, say when to retry", and its memory storage
has no cap on keys (it expires them from a background timer thread). This is
a few dozen lines with none of that. The state is per process; several
processes behind a balancer each allow the limit, unless they share Redis
(``REDIS_URL``): then :class:`SharedAttempts` counts every node's attempts too.

Attempts are counted before the password is checked (:meth:`SignInThrottle.attempt`),
in one step with the check, so concurrent guesses cannot all slip under the limit.

An attempt that carries a device cookie for its name (``webapp.access.devices``)
is not held by its address's limit (it is still counted there): it is held by
the user's limit and by its device's own, which a success never clears.

Not thread-safe: call it from the event loop.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Protocol

DEFAULT_WINDOW_SECONDS = 15 * 60.0
DEFAULT_PER_USER = 5
DEFAULT_PER_ADDRESS = 20
DEFAULT_PER_DEVICE = 5
DEFAULT_MAX_KEYS = 10_000


def address_key(address: str) -> str:
    """The unit an address is throttled as: itself for IPv4, its /64 network for IPv6.

    One IPv6 host usually holds a whole /64, so per-address limits on single
    IPv6 addresses would be no limit at all.
    """
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address.strip()[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class _Window:
    """Failure times per key within ``window`` seconds, at most ``max_keys`` keys (LRU)."""

    def __init__(self, limit: int, window: float, max_keys: int) -> None:
        self.limit, self.window, self.max_keys = limit, window, max_keys
        self.failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, key: str, now: float) -> float | None:
        times = self._current(key, now)
        if times is None or len(times) < self.limit:
            return None
        # When the oldest of the newest ``limit`` leaves the window.
        return times[-self.limit] + self.window - now

    def add(self, key: str, now: float) -> None:
        times = self._current(key, now)
        if times is None:
            # Only the newest ``limit`` times matter, so the deque is bounded too; with room
            # for as many more, so that dropping a success (a device cookie's sign-in past a
            # lock) never drops a failure it pushed out and unlocks the key.
            times = self.failures[key] = deque(maxlen=2 * self.limit)
            while len(self.failures) > self.max_keys:
                self.failures.popitem(last=False)
        times.append(now)
        self.failures.move_to_end(key)

    def forget(self, key: str) -> None:
        self.failures.pop(key, None)

    def drop_one(self, key: str, when: float) -> None:
        """Forget the attempt counted at ``when`` (it succeeded)."""
        times = self.failures.get(key)
        if times is not None and when in times:
            times.remove(when)
            if not times:
                del self.failures[key]

    def _current(self, key: str, now: float) -> deque[float] | None:
        times = self.failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self.failures[key]
            return None
        return times


class SignInThrottle:
    """Allows ``per_user`` failures per user name, ``per_address`` per address (attempts
    without a device cookie) and ``per_device`` per device cookie in each ``window``
    seconds; past that, ``check`` says how long to wait.

    Names are case-folded (as user names are), so ``Alice`` and ``alice`` share a
    count, and unknown names are counted like real ones (no oracle for which exist).
    """

    def __init__(
        self,
        per_user: int = DEFAULT_PER_USER,
        per_address: int = DEFAULT_PER_ADDRESS,
        window: float = DEFAULT_WINDOW_SECONDS,
        max_keys: int = DEFAULT_MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
        per_device: int = DEFAULT_PER_DEVICE,
    ) -> None:
        if min(per_user, per_address, per_device, max_keys) < 1 or window <= 0:
            raise ValueError("throttle limits, window and key cap are positive")
        self.users = _Window(per_user, window, max_keys)
        self.addresses = _Window(per_address, window, max_keys)
        self.devices = _Window(per_device, window, max_keys)
        self._clock = clock

    def check(self, user: str, address: str, device: str | None = None) -> int | None:
        """None if a sign-in attempt may go ahead, else whole seconds to wait (>= 1).

        ``device``: the id of a genuine device cookie for ``user`` (see
        ``webapp.access.devices``); it replaces the address's limit by its own.
        """
        now = self._clock()
        windows = [self.users.retry_after(_user_key(user), now)]
        if device is None:
            windows.append(self.addresses.retry_after(address_key(address), now))
        else:
            windows.append(self.devices.retry_after(device, now))
        waits = [wait for wait in windows if wait is not None]
        return max(1, math.ceil(max(waits))) if waits else None

    def attempt(
        self, user: str, address: str, device: str | None = None
    ) -> tuple[int | None, float]:
        """Count an attempt *before* its password is checked: (wait, ticket).

        The check and the count happen in one call that never awaits, so any
        number of concurrent requests cannot all pass the check before any is
        counted. ``wait`` is None when the attempt may go ahead (it is then
        counted as a failure until :meth:`succeeded` says otherwise), else the
        whole seconds to wait (nothing is counted). ``ticket`` goes to
        :meth:`succeeded`.
        """
        wait = self.check(user, address, device)
        if wait is not None:
            return wait, 0.0
        now = self._clock()
        self.users.add(_user_key(user), now)
        self.addresses.add(address_key(address), now)
        if device is not None:
            self.devices.add(device, now)
        return None, now

    def succeeded(self, user: str, address: str, ticket: float, device: str | None = None) -> None:
        """The attempt of ``ticket`` signed in: forget the user's failures and uncount it
        from the address and the device (whose earlier failures stay counted: the
        browser gets a new device id, and a stolen copy of the old one keeps its count)."""
        self.reset(user)
        self.addresses.drop_one(address_key(address), ticket)
        if device is not None:
            self.devices.drop_one(device, ticket)

    def record_failure(self, user: str, address: str) -> None:
        now = self._clock()
        self.users.add(_user_key(user), now)
        self.addresses.add(address_key(address), now)

    def reset(self, user: str) -> None:
        """Forget a user's failures after a successful sign-in.

        The address keeps its count: one valid account must not let its holder
        reset the limit on guessing everyone else's passwords.
        """
        self.users.forget(_user_key(user))


def _user_key(user: str) -> str:
    return user.casefold()[:128]


class SharedAttempts(Protocol):
    """The sign-in limits counted across a cluster's nodes (``webapp.cluster.throttle``).

    The same limits as :class:`SignInThrottle`, kept where every node counts
    them; each node's own throttle still applies first.
    """

    async def attempt(self, user: str, address: str, device: str | None = None) -> int | None: ...
    async def succeeded(self, user: str, address: str, device: str | None = None) -> None: ...
    async def close(self) -> None: ...


def throttle_keys(user: str, address: str) -> tuple[str, str]:
    """The keys one attempt counts against: the case-folded name, the address (IPv6: its /64)."""
    return _user_key(user), address_key(address)
