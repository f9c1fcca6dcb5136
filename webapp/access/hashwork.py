"""Password hashing with a bound: a few argon2 checks at a time, the rest refused at once.

argon2id is slow and memory-hard on purpose (64 MiB per check with the RFC 9106
parameters). Run in the shared thread pool, a flood of sign-ins fills every
thread with hashing: memory climbs by gigabytes and pages wait behind it. So
checks run on a small pool of their own (``workers`` threads), at most
``queue`` more wait for a thread, and a request beyond that is refused at once
(the caller answers 503): a flood costs a bounded amount of memory and CPU and
never the pages' threads.

Ownership: the access wiring owns it; :meth:`close` stops the threads.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class HashWorkBusy(Exception):
    """Every worker is busy and the queue is full: refuse the request now."""


class HashWork:
    def __init__(self, workers: int, queue: int) -> None:
        if workers < 1 or queue < 0:
            raise ValueError("at least one worker, and a queue of zero or more")
        self.capacity = workers + queue
        self.admitted = 0  # submitted and not yet finished (a worker thread counts down)
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="password-check")

    @property
    def has_room(self) -> bool:
        return self.admitted < self.capacity

    def submit(self, work: Callable[..., T], *args: object) -> asyncio.Future[T]:
        """Start ``work(*args)`` on a worker; HashWorkBusy when there is no room.

        Called without an await between it and a :attr:`has_room` check, the
        room it saw is still there (everything runs on the event loop's thread).
        """
        with self._lock:
            if self.admitted >= self.capacity:
                raise HashWorkBusy
            self.admitted += 1

        def counted() -> T:
            # Counted down in the worker, so the room is back before the caller resumes,
            # and a caller that went away (cancelled) still holds it until the work ends.
            try:
                return work(*args)
            finally:
                with self._lock:
                    self.admitted -= 1

        return asyncio.get_running_loop().run_in_executor(self._pool, counted)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
