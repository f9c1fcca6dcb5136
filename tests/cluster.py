"""Several dashboard nodes on one real Redis and one real PostgreSQL, for the cluster tests.

Nodes share no disk: each has a var folder of its own, and users, tokens, embed
links and the audit log come from one PostgreSQL database (a fresh one per
cluster, on the test session's server: :func:`redis_module` starts it too).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.conftest import SIM_KEY
from tests.live import SESSION_SECRET, LiveApp, running_app
from tests.postgres import PostgresServer
from tests.redisserver import RedisServer, binary_or_skip, free_port, redis_server
from webapp.access.tokens import TokenStore
from webapp.access.users import Role
from webapp.simulator import Simulator
from webapp.store.database import database_url
from webapp.store.store import open_store
from webapp.wire.streamkey import DEFAULT_ORG

LEASE = 1.5  # seconds: a quick takeover keeps the suite fast


_POSTGRES: list[PostgresServer] = []  # the session's server, once a cluster test asked for it


@pytest.fixture(scope="module")
def redis_module(postgres: PostgresServer) -> Iterator[RedisServer]:
    """One redis-server for a test module (tests flush it: see :func:`fresh_redis`), and the
    session's PostgreSQL for :func:`cluster_database`."""
    _POSTGRES[:] = [postgres]
    with redis_server() as server:
        yield server


def cluster_database() -> str:
    """A fresh database for one cluster's nodes to share."""
    if not _POSTGRES:
        raise AssertionError("cluster tests use the redis_module fixture (it starts PostgreSQL)")
    return _POSTGRES[0].new_database()


async def token_in(database: str, name: str, role: Role, org: str = DEFAULT_ORG) -> str:
    """A new API token of ``org`` in ``database`` (as ``burki-dashboard token create`` makes
    one)."""
    store = await open_store(database_url(database))
    try:
        if org == DEFAULT_ORG:
            return await TokenStore(store).create(name, role)
        return await TokenStore(store).create(name, role, org)  # tokens of one org (h-orgaccess)
    finally:
        await store.close()


def flush(server: RedisServer) -> None:
    with redis.Redis.from_url(server.url) as client:
        client.flushall()


@asynccontextmanager
async def nodes(
    sim: Simulator, server: RedisServer, count: int = 3, **overrides: Any
) -> AsyncIterator[list[LiveApp]]:
    """``count`` nodes on ``server``'s Redis and one fresh PostgreSQL database, each with a
    var folder of its own (``running_app`` makes one), named ``node-1``..."""
    database = overrides.pop("database_url", None) or cluster_database()
    async with AsyncExitStack() as stack:
        live = []
        for n in range(1, count + 1):
            settings = {
                "redis_url": server.url,
                "database_url": database,
                "dashboard_node_id": f"node-{n}",
                "dashboard_lease_seconds": LEASE,
                **overrides,
            }
            live.append(await stack.enter_async_context(running_app(sim, **settings)))
        yield live


# -- real node processes behind a real balancer ----------------------------------------------

HAPROXY = """global
    maxconn 2000
defaults
    mode http
    retries 3
    option redispatch
    timeout connect 1s
    timeout client 1h
    timeout server 1h
    timeout http-request 10s
frontend dashboard
    bind 127.0.0.1:{port}
    default_backend nodes
backend nodes
    balance roundrobin
    option httpchk GET /readyz
    default-server inter 300ms fall 1 rise 1
{servers}
"""


def haproxy_or_skip() -> str:
    return binary_or_skip("haproxy", "haproxy")


@dataclass
class NodeProcess:
    name: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def node_env(
    name: str,
    port: int,
    sim: Simulator,
    server: RedisServer,
    folder: Path,
    database: str,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """A node's environment: its own var folder (``folder/<name>``), the cluster's database,
    and ``extra`` (settings every node shares, ``BURKI_MASTER_KEY`` for one)."""
    var = folder / name
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("BURKI_", "DASHBOARD_"))},
        "BURKI_API_KEY": SIM_KEY,
        "BURKI_BASE_URL": sim.base_url,
        "BURKI_KEEPALIVE_INTERVAL": "0.5",
        "BURKI_PING_TIMEOUT": "0.4",
        "BURKI_CONNECT_TIMEOUT": "2",
        "REDIS_URL": server.url,
        "DASHBOARD_NODE_ID": name,
        "DASHBOARD_LEASE_SECONDS": str(LEASE),
        "DASHBOARD_SESSION_SECRET": SESSION_SECRET,
        "DASHBOARD_PORT": str(port),
        "DASHBOARD_HOST": "127.0.0.1",
        "DASHBOARD_STREAMS_PER_USER": "200",
        "DASHBOARD_STREAMS_PER_SESSION": "200",
        "DATABASE_URL": database,
        "DASHBOARD_USERS_FILE": str(var / "users.toml"),
        "DASHBOARD_TOKENS_FILE": str(var / "tokens.toml"),
        "DASHBOARD_AUDIT_FILE": str(var / "audit.jsonl"),
        "DASHBOARD_DATABASE_FILE": str(var / "unused.sqlite3"),
        "DASHBOARD_LOG_LEVEL": "warning",
        # Other cluster tests follow their viewers; a test of monitoring sets it to true.
        "MONITOR_ENABLED": os.environ.get("MONITOR_ENABLED", "false"),
        **(extra or {}),
    }


def spawn(command: list[str], env: dict[str, str] | None) -> subprocess.Popen[bytes]:
    """A child process whose output goes nowhere (the test reads its sockets, not its logs)."""
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)


async def wait_ready(url: str, timeout: float = 30.0) -> None:
    async with httpx.AsyncClient(timeout=1.0) as client:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if (await client.get(url + "/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} did not become ready")


@asynccontextmanager
async def balanced_nodes(
    sim: Simulator,
    server: RedisServer,
    folder: Path,
    database: str,
    count: int = 3,
    env: Mapping[str, str] | None = None,
) -> AsyncIterator[tuple[str, dict[str, NodeProcess]]]:
    """``count`` ``burki-dashboard run`` processes on Redis and ``database`` behind HAProxy,
    each with a var folder of its own under ``folder`` and ``env`` added to its environment:
    (the balancer's URL, the nodes)."""
    haproxy = haproxy_or_skip()
    binary = str(Path(sys.executable).parent / "burki-dashboard")
    started: dict[str, NodeProcess] = {}
    balancer: subprocess.Popen[bytes] | None = None
    try:
        for n in range(1, count + 1):
            name, port = f"node-{n}", free_port()
            process = spawn(
                [binary, "run"], node_env(name, port, sim, server, folder, database, env)
            )
            started[name] = NodeProcess(name, port, process)
        for node in started.values():
            await wait_ready(node.url)
        port = free_port()
        servers = "\n".join(
            f"    server {n.name} 127.0.0.1:{n.port} check" for n in started.values()
        )
        config = folder / "haproxy.cfg"
        config.write_text(HAPROXY.format(port=port, servers=servers))
        balancer = spawn([haproxy, "-db", "-f", str(config)], None)
        await wait_ready(f"http://127.0.0.1:{port}")
        yield f"http://127.0.0.1:{port}", started
    finally:
        for process in [*(n.process for n in started.values()), balancer]:
            if process is not None and process.poll() is None:
                process.terminate()
        for process in [*(n.process for n in started.values()), balancer]:
            if process is not None:
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)
