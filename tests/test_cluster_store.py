"""A cluster shares no disk: nodes with var folders of their own, one Redis and one
PostgreSQL. A token made on one node opens the API on every node; revoked on another, it
is refused on every node at the next request; a user removed on one node loses every
session and open stream on every node."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from tests.cluster import flush, nodes, redis_module
from tests.live import Viewer, is_event
from tests.redisserver import RedisServer
from tests.test_sessions_end import PASSWORD, RECHECK, signed_in, statuses
from webapp.access.users import Role
from webapp.simulator import Simulator

__all__ = ["redis_module"]  # the module's redis-server fixture


@pytest.fixture
def server(redis_module: RedisServer) -> Iterator[RedisServer]:
    flush(redis_module)
    yield redis_module


async def test_the_nodes_keep_their_access_data_in_one_postgresql(
    sim: Simulator, server: RedisServer
) -> None:
    async with nodes(sim, server, 3) as cluster:
        assert len({node.state.access.store.where for node in cluster}) == 1
        assert all(node.state.access.store.where.startswith("postgresql") for node in cluster)


async def test_a_token_made_on_one_node_counts_on_every_node_and_its_revocation_too(
    sim: Simulator, server: RedisServer
) -> None:
    sid = sim.add_call()
    async with nodes(sim, server, 3) as (one, two, three), httpx.AsyncClient(timeout=10) as bot:
        bot.headers["Authorization"] = f"Bearer {await one.token(Role.SUPERVISOR)}"
        path = f"/api/calls/{sid}/transcript"
        assert [(await bot.get(n.url + path)).status_code for n in (one, two, three)] == [200] * 3
        [info] = await two.state.access.tokens.list()
        await two.state.access.tokens.revoke(info.name)  # on another node than the maker
        assert [(await bot.get(n.url + path)).status_code for n in (one, two, three)] == [401] * 3


async def test_a_user_removed_on_one_node_ends_their_sessions_on_every_node(
    sim: Simulator, server: RedisServer
) -> None:
    sid = sim.add_call()
    async with nodes(sim, server, 3, **RECHECK) as (one, two, three):
        await one.state.access.users.add("ada", PASSWORD, Role.SUPERVISOR)
        async with signed_in(two) as browser:  # signed in on node two, the cookie opens all
            for node in (one, two, three):
                assert await statuses(node, browser, sid) == [200, 200, 200]
            streams = [
                Viewer(node.url, f"/api/calls/{sid}/events").start(browser)
                for node in (one, two, three)
            ]
            for viewer in streams:  # a node that is not the holder sends no status of its own
                await viewer.wait_for(is_event("snapshot"))
            await three.state.access.users.remove("ada")
            for node in (one, two, three):
                assert await statuses(node, browser, sid) == [303, 303, 401]
            for viewer in streams:  # open streams end at their next re-check, on every node
                assert viewer._task is not None
                await asyncio.wait_for(viewer._task, 10)
