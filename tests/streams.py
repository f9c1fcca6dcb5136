"""Helpers for tests that read async streams: await items, never sleep."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

T = TypeVar("T")


async def collect_until(
    items: AsyncIterator[T], done: Callable[[T], bool], timeout: float = 5.0
) -> list[T]:
    """Read items until one satisfies ``done`` (included); fail after ``timeout`` seconds."""
    seen: list[T] = []

    async def read() -> list[T]:
        async for item in items:
            seen.append(item)
            if done(item):
                return seen
        raise AssertionError(f"stream ended before the condition; saw {seen!r}")

    try:
        return await asyncio.wait_for(read(), timeout)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout}s; saw {seen!r}") from None
