"""Two organisations on three real node processes behind a real HAProxy, one simulator serving
both with their own keys: the guarantees of one organisation, for each, and isolation on
every node (``kill -9`` included)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from tests.cluster import balanced_nodes, cluster_database, flush, redis_module, token_in
from tests.conftest import SIM_KEY
from tests.live import placed
from tests.redisserver import RedisServer
from tests.test_cluster_nodes import Resuming, Talk, holder_of, talk
from webapp.access.users import Role
from webapp.simulator import Simulator

__all__ = ["redis_module"]

ACME_KEY = "sim-key-acme-3e9d41"
MASTER = Fernet.generate_key().decode()
VIEWERS = 12  # per organisation: four a node


@pytest.fixture
def server(redis_module: RedisServer) -> Iterator[RedisServer]:
    flush(redis_module)
    yield redis_module


def add_org(database: str, slug: str, name: str, url: str, key: str) -> None:
    """``burki-dashboard org add`` as an operator runs it, on the cluster's database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BURKI_", "DASHBOARD_"))}
    env |= {"DATABASE_URL": database, "BURKI_MASTER_KEY": MASTER}
    command = [sys.executable, "-m", "webapp", "org", "add", slug, "--name", name, "--url", url]
    done = subprocess.run(
        [*command, "--key-stdin"], input=key + "\n", env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


async def status_of(client: httpx.AsyncClient, url: str) -> int:
    """The status a GET of ``url`` is answered with (a stream's body is not read)."""
    async with client.stream("GET", url) as answer:
        return answer.status_code


async def alive_holder(server: RedisServer, key: str, alive: set[str]) -> str:
    """The node holding ``key``'s lease once it is one of ``alive`` (a killed node's lease
    runs out first)."""
    async with asyncio.timeout(20):
        while (holder := await holder_of(server, key)) not in alive:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    return holder


async def test_two_organisations_on_three_nodes_keep_their_guarantees_through_kill_9(
    server: RedisServer,
) -> None:
    async with Simulator(orgs={"default": SIM_KEY, "acme": ACME_KEY}, autoplay=False) as sim:
        acme = sim.org("acme")
        ours, theirs = sim.add_call(), acme.add_call()
        keys = {"default": f"call:{ours}", "acme": f"acme/call:{theirs}"}
        calls = {
            "default": Talk(sim, ours, "default line"),
            "acme": Talk(acme, theirs, "acme line"),
        }
        lines = {org: call.lines for org, call in calls.items()}

        database = cluster_database()
        add_org(database, "acme", "Acme Support", sim.base_url, ACME_KEY)
        tokens = {
            "default": await token_in(database, "default-viewers", Role.ADMIN),
            "acme": await token_in(database, "acme-viewers", Role.ADMIN, org="acme"),
        }
        paths = {
            "default": f"/api/calls/{ours}/events",
            "acme": f"/o/acme/api/calls/{theirs}/events",
        }
        env = {
            "BURKI_MASTER_KEY": MASTER,
            "MONITOR_ENABLED": "true",  # as deployed: every node keeps each organisation's lists
            "DIRECTORY_POLL_INTERVAL": "0.5",
        }
        with tempfile.TemporaryDirectory() as folder:
            async with balanced_nodes(sim, server, Path(folder), database, env=env) as (
                url,
                processes,
            ):
                limits = httpx.Limits(max_connections=VIEWERS * 4)
                clients = {
                    org: httpx.AsyncClient(
                        headers={"Authorization": f"Bearer {token}"}, timeout=10, limits=limits
                    )
                    for org, token in tokens.items()
                }
                viewers = {
                    org: [Resuming(url + paths[org]) for _ in range(VIEWERS)] for org in paths
                }
                tasks = [
                    asyncio.create_task(v.run(clients[org]))
                    for org, each in viewers.items()
                    for v in each
                ]
                try:
                    await talk(5, *calls.values())
                    for org, each in viewers.items():
                        for viewer in each:
                            await viewer.wait_for_lines(lines[org], timeout=30)
                    # One upstream per stream per organisation, each with its own key: never
                    # two sockets of a stream at once. (Not "one socket ever": under load the
                    # holder's 0.4 s keepalive can give up on a slow simulator and reconnect.)
                    assert sim.connections_peak(keys["default"]) == 1
                    assert acme.connections_peak(f"call:{theirs}") == 1

                    # Isolation on every node: each token is refused the other's streams as
                    # if they did not exist, under either organisation's URL.
                    for node in processes.values():
                        for org, other in (("default", "acme"), ("acme", "default")):
                            sid = theirs if other == "acme" else ours
                            for path in (
                                f"/api/calls/{sid}/events",
                                f"/o/acme/api/calls/{sid}/events",
                            ):
                                status = await status_of(clients[org], node.url + path)
                                assert status == 404, (org, node.name, path)

                    # kill -9 the holder of acme's stream, then the default's (on whichever
                    # node it is by then): the last node standing holds both.
                    killed: list[str] = []
                    for org in ("acme", "default"):
                        alive = set(processes) - set(killed)
                        name = await alive_holder(server, keys[org], alive)
                        processes[name].process.kill()  # SIGKILL: no goodbye, no hand-over
                        killed.append(name)
                        await asyncio.to_thread(processes[name].process.wait, 10)
                        await talk(15, *calls.values())  # both calls go on through the takeover
                    for org, each in viewers.items():
                        for viewer in each:
                            await viewer.wait_for_lines(lines[org], timeout=40)
                    for org, each in viewers.items():
                        for viewer in each:
                            assert placed(viewer.events) == lines[org]  # 0 lost, 0 twice
                        moved = [v for v in each if v.reconnects > 0]
                        assert moved, f"no viewer of {org} was on a killed node"
                        # Resumed on another node from their own ids: no reset, one snapshot.
                        assert not [e for v in moved for e in v.events if e.event == "reset"]
                    await sim.wait_for_connections(keys["default"], 1, timeout=15)
                    await acme.wait_for_connections(f"call:{theirs}", 1, timeout=15)
                    survivor = next(n for n in processes.values() if n.name not in killed)
                    for org in keys:  # both organisations' streams now on the last node
                        assert await holder_of(server, keys[org]) == survivor.name
                finally:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                    for client in clients.values():
                        await client.aclose()
        # Never a request with one organisation's key for the other's id, on any node.
        assert [e.path for e in sim.requests.naming(theirs) if e.org != "acme"] == []
        assert [e.path for e in sim.requests.naming(ours) if e.org != "default"] == []
