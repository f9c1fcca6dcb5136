"""Redaction end to end: simulator -> relay -> SSE viewers, pages, exports, the JSON API,
a real webhook receiver, alerts, logs, the audit log and metrics. Planted values never arrive."""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import logging
import weakref
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import SIM_KEY
from tests.live import LiveApp, Viewer, has_segment, is_event, running_app, segments, watching
from tests.planted import Secret, noise, secrets
from tests.receiver import Receiver, receiving
from tests.test_alerts_live import endpoints
from webapp.access.users import Role
from webapp.simulator import Simulator

CLOSING = "Noted, I have closed the case."
ANGRY = "I am furious, this is a terrible scam and I will call my lawyer"


@dataclass(frozen=True)
class Case:
    secret: Secret
    pieces: tuple[str, ...]
    interleave: bool


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """A secret said over one to three segments of the caller, with noise around it."""
    secret = draw(secrets())
    words = secret.text.split(" ")
    cuts = draw(st.lists(st.integers(1, max(1, len(words) - 1)), max_size=2, unique=True))
    bounds = [0, *sorted(c for c in cuts if 0 < c < len(words)), len(words)]
    pieces = [" ".join(words[a:b]) for a, b in itertools.pairwise(bounds)]
    pieces[0] = f"{draw(noise())} {pieces[0]}".strip()
    pieces[-1] = f"{pieces[-1]} {draw(noise())}. {ANGRY}"
    return Case(secret, tuple(pieces), draw(st.booleans()))


async def _say(sim: Simulator, sid: str, case: Case) -> None:
    for piece in case.pieces:
        words = piece.split(" ")
        for n in range(1, len(words), 2):  # interims as the words come
            sim.add_segment(sid, "user", " ".join(words[:n]), is_final=False)
        sim.add_segment(sid, "user", piece)
        if case.interleave:
            sim.add_segment(sid, "assistant", "Mm-hm", is_final=False)
    sim.add_segment(sid, "assistant", CLOSING)


async def _everything_shown(live: LiveApp, client: httpx.AsyncClient, sid: str) -> list[str]:
    """Every rendering of the call a person or a machine without the unredact right gets."""
    paths = [
        f"/calls/{sid}",
        f"/calls/{sid}/captions",
        f"/calls/{sid}/transcript.txt",
        f"/calls/{sid}/transcript.json",
        f"/api/calls/{sid}/transcript",
        "/wallboard",
        "/",
    ]
    bodies = []
    for path in paths:
        response = await client.get(live.url + path)
        assert response.status_code == 200, path
        bodies.append(response.text)
    return bodies


def _leaks(secret: Secret, texts: list[str]) -> list[str]:
    return [text[:300] for text in texts if secret.found_in(text)]


@pytest.mark.timeout(300)
@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(cases(), min_size=4, max_size=4))
async def test_planted_values_never_reach_a_viewer_an_export_a_webhook_an_alert_or_a_log(
    sim: Simulator, caplog: pytest.LogCaptureFixture, batch: list[Case]
) -> None:
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        async with receiving() as receiver:
            hooks = {"webhook_endpoints": endpoints(receiver.url, "alert", "call_status")}
            async with running_app(sim, **hooks) as live:
                await _run_batch(sim, live, receiver, batch)
                audit = await stored_text(live)
    assert len(caplog.records) > 20, "the session logged almost nothing: it would prove nothing"
    assert 'said "lawyer"' in audit, "the history holds no alert: the scan would prove nothing"
    assert SIM_KEY not in audit
    for case in batch:
        assert not _leaks(case.secret, [caplog.text, audit])


async def _run_batch(sim: Simulator, live: LiveApp, receiver: Receiver, batch: list[Case]) -> None:
    async with live.client(Role.SUPERVISOR, timeout=10) as client:
        for case in batch:
            sid = sim.add_call()
            viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
            await viewer.wait_for(is_event("status", state="live"))
            await _say(sim, sid, case)
            await viewer.wait_for(has_segment(CLOSING))
            await viewer.wait_for(lambda e: e.event == "alert" and '"keyword"' in e.data)
            sim.set_call_status(sid, "completed")
            await viewer.wait_for(is_event("end"))
            await viewer.stop()
            shown = [event.data for event in viewer.events]
            shown += await _everything_shown(live, client, sid)
            assert not _leaks(case.secret, shown), case
            metrics = await _metrics(live)
            assert not _leaks(case.secret, [metrics])
        await live.state.webhooks.wait_idle()
    posted = [request.body.decode() for request in receiver.requests]
    assert any(json.loads(body)["type"] == "alert" for body in posted)
    for case in batch:
        assert not _leaks(case.secret, posted)


async def _metrics(live: LiveApp) -> str:
    async with live.client(Role.ADMIN, timeout=10) as admin:
        return (await admin.get(live.url + "/metrics")).text


