"""Real node processes on a real Redis behind a real HAProxy: kill -9 the holder, lose nothing."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis
from httpx_sse import ServerSentEvent, aconnect_sse

from tests.cluster import balanced_nodes, cluster_database, flush, redis_module, token_in
from tests.live import SESSION_SECRET, placed
from tests.redisserver import RedisServer, free_port
from webapp.access.users import Role
from webapp.simulator import Simulator

__all__ = ["redis_module"]

VIEWERS = 60


@dataclass
class Resuming:
    """An SSE viewer that reconnects through the balancer with its Last-Event-ID, as browsers do."""

    url: str
    events: list[ServerSentEvent] = field(default_factory=list)
    last_id: str | None = None
    reconnects: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, client: httpx.AsyncClient) -> None:
        while True:
            headers = {"Last-Event-ID": self.last_id} if self.last_id else {}
            try:
                async with aconnect_sse(client, "GET", self.url, headers=headers) as source:
                    source.response.raise_for_status()
                    async for event in source.aiter_sse():
                        self.events.append(event)
                        if event.id:
                            self.last_id = event.id
                        self.changed.set()
            except httpx.HTTPError:
                pass
            self.reconnects += 1
            await asyncio.sleep(0.05)

    async def wait_for_lines(self, lines: list[str], timeout: float) -> None:
        """Until every one of ``lines`` was shown, wherever (not "the last one came": after a
        takeover Burki's replay can bring a live line before older ones it replays)."""
        wanted = set(lines)
        async with asyncio.timeout(timeout):
            while not wanted <= set(placed(self.events)):
                self.changed.clear()
                await self.changed.wait()


@dataclass
class Talk:
    """A call saying numbered lines, the caller and the assistant in turn (its ``lines``,
    in the order said)."""

    sim: Simulator  # the call's world (an organisation's, for another organisation's call)
    sid: str
    prefix: str = "line"
    lines: list[str] = field(default_factory=list)

    def say(self) -> None:
        self.lines.append(f"{self.prefix} {len(self.lines)}")
        speaker = "user" if len(self.lines) % 2 else "assistant"
        self.sim.add_segment(self.sid, speaker, self.lines[-1])


async def talk(count: int, *calls: Talk) -> None:
    """``count`` lines from each of ``calls``, a line each every 0.05 s."""
    for _ in range(count):
        for call in calls:
            call.say()
        await asyncio.sleep(0.05)


async def holder_of(server: RedisServer, key: str, timeout: float = 10.0) -> str:
    """The node that holds ``key``'s lease (awaited: after a kill nobody may, for a while)."""
    async with asyncio.timeout(timeout):
        while True:
            with redis.Redis.from_url(server.url, decode_responses=True) as client:
                value = client.get(f"burki:lease:{key}")
            if isinstance(value, str):
                return value.rpartition(":")[0]
            await asyncio.sleep(0.05)


async def test_kill_9_of_the_lease_holder_twice_loses_and_repeats_no_line(
    sim: Simulator, redis_module: RedisServer
) -> None:
    flush(redis_module)
    call = Talk(sim, sim.add_call())
    sid, key, lines = call.sid, f"call:{call.sid}", call.lines

    database = cluster_database()
    token = await token_in(database, "viewers", Role.ADMIN)
    with tempfile.TemporaryDirectory() as folder:
        async with balanced_nodes(sim, redis_module, Path(folder), database) as (url, processes):
            auth = {"Authorization": f"Bearer {token}"}
            limits = httpx.Limits(max_connections=VIEWERS * 2)
            async with httpx.AsyncClient(headers=auth, timeout=10, limits=limits) as client:
                viewers = [Resuming(f"{url}/api/calls/{sid}/events") for _ in range(VIEWERS)]
                tasks = [asyncio.create_task(v.run(client)) for v in viewers]
                try:
                    await talk(5, call)
                    for viewer in viewers:
                        await viewer.wait_for_lines(lines, timeout=20)
                    # 60 viewers, 3 nodes, 1 upstream at a time (a reconnect is not a second)
                    assert sim.connections_peak(key) == 1
                    killed = []
                    for _ in range(2):
                        name = await holder_of(redis_module, key)
                        processes[name].process.kill()  # SIGKILL: no goodbye, no hand-over
                        killed.append(name)
                        await asyncio.to_thread(processes[name].process.wait, 10)
                        await talk(30, call)  # the call goes on through the takeover
                    # A lost line times out here; a repeated or misplaced one fails below.
                    for viewer in viewers:
                        await viewer.wait_for_lines(lines, timeout=30)
                    for viewer in viewers:
                        assert placed(viewer.events) == lines  # 0 lost, 0 duplicated
                    assert len(set(killed)) == 2
                    await sim.wait_for_connections(key, 1, timeout=10)  # one upstream again
                    moved = [v for v in viewers if v.reconnects > 0]
                    assert moved, "no viewer was on a killed node"
                    # They resumed on another node from their own ids: no reset, no snapshot.
                    assert not [e for v in moved for e in v.events if e.event == "reset"]
                    assert all([e.event for e in v.events].count("snapshot") == 1 for v in moved)
                    saw = [
                        v
                        for v in viewers
                        if any(e.event == "status" and '"reconnecting"' in e.data for e in v.events)
                    ]
                    assert saw, "nobody was told the stream was reconnecting"
                finally:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)


def run_node(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    binary = str(Path(sys.executable).parent / "burki-dashboard")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BURKI_", "DASHBOARD_"))}
    base.pop("REDIS_URL", None)
    return subprocess.run(
        [binary, "run"], env=base | env, capture_output=True, text=True, timeout=30
    )


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"DASHBOARD_SESSION_SECRET": SESSION_SECRET}, "Redis does not answer"),
        ({}, "needs DASHBOARD_SESSION_SECRET"),
    ],
    ids=["redis-silent", "no-shared-secret"],
)
def test_an_impossible_cluster_is_refused_at_start_in_one_line(
    env: dict[str, str], says: str
) -> None:
    silent = f"redis://127.0.0.1:{free_port()}/0"
    done = run_node({"REDIS_URL": silent, "BURKI_API_KEY": "k", **env})
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], done.stderr
