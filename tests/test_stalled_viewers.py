"""A viewer that stops reading never delays the others, and is cut (issue 20, item 1).

Over real sockets: a stalled viewer's receive buffer is 4 KiB and it reads nothing
more, and the simulator bursts segments at its own pace (all at once, or 1,000 a
second), never in step with a reader. The kernel takes about 3 MB for such a socket
before the dashboard's own buffer fills, so the bursts carry more than that.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cluster import flush, nodes, redis_module
from tests.live import LiveApp, running_app
from tests.rawviewers import (
    RawViewer,
    bearer,
    big_segment,
    cookie_of,
    cut,
    mark,
    server_ports,
    until,
)
from tests.redisserver import RedisServer
from webapp.access.users import Role
from webapp.cluster.bus import Bus, Entry
from webapp.simulator import Simulator
from webapp.wire.streamkey import StreamKey

__all__ = ["redis_module"]  # the module's redis-server fixture

BIG = 300  # segments of ~16 KB: about 5 MB for every viewer
SHORT = 100
EVERYTHING = list(range(BIG + SHORT))
ROOM = {"dashboard_streams_per_session": 100, "relay_stall_timeout": 1.0}


def paths(sid: str, other: str) -> dict[str, str]:
    """A JSON stream, a multiplexed one (two calls on one connection), an HTML page's."""
    return {
        "json": f"/api/calls/{sid}/events",
        "multiplexed": f"/api/events?call={other}&call={sid}",
        "html": f"/live/call/call/{sid}",
    }


async def watched_by(live: LiveApp, sid: str, count: int) -> None:
    def watching() -> int:
        stream = live.hub.streams.get(StreamKey.call(sid))
        return 0 if stream is None else stream.viewer_count

    await until(lambda: watching() >= count, 10, f"{count} viewers")


def stall_cuts(metrics: str) -> float:
    lines = [line for line in metrics.splitlines() if line.startswith("burki_live_viewer_cuts")]
    return sum(float(line.split()[-1]) for line in lines if "_total{" in line)


async def say_the_burst(sim: Simulator, sid: str, per_second: float | None) -> None:
    """BIG segments of ~16 KB at ``per_second``, then SHORT short ones at 100 a second."""
    await sim.burst(sid, [big_segment(n) for n in range(BIG)], per_second)
    await sim.burst(sid, [f"{mark(n)} short" for n in range(BIG, BIG + SHORT)], 100)


@pytest.mark.timeout(240)
async def test_a_stalled_viewer_never_delays_healthy_ones(sim: Simulator) -> None:
    """Five healthy JSON viewers and a stalled one, as reported; beside them, the same
    on the multiplexed stream and an HTML page's stream. One burst feeds them all."""
    sid, other = sim.add_call(), sim.add_call()
    async with running_app(sim, **ROOM) as live, live.client(timeout=10) as client:
        cookie = cookie_of(client)
        healthy: dict[str, list[RawViewer]] = {}
        stalled: list[RawViewer] = []
        for kind, path in paths(sid, other).items():
            count = 5 if kind == "json" else 2
            healthy[kind] = [await RawViewer(live.url, path, cookie).open() for _ in range(count)]
            stall = RawViewer(live.url, path, cookie, rcvbuf=4096, stall_after=-1)
            stalled.append(await stall.open())
        await watched_by(live, sid, 12)
        await sim.wait_for_connections(f"call:{sid}", 1)
        await say_the_burst(sim, sid, None)
        for kind, viewers in healthy.items():
            for viewer in viewers:
                await viewer.wait_for(EVERYTHING[-1], timeout=120)
                assert viewer.in_order() == EVERYTHING, kind
        for viewer in stalled:
            await cut(live, viewer)
        assert stall_cuts((await client.get(f"{live.url}/metrics")).text) >= len(stalled)
        held = server_ports(live)
        assert all(viewer.local_port in held for viewers in healthy.values() for viewer in viewers)
        for viewer in [*stalled, *(v for viewers in healthy.values() for v in viewers)]:
            await viewer.close()


