"""The JSON SSE API routes on their own: limits, the multiplexed cursor, resume and its end."""

from __future__ import annotations

from tests.hubs import frames_until, of_type
from tests.live import Viewer, data, is_event, running_app
from webapp.relay import cursor
from webapp.simulator import Simulator
from webapp.wire.streamkey import StreamKey


async def test_the_multiplexed_stream_names_one_to_64_streams(sim: Simulator) -> None:
    many = "&".join(f"call=CA{n}" for n in range(65))
    async with running_app(sim) as live, live.client() as client:
        for query in ("", "?call=CA1&" + many):
            response = await client.get(f"{live.url}/api/events{query}")
            assert response.status_code == 400
            assert response.json()["error"] == "bad_streams"
        assert live.hub.streams == {}


async def test_each_multiplexed_id_is_a_cursor_that_moves_only_the_frames_own_stream(
    sim: Simulator,
) -> None:
    one, two = sim.add_call(), sim.add_call()
    query = f"call={one}&call={two}&call={one}"  # a stream named twice is carried once
    async with running_app(sim) as live, live.client() as client:
        viewer = Viewer(live.url, f"/api/events?{query}").start(client)
        for sid in (one, two):
            await viewer.wait_for(is_event("status", stream=f"call:{sid}", state="live"))
        before = cursor.entries(viewer.last_id)
        assert set(before) == {f"call:{one}", f"call:{two}"}
        sim.add_segment(two, "user", "only the second")
        said = await viewer.wait_for(is_event("transcript", stream=f"call:{two}"))
        after = cursor.entries(said.id)
        assert after[f"call:{one}"] == before[f"call:{one}"]
        assert after[f"call:{two}"] != before[f"call:{two}"]
        await viewer.stop()


async def test_a_resume_gets_what_it_missed_then_the_connection_state_without_an_id(
    sim: Simulator,
) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live, live.client() as client:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        await viewer.wait_for(is_event("status", state="live"))
        await viewer.stop()
        before = len(viewer.events)
        key = StreamKey.call(sid)
        with live.hub.watch([key], {}) as watcher:  # to know the stream has it
            sim.add_segment(sid, "user", "while away")
            await frames_until(watcher.sub, of_type("transcript"))
        viewer.start(client)
        await viewer.wait_for(lambda e: e.event == "status" and viewer.events.index(e) >= before)
        *missed, status = viewer.events[before:]
        assert not {"snapshot", "reset", "status"} & {e.event for e in missed}
        said = [data(e)["segment"]["content"] for e in missed if e.event == "transcript"]
        assert said == ["while away"]
        assert data(status)["state"] == "live"
        assert status.id == missed[-1].id  # it carried no id: the position stays put
        await viewer.stop()
