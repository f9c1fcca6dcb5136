"""Several dashboard nodes on one real Redis, for the cluster tests (in this process)."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.live import LiveApp, running_app
from tests.redisserver import RedisServer, redis_server
from webapp.simulator import Simulator

LEASE = 1.5  # seconds: a quick takeover keeps the suite fast


@pytest.fixture(scope="module")
def redis_module() -> Iterator[RedisServer]:
    """One redis-server for a test module (tests flush it: see :func:`fresh_redis`)."""
    with redis_server() as server:
        yield server


def flush(server: RedisServer) -> None:
    with redis.Redis.from_url(server.url) as client:
        client.flushall()


def shared_files(folder: Path) -> dict[str, Any]:
    """The files every node of one cluster reads: users, tokens, the audit log."""
    return {
        "dashboard_users_file": folder / "users.toml",
        "dashboard_tokens_file": folder / "tokens.toml",
        "dashboard_audit_file": folder / "audit.jsonl",
    }


@asynccontextmanager
async def nodes(
    sim: Simulator, server: RedisServer, count: int = 3, **overrides: Any
) -> AsyncIterator[list[LiveApp]]:
    """``count`` nodes on ``server``'s Redis, sharing their files, named ``node-1``..."""
    with tempfile.TemporaryDirectory() as folder:
        async with AsyncExitStack() as stack:
            live = []
            for n in range(1, count + 1):
                settings = {
                    "redis_url": server.url,
                    "dashboard_node_id": f"node-{n}",
                    "dashboard_lease_seconds": LEASE,
                    **shared_files(Path(folder)),
                    **overrides,
                }
                live.append(await stack.enter_async_context(running_app(sim, **settings)))
            yield live
