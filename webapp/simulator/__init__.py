"""The built-in Burki simulator: both WebSocket streams and the REST API on one port.

It serves the demo, the tests and the benchmarks, and speaks the wire protocol of
``burki-protocol.md``: hosted Burki by default, the open-source server with
``oss_quirks=True``, campaign dialects A, B and C, and the faults of :class:`Faults`.
It imports nothing of the dashboard's: a twin that shared the wire's code would
share its mistakes too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from webapp.simulator.faults import Faults
from webapp.simulator.server import Simulator

__all__ = ["Faults", "Simulator", "serve_forever"]


async def serve_forever(
    port: int,
    host: str = "127.0.0.1",
    *,
    on_ready: Callable[[Simulator], object] | None = None,
    **simulator_kwargs: Any,
) -> None:
    """Run a simulator on ``host:port`` until cancelled, then stop it cleanly.

    Prints nothing; ``on_ready`` (if given) is called with the started simulator,
    e.g. to print its ``base_url`` when ``port`` is 0.
    """
    simulator = Simulator(**simulator_kwargs)
    await simulator.start(host, port)
    try:
        if on_ready is not None:
            on_ready(simulator)
        await asyncio.Event().wait()
    finally:
        await simulator.stop()
