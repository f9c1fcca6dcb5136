"""A segment's sentiment and the call's figures ride in its ``transcript`` event (event shapes
version 2), over real SSE clients: one event and one id per segment, resume exact at any byte."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.live import LiveApp, Viewer, data, has_segment, is_event, running_app
from tests.test_alerts_live import ANGRY
from webapp.simulator import Simulator
from webapp.wire.streamkey import StreamKey

LINES = [
    ("user", "Hi, I have a question about my bill."),
    ("assistant", "Of course, let me look that up."),
    ("user", ANGRY[0]),
    ("assistant", "I am sorry to hear that."),
    ("user", ANGRY[1]),
    ("user", "Thanks, that helps."),
]

Framed = tuple[str, str, dict[str, Any]]  # (id, event, data)


async def said_all(live: LiveApp, sim: Simulator, sid: str, viewer: Viewer) -> None:
    """Burki says every line of :data:`LINES`; returns once ``viewer`` has every frame the
    stream numbered for them (the last segment's alerts included)."""
    for speaker, text in LINES:
        sim.add_segment(sid, speaker, text)
    await viewer.wait_for(has_segment(LINES[-1][1]))
    log = live.hub.streams[StreamKey.call(sid)].log
    await viewer.wait_for(lambda _event: viewer.last_id == log.last_id)


def numbered(events: list[Any]) -> list[Framed]:
    return [(e.id, e.event, data(e)) for e in events if e.id and e.event != "snapshot"]


async def test_a_segment_is_one_event_carrying_its_sentiment_and_the_calls_figures(
    sim: Simulator,
) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live, live.client(timeout=10) as client:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        snapshot = data(await viewer.wait_for(is_event("snapshot")))
        assert snapshot["version"] == 3  # clients can read which shape they get
        await viewer.wait_for(is_event("status", state="live"))
        await said_all(live, sim, sid, viewer)
        await viewer.stop()
    first = next(n for n, e in enumerate(viewer.events) if e.event == "transcript")
    alone = [data(e) for e in viewer.events[first:] if e.event in ("metrics", "sentiment")]
    # Only dead air noticed with no frame from Burki (a slow machine) is figures alone.
    assert [a for a in alone if a.get("silence", {}).get("level", "ok") == "ok"] == []
    finals = [data(e) for e in viewer.events if e.event == "transcript"]
    assert [f["segment"]["content"] for f in finals] == [text for _, text in LINES]
    for (speaker, _), final in zip(LINES, finals, strict=True):
        assert final["stream"] == f"call:{sid}" and "metrics" in final
        assert final["metrics"]["segments"] == final["segment"]["index"] + 1
        # The caller's lines are scored, in their own event; the assistant's never.
        assert ("sentiment" in final) == (speaker == "user")
        if speaker == "user":
            assert final["sentiment"]["index"] == final["segment"]["index"]
    alerts = [data(e) for e in viewer.events if e.event == "alert"]
    assert sorted(a["segment_index"] for a in alerts if a["scope"] == "segment") == [2, 4]
    # One id per segment, and one per alert: nothing else was numbered for them.
    since = [e for e in viewer.events[first:] if e.id and e.event not in ("metrics", "status")]
    assert len(since) == len(LINES) + len(alerts)


async def resume_cut(
    client: httpx.AsyncClient, url: str, last_id: str, cut: int | None
) -> list[Framed]:
    """Resume from ``last_id`` and read the replay, hanging up after ``cut`` bytes of the
    body (None: all of it): the whole frames read before the cut, those with an id."""
    body = b""
    async with client.stream("GET", url, headers={"Last-Event-ID": last_id}) as response:
        assert response.status_code == 200
        async with asyncio.timeout(10):
            async for chunk in response.aiter_bytes():
                body += chunk
                replayed = b"\n\nevent: status\n" in b"\n\n" + body  # the resume's last word
                if (cut is not None and len(body) >= cut) or replayed:
                    break
    whole = body[:cut].split(b"\n\n")[:-1]  # the last piece is cut short, or empty
    return [framed for frame in whole if (framed := parse(frame)) is not None]


def parse(frame: bytes) -> Framed | None:
    fields = dict(line.split(": ", 1) for line in frame.decode().split("\n"))
    if "id" not in fields:
        return None
    return fields["id"], fields["event"], json.loads(fields["data"])


@pytest.mark.timeout(300)
@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(st.integers(min_value=1, max_value=16_000), min_size=1, max_size=6))
async def test_a_viewer_cut_at_any_byte_resumes_exactly_across_the_merged_events(
    sim: Simulator, cuts: list[int]
) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live, live.client(timeout=10) as client:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        snapshot = await viewer.wait_for(is_event("snapshot"))
        await said_all(live, sim, sid, viewer)
        await viewer.stop()
        url, position, got = f"{live.url}/api/calls/{sid}/events", snapshot.id, []
        for cut in [*cuts, None]:
            read = await resume_cut(client, url, position, cut)
            got += read
            position = read[-1][0] if read else position
        fresh = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        now = data(await fresh.wait_for(is_event("snapshot")))["metrics"]
        await fresh.stop()
    assert got == numbered(viewer.events)  # every frame once, in order: none lost, none twice
    # Each metrics carries what changed (version 3): merged, they are a fresh snapshot's.
    figures = data(snapshot)["metrics"]
    for _, event, payload in got:
        changed = payload if event == "metrics" else payload.get("metrics", {})
        figures = {**figures, **{k: v for k, v in changed.items() if k != "stream"}}
    assert figures == now


async def test_the_call_page_redraws_sentiment_and_health_from_the_segments_own_update(
    sim: Simulator,
) -> None:
    """The page's update stream (htmx) gets one message per segment: the line, the caller's
    mood and the health panel, swapped together."""
    sid = sim.add_call()
    async with running_app(sim) as live, live.client(timeout=10) as client:
        assert (await client.get(f"{live.url}/calls/{sid}")).status_code == 200
        page = Viewer(live.url, f"/live/call/call/{sid}").start(client)
        await page.wait_for(lambda e: "Connected to Burki" in e.data)
        sim.add_segment(sid, "user", "I am not happy with this at all.")
        said = await page.wait_for(lambda e: "I am not happy with this at all." in e.data)
        await page.stop()
    assert 'hx-target="#sentiment"' in said.data and 'hx-target="#health"' in said.data
    assert said.id  # a message a page resumes from
