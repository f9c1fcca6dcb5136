"""The cluster scenario: three of our nodes on one Redis, viewers spread, the same live load.

Beside the single-node figures of the same run: upstream connections, p99 added
latency, CPU per delivered event (the three nodes together) and Redis's CPU;
then the takeover time over ``kills`` SIGKILLs of the lease holder: from the
kill to the lease taken by another node, and to that node's upstream at Burki.
Each killed node is started again (with a few viewers) before the next kill.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import redis
from pydantic import SecretStr

from bench import proxies
from bench.control import Child, child_setup
from bench.procstat import cpu_times, load_average

NODES = 3
SECRET = "bench-cluster-session-secret-0123456789abcdef"


@dataclass
class ClusterResult:
    viewers: int
    upstreams: int
    stats: dict[str, Any]
    cpu: dict[str, float]  # window CPU seconds: nodes (together), redis, simulator, viewers
    window: float
    lease_ms: list[float] = field(default_factory=list)  # kill -> another node holds the lease
    upstream_ms: list[float] = field(default_factory=list)  # kill -> its upstream at Burki
    load: str = ""

    def cpu_per_1000(self, proc: str) -> float:
        count = self.stats["delivered"]
        return self.cpu[proc] / count * 1000 if count else float("nan")


def node_main(
    conn: Connection, base_url: str, queue: int, url: str, node_id: str, state_dir: str
) -> None:
    """A Child's target: one node of ours on ``url``'s Redis, files in the shared ``state_dir``."""
    child_setup(f"node {node_id}")
    settings = proxies.settings_for(base_url, queue, Path(state_dir)).model_copy(
        update={
            "redis_url": SecretStr(url),
            "dashboard_node_id": node_id,
            "dashboard_session_secret": SecretStr(SECRET),
        }
    )
    from webapp.app import create_app
    from webapp.server import DashboardServer, uvicorn_config

    app = create_app(settings, demo=False)
    config = uvicorn_config(app, settings, timeout_graceful_shutdown=2, **proxies.LISTEN)
    asyncio.run(proxies._run(conn, DashboardServer(config, app), f"bench-{node_id}"))


@contextmanager
def redis_server(folder: Path) -> Any:
    """Debian's redis-server on a free port (append-only file on), stopped on exit."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder)]
    process = subprocess.Popen(
        [*command, "--save", "", "--appendonly", "yes"], stdout=subprocess.DEVNULL
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        with redis.Redis.from_url(url) as client:
            for _ in range(200):
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    time.sleep(0.05)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(10)


class Nodes:
    """Three node Children on one Redis; a killed one is replaced under the same name."""

    def __init__(self, stack: ExitStack, base_url: str, queue: int, url: str, folder: Path):
        self.stack, self.base_url, self.queue = stack, base_url, queue
        self.url, self.folder = url, folder
        self.children: dict[str, Child] = {}
        self.ports: dict[str, int] = {}
        for n in range(1, NODES + 1):
            self.start(f"node-{n}")

    def start(self, name: str) -> None:
        child = Child(name, node_main, self.base_url, self.queue, self.url, name, str(self.folder))
        self.children[name] = self.stack.enter_context(child)
        self.ports[name] = child.call("port")

    def kill(self, name: str) -> None:
        os.kill(self.children[name].pid, signal.SIGKILL)
        self.children[name].process.join(10)


def holder(url: str, sid: str) -> str | None:
    with redis.Redis.from_url(url, decode_responses=True) as client:
        value = client.get(f"burki:lease:call:{sid}")
    return str(value).rpartition(":")[0] if value else None


def run(plan: Any, sim: Child, clients: Child, base_url: str, kills: int) -> ClusterResult:
    with tempfile.TemporaryDirectory(prefix="burki-cluster-") as folder, ExitStack() as stack:
        url, redis_pid = stack.enter_context(redis_server(Path(folder)))
        nodes = Nodes(stack, base_url, plan.viewer_queue, url, Path(folder))
        token = next(iter(nodes.children.values())).call("token")  # in the store they share
        result = _live(plan, sim, clients, nodes, token, redis_pid)
        _takeovers(result, sim, clients, nodes, token, url, kills)
        result.load = load_average()
        return result


def _live(
    plan: Any, sim: Child, clients: Child, nodes: Nodes, token: str | None, redis_pid: int
) -> ClusterResult:
    from bench.phases import _settled_connections

    sid = sim.call("add_call")
    per_node = plan.live_viewers // NODES
    for port in nodes.ports.values():
        clients.call(
            "open",
            port=port,
            path=proxies.stream_path("ours", [sid]),
            sids=[sid],
            n=per_node,
            token=token,
        )
    upstreams = _settled_connections(sim, sid)
    sim.call("rate", per_second=plan.rate)
    time.sleep(plan.warmup)
    pids = {
        "nodes": [c.pid for c in nodes.children.values()],
        "redis": [redis_pid],
        "simulator": [sim.pid],
        "viewers": [clients.pid],
    }
    before = {k: sum(sum(cpu_times(p)) for p in v) for k, v in pids.items()}
    start = time.time()
    time.sleep(plan.window)
    end = time.time()
    cpu = {k: sum(sum(cpu_times(p)) for p in v) - before[k] for k, v in pids.items()}
    sim.call("rate", per_second=None)
    time.sleep(plan.drain)
    sent = sim.call("markers", sid=sid)
    stats = clients.call("stats", start=start, end=end, sent={sid: sent})
    clients.call("close_all")
    sim.call("end_call", sid=sid)
    return ClusterResult(per_node * NODES, upstreams, stats, cpu, end - start)


def _takeovers(
    result: ClusterResult,
    sim: Child,
    clients: Child,
    nodes: Nodes,
    token: str | None,
    url: str,
    kills: int,
) -> None:
    sid = sim.call("add_call")
    for port in nodes.ports.values():
        clients.call(
            "open", port=port, path=proxies.stream_path("ours", [sid]), sids=[sid], n=5, token=token
        )
    for _ in range(kills):
        deadline = time.monotonic() + 30
        while (name := holder(url, sid)) is None or sim.call("connections", sid=sid) != 1:
            if time.monotonic() > deadline:
                raise RuntimeError("no node took the stream")
            time.sleep(0.05)
        nodes.kill(name)
        killed = time.monotonic()
        while (now := holder(url, sid)) is None or now == name:
            time.sleep(0.01)
        result.lease_ms.append((time.monotonic() - killed) * 1000)
        while sim.call("connections", sid=sid) != 1:
            time.sleep(0.01)
        result.upstream_ms.append((time.monotonic() - killed) * 1000)
        nodes.start(name)  # back to three nodes; its viewers make it a candidate again
        clients.call(
            "open",
            port=nodes.ports[name],
            path=proxies.stream_path("ours", [sid]),
            sids=[sid],
            n=5,
            token=token,
        )
    clients.call("close_all")
    sim.call("end_call", sid=sid)


def markdown(single: Any, cluster: ClusterResult) -> str:
    """The cluster's figures beside the single node's of the same run."""

    def ms(values: list[float]) -> str:
        if not values:
            return "n/a"
        return f"{statistics.median(values) / 1000:.2f} s / {max(values) / 1000:.2f} s"

    s, c = single.stats, cluster.stats
    rows = [
        ("Viewers (live window)", f"{single.viewers}", f"{cluster.viewers} ({NODES} nodes)"),
        ("Upstream connections for the call", f"{single.upstreams}", f"{cluster.upstreams}"),
        ("p50 added latency, ms", f"{s['p50_ms']:.1f}", f"{c['p50_ms']:.1f}"),
        ("p99 added latency, ms", f"{s['p99_ms']:.1f}", f"{c['p99_ms']:.1f}"),
        ("first viewer of each event, p50, ms", f"{s['first_p50_ms']:.1f}",
         f"{c['first_p50_ms']:.1f}"),
        ("Dashboard CPU s per 1,000 delivered events (all nodes)",
         f"{single.cpu_per_1000('proxy'):.4f}", f"{cluster.cpu_per_1000('nodes'):.4f}"),
        ("Redis CPU s per 1,000 delivered events", "-", f"{cluster.cpu_per_1000('redis'):.4f}"),
        ("Redis CPU, % of one core", "-", f"{cluster.cpu['redis'] / cluster.window * 100:.1f}"),
        ("Lost / duplicated events per viewer (max)", f"{s['lost_max']} / {s['duplicates_max']}",
         f"{c['lost_max']} / {c['duplicates_max']}"),
        (f"Takeover after kill -9, to lease (median / worst of {len(cluster.lease_ms)})", "-",
         ms(cluster.lease_ms)),
        ("Takeover after kill -9, to the new upstream at Burki (median / worst)", "-",
         ms(cluster.upstream_ms)),
    ]  # fmt: skip
    lines = [
        "## Cluster: three nodes on Redis, the same live load",
        "",
        f"- load average at the end of the cluster run: {cluster.load}",
        "",
        "| metric | one node | three nodes on Redis |",
        "| --- | ---: | ---: |",
        *(f"| {a} | {b} | {c_} |" for a, b, c_ in rows),
    ]
    return "\n".join(lines)
