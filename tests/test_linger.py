"""An ended call lingers ``RELAY_LINGER`` for late viewers: what they get is what its live
viewers got, frame for frame (JSON, multiplexed, a page's HTML), whatever form the stream
keeps it in while it lingers; and what it keeps is a fraction of what it held live."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from typing import Any

import httpx

from tests.live import LiveApp, Viewer, data, has_segment, is_event, running_app
from tests.test_monitor_live import until
from tests.test_riders_live import LINES, numbered, parse
from webapp.simulator import Simulator
from webapp.wire.streamkey import StreamKey


async def replay(client: httpx.AsyncClient, url: str, last_id: str) -> list[bytes]:
    """Resume ``url`` from ``last_id``: the frames replayed, until the resume's status
    (JSON) or the end of the response (a page's stream of an ended call ends)."""
    body = b""
    async with client.stream("GET", url, headers={"Last-Event-ID": last_id}) as response:
        if response.status_code == 204:  # up to date with the ended call: nothing to send
            return []
        assert response.status_code == 200
        async with asyncio.timeout(10):
            async for chunk in response.aiter_bytes():
                body += chunk
                if b"\n\nevent: status\n" in b"\n\n" + body:
                    break
    return [frame for frame in body.split(b"\n\n") if frame.startswith(b"id: ")]


def html_of(events: list[Any]) -> list[tuple[str, str, str]]:
    return [(e.id, e.event, e.data) for e in events if e.id]


async def _ended_call(
    live: LiveApp, client: httpx.AsyncClient, sim: Simulator, sid: str
) -> tuple[Viewer, Viewer, Viewer]:
    """A call watched as JSON, multiplexed and as a page, said :data:`LINES`, then ended."""
    assert (await client.get(f"{live.url}/calls/{sid}")).status_code == 200
    one = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
    many = Viewer(live.url, f"/api/events?call={sid}").start(client)
    page = Viewer(live.url, f"/live/call/call/{sid}").start(client)
    await one.wait_for(is_event("snapshot"))
    await many.wait_for(is_event("snapshot"))
    await page.wait_for(lambda e: "Connected to Burki" in e.data)
    for speaker, text in LINES:
        sim.add_segment(sid, speaker, text)
    await one.wait_for(has_segment(LINES[-1][1]))
    sim.set_call_status(sid, "completed")
    for viewer in (one, many, page):
        await viewer.wait_for(lambda e: e.event == "end", timeout=10)
    await page.ended()
    await one.stop()
    await many.stop()
    assert live.hub.streams[StreamKey.call(sid)].ended
    return one, many, page


async def test_a_late_viewer_of_an_ended_call_gets_every_frame_its_live_viewers_got(
    sim: Simulator,
) -> None:
    sid = sim.add_call()
    async with running_app(sim, relay_linger=120) as live, live.client(timeout=10) as client:
        one, many, page = await _ended_call(live, client, sim, sid)
        url = f"{live.url}/api/calls/{sid}/events"
        sent = numbered(one.events)
        for n, (last_id, _, _) in enumerate(sent):  # exact resume from every id it was sent
            again = [f for frame in await replay(client, url, last_id) if (f := parse(frame))]
            assert again == sent[n + 1 :]
        cursors = numbered(many.events)
        for n, (last_id, _, _) in enumerate(cursors):
            resumed = await replay(client, f"{live.url}/api/events?call={sid}", last_id)
            assert [parse(frame) for frame in resumed] == cursors[n + 1 :]
        shown = html_of(page.events)
        for last_id in dict.fromkeys(i for i, _, _ in shown):  # each id once, in order
            late = Viewer(live.url, f"/live/call/call/{sid}", last_id=last_id).start(client)
            await late.ended()
            after = max(n for n, (i, _, _) in enumerate(shown) if i == last_id)
            assert html_of(late.events) == shown[after + 1 :]
        fresh = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        snapshot = data(await fresh.wait_for(is_event("snapshot")))
        await fresh.stop()
        page_again = await client.get(f"{live.url}/calls/{sid}")
    finals = [d["segment"] for _, kind, d in sent if kind == "transcript"]
    assert snapshot["segments"] == finals
    assert snapshot["ended"] and snapshot["status"] == "completed"
    assert snapshot["connection"]["state"] == "ended"
    last_figures = [d["metrics"] for _, kind, d in sent if "metrics" in d][-1]
    assert snapshot["metrics"]["segments"] == last_figures["segments"] == len(LINES)
    assert snapshot["metrics"]["ended"]
    assert all(text.replace("'", "&#39;") in page_again.text for _, text in LINES)


# What the stream's stages hold (the relay: its log, frames and page views' HTML; the
# call's features), not the upstream socket's buffers, the simulator's store, the history's
# queue or the overview's recent alerts, which are not the lingering stream's.
_STREAM = [
    tracemalloc.Filter(True, f"*/webapp/{room}/*", all_frames=True) for room in ("relay", "calls")
]
_NOT_STREAM = [
    tracemalloc.Filter(False, pattern, all_frames=True)
    for pattern in (
        "*/webapp/simulator/*",
        "*/webapp/store/*",
        "*/relay/bulletin.py",
        "*/websockets/*",
    )
]


def _held() -> int:
    gc.collect()
    traces = tracemalloc.take_snapshot().filter_traces(_STREAM).filter_traces(_NOT_STREAM)
    return sum(stat.size for stat in traces.statistics("filename"))


async def test_an_ended_call_lingers_in_a_fraction_of_the_memory_it_held_live(
    sim: Simulator,
) -> None:
    """Late viewers need the call's snapshot and exact resume, not every frame's JSON and
    bytes twice over: the number of calls lingering must not set the server's memory."""
    sid = sim.add_call()
    lines = [(s, f"{text} ({n})") for n in range(10) for s, text in LINES]  # 60 segments
    kept = {"relay_linger": 120, "relay_grace_period": 120}  # no viewer reads it: stay
    async with running_app(sim, **kept) as live, live.client(timeout=10) as client:
        assert (await client.get(f"{live.url}/calls/{sid}")).status_code == 200
        page = Viewer(live.url, f"/live/call/call/{sid}").start(client)  # a page view too
        await page.wait_for(lambda e: "Connected to Burki" in e.data)
        await page.stop()
        stream = live.hub.streams[StreamKey.call(sid)]
        tracemalloc.start(15)
        try:
            before = _held()
            for speaker, text in lines:
                sim.add_segment(sid, speaker, text)
            await until(lambda: stream.state.final_count == len(lines), timeout=60)
            live_bytes = _held() - before
            sim.set_call_status(sid, "completed")
            await asyncio.wait_for(stream.finished.wait(), 30)
            ended_bytes = _held() - before
        finally:
            tracemalloc.stop()
    assert live_bytes > 200_000  # the measure measures something
    assert ended_bytes < live_bytes * 0.5, (live_bytes, ended_bytes)
