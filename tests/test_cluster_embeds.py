"""Embed links in a cluster: made on one node, they open pages on every node; revoked on
one node, they stop at the next request and their open streams end on every node."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cluster import flush, nodes, redis_module
from tests.live import Viewer
from tests.redisserver import RedisServer
from tests.test_access import status_of
from tests.test_embed_links_live import RECHECK, made_link, revoke, stream_of
from webapp.access.users import Role
from webapp.simulator import Simulator

__all__ = ["redis_module"]  # the module's redis-server fixture


@pytest.fixture
def server(redis_module: RedisServer) -> Iterator[RedisServer]:
    flush(redis_module)
    yield redis_module


async def test_a_link_revoked_on_one_node_ends_its_streams_on_every_node(
    sim: Simulator, server: RedisServer
) -> None:
    sid = sim.add_call()
    async with nodes(sim, server, 3, **RECHECK) as cluster:
        first = cluster[0]
        async with first.client(Role.ADMIN) as admin, first.client(None, timeout=30) as intranet:
            link = (await made_link(first, admin, "call", sid)).removeprefix(first.url)
            pages = [await intranet.get(node.url + link) for node in cluster]
            assert [p.status_code for p in pages] == [200, 200, 200]
            viewers = [
                Viewer(node.url, stream_of(page.text)).start(intranet)
                for node, page in zip(cluster, pages, strict=True)
            ]
            sim.add_segment(sid, "user", "one line for every node")
            for viewer in viewers:
                await viewer.wait_for(lambda e: "one line for every node" in e.data, timeout=10)
            [record] = await first.state.access.embeds.list()
            async with cluster[1].client(Role.ADMIN) as other_admin:
                assert (await revoke(cluster[1], other_admin, record.id)).status_code == 200
            for viewer in viewers:
                await viewer.ended()
            for node, page in zip(cluster, pages, strict=True):
                assert await status_of(intranet, node.url + link) == 303
                assert await status_of(intranet, node.url + stream_of(page.text)) == 401
