"""Webhooks across a takeover, on a real Redis with a real receiver: at least once, keyed by
the event id, and nothing delivered before the hand-over posted again."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from tests import configs
from tests.cluster import (
    LEASE,
    NodeProcess,
    balanced_nodes,
    cluster_database,
    flush,
    nodes,
    redis_module,
    token_in,
)
from tests.live import SESSION_SECRET, LiveApp, Viewer, data, is_event, is_live
from tests.receiver import HANG, Receiver, receiving
from tests.redisserver import RedisServer
from tests.test_alerts_live import ANGRY, SECRET, endpoints
from tests.test_cluster import bearer
from tests.test_cluster_nodes import Resuming, holder_of
from webapp.access.users import Role
from webapp.alerts.endpoints import Endpoint
from webapp.alerts.marks import resume
from webapp.alerts.webhooks import WebhookDispatcher
from webapp.cluster.bus import Bus
from webapp.cluster.marks import RedisMarks
from webapp.relay.ports import Mark, Outgoing
from webapp.simulator import Simulator
from webapp.wire.streamkey import StreamKey

CA1 = StreamKey.call("CA1")

__all__ = ["redis_module"]

EVENT_ID = "x-burki-live-event-id"


@pytest.fixture
def server(redis_module: RedisServer) -> Iterator[RedisServer]:
    flush(redis_module)
    yield redis_module


@asynccontextmanager
async def two_nodes(
    sim: Simulator, server: RedisServer, receiver: Receiver, sid: str, *events: str
) -> AsyncIterator[tuple[list[LiveApp], list[Viewer]]]:
    """Two nodes posting ``events`` to ``receiver``, a live viewer of call ``sid`` on each."""
    hooks = {"webhook_endpoints": endpoints(receiver.url, *events)}
    async with (
        nodes(sim, server, 2, **hooks) as cluster,
        bearer(await cluster[0].token(Role.ADMIN)) as client,
    ):
        viewers = [Viewer(n.url, f"/api/calls/{sid}/events").start(client) for n in cluster]
        try:
            for viewer in viewers:
                await viewer.wait_for(is_live)
            yield cluster, viewers
        finally:
            for viewer in viewers:
                await viewer.stop()


def shown_alerts(viewer: Viewer, count: int) -> Callable[[object], bool]:
    return lambda _: [e.event for e in viewer.events].count("alert") >= count


async def alert_ids(viewers: list[Viewer], sid: str, count: int) -> list[str]:
    """The event ids of the call's first ``count`` alerts, once every viewer (so every
    node) derived them."""
    for viewer in viewers:
        await viewer.wait_for(shown_alerts(viewer, count))
    alerts = [data(e) for e in viewers[0].events if e.event == "alert"][:count]
    return [f"call:{sid}/{alert['id']}" for alert in alerts]


def holder_first(cluster: list[LiveApp], sid: str) -> list[LiveApp]:
    return sorted(cluster, key=lambda n: not n.hub.streams[StreamKey.call(sid)].runs_upstream)


async def killed(node: LiveApp, viewer: Viewer) -> None:
    """``node`` is gone as a kill -9 leaves it: what it had queued or in flight is never
    posted, and its lease goes (here at once rather than when it runs out)."""
    await viewer.stop()
    assert node.state.webhooks is not None
    await node.state.webhooks.close()
    await node.hub.close()


def posted_ids(receiver: Receiver) -> list[str]:
    return [r.headers[EVENT_ID] for r in receiver.requests]


async def test_an_alert_the_killed_holder_had_not_delivered_is_posted_by_the_next_holder(
    sim: Simulator, server: RedisServer
) -> None:
    """The holder's first POST never gets an answer and a second alert waits behind it;
    the holder dies. The node that takes the call over posts both, under their ids."""
    sid = sim.add_call()
    async with (
        receiving() as receiver,
        two_nodes(sim, server, receiver, sid, "alert") as (cluster, seen),
    ):
        receiver.plan.append(HANG)
        sim.add_segment(sid, "user", ANGRY[0])
        first = (await receiver.wait_for(1))[0]
        assert first.json["type"] == "alert"
        sim.add_segment(sid, "user", ANGRY[1])
        ids = await alert_ids(seen, sid, 2)  # queued behind the hung POST on the holder
        assert first.headers[EVENT_ID] == ids[0]
        holder, other = holder_first(cluster, sid)
        await killed(holder, seen[cluster.index(holder)])
        await receiver.wait_for(3, timeout=10)
        assert other.state.webhooks is not None
        await other.state.webhooks.wait_idle()
        assert posted_ids(receiver) == [ids[0], ids[0], ids[1]]  # the lost POST, then both
        assert [r.json["id"] for r in receiver.requests[1:]] == ids
        assert other.state.webhooks.totals()["lost"] == 0


async def test_events_delivered_before_a_takeover_are_not_posted_again(
    sim: Simulator, server: RedisServer
) -> None:
    """The next holder keeps every frame the old one posted, but posts only what followed
    the shared delivery mark: here the alert in flight when the holder died, once more."""
    sid = sim.add_call()
    async with (
        receiving() as receiver,
        two_nodes(sim, server, receiver, sid, "alert", "call_status") as (cluster, seen),
    ):
        holder, other = holder_first(cluster, sid)
        sim.add_segment(sid, "user", ANGRY[0])
        delivered = (await alert_ids(seen, sid, 1))[0]
        assert holder.state.webhooks is not None
        await holder.state.webhooks.wait_idle()  # posted, answered, marked
        before = len(receiver.requests)
        assert delivered in posted_ids(receiver)
        receiver.plan.append(HANG)
        sim.add_segment(sid, "user", ANGRY[1])
        in_flight = (await alert_ids(seen, sid, 2))[1]
        await receiver.wait_for(before + 1)
        await killed(holder, seen[cluster.index(holder)])
        await receiver.wait_for(before + 2, timeout=10)
        sim.set_call_status(sid, "completed")
        await seen[cluster.index(other)].wait_for(is_event("end"), timeout=10)
        assert other.state.webhooks is not None
        await other.state.webhooks.wait_idle()
    counts = Counter(posted_ids(receiver))
    assert counts[in_flight] == 2 and counts[delivered] == 1, counts
    assert [i for i, n in counts.items() if n > 1] == [in_flight], counts  # no other repeat
    statuses = [
        r.json["data"]["status"] for r in receiver.requests if r.json["type"] == "call_status"
    ]
    assert statuses[-1] == "completed"  # the new holder posts what comes after, too


def outgoing(route: str, n: int, epoch: str = "e1") -> Outgoing:
    alert = {"id": f"a{n}", "kind": "keyword", "severity": "high", "message": "(text)"}
    return Outgoing(f"call:CA1/a{n}", "alert", alert, epoch, ((route, n),))


async def test_what_a_takeover_finds_neither_delivered_nor_kept_is_counted_and_logged(
    server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The old holder delivered frame 2; the new one keeps frames 5 and 6 only: it posts
    those, and counts and logs 3 and 4 as lost (no event's content in the line)."""
    bus = Bus(
        Redis.from_url(server.url, decode_responses=True),
        configs.bus("node-1", LEASE, secret=SESSION_SECRET),
    )
    marks = RedisMarks(bus)
    async with receiving() as receiver:
        route = Endpoint(receiver.url, SECRET)
        dispatcher = WebhookDispatcher([route], marks=marks)
        dispatcher.start()
        (lane,) = dispatcher.routes(CA1, "alert", outgoing("", 1).data)
        await marks.advance(CA1, lane, Mark("e1", 2))
        kept = [outgoing(lane, 5), outgoing(lane, 6)]
        with caplog.at_level(logging.WARNING):
            await dispatcher.take_over(CA1, kept, {lane: 6})
        await dispatcher.wait_idle()
        await dispatcher.close()
    assert posted_ids(receiver) == ["call:CA1/a5", "call:CA1/a6"]
    assert dispatcher.totals()["lost"] == 2
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("webapp")]
    assert any("2 event(s) of call:CA1" in line for line in lines), lines
    assert not any("(text)" in line for line in lines)
    assert await marks.marks(CA1) == {lane: Mark("e1", 6)}
    await bus.close()


