"""Nodes of a cluster agree on the org book at once: a change on one node's /admin, or by the
CLI, is served on every other node long before its next refresh (``ORG_REFRESH_SECONDS`` is
an hour here), over a real Redis and one real PostgreSQL database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator

import pytest
from cryptography.fernet import Fernet

from tests.cluster import cluster_database, flush, nodes, redis_module
from tests.conftest import SIM_KEY
from tests.live import SESSION_SECRET, LiveApp, csrf_of
from tests.redisserver import RedisServer
from webapp.orgs.tenants import Tenant
from webapp.simulator import Simulator
from webapp.wire.streamkey import StreamKey

__all__ = ["redis_module"]

MASTER = Fernet.generate_key().decode()
ACME_KEY = "sim-key-acme-5e0b91"
HOUR = 3600.0  # no node reads the book on its own during a test


@pytest.fixture
def server(redis_module: RedisServer) -> Iterator[RedisServer]:
    flush(redis_module)
    yield redis_module


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(orgs={"default": SIM_KEY, "acme": ACME_KEY}, autoplay=False) as burki:
        yield burki


def served(live: LiveApp, slug: str) -> asyncio.Event:
    """Set once ``live`` starts serving organisation ``slug`` (its tenants gain it)."""
    event = asyncio.Event()
    tenants = live.state.tenants
    add = tenants.add

    def adding(tenant: Tenant) -> None:
        add(tenant)
        if tenant.slug == slug:
            event.set()

    tenants.add = adding  # type: ignore[method-assign]
    return event


async def serves_a_call_of(live: LiveApp, burki: Simulator, call: str) -> None:
    """``live`` opens acme's call upstream with acme's key."""
    with live.hub.watch([StreamKey("call", call, "acme")], {}):
        await burki.wait_for_connections(f"call:{call}", 1, timeout=10)


async def test_an_organisation_added_on_one_nodes_admin_is_served_on_the_other_at_once(
    sim: Simulator, server: RedisServer
) -> None:
    call = sim.org("acme").add_call()
    overrides = {"burki_master_key": MASTER, "org_refresh_seconds": HOUR}
    async with nodes(sim, server, 2, **overrides) as (a, b):
        on_b = served(b, "acme")
        async with a.client() as admin:
            form = {"slug": "acme", "name": "Acme Support", "url": sim.base_url, "key": ACME_KEY}
            added = await admin.post(
                a.url + "/admin/orgs", data=form | {"csrf": await csrf_of(admin, a.url + "/admin")}
            )
        assert added.status_code == 200 and "acme" in a.state.tenants
        async with asyncio.timeout(10):  # an hour before b would read the book on its own
            await on_b.wait()
        await serves_a_call_of(b, sim.org("acme"), call)


def org_cli(*args: str, env: dict[str, str], key: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "webapp", "org", *args],
        input=key,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_an_organisation_added_by_the_cli_is_served_on_every_running_node_at_once(
    sim: Simulator, server: RedisServer
) -> None:
    call = sim.org("acme").add_call()
    overrides = {"burki_master_key": MASTER, "org_refresh_seconds": HOUR}
    database = cluster_database()
    async with nodes(sim, server, 2, database_url=database, **overrides) as cluster:
        waits = [served(live, "acme") for live in cluster]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BURKI_", "DASHBOARD_"))}
        env |= {
            "DATABASE_URL": database,
            "BURKI_MASTER_KEY": MASTER,
            "REDIS_URL": server.url,  # the nodes' own settings, as an operator's shell has them
            "DASHBOARD_SESSION_SECRET": SESSION_SECRET,
        }
        args = ("add", "acme", "--name", "Acme Support", "--url", sim.base_url, "--key-stdin")
        done = await asyncio.to_thread(org_cli, *args, env=env, key=ACME_KEY + "\n")
        assert done.returncode == 0, done.stderr
        async with asyncio.timeout(10):
            for each in waits:
                await each.wait()
        await serves_a_call_of(cluster[1], sim.org("acme"), call)
