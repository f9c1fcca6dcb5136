"""Numbers read in pieces, end to end: the simulator as Burki, a real server, an SSE client of
the JSON API, the call page's own update stream, the pages and exports, and a real webhook
receiver. The reader pauses past the hold and the other speaker talks between the pieces."""

from __future__ import annotations

import itertools
import json
import re
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.live import LiveApp, Viewer, data, has_segment, is_event, running_app
from tests.receiver import Receiver, receiving
from tests.spoken import Reading, check, clear_digits, readings
from tests.test_alerts_live import endpoints
from webapp.access.users import Role
from webapp.simulator import Simulator

CLOSING = "Thank you, that is all."
HOLD = 0.1  # seconds: each pause of a reading is longer (it waits for the hold to run out)


async def _read(sim: Simulator, sid: str, reading: Reading, viewer: Viewer) -> list[int]:
    """Say the reading; the piece each of the speaker's interims belongs to, in order."""
    interims: list[int] = []
    for i, piece in enumerate(reading.pieces):
        words = piece.split(" ")
        for n in range(1, len(words)):  # interims as the words come
            sim.add_segment(sid, reading.speaker, " ".join(words[:n]), is_final=False)
            interims.append(i)
        sim.add_segment(sid, reading.speaker, piece)
        gap = reading.gaps[i] if i < len(reading.gaps) else None
        if gap is not None and gap.interim:
            sim.add_segment(sid, reading.other, "Mm", is_final=False)
        if gap is not None and gap.final:
            sim.add_segment(sid, reading.other, gap.final)
        if gap is not None and gap.pause:  # longer than the hold: the piece shows alone
            await viewer.wait_for(_reader_has_said(reading, viewer, i + 1))
    sim.add_segment(sid, reading.other, CLOSING)
    return interims


def _reader_has_said(reading: Reading, viewer: Viewer, pieces: int) -> Callable[[Any], bool]:
    return lambda _: len(_speakers_finals(reading, viewer.events)) >= pieces


def _speaking_pace(sim: Simulator) -> None:
    """Each segment half a second after the one before (the simulator times segments by its
    clock: two said in the same hundredth would be one segment said twice)."""
    began, ticks = datetime.now(UTC), itertools.count()
    sim.store.clock = lambda: began + timedelta(seconds=0.5 * next(ticks))


def _speakers_finals(reading: Reading, events: list[object]) -> list[int]:
    """The indices of the reader's final segments the events showed, in order."""
    indices: list[int] = []
    for event in events:
        if getattr(event, "event", None) != "transcript":
            continue
        segment = data(event)["segment"]  # type: ignore[arg-type]
        if segment["speaker"] == reading.speaker and segment["is_final"]:
            indices.append(segment["index"])
    return indices


def _live(reading: Reading, viewer: Viewer, interims: list[int]) -> dict[int, list[str]]:
    """Every version of each piece the JSON API showed: interims, finals, replacements."""
    piece = {index: i for i, index in enumerate(dict.fromkeys(_all_finals(reading, viewer)))}
    versions: dict[int, list[str]] = defaultdict(list)
    said = iter(interims)
    for event in viewer.events:
        if event.event not in ("transcript", "redacted"):
            continue
        segment = data(event)["segment"]
        if segment["speaker"] != reading.speaker:
            continue
        if not segment["is_final"]:
            versions[next(said)].append(segment["content"])
        else:
            versions[piece[segment["index"]]].append(segment["content"])
    assert next(said, None) is None, "every interim reached the viewer"
    return versions


def _all_finals(reading: Reading, viewer: Viewer) -> list[int]:
    return _speakers_finals(reading, viewer.events)