async def test_a_delivery_mark_only_moves_forward_and_expires_with_the_streams_inputs(
    server: RedisServer,
) -> None:
    bus = Bus(
        Redis.from_url(server.url, decode_responses=True),
        configs.bus("node-1", LEASE, secret=SESSION_SECRET),
    )
    marks, ca2 = RedisMarks(bus), StreamKey.call("CA2")
    stream = str(ca2)  # its name in the store
    lease = await bus.tick(stream, None)
    assert await bus.publish(stream, lease.value, "{}")
    await marks.advance(ca2, "r", Mark("e1", 4))
    await marks.advance(ca2, "r", Mark("e1", 3))  # a lagging holder: ignored
    assert await marks.marks(ca2) == {"r": Mark("e1", 4)}
    await marks.advance(ca2, "r", Mark("e2", 1))  # another epoch: its own count
    assert await marks.marks(ca2) == {"r": Mark("e2", 1)}
    key = "burki:sent:" + stream
    assert 0 < await bus.redis.pttl(key) <= bus.retention_ms
    await bus.expire(stream, 2)  # the stream ended: its keys go, the marks with them
    assert 0 < await bus.redis.pttl(key) <= 2000
    await marks.advance(ca2, "r", Mark("e2", 2))  # a delivery after the end
    assert 0 < await bus.redis.pttl(key) <= 2000  # follows the inputs: not renewed
    await bus.close()


