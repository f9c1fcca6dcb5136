"""Health and claims on two nodes sharing Redis: the same frames under the same ids."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis
from httpx_sse import ServerSentEvent

from tests.cluster import flush, nodes, redis_module
from tests.live import LiveApp, Viewer, data, has_segment, is_event, is_live
from tests.redisserver import RedisServer
from tests.test_cluster_nodes import holder_of
from tests.test_health_live import csrf_of, metrics_with
from webapp.access.users import Role
from webapp.simulator import Simulator

__all__ = ["redis_module"]  # the module's redis-server fixture


@pytest.fixture
def server(redis_module: RedisServer) -> Iterator[RedisServer]:
    flush(redis_module)
    yield redis_module


ALARM = metrics_with(lambda d: d["silence"]["level"] == "alarm")


async def test_dead_air_is_announced_once_under_one_id_on_every_node(
    sim: Simulator, server: RedisServer
) -> None:
    """The first viewer sees the dead air since the call's start announced live; the
    second comes after it (as on a loaded machine, where this test once compared that
    frame with the next alarm: '-3' against '-7'), so its snapshot holds it. The alarm
    after the greeting has one id on both nodes, and so has every frame both received."""
    sid = sim.add_call()
    quick = {"health_silence_warn": 0.3, "health_silence_alarm": 0.6}
    async with nodes(sim, server, 2, **quick) as (a, b):
        headers = {"Authorization": f"Bearer {await a.token(Role.ADMIN)}"}
        async with httpx.AsyncClient(timeout=10, headers=headers) as client:
            first = Viewer(a.url, f"/api/calls/{sid}/events").start(client)
            early = await first.wait_for(ALARM)  # nothing said since the call's start
            second = Viewer(b.url, f"/api/calls/{sid}/events").start(client)
            viewers = [first, second]
            snapshot = await second.wait_for(is_event("snapshot"))
            assert seq(snapshot.id) >= seq(early.id)  # it holds the early alarm
            await second.wait_for(is_live)
            sim.add_segment(sid, "assistant", "Hello, how can I help?")
            greeted = [await v.wait_for(has_segment("Hello, how can I help?")) for v in viewers]
            assert greeted[0].id == greeted[1].id
            marks = [await v.wait_for(after(greeted[0].id, ALARM)) for v in viewers]
            assert marks[0].id == marks[1].id and marks[0].data == marks[1].data
            assert same_frames_under_same_ids(*viewers)
            for viewer in viewers:
                await viewer.stop()


def after(mark: str, check: Callable[[ServerSentEvent], bool]) -> Any:
    """A ``wait_for`` predicate: an event after the frame ``mark`` that passes ``check``."""
    return lambda event: bool(event.id) and seq(event.id) > seq(mark) and check(event)


def seq(event_id: str) -> int:
    """A frame's number under its stream's epoch (``<epoch>-<seq>``; one epoch here)."""
    return int(event_id.rpartition("-")[2])


def same_frames_under_same_ids(*viewers: Viewer) -> bool:
    """Every id that more than one viewer received names the same frame (type and data);
    snapshots are left out: they carry each node's own connection state."""
    seen: dict[str, tuple[str, str]] = {}
    framed = [e for v in viewers for e in v.events if e.id and e.event != "snapshot"]
    for event in framed:
        if seen.setdefault(event.id, (event.event, event.data)) != (event.event, event.data):
            return False
    return True


async def test_a_claim_on_either_node_shows_once_on_every_node_under_one_id(
    sim: Simulator, server: RedisServer
) -> None:
    """A claim made on the node that does not hold the call is asked of the holder, which
    publishes it: every viewer on every node sees it once, under one id."""
    sid = sim.add_call()
    async with nodes(sim, server, 2) as (a, b):
        headers = {"Authorization": f"Bearer {await a.token(Role.ADMIN)}"}
        async with httpx.AsyncClient(timeout=10, headers=headers) as client:
            viewers = [Viewer(n.url, f"/api/calls/{sid}/events").start(client) for n in (a, b)]
            for viewer in viewers:
                await viewer.wait_for(is_live)
            name = await holder_of(server, f"call:{sid}")
            holder, other = (a, b) if name == "node-1" else (b, a)
            assert await post_claim(holder, Role.SUPERVISOR, sid, "claim") == 204
            claims = [await v.wait_for(is_event("claim")) for v in viewers]
            assert claims[0].id == claims[1].id and claims[0].data == claims[1].data
            assert await post_claim(other, Role.ADMIN, sid, "claim") == 204  # takes it over
            taken = is_event("claim", took_over_from="test-supervisor")
            overs = [await v.wait_for(taken) for v in viewers]
            assert overs[0].id == overs[1].id and overs[0].data == overs[1].data
            assert data(overs[0])["claim"]["by"] == "test-admin"
            # Refused where it is asked, with the reason: nothing is published.
            assert await post_claim(other, Role.SUPERVISOR, sid, "ack") == 409
            sim.add_segment(sid, "user", "after the claims")
            for viewer in viewers:
                await viewer.wait_for(has_segment("after the claims"))
                assert [e.event for e in viewer.events].count("claim") == 2  # each once
                await viewer.stop()


async def post_claim(node: LiveApp, role: Role, sid: str, action: str) -> int:
    """POST a claim action to ``node`` as a user of ``role`` (as the call page's button does)."""
    async with node.client(role, timeout=10) as person:
        token = await csrf_of(node, person, sid)
        done = await person.post(
            f"{node.url}/calls/{sid}/claim",
            data={"action": action, "csrf": token},
            headers={"HX-Request": "true"},
        )
        return done.status_code


async def test_a_claim_on_a_holder_whose_lease_just_moved_is_asked_of_the_next_not_a_500(
    sim: Simulator, server: RedisServer
) -> None:
    """Under load a holder can miss its lease's renewal: its next publish is fenced off
    before it noticed. A claim made there in that moment was a 500; it is asked of
    whichever node holds the stream next."""
    sid = sim.add_call()
    slow = {"dashboard_lease_seconds": 30.0}  # the holder notices the theft 10 s later
    async with nodes(sim, server, 2, **slow) as (a, b):
        headers = {"Authorization": f"Bearer {await a.token(Role.ADMIN)}"}
        async with httpx.AsyncClient(timeout=10, headers=headers) as client:
            viewer = Viewer(a.url, f"/api/calls/{sid}/events").start(client)
            await viewer.wait_for(is_live)
            await viewer.wait_for(lambda e: e.event == "call_status")  # the upstream is idle
            name = await holder_of(server, f"call:{sid}")
            holder = a if name == "node-1" else b
            async with holder.client(Role.SUPERVISOR, timeout=10) as person:
                token = await csrf_of(holder, person, sid)
                with redis.Redis.from_url(server.url) as store:  # another node's lease now
                    store.set(f"burki:lease:call:{sid}", "node-9:stolen", px=30_000)
                done = await person.post(
                    f"{holder.url}/calls/{sid}/claim",
                    data={"action": "claim", "csrf": token},
                    headers={"HX-Request": "true"},
                )
            assert done.status_code == 204
            await viewer.stop()