def _settled(
    reading: Reading, segments: list[dict[str, object]], alerts: list[dict[str, object]]
) -> dict[int, list[str]]:
    """Each piece as the export holds it, and the alert excerpts quoting it."""
    mine = [s for s in segments if s["speaker"] == reading.speaker]
    assert len(mine) == len(reading.pieces), (reading, mine)
    piece = {s["index"]: i for i, s in enumerate(mine)}
    versions: dict[int, list[str]] = defaultdict(list)
    for i, segment in enumerate(mine):
        versions[i].append(str(segment["content"]))
    for alert in alerts:
        if alert["segment_index"] in piece:
            versions[piece[alert["segment_index"]]].append(str(alert["excerpt"]))
    return versions


async def _page_stream(live: LiveApp, client: httpx.AsyncClient, sid: str) -> Viewer:
    """The call page, and its own update stream (HTML fragments), as a browser opens them."""
    page = await client.get(f"{live.url}/calls/{sid}")
    url = re.search(r'hx-sse:connect="([^"]+)"', page.text)
    assert url is not None
    viewer = Viewer(live.url, url.group(1).replace("&amp;", "&")).start(client)
    return viewer


@pytest.mark.timeout(300)
@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(readings(), min_size=3, max_size=3))
async def test_a_number_read_in_pieces_reaches_no_viewer_page_export_alert_or_webhook(
    sim: Simulator, batch: list[Reading]
) -> None:
    _speaking_pace(sim)
    async with receiving() as receiver:
        hooks = {"webhook_endpoints": endpoints(receiver.url, "alert"), "redaction_hold": HOLD}
        async with running_app(sim, **hooks) as live, live.client(Role.SUPERVISOR) as client:
            calls = {}
            for reading in batch:
                sid, segments = await _one_call(sim, live, client, reading)
                calls[f"call:{sid}"] = (reading, segments)
            await live.state.webhooks.wait_idle()
        _check_webhooks(receiver, calls)


async def _one_call(
    sim: Simulator, live: LiveApp, client: httpx.AsyncClient, reading: Reading
) -> tuple[str, dict[int, dict[str, object]]]:
    """One call reading the value; its id and its settled segments by index."""
    sid = sim.add_call()
    viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
    await viewer.wait_for(is_event("status", state="live"))
    page = await _page_stream(live, client, sid)
    interims = await _read(sim, sid, reading, viewer)
    await viewer.wait_for(has_segment(CLOSING))
    sim.set_call_status(sid, "completed")
    await viewer.wait_for(is_event("end"))
    await page.wait_for(lambda e: "The call has ended" in e.data or e.event == "end")
    await viewer.stop()
    await page.stop()
    assert check(reading, _live(reading, viewer, interims), settled=False) is None
    export = (await client.get(f"{live.url}/calls/{sid}/transcript.json")).json()
    alerts = [data(e) for e in viewer.events if e.event == "alert"]
    settled = _settled(reading, export["segments"], alerts)
    assert check(reading, settled, settled=True) is None, (reading, dict(settled))
    paths = (
        f"/calls/{sid}",
        f"/calls/{sid}/captions",
        f"/calls/{sid}/transcript.txt",
        "/wallboard",
    )
    for path in paths:
        body = (await client.get(live.url + path)).text
        assert reading.secret.needle not in clear_digits(body), path
    # What the JSON API re-masked, the open page was told too (its line redrawn).
    html = "".join(e.data for e in page.events)
    for event in viewer.events:
        if event.event == "redacted":
            assert f'hx-target="#seg-{data(event)["segment"]["index"]}"' in html
    assert reading.secret.needle not in clear_digits(html)
    return sid, {s["index"]: s for s in export["segments"]}


def _check_webhooks(
    receiver: Receiver, calls: dict[str, tuple[Reading, dict[int, dict[str, object]]]]
) -> None:
    """Each alert posted holds no more of its call's value than the settled rules allow."""
    posted = [json.loads(request.body) for request in receiver.requests]
    for body in posted:
        assert body["type"] == "alert"
        reading, segments = calls[body["stream"]]
        alerts = [body["data"]]
        settled = _settled(reading, list(segments.values()), alerts)
        assert check(reading, settled, settled=True) is None, (reading, body["data"])
