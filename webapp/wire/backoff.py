"""The reconnect schedule: exponential backoff with full jitter, capped, resettable.

Pure: no clock, no sleeping. The upstream loop asks for the next delay after
each failed attempt and resets the schedule after a healthy connection.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays ``min(cap, base * factor**attempt)``, each scaled by a jitter in [1-jitter, 1].

    ``attempt`` counts failures since the last :meth:`reset`. With ``jitter=0``
    the schedule is exact (1, 2, 4, ... 60), which the tests rely on.
    """

    base: float = 1.0
    factor: float = 2.0
    cap: float = 60.0
    jitter: float = 0.5
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def next_delay(self, floor: float = 0.0) -> float:
        """Return the delay before the next try and count the failure.

        ``floor`` raises the delay for failures that deserve a slower retry
        (not found, rate limited); the cap still applies to the exponential part.
        """
        exponent = min(self.attempt, 64)  # 2**64 * base is past any cap; avoid float overflow
        self.attempt += 1
        raw = min(self.cap, self.base * self.factor**exponent)
        jittered = raw * (1.0 - self.jitter * self.rng.random())
        return max(floor, jittered)

    def reset(self) -> None:
        self.attempt = 0
