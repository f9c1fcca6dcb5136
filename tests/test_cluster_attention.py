"""Health and claims on two nodes sharing Redis: the same frames under the same ids."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.cluster import flush, nodes, redis_module
from tests.live import Viewer, has_segment, is_event
from tests.redisserver import RedisServer
from tests.test_cluster_nodes import holder_of
from tests.test_health_live import csrf_of, metrics_with
from webapp.access.users import Role
from webapp.simulator import Simulator

__all__ = ["redis_module"]  # the module's redis-server fixture


@pytest.fixture
def server(redis_module: RedisServer) -> Iterator[RedisServer]:
    flush(redis_module)
    yield redis_module


async def test_dead_air_is_announced_once_under_one_id_on_every_node(
    sim: Simulator, server: RedisServer
) -> None:
    sid = sim.add_call()
    quick = {"health_silence_warn": 0.3, "health_silence_alarm": 0.6}
    async with nodes(sim, server, 2, **quick) as (a, b):
        headers = {"Authorization": f"Bearer {a.token(Role.ADMIN)}"}
        async with httpx.AsyncClient(timeout=10, headers=headers) as client:
            viewers = [Viewer(n.url, f"/api/calls/{sid}/events").start(client) for n in (a, b)]
            for viewer in viewers:
                await viewer.wait_for(is_event("status", state="live"))
            sim.add_segment(sid, "assistant", "Hello, how can I help?")
            for viewer in viewers:
                await viewer.wait_for(has_segment("Hello, how can I help?"))
            alarm = metrics_with(lambda d: d["silence"]["level"] == "alarm")
            marks = [await v.wait_for(alarm) for v in viewers]
            assert marks[0].id == marks[1].id
            for viewer in viewers:
                await viewer.stop()


async def test_a_claim_on_the_holder_shows_on_every_node_and_another_node_says_why_not(
    sim: Simulator, server: RedisServer
) -> None:
    sid = sim.add_call()
    async with nodes(sim, server, 2) as (a, b):
        headers = {"Authorization": f"Bearer {a.token(Role.ADMIN)}"}
        async with httpx.AsyncClient(timeout=10, headers=headers) as client:
            viewers = [Viewer(n.url, f"/api/calls/{sid}/events").start(client) for n in (a, b)]
            for viewer in viewers:
                await viewer.wait_for(is_event("status", state="live"))
            name = await holder_of(server, f"call:{sid}")
            holder, other = (a, b) if name == "node-1" else (b, a)
            async with holder.client(Role.SUPERVISOR, timeout=10) as ada:
                token = await csrf_of(holder, ada, sid)
                done = await ada.post(
                    f"{holder.url}/calls/{sid}/claim",
                    data={"action": "claim", "csrf": token},
                    headers={"HX-Request": "true"},
                )
                assert done.status_code == 204
            claims = [await v.wait_for(is_event("claim")) for v in viewers]
            assert claims[0].id == claims[1].id and claims[0].data == claims[1].data
            async with other.client(Role.SUPERVISOR, timeout=10) as bob:
                token = await csrf_of(other, bob, sid)
                refused = await bob.post(
                    f"{other.url}/calls/{sid}/claim",
                    data={"action": "ack", "csrf": token},
                    headers={"HX-Request": "true"},
                )
                assert refused.status_code == 409 and "Another dashboard node" in refused.text
            for viewer in viewers:
                await viewer.stop()
