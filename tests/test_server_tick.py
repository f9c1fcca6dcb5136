"""An idle dashboard lets its loop sleep: the server looks once a second, not ten times,
and still ends at once when told to (issue 27: the fixed costs per second)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from tests.live import running_app
from webapp import server
from webapp.simulator import Simulator


class Wakeups:
    """Counts the loop's waits in ``select()`` (each a wake-up once it returns)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.selector = getattr(loop, "_selector")  # noqa: B009
        self.count = 0
        self._select: Callable[..., Any] = self.selector.select

    def __enter__(self) -> Wakeups:
        def select(timeout: float | None = None) -> Any:
            self.count += 1
            return self._select(timeout)

        self.selector.select = select
        return self

    def __exit__(self, *exc: object) -> None:
        self.selector.select = self._select


async def test_an_idle_dashboard_wakes_its_loop_a_few_times_a_second_at_most(
    sim: Simulator,
) -> None:
    """No viewer, no call: what wakes the loop is the server's once-a-second look and the
    collector's checks, not uvicorn's ten a second."""
    async with running_app(sim):
        await asyncio.sleep(0.5)  # start-up's own work settles
        with Wakeups(asyncio.get_running_loop()) as wakeups:
            await asyncio.sleep(2.0)  # the span being counted: nothing is awaited but time
        assert wakeups.count <= 12, wakeups.count


async def test_the_server_ends_at_once_when_told_to_exit_between_its_looks(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``should_exit`` wakes the server's main loop: shutdown waits for no tick."""
    monkeypatch.setattr(server, "TICK", 3600.0)
    async with running_app(sim) as live:
        await asyncio.sleep(0.1)  # the main loop is in its (hour-long) wait
        assert live.server.started
    # running_app's exit sets should_exit and allows the server 10 s to end
