"""The lease race made on purpose: a holder paused (``SIGSTOP``) past its lease, as a node
starved of CPU is, while another node takes the stream over."""

from __future__ import annotations

import asyncio
import signal
import tempfile
from pathlib import Path

import httpx

from tests.cluster import LEASE, balanced_nodes, cluster_database, flush, redis_module, token_in
from tests.live import placed
from tests.redisserver import RedisServer
from tests.test_cluster_nodes import Resuming, Talk, holder_of, talk
from webapp.access.users import Role
from webapp.simulator import Simulator

__all__ = ["redis_module"]

VIEWERS = 8


async def test_a_holder_paused_past_its_lease_lets_its_upstream_go_and_publishes_nothing(
    sim: Simulator, redis_module: RedisServer
) -> None:
    """While the holder is paused its socket stays open (only its kernel is awake): the next
    holder's upstream is a second socket for that while, never a second publisher. Once
    awake, the old holder finds its lease gone and closes its upstream: one socket again, and
    every viewer has every line once."""
    flush(redis_module)
    call = Talk(sim, sim.add_call())
    sid, key, lines = call.sid, f"call:{call.sid}", call.lines

    database = cluster_database()
    token = await token_in(database, "viewers", Role.ADMIN)
    with tempfile.TemporaryDirectory() as folder:
        async with balanced_nodes(sim, redis_module, Path(folder), database, count=2) as (
            url,
            processes,
        ):
            auth = {"Authorization": f"Bearer {token}"}
            limits = httpx.Limits(max_connections=VIEWERS * 2)
            async with httpx.AsyncClient(headers=auth, timeout=30, limits=limits) as client:
                viewers = [Resuming(f"{url}/api/calls/{sid}/events") for _ in range(VIEWERS)]
                tasks = [asyncio.create_task(v.run(client)) for v in viewers]
                try:
                    await talk(5, call)
                    for viewer in viewers:
                        await viewer.wait_for_lines(lines, timeout=20)
                    paused_name = await holder_of(redis_module, key)
                    paused = processes[paused_name].process
                    paused.send_signal(signal.SIGSTOP)
                    try:
                        async with asyncio.timeout(20 + LEASE):  # the lease runs out first
                            while await holder_of(redis_module, key) == paused_name:  # noqa: ASYNC110
                                await asyncio.sleep(0.05)
                        # The race: the new holder's socket beside the paused one's.
                        await sim.wait_for_connections(key, 2, timeout=15)
                        await talk(10, call)  # said while the old holder sleeps
                    finally:
                        paused.send_signal(signal.SIGCONT)
                    await sim.wait_for_connections(key, 1, timeout=15)  # it let go once awake
                    assert await holder_of(redis_module, key) != paused_name
                    await talk(5, call)
                    for viewer in viewers:
                        await viewer.wait_for_lines(lines, timeout=30)
                    for viewer in viewers:
                        assert placed(viewer.events) == lines  # 0 lost, 0 twice
                finally:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
