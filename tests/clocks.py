"""A clock a test sets by hand: ``clock.now += ...``, then the code under test reads it."""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class ManualClock(Generic[T]):
    def __init__(self, now: T) -> None:
        self.now = now

    def __call__(self) -> T:
        return self.now
