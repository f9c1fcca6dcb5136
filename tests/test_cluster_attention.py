"""Health and claims on two nodes sharing Redis: the same frames under the same ids."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.cluster import flush, nodes, redis_module
from tests.live import LiveApp, Viewer, data, has_segment, is_event, is_live
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
                await viewer.wait_for(is_live)
            sim.add_segment(sid, "assistant", "Hello, how can I help?")
            for viewer in viewers:
                await viewer.wait_for(has_segment("Hello, how can I help?"))
            alarm = metrics_with(lambda d: d["silence"]["level"] == "alarm")
            marks = [await v.wait_for(alarm) for v in viewers]
            assert marks[0].id == marks[1].id
            for viewer in viewers:
                await viewer.stop()


async def test_a_claim_on_either_node_shows_once_on_every_node_under_one_id(
    sim: Simulator, server: RedisServer
) -> None:
    """A claim made on the node that does not hold the call is asked of the holder, which
    publishes it: every viewer on every node sees it once, under one id."""
    sid = sim.add_call()
    async with nodes(sim, server, 2) as (a, b):
        headers = {"Authorization": f"Bearer {a.token(Role.ADMIN)}"}
        async with httpx.AsyncClient(timeout=10, headers=headers) as client:
            viewers = [Viewer(n.url, f"/api/calls/{sid}/events").start(client) for n in (a, b)]
            for viewer in viewers:
                await viewer.wait_for(is_live)
            name = await holder_of(server, f"call:{sid}")
            holder, other = (a, b) if name == "node-1" else (b, a)
            assert await post_claim(holder, Role.SUPERVISOR, sid, "claim") == 204
            claims = [await v.wait_for(is_event("claim")) for v in viewers]
            assert claims[0].id == claims[1].id and claims[0].data == claims[1].data
            assert await post_claim(other, Role.ADMIN, sid, "claim") == 204  # takes it over
            taken = is_event("claim", took_over_from="test-supervisor")
            overs = [await v.wait_for(taken) for v in viewers]
            assert overs[0].id == overs[1].id and overs[0].data == overs[1].data
            assert data(overs[0])["claim"]["by"] == "test-admin"
            # Refused where it is asked, with the reason: nothing is published.
            assert await post_claim(other, Role.SUPERVISOR, sid, "ack") == 409
            sim.add_segment(sid, "user", "after the claims")
            for viewer in viewers:
                await viewer.wait_for(has_segment("after the claims"))
                assert [e.event for e in viewer.events].count("claim") == 2  # each once
                await viewer.stop()


async def post_claim(node: LiveApp, role: Role, sid: str, action: str) -> int:
    """POST a claim action to ``node`` as a user of ``role`` (as the call page's button does)."""
    async with node.client(role, timeout=10) as person:
        token = await csrf_of(node, person, sid)
        done = await person.post(
            f"{node.url}/calls/{sid}/claim",
            data={"action": action, "csrf": token},
            headers={"HX-Request": "true"},
        )
        return done.status_code