async def test_one_call_ids_delivery_marks_in_two_orgs_are_apart(server: RedisServer) -> None:
    bus = Bus(
        Redis.from_url(server.url, decode_responses=True),
        configs.bus("node-1", LEASE, secret=SESSION_SECRET),
    )
    marks, ours, theirs = RedisMarks(bus), StreamKey.call("CA3"), StreamKey.call("CA3", "acme")
    for key in (ours, theirs):
        lease = await bus.tick(str(key), None)
        assert await bus.publish(str(key), lease.value, "{}")
    await marks.advance(theirs, "r", Mark("e1", 5))
    await marks.advance(ours, "r", Mark("e1", 2))
    assert await marks.marks(theirs) == {"r": Mark("e1", 5)}  # not moved back by ours
    assert await marks.marks(ours) == {"r": Mark("e1", 2)}
    await bus.close()


def test_a_takeover_queues_a_routes_kept_frames_after_its_mark_and_counts_the_gap() -> None:
    kept = [outgoing("r", 3), outgoing("other", 9), outgoing("r", 4)]
    after = resume("r", kept, {"r": 4}, Mark("e1", 3))
    assert ([o.event_id for o in after.queue], after.lost) == (["call:CA1/a4"], 0)
    nothing_yet = resume("r", kept, {"r": 4}, None)  # frames 1 and 2 are no longer kept
    assert ([o.event_id for o in nothing_yet.queue], nothing_yet.lost) == (
        ["call:CA1/a3", "call:CA1/a4"],
        2,
    )
    gone = resume("r", [outgoing("other", 9)], {"r": 7}, Mark("e1", 5))
    assert (gone.queue, gone.lost) == ([], 2)
    renumbered = resume("r", kept, {"r": 4}, Mark("e0", 50))  # cannot compare: all again
    assert (len(renumbered.queue), renumbered.lost) == (2, 0)


async def test_a_frame_at_or_before_the_shared_mark_is_never_posted(server: RedisServer) -> None:
    """A holder that lagged (paused, then back) still has frames queued that the next
    holder delivered: it checks the mark before each POST and skips them."""
    bus = Bus(
        Redis.from_url(server.url, decode_responses=True),
        configs.bus("node-1", LEASE, secret=SESSION_SECRET),
    )
    marks = RedisMarks(bus)
    async with receiving() as receiver:
        dispatcher = WebhookDispatcher([Endpoint(receiver.url, SECRET)], marks=marks)
        dispatcher.start()
        (lane,) = dispatcher.routes(CA1, "alert", outgoing("", 1).data)
        await marks.advance(CA1, lane, Mark("e1", 2))
        for n in (1, 2, 3):
            dispatcher.send(CA1, outgoing(lane, n))
        await dispatcher.wait_idle()
        await dispatcher.close()
    assert posted_ids(receiver) == ["call:CA1/a3"]
    assert dispatcher.totals()["duplicates"] == 2
    await bus.close()


