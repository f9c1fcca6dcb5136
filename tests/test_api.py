"""The JSON SSE API routes on their own: limits, the multiplexed cursor, resume and its end."""

from __future__ import annotations

from typing import Any

from httpx_sse import ServerSentEvent

from tests.hubs import frames_until, of_type
from tests.live import Viewer, data, is_event, running_app
from tests.rawviewers import until
from webapp.delivery import cursor
from webapp.delivery.jsonstream import _wire
from webapp.relay.frames import render
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


async def test_each_multiplexed_id_is_a_hashed_cursor_that_moves_only_the_frames_own_stream(
    sim: Simulator,
) -> None:
    one, two = sim.add_call(), sim.add_call()
    query = f"call={one}&call={two}&call={one}"  # a stream named twice is carried once
    keys = [StreamKey.call(one), StreamKey.call(two)]
    async with running_app(sim) as live, live.client() as client:
        viewer = Viewer(live.url, f"/api/events?{query}").start(client)
        for sid in (one, two):
            await viewer.wait_for(is_event("status", stream=f"call:{sid}", state="live"))
            await viewer.wait_for(named(sid))  # the assistant's name follows Burki's status
        assert viewer.last_id is not None and viewer.last_id.startswith(cursor.HASHED)
        assert one not in viewer.last_id  # positions only, no stream names
        assert len(viewer.last_id) <= len(".Tag12345,") + 2 * len("seq,")  # 3 bytes a stream
        epochs = {key: live.hub.streams[key].log.epoch for key in keys}
        assert not any(epoch in viewer.last_id for epoch in epochs.values())  # a tag of them
        before = cursor.decode(viewer.last_id, keys, epochs.get)
        assert cursor.UNRESUMABLE not in before.values()
        sim.add_segment(two, "user", "only the second")
        said = await viewer.wait_for(is_event("transcript", stream=f"call:{two}"))
        after = cursor.decode(said.id, keys, epochs.get)
        assert after[keys[0]] == before[keys[0]]
        assert after[keys[1]] != before[keys[1]]
        await viewer.stop()


async def test_a_multiplexed_viewer_whose_stream_started_over_is_reset_never_resumed_under_it(
    sim: Simulator,
) -> None:
    """The hashed cursor tells that an epoch changed, not which: every stream of the
    connection starts again with reset and snapshot, and none is read under a new epoch."""
    one, two = sim.add_call(), sim.add_call()
    keys, path = [StreamKey.call(one), StreamKey.call(two)], f"/api/events?call={one}&call={two}"
    async with running_app(sim) as live, live.client() as client:
        viewer = Viewer(live.url, path).start(client)
        for sid in (one, two):
            await viewer.wait_for(is_event("status", stream=f"call:{sid}", state="live"))
        await viewer.stop()
        gone = live.hub.streams[keys[1]]
        await until(lambda: not gone.subscribers, 10, "the viewer left")
        live.hub.hold(keys[1], False, grace=False)  # no viewer: it retires now
        await until(lambda: keys[1] not in live.hub.streams, 10, "the second stream retired")
        resumed = Viewer(live.url, path, last_id=viewer.last_id).start(client)
        for sid in (one, two):
            await resumed.wait_for(is_event("snapshot", stream=f"call:{sid}"))
        assert live.hub.streams[keys[1]].log.epoch != gone.log.epoch  # it started over
        for sid in (one, two):
            mine = [e.event for e in resumed.events if data(e).get("stream") == f"call:{sid}"]
            assert mine[:2] == ["reset", "snapshot"]
        await resumed.stop()


def named(sid: str) -> Any:
    """A ``wait_for`` predicate: the call's status names its assistant."""

    def check(event: ServerSentEvent) -> bool:
        if event.event != "call_status" or data(event)["stream"] != f"call:{sid}":
            return False
        return bool(data(event)["metadata"].get("assistant_name"))

    return check


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


def test_one_inputs_frames_are_joined_once_for_every_viewer_of_the_stream() -> None:
    """Each viewer's flush hands its own list of the same frames: the bytes are one object
    (joined and then framed as a chunk once), equal to the frames' own bytes in order."""
    key = StreamKey.call("CA1")
    frames = [render(f"e-{n}", kind, {"n": n}, key) for n, kind in enumerate(("a", "b", "c"))]
    first, second = _wire(list(frames)), _wire(list(frames))
    assert first == b"".join(f.wire for f in frames)
    assert second is first
    other = [render("e-9", "a", {"n": 9}, key), *frames[1:]]
    assert _wire(other) == b"".join(f.wire for f in other)  # another burst: joined afresh
    assert _wire(frames[:1]) is frames[0].wire
