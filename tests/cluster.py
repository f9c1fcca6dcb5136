"""Several dashboard nodes on one real Redis, for the cluster tests (in this process)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.conftest import SIM_KEY
from tests.live import SESSION_SECRET, LiveApp, running_app
from tests.redisserver import RedisServer, binary_or_skip, free_port, redis_server
from webapp.simulator import Simulator

LEASE = 1.5  # seconds: a quick takeover keeps the suite fast


@pytest.fixture(scope="module")
def redis_module() -> Iterator[RedisServer]:
    """One redis-server for a test module (tests flush it: see :func:`fresh_redis`)."""
    with redis_server() as server:
        yield server


def flush(server: RedisServer) -> None:
    with redis.Redis.from_url(server.url) as client:
        client.flushall()


def shared_files(folder: Path) -> dict[str, Any]:
    """The files every node of one cluster reads: users, tokens, the audit log."""
    return {
        "dashboard_users_file": folder / "users.toml",
        "dashboard_tokens_file": folder / "tokens.toml",
        "dashboard_audit_file": folder / "audit.jsonl",
        "dashboard_database_file": folder / "store.sqlite3",
    }


@asynccontextmanager
async def nodes(
    sim: Simulator, server: RedisServer, count: int = 3, **overrides: Any
) -> AsyncIterator[list[LiveApp]]:
    """``count`` nodes on ``server``'s Redis, sharing their files, named ``node-1``..."""
    with tempfile.TemporaryDirectory() as folder:
        async with AsyncExitStack() as stack:
            live = []
            for n in range(1, count + 1):
                settings = {
                    "redis_url": server.url,
                    "dashboard_node_id": f"node-{n}",
                    "dashboard_lease_seconds": LEASE,
                    **shared_files(Path(folder)),
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
    name: str, port: int, sim: Simulator, server: RedisServer, folder: Path
) -> dict[str, str]:
    files = shared_files(folder)
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
        "DASHBOARD_USERS_FILE": str(files["dashboard_users_file"]),
        "DASHBOARD_TOKENS_FILE": str(files["dashboard_tokens_file"]),
        "DASHBOARD_AUDIT_FILE": str(files["dashboard_audit_file"]),
        "DASHBOARD_LOG_LEVEL": "warning",
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
    sim: Simulator, server: RedisServer, folder: Path, count: int = 3
) -> AsyncIterator[tuple[str, dict[str, NodeProcess]]]:
    """``count`` ``burki-dashboard run`` processes on Redis behind HAProxy: (its URL, the nodes)."""
    haproxy = haproxy_or_skip()
    binary = str(Path(sys.executable).parent / "burki-dashboard")
    started: dict[str, NodeProcess] = {}
    balancer: subprocess.Popen[bytes] | None = None
    try:
        for n in range(1, count + 1):
            name, port = f"node-{n}", free_port()
            env = node_env(name, port, sim, server, folder)
            process = spawn([binary, "run"], env)
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