async def test_a_viewer_that_stops_reading_is_cut_even_when_the_call_falls_silent(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Bytes its socket would not take wait in the server, below any high-water mark,
    and no frame follows them: the stall is found and cut all the same (an ordinary
    event: nothing is logged as an error)."""
    sid = sim.add_call()
    async with running_app(sim, **ROOM) as live, live.client(timeout=10) as client:
        path = f"/api/calls/{sid}/events"
        healthy = await RawViewer(live.url, path, cookie_of(client)).open()
        stalled = await RawViewer(
            live.url, path, cookie_of(client), rcvbuf=4096, stall_after=-1
        ).open()
        await watched_by(live, sid, 2)
        await sim.wait_for_connections(f"call:{sid}", 1)
        n = 0
        while not _unsent_for(live, stalled.local_port):  # one at a time, in step
            sim.add_segment(sid, "user", big_segment(n))
            await healthy.wait_for(n)
            n += 1
        await cut(live, stalled)
        assert healthy.local_port in server_ports(live)
        await healthy.close()
        await stalled.close()
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_call_that_ended_while_the_upstream_was_down_reaches_every_viewer_whole(
    sim: Simulator,
) -> None:
    """Burki's REST transcript of an ended call, read after a reconnect, may hold
    hundreds of segments the stream lacks: they reach the viewers in order, then the end."""
    sid = sim.add_call()
    async with running_app(sim, **ROOM) as live, live.client(timeout=10) as client:
        path = f"/api/calls/{sid}/events"
        viewers = [await RawViewer(live.url, path, cookie_of(client)).open() for _ in range(3)]
        await watched_by(live, sid, 3)
        await sim.wait_for_connections(f"call:{sid}", 1)
        await sim.drop(f"call:{sid}")
        for n in range(BIG):  # said and stored while the dashboard was away
            sim.add_segment(sid, "user", f"{mark(n)} said while you were away")
        sim.set_call_status(sid, "completed")
        for viewer in viewers:
            await viewer.wait_for(BIG - 1, timeout=60)
            assert viewer.in_order() == list(range(BIG))
            await viewer.close()


async def test_a_burst_slower_to_read_than_the_pong_timeout_keeps_its_upstream(
    sim: Simulator,
) -> None:
    """Burki's pong waits behind the burst it sent first: the frames read meanwhile
    answer for the handler, so the socket is not dropped (and the transcript replayed)."""
    sid = sim.add_call()
    # Burki's JSON pong, not websockets' own ping (its pong waits behind the burst too,
    # for up to BURKI_PING_TIMEOUT, 20 s by default).
    quick_pong = {
        "burki_keepalive_interval": 0.1,
        "burki_pong_timeout": 0.2,
        "burki_ping_timeout": 30.0,
    }
    async with running_app(sim, **ROOM, **quick_pong) as live, live.client(timeout=10) as client:
        viewer = await RawViewer(live.url, f"/api/calls/{sid}/events", cookie_of(client)).open()
        await watched_by(live, sid, 1)
        await sim.wait_for_connections(f"call:{sid}", 1)
        await sim.burst(sid, [big_segment(n) for n in range(100)])  # seconds of reading
        await viewer.wait_for(99, timeout=60)
        assert viewer.in_order() == list(range(100))
        assert sim.connections_total(f"call:{sid}") == 1
        await viewer.close()


def _unsent_for(live: LiveApp, port: int) -> int:
    """Bytes the dashboard holds for the viewer on ``port`` that its socket did not take."""
    for proto in live.server.server_state.connections:
        if proto.client and proto.client[1] == port:
            return int(proto.transport.get_write_buffer_size())
    raise AssertionError("the viewer's connection is gone")


@st.composite
def audiences(draw: st.DrawFn) -> list[int | None]:
    """After which segment each viewer stalls (-1: before any; None: it reads to the end);
    one at least reads to the end."""
    viewers = draw(st.lists(st.none() | st.integers(-1, 40), min_size=2, max_size=5))
    return viewers if None in viewers else [*viewers, None]


@pytest.mark.timeout(300)
@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    audience=audiences(),
    kind=st.sampled_from(["json", "multiplexed", "html"]),
    rate=st.sampled_from([None, 1000.0]),
    rcvbuf=st.sampled_from([4096, 16_384]),
)
async def test_whoever_stalls_and_whenever_every_reader_gets_every_segment_in_order(
    sim: Simulator, audience: list[int | None], kind: str, rate: float | None, rcvbuf: int
) -> None:
    sid, other = sim.add_call(), sim.add_call()
    # What is shown is not what this is about: the redaction's cost is left out.
    async with (
        running_app(sim, redaction_enabled=False, **ROOM) as live,
        live.client(timeout=10) as client,
    ):
        path = paths(sid, other)[kind]
        viewers = [
            await RawViewer(
                live.url, path, cookie_of(client), rcvbuf=rcvbuf, stall_after=after
            ).open()
            for after in audience
        ]
        await watched_by(live, sid, len(viewers))
        await sim.wait_for_connections(f"call:{sid}", 1)
        await say_the_burst(sim, sid, rate)
        for viewer in viewers:
            if viewer.stall_after is None:
                await viewer.wait_for(EVERYTHING[-1], timeout=120)
                assert viewer.in_order() == EVERYTHING
            else:
                got = viewer.in_order()
                assert got == EVERYTHING[: len(got)]
        for viewer in viewers:
            if viewer.stall_after is not None:
                await cut(live, viewer)
            await viewer.close()


@pytest.fixture
def server(redis_module: RedisServer) -> Iterator[RedisServer]:
    flush(redis_module)
    yield redis_module


class Gated:
    """A node's shared-log reads held back until ``gate`` opens: a node that fell behind
    (a busy loop, a slow link to Redis) then reads its backlog in one batch."""

    def __init__(self, bus: Bus, gate: asyncio.Event) -> None:
        self.bus = bus
        self.gate = gate

    def __getattr__(self, name: str) -> Any:
        return getattr(self.bus, name)

    async def read(self, stream: str, after: str) -> list[Entry]:
        await self.gate.wait()
        return await self.bus.read(stream, after)


@pytest.mark.timeout(240)
async def test_a_node_that_reads_a_backlog_in_one_batch_still_delivers_every_segment(
    sim: Simulator, server: RedisServer
) -> None:
    """The node that does not hold the upstream feeds the shared log's inputs in
    batches (up to 500): its viewers get every segment too, in order, and its
    stalled viewer is cut."""
    sid = sim.add_call()
    key = StreamKey.call(sid)
    room = {**ROOM, "redaction_enabled": False, "dashboard_streams_per_user": 100}
    async with nodes(sim, server, count=2, **room) as cluster:
        auth = bearer(await cluster[0].token(Role.ADMIN))
        path = f"/api/calls/{sid}/events"
        healthy = [await RawViewer(node.url, path, auth).open() for node in cluster * 2]
        stalled = [
            await RawViewer(node.url, path, auth, rcvbuf=4096, stall_after=-1).open()
            for node in cluster
        ]
        for node in cluster:
            await watched_by(node, sid, 3)
        await sim.wait_for_connections(f"call:{sid}", 1)
        holder = next(node for node in cluster if node.hub.streams[key].runs_upstream)
        behind = next(node for node in cluster if node is not holder)
        link = behind.hub.streams[key].link
        assert link is not None
        gate = asyncio.Event()
        link.bus = Gated(link.bus, gate)  # type: ignore[assignment]
        await say_the_burst(sim, sid, None)
        for viewer in healthy:
            if holder.url.endswith(f":{viewer.port}"):
                await viewer.wait_for(EVERYTHING[-1], timeout=120)
        gate.set()
        for viewer in healthy:
            await viewer.wait_for(EVERYTHING[-1], timeout=120)
            assert viewer.in_order() == EVERYTHING
        for node, viewer in zip(cluster, stalled, strict=True):
            await cut(node, viewer)
        for viewer in [*healthy, *stalled]:
            await viewer.close()
