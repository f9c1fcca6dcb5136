"""Viewers, events and streams leave no reference cycles: reference counting frees them.

The server freezes long-lived objects (``webapp/collector.py``), so a cycle that
becomes garbage waits for the next sweep: its memory grows with the traffic
between two sweeps. Each scenario runs against a real dashboard and simulator
with the cycle detector off, then counts what only the detector could free
(``tests/garbage.py``): the dashboard's share must be nothing.
"""

from __future__ import annotations

import asyncio
import heapq
import time

from tests.garbage import Garbage, cyclic_garbage
from tests.live import LiveApp, Viewer, has_segment, is_event, running_app
from webapp.access.users import Role
from webapp.simulator import Simulator

QUICK = {
    "relay_heartbeat": 0.5,  # cancelled timers leave the loop sooner (see settled)
    "relay_stall_timeout": 1.0,
    "dashboard_streams_per_session": 50,
}


async def settled(live: LiveApp, timeout: float = 10.0) -> None:
    """Wait until the server has finished with every viewer that left (its request tasks
    are done, no viewer is attached), then drop the loop's cancelled timers as the loop
    itself does once they are many: a cancelled timer keeps its context (and what that
    holds) until its time comes, which for a grace period is a minute away."""
    state = live.server.server_state
    deadline = time.monotonic() + timeout
    while state.tasks or sum(s.viewer_count for s in live.hub.streams.values()):
        assert time.monotonic() < deadline, f"the server did not settle: {state.tasks}"
        await asyncio.sleep(0.02)
    for _ in range(3):  # the done callbacks of what just finished
        await asyncio.sleep(0)
    _drop_cancelled_timers(asyncio.get_running_loop())


def _drop_cancelled_timers(loop: asyncio.AbstractEventLoop) -> None:
    """What ``BaseEventLoop._run_once`` does when most of its timers are cancelled."""
    scheduled: list[asyncio.TimerHandle] = getattr(loop, "_scheduled")  # noqa: B009
    kept = [h for h in scheduled if not h.cancelled()]
    for handle in scheduled:
        if handle.cancelled():
            handle._scheduled = False  # type: ignore[attr-defined]
    heapq.heapify(kept)
    scheduled[:] = kept
    setattr(loop, "_timer_cancelled_count", 0)  # noqa: B010


def none_of_ours(found: Garbage) -> None:
    assert found.total == 0, found.describe()


async def _watch_all(viewers: list[Viewer]) -> None:
    for viewer in viewers:
        await viewer.wait_for(lambda e: True)  # its first frame: it is attached


async def test_a_viewer_that_joins_and_leaves_leaves_no_cyclic_garbage(sim: Simulator) -> None:
    sids = [sim.add_call(), sim.add_call()]
    async with (
        running_app(sim, relay_grace_period=60, **QUICK) as live,
        live.client(timeout=10) as client,
    ):
        first = Viewer(live.url, f"/api/calls/{sids[0]}/events").start(client)
        both = Viewer(live.url, f"/api/events?call={sids[0]}&call={sids[1]}").start(client)
        for viewer in (first, both):
            await viewer.wait_for(is_event("status", state="live"))
        await first.stop()
        await both.stop()
        await settled(live)
        async with cyclic_garbage(int(live.url.rsplit(":", 1)[1]), sim.port) as found:
            viewers = [
                Viewer(live.url, f"/api/calls/{sids[0]}/events").start(client),
                Viewer(live.url, f"/api/events?call={sids[0]}&call={sids[1]}").start(client),
                Viewer(live.url, f"/live/call/call/{sids[1]}").start(client),
                Viewer(live.url, f"/api/calls/{sids[0]}/events", last_id=first.last_id),
                Viewer(live.url, f"/api/calls/{sids[1]}/events", last_id="00000000-1"),
            ]
            for viewer in viewers[3:]:
                viewer.start(client)
            await _watch_all(viewers)
            for viewer in viewers:
                await viewer.stop()
            await settled(live)
    none_of_ours(found)


async def test_an_event_fanned_out_leaves_no_cyclic_garbage(sim: Simulator) -> None:
    sid = sim.add_call()
    async with (
        running_app(sim, relay_grace_period=60, **QUICK) as live,
        live.client(timeout=10) as client,
    ):
        viewers = [
            Viewer(live.url, path).start(client)
            for path in (
                f"/api/calls/{sid}/events",
                f"/api/events?call={sid}",
                f"/live/call/call/{sid}",
                f"/live/captions/call/{sid}",
            )
        ]
        await viewers[0].wait_for(is_event("status", state="live"))
        sim.add_segment(sid, "user", "warming up")
        for viewer in viewers:
            await viewer.wait_for(lambda e: "warming up" in e.data)
        async with cyclic_garbage(int(live.url.rsplit(":", 1)[1]), sim.port) as found:
            for n in range(20):
                speaker = "user" if n % 2 else "assistant"
                sim.add_segment(sid, speaker, f"line {n}: this is awful, I want a refund")
                sim.add_segment(sid, speaker, f"interim {n}", is_final=False)
            for viewer in viewers:
                await viewer.wait_for(lambda e: "line 19:" in e.data)
        for viewer in viewers:
            await viewer.stop()
    none_of_ours(found)