def alerts_of(viewer: Resuming) -> list[str]:
    return [str(data(e)["id"]) for e in viewer.events if e.event == "alert"]


async def shows_alerts(viewer: Resuming, count: int, timeout: float = 20) -> None:
    """Until ``viewer`` is attached and has been sent ``count`` alerts as events."""
    async with asyncio.timeout(timeout):
        while not viewer.events or len(set(alerts_of(viewer))) < count:
            viewer.changed.clear()
            await viewer.changed.wait()


async def queued(client: httpx.AsyncClient, node: NodeProcess) -> float:
    """Webhooks queued or in flight on ``node``, as its /metrics says."""
    text = (await client.get(node.url + "/metrics")).text
    families = [f for f in text_string_to_metric_families(text) if f.name == "burki_live_webhook"]
    assert families, "no webhook metrics"
    return sum(s.value for s in families[0].samples if s.labels["count"] == "queued")


async def drained(client: httpx.AsyncClient, processes: list[NodeProcess]) -> None:
    """Until no live node has a webhook queued or in flight."""
    async with asyncio.timeout(20):
        for node in processes:
            while True:
                if not await queued(client, node):
                    break
                await asyncio.sleep(0.1)  # another process: nothing to await but its answer


async def test_kill_9_of_the_holder_loses_no_alert_and_repeats_only_the_one_in_flight(
    sim: Simulator, server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three node processes behind HAProxy; the holder's first POST hangs, two more alerts
    queue behind it, and the holder is killed with SIGKILL. Every alert reaches the
    receiver, each once but the one in flight, and the next holder posts new ones."""
    sid = sim.add_call()
    key = f"call:{sid}"
    async with receiving() as receiver:
        receiver.plan.append(HANG)
        monkeypatch.setenv("WEBHOOK_ENDPOINTS", endpoints(receiver.url, "alert"))
        database = cluster_database()
        token = await token_in(database, "viewers", Role.ADMIN)
        with tempfile.TemporaryDirectory() as folder:
            async with (
                balanced_nodes(sim, server, Path(folder), database) as (url, processes),
                bearer(token) as client,
            ):
                viewers = [Resuming(f"{url}/api/calls/{sid}/events") for _ in range(6)]
                tasks = [asyncio.create_task(v.run(client)) for v in viewers]
                try:
                    await sim.wait_for_connections(key, 1, timeout=20)
                    for viewer in viewers:  # attached: each alert comes as an event
                        await shows_alerts(viewer, 0)
                    sim.add_segment(sid, "user", ANGRY[0])
                    await receiver.wait_for(1, timeout=20)  # in flight: never answered
                    sim.add_segment(sid, "user", ANGRY[1])
                    sim.add_segment(sid, "user", ANGRY[2])
                    for viewer in viewers:
                        await shows_alerts(viewer, 3)
                    holder = processes[await holder_of(server, key)]
                    holder.process.kill()  # SIGKILL: its queue dies with it
                    await asyncio.to_thread(holder.process.wait, 10)
                    await receiver.wait_for(4, timeout=30)
                    sim.add_segment(sid, "user", f"{ANGRY[0]} (again)")  # after the takeover
                    for viewer in viewers:
                        await shows_alerts(viewer, 4, timeout=30)
                    await receiver.wait_for(5, timeout=30)
                    alive = [p for p in processes.values() if p is not holder]
                    await drained(client, alive)
                finally:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
    shown = {f"{key}/{alert}" for alert in alerts_of(viewers[0])}
    counts = Counter(posted_ids(receiver))
    assert shown <= set(counts), (shown, counts)  # every alert at least once
    in_flight = receiver.requests[0].headers[EVENT_ID]
    assert {i: n for i, n in counts.items() if n > 1} == {in_flight: 2}, counts
