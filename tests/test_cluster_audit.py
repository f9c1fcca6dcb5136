"""Once per session and page, across a cluster: a session whose reloads and reconnects land
on every node is one audit entry, not one per node."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.cluster import flush, nodes, redis_module
from tests.live import LiveApp
from tests.redisserver import RedisServer
from tests.test_access import PASSWORD, sign_in, status_of
from webapp.access.users import Role
from webapp.simulator import Simulator

__all__ = ["redis_module"]  # the module's redis-server fixture


@pytest.fixture
def server(redis_module: RedisServer) -> Iterator[RedisServer]:
    flush(redis_module)
    yield redis_module


async def seen(live: LiveApp, what: str) -> list[tuple[str, str]]:
    return [(e.who, e.via) for e in await live.state.access.audit.entries(None) if e.what == what]


async def test_a_session_seen_on_every_node_is_one_entry_per_page(
    sim: Simulator, server: RedisServer
) -> None:
    sim.add_call()
    async with nodes(sim, server, 3) as cluster, httpx.AsyncClient(timeout=30) as browser:
        first = cluster[0]
        await first.state.access.users.add("ada", PASSWORD, Role.ADMIN)
        assert (await sign_in(first, browser, PASSWORD)).status_code == 303
        for _ in range(2):
            for node in cluster:  # a balancer sends each request anywhere
                assert (await browser.get(node.url + "/")).status_code == 200
                assert await status_of(browser, node.url + "/overview/updates") == 200
                assert (await browser.get(node.url + "/admin")).status_code == 200
        assert await seen(first, "overview") == [("ada", "page")]  # the audit file is shared
        assert await seen(first, "admin page") == [("ada", "page")]
        token = await first.token(Role.ADMIN)
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as scraper:
            for node in cluster * 3:
                assert (await scraper.get(node.url + "/metrics")).status_code == 200
        assert len(await seen(first, "metrics")) == 1
