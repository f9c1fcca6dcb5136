"""The hub: one stream per key however many watch, one way to attach a viewer, a clean close."""

from __future__ import annotations

import pytest

from tests.hubs import frames_until, hub_on, of_type
from webapp.relay.hub import HubClosed
from webapp.simulator import Simulator
from webapp.wire.streamkey import StreamKey


async def test_every_viewer_of_a_key_shares_one_stream_and_one_upstream(sim: Simulator) -> None:
    sid = sim.add_call()
    key = StreamKey.call(sid)
    async with hub_on(sim) as hub:
        with hub.watch([key], {}) as a, hub.watch([key], {}) as b:
            assert a.streams[key] is b.streams[key] is hub.streams[key]
            await frames_until(a.sub, of_type("status", state="live"))
            assert sim.connections(f"call:{sid}") == 1
            assert [f.type for f in a.first] == [f.type for f in b.first] == ["snapshot"]
            assert len(hub.streams[key].subscribers) == 2


async def test_leaving_detaches_and_the_upstream_closes_after_the_grace_period(
    sim: Simulator,
) -> None:
    sid = sim.add_call()
    key = StreamKey.call(sid)
    async with hub_on(sim, grace_period=0.05) as hub:
        with hub.watch([key], {}) as viewing:
            await frames_until(viewing.sub, of_type("status", state="live"))
            stream = hub.streams[key]
        assert viewing.sub.closed_reason == "viewer left"
        assert stream.subscribers == set()
        await sim.wait_for_connections(f"call:{sid}", 0)
        assert key not in hub.streams


async def test_a_viewing_attaches_and_detaches_more_streams_as_its_page_changes(
    sim: Simulator,
) -> None:
    first, second = sim.add_call(), sim.add_call()
    one, two = StreamKey.call(first), StreamKey.call(second)
    async with hub_on(sim) as hub:
        with hub.watch([one], {}) as viewing:
            assert [f.type for f in viewing.attach(two, None)] == ["snapshot"]
            await frames_until(viewing.sub, lambda f: f.stream == two and f.type == "status")
            sim.add_segment(second, "user", "to the second")
            said = await frames_until(viewing.sub, of_type("transcript"))
            assert said[-1].stream == two
            viewing.detach(two)
            assert viewing.sub not in hub.streams[two].subscribers
            assert viewing.sub in hub.streams[one].subscribers
        assert hub.streams[one].subscribers == set()


async def test_a_closed_hub_takes_no_viewers_and_released_viewers_end(sim: Simulator) -> None:
    key = StreamKey.call(sim.add_call())
    async with hub_on(sim) as hub:
        with hub.watch([key], {}) as viewing:
            hub.release_viewers()
            assert viewing.sub.closed_reason == "shutdown"
            with pytest.raises(HubClosed, match="shutting down"):
                hub.stream(StreamKey.call(sim.add_call()))
        await hub.close()
        assert hub.streams == {}


async def test_a_held_stream_outlives_its_viewers_and_retires_once_let_go(
    sim: Simulator,
) -> None:
    """The monitor's hold: no grace period while held (an unheld stream beside it retires),
    then, let go with no viewer, the grace period as for any stream."""
    held, other = StreamKey.call(sim.add_call()), StreamKey.call(sim.add_call())
    async with hub_on(sim, grace_period=0.05) as hub:
        stream = hub.hold(held)
        with hub.watch([held, other], {}) as viewing:
            await frames_until(viewing.sub, lambda f: f.stream == other and f.type == "status")
        await sim.wait_for_connections(str(other), 0)
        assert other not in hub.streams
        assert hub.streams[held] is stream and stream.held
        assert sim.connections(str(held)) == 1
        assert hub.hold(other, held=False) is None  # nothing to let go
        hub.hold(held, held=False)
        await sim.wait_for_connections(str(held), 0)
        assert held not in hub.streams