async def test_an_admin_may_ask_for_the_unredacted_text_and_is_audited(sim: Simulator) -> None:
    sid = sim.add_call()
    sim.add_segment(sid, "user", "my card is 4111 1111 1111 1111 and mail ada@example.com")
    async with running_app(sim) as live, live.client(Role.ADMIN, timeout=10) as admin:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(admin)
        await viewer.wait_for(has_segment("my card is [card ••••1111] and mail [email]"))
        await viewer.stop()
        redacted = await admin.get(f"{live.url}/calls/{sid}/transcript.json")
        assert redacted.json()["redacted"] is True
        raw = await admin.get(f"{live.url}/calls/{sid}/transcript.txt?unredacted=1")
        assert "4111 1111 1111 1111" in raw.text and "ada@example.com" in raw.text
        api = await admin.get(f"{live.url}/api/calls/{sid}/transcript?unredacted=1")
        assert api.json()["redacted"] is False
        page = await admin.get(f"{live.url}/calls/{sid}")
        assert "unredacted=1" in page.text
        entries = await live.state.access.audit.entries()
        assert [e.what for e in entries if "unredacted" in e.what] == [f"call:{sid} unredacted"] * 2
        assert "4111" not in await stored_text(live)


async def test_a_supervisor_may_not_unredact_by_default(sim: Simulator) -> None:
    sid = sim.add_call()
    sim.add_segment(sid, "user", "my card is 4111 1111 1111 1111")
    async with running_app(sim) as live, live.client(Role.SUPERVISOR, timeout=10) as client:
        page = await client.get(f"{live.url}/calls/{sid}")
        assert "unredacted=1" not in page.text
        denied = await client.get(f"{live.url}/calls/{sid}/transcript.txt?unredacted=1")
        assert denied.status_code == 403 and "4111" not in denied.text
        token = await live.token(Role.SUPERVISOR)
        api = await client.get(
            f"{live.url}/api/calls/{sid}/transcript?unredacted=1",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert api.status_code == 403 and "4111" not in api.text
        assert not [e for e in await live.state.access.audit.entries() if "unredacted" in e.what]


async def test_roles_named_in_the_setting_may_unredact(sim: Simulator) -> None:
    sid = sim.add_call()
    sim.add_segment(sid, "user", "my ssn is 123-45-6789")
    roles = {"redaction_unredact_roles": "supervisor"}
    async with running_app(sim, **roles) as live, live.client(Role.SUPERVISOR) as client:
        raw = await client.get(f"{live.url}/calls/{sid}/transcript.txt?unredacted=1")
        assert raw.status_code == 200 and "123-45-6789" in raw.text


async def test_with_nobody_allowed_the_raw_text_is_not_even_kept(sim: Simulator) -> None:
    sid = sim.add_call()
    nobody = {"redaction_unredact_roles": ""}
    async with watching(sim, sid, role=Role.ADMIN, **nobody) as (live, admin, viewer):
        sim.add_segment(sid, "user", "mail ada@example.com")
        await viewer.wait_for(has_segment("mail [email]"))
        await viewer.stop()
        denied = await admin.get(f"{live.url}/calls/{sid}/transcript.txt?unredacted=1")
        assert denied.status_code == 403
        stream = live.hub.streams[next(k for k in live.hub.streams if k.id == sid)]
        assert stream.state.unredacted_segments()[0]["content"] == "mail [email]"


async def test_redaction_off_relays_the_text_as_sent(sim: Simulator) -> None:
    sid = sim.add_call()
    async with watching(sim, sid, redaction_enabled=False) as (_live, _client, viewer):
        sim.add_segment(sid, "user", "mail ada@example.com")
        await viewer.wait_for(has_segment("mail ada@example.com"))


async def test_an_export_from_burki_rest_is_redacted_too(sim: Simulator) -> None:
    """No live stream held: the export reads Burki's REST transcript and redacts it."""
    sid = sim.add_call()
    sim.add_segment(sid, "user", "my card is 4111 1111")
    sim.add_segment(sid, "user", "1111 1111 thanks")
    async with running_app(sim) as live, live.client(timeout=10) as client:
        assert not live.hub.streams
        text = (await client.get(f"{live.url}/calls/{sid}/transcript.txt")).text
        assert "Caller: my card is [card ••••1111]" in text
        assert "1111 1111" not in text
        raw = (await client.get(f"{live.url}/calls/{sid}/transcript.txt?unredacted=1")).text
        assert "4111 1111" in raw


async def test_ordinary_numbers_reach_viewers_unchanged(sim: Simulator) -> None:
    sid = sim.add_call()
    lines = ["I want order 42, 3 items.", "Deliver at 10:30 for $19.99 please.", "Room 101."]
    async with watching(sim, sid) as (_live, _client, viewer):
        for line in lines:
            sim.add_segment(sid, "user", line)
        sim.add_segment(sid, "assistant", CLOSING)
        await viewer.wait_for(has_segment(CLOSING))
        assert segments(viewer.events) == [*lines, CLOSING]


async def test_an_ended_call_leaves_memory_when_its_linger_ends(sim: Simulator) -> None:
    """Nothing left behind: the state, its raw text and its alerts go with the stream."""
    sid = sim.add_call()
    async with watching(sim, sid, relay_linger=0.3) as (live, client, viewer):
        sim.add_segment(sid, "user", "my card is 4111 1111 1111 1111, I will call my lawyer")
        await viewer.wait_for(is_event("alert"))
        await client.get(f"{live.url}/calls/{sid}")  # a page view renders for this stream too
        sim.set_call_status(sid, "completed")
        await viewer.wait_for(is_event("end"))
        await viewer.stop()
        key = next(k for k in live.hub.streams if k.id == sid)
        stream = live.hub.streams[key]
        held = [weakref.ref(part) for part in (stream, stream.state, stream.redactor)]
        linger = stream._timer  # the linger timer retires the stream when it ends
        del stream
        await asyncio.wait_for(asyncio.shield(linger), 5)
        assert key not in live.hub.streams
        gc.collect()
        assert [ref() for ref in held] == [None] * len(held)


async def test_the_strict_mode_masks_every_long_run_of_digits(sim: Simulator) -> None:
    sid = sim.add_call()
    strict = {"redaction_strict_digits": 4}
    async with watching(sim, sid, **strict) as (live, client, viewer):
        sim.add_segment(sid, "user", "order 4572 91 for 3 items, thanks")
        await viewer.wait_for(has_segment("order [digits] for 3 items, thanks"))
        metrics = (await client.get(f"{live.url}/metrics")).text
        assert "burki_live_redaction_seconds_count 1.0" in metrics  # timed, once per segment


async def test_a_held_segment_is_shown_masked_when_the_hold_runs_out(sim: Simulator) -> None:
    """The caller pauses after half a card number: the hold timer shows the segment, with
    the open number masked, and the rest, when it comes, is still recognised as the card."""
    sid = sim.add_call()
    hold = {"redaction_hold": 0.2}
    async with watching(sim, sid, **hold) as (_live, _client, viewer):
        sim.add_segment(sid, "user", "my card is 4111 1111")
        await viewer.wait_for(has_segment("my card is [digits]"))
        sim.add_segment(sid, "user", "1111 1111, sorry")
        await viewer.wait_for(has_segment("[card ••••1111], sorry"))
        assert segments(viewer.events) == ["my card is [digits]", "[card ••••1111], sorry"]


async def test_a_reconnect_in_the_middle_of_a_card_number_shows_none_of_it(
    sim: Simulator,
) -> None:
    """Burki replays the transcript on every reconnect: a held half of a number meets its
    own replay, and nothing of the number is shown or shown twice."""
    await _reconnect_in_the_middle_of_a_card_number(sim)


async def test_the_same_with_the_open_source_burki(oss_sim: Simulator) -> None:
    await _reconnect_in_the_middle_of_a_card_number(oss_sim)


async def _reconnect_in_the_middle_of_a_card_number(sim: Simulator) -> None:
    sid = sim.add_call()
    async with watching(sim, sid) as (_live, _client, viewer):
        sim.add_segment(sid, "assistant", "Please read me the card number.")
        sim.add_segment(sid, "user", "It's 4111 1111")
        await viewer.wait_for(has_segment("Please read me the card number."))
        await sim.drop(f"call:{sid}")
        await viewer.wait_for(lambda e: e.event == "status" and '"reconnecting"' in e.data)
        await viewer.wait_for(lambda e: e.event == "status" and '"live"' in e.data)
        sim.add_segment(sid, "user", "1111 1111.")
        sim.add_segment(sid, "assistant", CLOSING)
        await viewer.wait_for(has_segment(CLOSING))
        shown = segments(viewer.events)
        assert len(shown) == len(set(shown)), shown
        assert not any("4111" in text or "1111 1111" in text for text in shown), shown
        assert "".join(e.data for e in viewer.events).count("4111") == 0


async def test_a_held_segment_is_shown_before_the_call_ends(sim: Simulator) -> None:
    sid = sim.add_call()
    async with watching(sim, sid) as (_live, _client, viewer):
        sim.add_segment(sid, "user", "Send it to room 1234")  # ends in a number: held
        sim.set_call_status(sid, "completed")
        await viewer.wait_for(is_event("end"))
        kinds = [e.event for e in viewer.events]
        assert segments(viewer.events) == ["Send it to room 1234"]
        assert kinds.index("transcript") < kinds.index("end")


async def stored_text(live: LiveApp) -> str:
    """Everything the node's store holds, as its SQLite file and write-ahead log have it."""
    await live.state.access.audit.close()  # what waits is written
    if live.state.history is not None:
        await live.state.history.recorder.drained()  # the alerts and summaries too
    database = Path(str(live.state.access.store.db.url.database))
    found = [path.read_bytes() for path in (database, Path(f"{database}-wal")) if path.exists()]
    return b"".join(found).decode("utf-8", "replace")
