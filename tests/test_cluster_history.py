"""The history in a cluster: each stream's records are written by the node that holds it,
once, and the node that takes a stream over records the rest."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.cluster import flush, nodes, redis_module
from tests.live import LiveApp, Viewer, is_event
from tests.redisserver import RedisServer
from webapp.access.users import Role
from webapp.history.keeper import Keeper
from webapp.simulator import Simulator
from webapp.store.history import AlertFilter
from webapp.wire.streamkey import StreamKey

__all__ = ["redis_module"]

RULES = {"alert_keywords": "lawyer:high, manager:medium"}


@pytest.fixture
def server(redis_module: RedisServer) -> Iterator[RedisServer]:
    flush(redis_module)
    yield redis_module


def keeper(node: LiveApp) -> Keeper:
    found = node.state.history
    assert found is not None
    return found


async def test_each_record_is_written_once_by_the_holder_and_the_next_holder_goes_on(
    sim: Simulator, server: RedisServer
) -> None:
    sid = sim.add_call(assistant_name="Billing bot")
    key = StreamKey.call(sid)
    async with (
        nodes(sim, server, 2, **RULES) as (a, b),
        httpx.AsyncClient(
            headers={"Authorization": f"Bearer {await a.token(Role.ADMIN)}"}, timeout=10
        ) as client,
    ):
        viewers = [Viewer(n.url, f"/api/calls/{sid}/events").start(client) for n in (a, b)]
        for viewer in viewers:
            await viewer.wait_for(is_event("snapshot"))
        await sim.wait_for_connections(str(key), 1)
        sim.add_segment(sid, "user", "My lawyer will hear about this.")
        for viewer in viewers:
            await viewer.wait_for(is_event("alert"))
        holder, other = (a, b) if a.hub.streams[key].runs_upstream else (b, a)
        for node in (a, b):
            await keeper(node).recorder.drained()
        assert keeper(holder).recorder.written == 1
        assert keeper(other).recorder.written == 0  # it follows the call, but does not write

        await viewers[0 if holder is a else 1].stop()
        await holder.hub.close()  # the holder leaves: the other node takes the call over
        stays = viewers[1 if holder is a else 0]
        sim.add_segment(sid, "user", "Then let me talk to your manager.")
        await stays.wait_for(lambda e: e.event == "alert" and "manager" in e.data, timeout=10)
        sim.set_call_status(sid, "completed")
        await stays.wait_for(is_event("end"), timeout=10)
        await stays.stop()
        await keeper(other).recorder.drained()
        rows = keeper(other).rows
        now = datetime.now(UTC)
        found = await rows.alerts(AlertFilter(now - timedelta(hours=1), now + timedelta(hours=1)))
        assert sorted(a.severity for a in found) == ["high", "medium"]
        summary = await rows.call(sid)
        assert summary is not None and summary.alerts == 2 and summary.assistant == "Billing bot"
