"""A relay hub on its own (no web app) against a real simulator, and how to read a viewer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from tests import configs
from tests.conftest import SIM_KEY
from webapp.relay.frames import Frame
from webapp.relay.hub import Hub
from webapp.relay.metrics import Metrics
from webapp.relay.subscriber import Subscriber
from webapp.simulator import Simulator
from webapp.wire.rest import BurkiRest
from webapp.wire.sources import Sources
from webapp.wire.upstream import UpstreamConfig


def upstream_config(sim: Simulator | str, **overrides: Any) -> UpstreamConfig:
    """Fast timings against ``sim`` (or a ws:// base URL), for tests."""
    base = sim if isinstance(sim, str) else "ws" + sim.base_url.removeprefix("http")
    values: dict[str, Any] = {
        "ws_base_url": base,
        "api_key": SIM_KEY,
        "keepalive_interval": 0.2,
        "ping_timeout": 0.3,
        "connect_timeout": 2.0,
        "close_timeout": 0.5,
        "backoff_base": 0.01,
        "backoff_cap": 0.05,
        "healthy_after": 0.3,
    }
    return configs.upstream(**(values | overrides))


@asynccontextmanager
async def hub_on(sim: Simulator, **relay: Any) -> AsyncIterator[Hub]:
    """A hub whose streams read ``sim``; closed (every task awaited) on exit."""
    async with BurkiRest(sim.base_url, SIM_KEY) as rest:
        hub = Hub(Sources(upstream_config(sim), rest), configs.relay(**relay), Metrics())
        try:
            yield hub
        finally:
            await hub.close()


async def frames_until(
    sub: Subscriber, done: Callable[[Frame], bool], timeout: float = 5.0
) -> list[Frame]:
    """Frames the subscriber hands out until one satisfies ``done`` (included)."""
    seen: list[Frame] = []
    async with asyncio.timeout(timeout):
        while (batch := await sub.get_batch()) is not None:
            for frame in batch:
                seen.append(frame)
                if done(frame):
                    return seen
    raise AssertionError(f"the subscriber closed first; saw {[f.type for f in seen]}")


def of_type(type: str, **data: Any) -> Callable[[Frame], bool]:
    return lambda f: f.type == type and all(f.data.get(k) == v for k, v in data.items())