async def test_a_stream_that_ends_and_is_retired_leaves_no_cyclic_garbage(
    sim: Simulator,
) -> None:
    async with (
        running_app(sim, relay_grace_period=0.2, relay_linger=0.2, **QUICK) as live,
        live.client(timeout=10) as client,
    ):
        warm = sim.add_call()  # the app's first stream and viewer: what is made once
        viewer = Viewer(live.url, f"/api/calls/{warm}/events").start(client)
        await viewer.wait_for(is_event("status", state="live"))
        sim.set_call_status(warm, "completed")
        await viewer.wait_for(is_event("end"))
        await viewer.stop()
        await _retired(live)
        async with cyclic_garbage(int(live.url.rsplit(":", 1)[1]), sim.port) as found:
            sid = sim.add_call()
            viewers = [
                Viewer(live.url, f"/api/calls/{sid}/events").start(client),
                Viewer(live.url, f"/live/call/call/{sid}").start(client),
            ]
            await viewers[0].wait_for(is_event("status", state="live"))
            sim.add_segment(sid, "user", "hello there")
            await viewers[0].wait_for(has_segment("hello there"))
            await sim.drop(f"call:{sid}")  # the upstream drops and comes back
            await viewers[0].wait_for(is_event("status", state="reconnecting"))
            await viewers[0].wait_for(is_event("status", state="live"))
            sim.set_call_status(sid, "completed")
            await viewers[0].wait_for(is_event("end"))  # the server ends the responses
            await viewers[1].wait_for(lambda e: e.event == "end")
            for viewer in viewers:
                await viewer.stop()
            await _retired(live)
    none_of_ours(found)


async def test_a_stream_retired_while_its_call_goes_on_leaves_no_cyclic_garbage(
    sim: Simulator,
) -> None:
    async with (
        running_app(sim, relay_grace_period=0.2, **QUICK) as live,
        live.client(timeout=10) as client,
    ):
        warm = Viewer(live.url, f"/api/calls/{sim.add_call()}/events").start(client)
        await warm.wait_for(is_event("status", state="live"))
        await warm.stop()
        await _retired(live)
        async with cyclic_garbage(int(live.url.rsplit(":", 1)[1]), sim.port) as found:
            sid = sim.add_call()
            viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
            await viewer.wait_for(is_event("status", state="live"))
            sim.add_segment(sid, "user", "my card is 4111 1111")  # held: a number may go on
            await viewer.wait_for(is_event("metrics"))
            await viewer.stop()  # the last viewer leaves: the grace period, then retired
            await _retired(live)
    none_of_ours(found)


def _stream_tasks() -> list[asyncio.Task[object]]:
    """The tasks of streams still running: a stream leaves the hub before it is closed."""
    return [
        t
        for t in asyncio.all_tasks()
        if t.get_name().startswith(("pump ", "poll "))
        or getattr(t.get_coro(), "__qualname__", "").startswith("Stream.")
    ]


async def _retired(live: LiveApp) -> None:
    """Every stream retired (its linger over, its tasks awaited), the server settled."""
    for _ in range(500):  # their own timers retire them: no event to await from outside
        if not live.hub.streams and not _stream_tasks():
            break
        await asyncio.sleep(0.02)
    assert not live.hub.streams, "the streams did not retire"
    assert not _stream_tasks(), "the retired streams' tasks did not end"
    await settled(live)


async def test_the_probe_counts_a_cycle_left_by_the_dashboard(sim: Simulator) -> None:
    """The probe itself: a cycle among the dashboard's objects is found and named."""
    from webapp.relay.subscriber import Subscriber

    async with cyclic_garbage() as found:
        knot = Subscriber()
        knot.direct = knot.offer_all  # a bound method kept on its own object: a cycle
        del knot
    assert found.ours["webapp.relay.subscriber.Subscriber"] == 1


async def test_refusals_by_the_gate_leave_no_cyclic_garbage(sim: Simulator) -> None:
    """The gate raises its refusals: a flood of them (strangers, wrong roles, full caps)
    must not leave a traceback's cycle per request for the detector."""
    sid = sim.add_call()
    caps = QUICK | {"dashboard_streams_per_session": 1}
    async with (
        running_app(sim, **caps) as live,
        live.client(None, timeout=10) as stranger,
        live.client(Role.MANAGER, timeout=10) as manager,
        live.client(Role.SUPERVISOR, timeout=10) as ada,
    ):
        holding = Viewer(live.url, f"/api/calls/{sid}/events").start(ada)
        await holding.wait_for(is_event("status", state="live"))
        api, page = f"{live.url}/api/calls/{sid}/events", f"{live.url}/calls/{sid}"
        for client in (stranger, manager, ada):  # warm: first-use caches are not garbage
            await client.get(api)
        await settled_requests(live)
        async with cyclic_garbage(int(live.url.rsplit(":", 1)[1]), sim.port) as found:
            for _ in range(3):
                assert (await stranger.get(api)).status_code == 401
                assert (await stranger.get(page)).status_code == 303
                assert (await manager.get(api)).status_code == 403
                assert (await manager.get(page)).status_code == 403
                assert (await ada.get(api)).status_code == 429
            await settled_requests(live)
        await holding.stop()
    none_of_ours(found)


async def settled_requests(live: LiveApp) -> None:
    """Only the one held stream's request task is left."""
    deadline = time.monotonic() + 10
    while len(live.server.server_state.tasks) > 1:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    for _ in range(3):
        await asyncio.sleep(0)
