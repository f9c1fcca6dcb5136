"""The relay end to end: simulator -> uvicorn dashboard -> real SSE clients, all on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import random

import httpx
import pytest

from tests.conftest import SIM_KEY
from tests.live import Viewer, data, has_segment, is_event, running_app, segments
from webapp.access.users import Role
from webapp.simulator import Simulator
from webapp.wire.streamkey import StreamKey


async def test_fifty_viewers_share_one_upstream_and_see_the_same_events(sim: Simulator) -> None:
    sid = sim.add_call()
    one_session_for_all = {"dashboard_streams_per_session": 50}  # the cap is for people
    async with running_app(sim, **one_session_for_all) as live, live.client(timeout=10) as client:
        viewers = [Viewer(live.url, f"/api/calls/{sid}/events").start(client) for _ in range(50)]
        for viewer in viewers:
            await viewer.wait_for(is_event("snapshot"))
        await sim.wait_for_connections(f"call:{sid}", 1)
        for n in range(10):
            sim.add_segment(sid, "user" if n % 2 else "assistant", f"line {n}")
        for viewer in viewers:
            await viewer.wait_for(has_segment("line 9"))
        assert sim.connections(f"call:{sid}") == 1
        assert sim.connections_total(f"call:{sid}") == 1

        def after_all_joined(viewer: Viewer) -> list[tuple[str, str, str]]:
            return [(e.id, e.event, e.data) for e in viewer.events if e.event == "transcript"]

        expected = after_all_joined(viewers[0])
        assert len(expected) == 10
        for viewer in viewers[1:]:
            assert after_all_joined(viewer) == expected  # same ids, same bytes, same order
        assert segments(viewers[0].events) == [f"line {n}" for n in range(10)]
        for viewer in viewers:
            await viewer.stop()


async def test_random_disconnects_with_last_event_id_lose_and_repeat_nothing(
    sim: Simulator,
) -> None:
    rng = random.Random(3)
    sid = sim.add_call()
    async with running_app(sim) as live, live.client(timeout=10) as client:
        viewers = [Viewer(live.url, f"/api/calls/{sid}/events").start(client) for _ in range(4)]
        for viewer in viewers:
            await viewer.wait_for(is_event("snapshot"))
        sent = 0
        for cycle in range(200):
            viewer = rng.choice(viewers)
            await viewer.stop()
            for _ in range(rng.randint(0, 2)):
                sim.add_segment(sid, "user", f"segment {sent}")
                sent += 1
            viewer.start(client, query_resume=cycle % 2 == 0)
            await viewer.wait_for(lambda e: e.event in ("status", "transcript", "snapshot"))
        sim.add_segment(sid, "assistant", "the end")
        expected = [f"segment {n}" for n in range(sent)] + ["the end"]
        for viewer in viewers:
            await viewer.wait_for(has_segment("the end"))
            assert not [e for e in viewer.events if e.event == "reset"]
            assert segments(viewer.events) == expected
            await viewer.stop()
        assert sim.connections_total(f"call:{sid}") == 1


async def test_upstream_drop_hang_and_1011_cost_no_segment_and_repeat_none(
    sim: Simulator,
) -> None:
    sid = sim.add_call()
    key = f"call:{sid}"
    # "one" ... "four" are a number read digit by digit to the redactor: from the third digit
    # each is held for the hold (here short, so the waits below measure the reconnects).
    async with running_app(sim, redaction_hold=0.2) as live, live.client(timeout=10) as client:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        await viewer.wait_for(is_event("status", state="live"))
        expected: list[str] = []

        async def say(text: str) -> None:
            sim.add_segment(sid, "user", text)
            expected.append(text)
            await viewer.wait_for(has_segment(text))

        await say("one")
        await sim.drop(key)
        sim.add_segment(sid, "assistant", "said while disconnected")
        expected.append("said while disconnected")
        await viewer.wait_for(has_segment("said while disconnected"))
        await say("two")
        sim.hang(key)
        await viewer.wait_for(is_event("status", state="reconnecting"))
        await sim.wait_for_connections(key, 1)
        await say("three")
        await sim.close(key, code=1011, reason="Internal error")
        await viewer.wait_for(lambda e: e.event == "status" and "1011" in data(e)["message"])
        await say("four")
        assert segments(viewer.events) == expected
        await viewer.stop()


async def test_upstream_auth_failure_is_told_in_words_and_retried_only_a_minute_later(
    sim: Simulator,
) -> None:
    sid = sim.add_call()
    async with running_app(sim, burki_api_key="not-the-key") as live, live.client() as client:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        status = await viewer.wait_for(is_event("status", state="reconnecting", reason="auth"))
        assert "key" in data(status)["message"] and "once a minute" in data(status)["message"]
        assert data(status)["retry_in"] >= 60
        assert sim.connections_total(f"call:{sid}") == 0  # rejected before it was counted
        assert sim.attempts(f"call:{sid}") == 1  # and not tried again: no storm, no polling
        stream = next(iter(live.hub.streams.values()))
        assert stream.connection_state == "reconnecting"
        await viewer.stop()


async def test_the_auth_retry_message_names_the_configured_interval(sim: Simulator) -> None:
    sid = sim.add_call()
    settings = {"burki_api_key": "not-the-key", "burki_auth_retry": 5.0}
    async with running_app(sim, **settings) as live, live.client() as client:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        status = await viewer.wait_for(is_event("status", state="reconnecting", reason="auth"))
        assert "every 5 s" in data(status)["message"] and "minute" not in data(status)["message"]
        await viewer.stop()


async def test_a_stalled_viewer_is_cut_while_others_keep_pace(sim: Simulator) -> None:
    sid = sim.add_call()
    settings = {"relay_viewer_queue": 16, "relay_stall_timeout": 0.5}
    async with running_app(sim, **settings) as live, live.client(timeout=10) as client:
        fast = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        await fast.wait_for(is_event("status", state="live"))
        async with client.stream("GET", f"{live.url}/api/calls/{sid}/events") as stalled:
            assert stalled.status_code == 200  # headers read, then never another byte
            big = "x" * 30_000
            for n in range(300):
                sim.add_segment(sid, "user", f"{n} {big}")
                await fast.wait_for(has_segment(f"{n} {big}"))
            metrics = (await client.get(f"{live.url}/metrics")).text
        cuts = [line for line in metrics.splitlines() if line.startswith("burki_live_viewer_cuts")]
        assert any(not line.endswith(" 0.0") for line in cuts), cuts
        assert segments(fast.events)[-1].startswith("299 ")
        await fast.stop()


async def test_hostile_text_arrives_as_inert_json_and_the_key_is_nowhere(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    hostile = '<img src=x onerror=alert(1)></script><script>alert("k")</script>\n\ndata: fake'
    sid = sim.add_call()
    with caplog.at_level(logging.DEBUG):
        async with running_app(sim) as live, live.client(timeout=10) as client:
            async with client.stream("GET", f"{live.url}/api/calls/{sid}/events") as response:
                raw = b""
                sim.add_segment(sid, "user", hostile)
                async for chunk in response.aiter_bytes():
                    raw += chunk
                    if b"onerror" in raw and raw.endswith(b"\n\n"):
                        break
            viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
            snapshot = await viewer.wait_for(is_event("snapshot"))
            await viewer.stop()
    assert data(snapshot)["segments"][-1]["content"] == hostile
    assert b"\ndata: fake" not in raw  # the newline stayed escaped inside the JSON
    assert SIM_KEY.encode() not in raw
    assert SIM_KEY not in caplog.text
    assert caplog.records


@pytest.mark.parametrize(
    "path",
    [
        "/api/calls/..%2Fx/events",
        "/api/calls/" + "A" * 10_000 + "/events",
        "/api/calls/CA%3Cscript%3E/events",
        "/api/campaigns/abc/events",
        "/api/campaigns/-1/events",
        "/api/campaigns/0/events",
        "/api/campaigns/99999999999999/events",
        "/api/events",
        "/api/events?call=..%2Fx",
        "/api/events?campaign=1.5",
    ],
)
async def test_bad_stream_ids_get_a_json_400_and_open_no_upstream(
    sim: Simulator, path: str
) -> None:
    async with running_app(sim) as live, live.client() as client:
        response = await client.get(live.url + path)
        assert response.status_code in (400, 404)
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()["message"]
        assert live.hub.streams == {}


async def test_sse_headers_and_a_first_frame_come_at_once(sim: Simulator) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live, live.client() as client:
        async with client.stream("GET", f"{live.url}/api/calls/{sid}/events") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["cache-control"] == "no-store"
            assert response.headers["x-accel-buffering"] == "no"
            assert "content-encoding" not in response.headers
            first = await anext(response.aiter_bytes())
        assert first.startswith(b"id: ") and b"event: snapshot\ndata: {" in first
        assert b"\r" not in first


async def test_the_heartbeat_comment_keeps_an_idle_stream_alive(sim: Simulator) -> None:
    sid = sim.add_call()
    async with running_app(sim, relay_heartbeat=0.2) as live, live.client() as client:
        async with client.stream("GET", f"{live.url}/api/calls/{sid}/events") as response:
            raw = b""
            async for chunk in response.aiter_bytes():
                raw += chunk
                if b"\n: ping" in raw or raw.startswith(b": ping"):
                    break
        assert b": ping" in raw


async def test_a_resume_from_an_unknown_id_gets_reset_then_snapshot(sim: Simulator) -> None:
    sid = sim.add_call()
    sim.add_segment(sid, "user", "held")
    async with running_app(sim) as live, live.client() as client:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events", last_id="deadbeef-3").start(client)
        snapshot = await viewer.wait_for(is_event("snapshot"))
        assert [e.event for e in viewer.events[:2]] == ["reset", "snapshot"]
        await viewer.wait_for(has_segment("held"))
        assert snapshot.id == viewer.events[0].id
        await viewer.stop()


async def test_the_upstream_closes_after_the_grace_period(sim: Simulator) -> None:
    sid = sim.add_call()
    async with running_app(sim, relay_grace_period=0.2) as live, live.client() as client:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        await viewer.wait_for(is_event("status", state="live"))
        await viewer.stop()
        await sim.wait_for_connections(f"call:{sid}", 0)
        assert live.hub.streams == {}


async def test_a_completed_call_ends_the_stream_and_closes_the_upstream(sim: Simulator) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live, live.client() as client:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        await viewer.wait_for(is_event("status", state="live"))
        sim.add_segment(sid, "assistant", "Goodbye!")
        sim.set_call_status(sid, "completed")
        await viewer.wait_for(is_event("end"))
        await sim.wait_for_connections(f"call:{sid}", 0)
        again = await client.get(
            f"{live.url}/api/calls/{sid}/events", headers={"Last-Event-ID": str(viewer.last_id)}
        )
        assert again.status_code == 204  # up to date with an ended stream: stop reconnecting
        late = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        snapshot = await late.wait_for(is_event("snapshot"))
        assert data(snapshot)["ended"] is True
        assert data(snapshot)["status"] == "completed"
        assert sim.connections_total(f"call:{sid}") == 1
        await viewer.stop()
        await late.stop()


async def test_multiplexed_stream_carries_many_and_resumes_with_its_cursor(
    sim: Simulator,
) -> None:
    calls = [sim.add_call() for _ in range(3)]
    cid = sim.add_campaign(name="Renewals", dialect="A", contacts=5)
    query = "&".join(f"call={sid}" for sid in calls) + f"&campaign={cid}"
    async with running_app(sim) as live, live.client(timeout=10) as client:
        viewer = Viewer(live.url, f"/api/events?{query}").start(client)
        for sid in calls:
            await viewer.wait_for(is_event("status", stream=f"call:{sid}", state="live"))
        await viewer.wait_for(is_event("status", stream=f"campaign:{cid}", state="live"))
        for sid in calls:
            sim.add_segment(sid, "user", f"hello from {sid}")
        sim.advance_campaign(cid, outcome="success")
        await viewer.wait_for(is_event("contact", stream=f"campaign:{cid}"))
        for sid in calls:
            await viewer.wait_for(has_segment(f"hello from {sid}"))
        await viewer.stop()
        before = len(viewer.events)
        for sid in calls:
            sim.add_segment(sid, "assistant", f"while away {sid}")
        viewer.start(client)
        for sid in calls:
            await viewer.wait_for(has_segment(f"while away {sid}"))
        resumed = viewer.events[before:]
        assert not [e for e in resumed if e.event in ("reset", "snapshot")]
        texts = [data(e)["segment"]["content"] for e in resumed if e.event == "transcript"]
        assert sorted(texts) == sorted(f"while away {sid}" for sid in calls)
        await viewer.stop()


async def test_metrics_and_probes(sim: Simulator) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live, live.client() as client:
        assert (await client.get(f"{live.url}/healthz")).json() == {"status": "ok"}
        assert (await client.get(f"{live.url}/readyz")).status_code == 200
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        await viewer.wait_for(is_event("status", state="live"))
        text = (await client.get(f"{live.url}/metrics")).text
        await viewer.stop()
    for name in (
        'burki_live_streams{kind="call"} 1.0',
        'burki_live_upstream_state{state="live"} 1.0',
        "burki_live_stream_viewers 1.0",
        "burki_live_events_in_total",
        "burki_live_dedupe_drops_total",
        "burki_live_upstream_reconnects_total",
        "burki_live_polls_total",
        "burki_live_viewer_sessions_total 1.0",
    ):
        assert name in text, name


async def test_polling_fallback_feeds_the_stream_while_the_socket_is_refused(
    sim: Simulator,
) -> None:
    sid = sim.add_call()
    sim.add_segment(sid, "user", "before")
    async with running_app(sim, relay_poll_after_failures=1) as live, live.client() as client:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        await viewer.wait_for(has_segment("before"))
        sim.faults.refuse_all = True
        await sim.drop(f"call:{sid}")
        await viewer.wait_for(is_event("status", state="polling"))
        sim.add_segment(sid, "assistant", "seen through REST")
        await viewer.wait_for(has_segment("seen through REST"))
        sim.faults.refuse_all = False
        await viewer.wait_for(is_event("status", state="live"), timeout=10)
        sim.add_segment(sid, "user", "live again")
        await viewer.wait_for(has_segment("live again"))
        assert segments(viewer.events) == ["before", "seen through REST", "live again"]
        await viewer.stop()


async def test_shutdown_ends_open_streams_promptly(sim: Simulator) -> None:
    sid = sim.add_call()
    async with httpx.AsyncClient() as client:
        async with running_app(sim) as live:
            token = await live.token(Role.SUPERVISOR)
            client.headers["Authorization"] = f"Bearer {token}"
            viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
            await viewer.wait_for(is_event("status", state="live"))
            started = asyncio.get_running_loop().time()
        assert asyncio.get_running_loop().time() - started < 1.5  # not the 2 s drain timeout
        await sim.wait_for_connections(f"call:{sid}", 0)
        assert live.hub.streams == {}
        await viewer.stop()


@pytest.mark.parametrize("multiplexed", [False, True])
async def test_a_parked_viewer_gets_frames_straight_from_the_stream_exactly_once(
    sim: Simulator, multiplexed: bool
) -> None:
    sid, other = sim.add_call(), sim.add_call()
    path = f"/api/events?call={sid}&call={other}" if multiplexed else f"/api/calls/{sid}/events"
    async with running_app(sim) as live, live.client(timeout=10) as client:
        viewer = Viewer(live.url, path).start(client)
        await viewer.wait_for(is_event("snapshot"))
        await sim.wait_for_connections(f"call:{sid}", 1)
        for n in range(20):
            sim.add_segment(sid, "user", f"line {n}")
            await viewer.wait_for(has_segment(f"line {n}"))  # one at a time: the reader parks
        (sub,) = live.hub.stream(StreamKey.call(sid)).subscribers
        assert sub.direct_writes >= 10  # most went by the direct path, none woke the reader
        await viewer.stop()
        sim.add_segment(sid, "user", "while away")
        viewer.start(client)  # resumes with its last id, which the direct path moved
        await viewer.wait_for(has_segment("while away"))
        assert segments(viewer.events) == [f"line {n}" for n in range(20)] + ["while away"]
        await viewer.stop()
