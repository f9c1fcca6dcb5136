"""Monitoring in a cluster: node processes on a real Redis share the listed calls by their
leases, and a node killed with SIGKILL has its calls taken over, no alert lost or doubled."""

from __future__ import annotations

import asyncio
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from tests.cluster import (
    NodeProcess,
    balanced_nodes,
    cluster_database,
    flush,
    redis_module,
    token_in,
)
from tests.receiver import receiving
from tests.redisserver import RedisServer
from tests.test_alerts_live import ANGRY, endpoints
from tests.test_cluster import bearer
from tests.test_cluster_webhooks import EVENT_ID, drained
from webapp.access.users import Role
from webapp.simulator import Simulator

__all__ = ["redis_module"]

CALLS = 30
SHARE = CALLS // 3  # each of three nodes' share; a node may hold one more (the slack)


@pytest.fixture
def server(redis_module: RedisServer) -> Iterator[RedisServer]:
    flush(redis_module)
    yield redis_module


def holders(server: RedisServer, keys: list[str]) -> dict[str, str | None]:
    """The node holding each stream's lease (None: nobody now)."""
    with redis.Redis.from_url(server.url, decode_responses=True) as client:
        values = client.mget([f"burki:lease:{k}" for k in keys])
    found = zip(keys, values, strict=True)
    return {k: v.rpartition(":")[0] if isinstance(v, str) else None for k, v in found}


async def held_by(
    server: RedisServer, keys: list[str], alive: set[str], most: int, timeout: float = 60.0
) -> dict[str, str]:
    """Every stream's holder once each is held by one of ``alive`` and none holds more than
    ``most`` (the spread settled; awaited: Redis is another process and announces nothing)."""
    async with asyncio.timeout(timeout):
        while True:
            found = holders(server, keys)
            spread = Counter(found.values())
            if all(h in alive for h in found.values()) and max(spread.values()) <= most:
                return {k: str(h) for k, h in found.items()}
            await asyncio.sleep(0.05)


async def monitored_counts(client: httpx.AsyncClient, node: NodeProcess) -> dict[str, float]:
    text = (await client.get(node.url + "/metrics")).text
    return {
        s.labels["node"]: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "burki_live_monitored_streams"
    }


async def counted(client: httpx.AsyncClient, node: NodeProcess, total: int) -> dict[str, float]:
    """The per-node counts ``node``'s /metrics shows once they add up to ``total`` (each node
    tells its count at its next look)."""
    async with asyncio.timeout(10):
        while sum((shown := await monitored_counts(client, node)).values()) != total:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    return shown


async def test_three_nodes_share_thirty_calls_and_a_kill_9_moves_one_nodes_calls_losing_no_alert(
    sim: Simulator, server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = [sim.add_call() for _ in range(CALLS)]
    keys = [f"call:{sid}" for sid in calls]
    async with receiving() as receiver:
        monkeypatch.setenv("WEBHOOK_ENDPOINTS", endpoints(receiver.url, "alert"))
        monkeypatch.setenv("MONITOR_ENABLED", "true")
        monkeypatch.setenv("DIRECTORY_POLL_INTERVAL", "0.5")
        database = cluster_database()
        token = await token_in(database, "admin", Role.ADMIN)
        with tempfile.TemporaryDirectory() as folder:
            async with (
                balanced_nodes(sim, server, Path(folder), database) as (_, processes),
                bearer(token) as client,
            ):
                before = await held_by(server, keys, set(processes), SHARE + 1)
                for key in keys:  # one upstream per call, whichever node holds it
                    await sim.wait_for_connections(key, 1, timeout=30)
                spread = Counter(before.values())
                shown = await counted(client, processes["node-1"], CALLS)
                for sid in calls[::5]:  # six calls, spread over the nodes
                    sim.add_segment(sid, "user", ANGRY[0])
                await receiver.wait_for(6, timeout=30)
                await drained(client, list(processes.values()))
                victim = processes[before[keys[0]]]
                moved = [k for k, n in before.items() if n == victim.name]
                victim.process.kill()  # SIGKILL: its leases run out, nothing is handed over
                await asyncio.to_thread(victim.process.wait, 10)
                alive = {n for n in processes if n != victim.name}
                after = await held_by(server, keys, alive, CALLS)
                for key in moved:
                    await sim.wait_for_connections(key, 1, timeout=30)
                for key in moved:  # said after the takeover, with no page open
                    sim.add_segment(key.partition(":")[2], "user", ANGRY[1])
                await receiver.wait_for(6 + len(moved), timeout=30)
                survivors = [p for p in processes.values() if p is not victim]
                await drained(client, survivors)
                settled = Counter((await held_by(server, keys, alive, CALLS // 2 + 1)).values())
    assert len(spread) == 3 and min(spread.values()) >= CALLS - 2 * (SHARE + 1), spread
    assert sum(shown.values()) == CALLS and len(shown) == 3, shown
    assert set(after.values()) <= alive
    assert max(settled.values()) <= CALLS // 2 + 1, settled
    posted = Counter(r.headers[EVENT_ID] for r in receiver.requests)
    assert len(posted) == 6 + len(moved), posted  # none lost
    assert all(n == 1 for n in posted.values()), posted  # none twice (none was in flight)
