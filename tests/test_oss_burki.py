"""The dashboard against the open-source Burki's habits (the simulator's ``oss_quirks``).

Each test names a habit recorded from the real server (``../shared/burki-traces/``)
and proves over real sockets what a supervisor sees.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from urllib.parse import quote

from httpx_sse import ServerSentEvent

from tests.live import Viewer, data, is_event, running_app, segments
from webapp.delivery import cursor
from webapp.simulator import Simulator
from webapp.simulator.drivers import CallIds
from webapp.simulator.oss import telnyx_call_id
from webapp.simulator.rest import Reply
from webapp.simulator.world import EndCall, StartCall
from webapp.wire.streamkey import StreamKey, valid_sid

LINES = [f"line {n}: {'caller' if n % 2 else 'assistant'} says something" for n in range(12)]


def ended_call(sim: Simulator, sid: str | None = None) -> str:
    sid = sim.add_call(sid)
    for n, text in enumerate(LINES):
        sim.add_segment(sid, "user" if n % 2 else "assistant", text)
    sim.set_call_status(sid, "completed")
    return sid


def path_of(sid: str) -> str:
    return quote(sid, safe="")


async def next_event(
    viewer: Viewer, check: Callable[[ServerSentEvent], bool], after: int
) -> ServerSentEvent:
    """The first event received after the first ``after`` ones that passes ``check``."""
    return await viewer.wait_for(
        lambda e: check(e) and any(e is later for later in viewer.events[after:])
    )


# -- 1. an ended call shows its whole stored transcript ------------------------------------


async def test_a_call_opened_after_it_ended_shows_every_stored_line_once_in_order_then_end(
    oss_sim: Simulator,
) -> None:
    sid = ended_call(oss_sim)
    async with running_app(oss_sim) as live, live.client() as client:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        await viewer.wait_for(is_event("end"))
        assert segments(viewer.events) == LINES  # Burki sent the status first, then the lines
        late = Viewer(live.url, f"/api/calls/{sid}/events").start(client)  # while it lingers
        snapshot = await late.wait_for(is_event("snapshot"))
        assert [s["content"] for s in data(snapshot)["segments"]] == LINES
        assert data(snapshot)["ended"] is True
        export = await client.get(f"{live.url}/calls/{sid}/transcript.json")
        assert [s["content"] for s in export.json()["segments"]] == LINES
        text = (await client.get(f"{live.url}/calls/{sid}/transcript.txt")).text
        assert text.split("\n\n", 1)[1].count("\n") == len(LINES)  # after its header
        await viewer.stop()
        await late.stop()


async def test_the_replay_is_read_to_its_end_even_without_burki_s_rest(
    oss_sim: Simulator,
) -> None:
    sid = ended_call(oss_sim)
    oss_sim.faults.replay_delay = 0.01  # a slow replay; REST below cannot help
    async with running_app(oss_sim) as live, live.client() as client:
        down = Reply(503, {"detail": "Service Unavailable"})
        oss_sim.rest.handle = lambda *args: down  # type: ignore[method-assign]  # REST is down
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        await viewer.wait_for(is_event("call_status", status="completed"))
        export = await client.get(f"{live.url}/calls/{sid}/transcript.json")  # mid-replay
        assert [s["content"] for s in export.json()["segments"]] == LINES
        await viewer.wait_for(is_event("end"))
        assert segments(viewer.events) == LINES  # the quiet period after the burst ended it
        await viewer.stop()


async def test_a_call_that_ends_while_watched_shows_each_line_once_then_end(
    oss_sim: Simulator,
) -> None:
    sid = oss_sim.add_call()
    async with running_app(oss_sim) as live, live.client() as client:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        await viewer.wait_for(is_event("status", state="live"))
        for n, text in enumerate(LINES):
            oss_sim.add_segment(sid, "user" if n % 2 else "assistant", text)
        oss_sim.set_call_status(sid, "completed")
        await viewer.wait_for(is_event("end"))
        assert segments(viewer.events) == LINES
        await viewer.stop()


# -- 2. a Burki without campaigns ------------------------------------------------------------


async def test_a_burki_without_campaigns_lists_its_calls_and_says_so_quietly(
    oss_sim: Simulator,
) -> None:
    sid = oss_sim.add_call()
    async with running_app(oss_sim) as live, live.client() as client:
        page = (await client.get(f"{live.url}/")).text
        assert f"/calls/{sid}" in page
        assert "This Burki has no campaigns" in page
        assert "could not be read" not in page
        board = (await client.get(f"{live.url}/wallboard")).text
        assert f'id="card-{sid}"' in board
        asked = oss_sim.rest.served["/api/v1/campaigns"]
        for _ in range(3):
            await live.state.tenants.first.directory.refresh()
        assert oss_sim.rest.served["/api/v1/campaigns"] == asked  # said 404: not asked again
        assert oss_sim.rest.served["/api/v1/calls"] > 3


# -- 3. Telnyx and other ids -----------------------------------------------------------------


async def test_a_telnyx_call_can_be_watched_on_every_route_and_on_the_wallboard(
    oss_sim: Simulator,
) -> None:
    sid = oss_sim.add_call(telnyx_call_id(random.Random(3)))
    oss_sim.add_segment(sid, "user", "Hello from Telnyx")
    encoded = path_of(sid)
    async with running_app(oss_sim) as live, live.client() as client:
        page = await client.get(f"{live.url}/calls/{encoded}")
        assert page.status_code == 200
        assert f"/live/call/call/{encoded}?" in page.text  # the SSE URL is encoded
        assert f"/calls/{encoded}/transcript.txt" in page.text
        single = Viewer(live.url, f"/api/calls/{encoded}/events").start(client)
        await single.wait_for(lambda e: "Hello from Telnyx" in segments(single.events))
        many = Viewer(live.url, f"/api/events?call={encoded}").start(client)
        await many.wait_for(lambda e: "Hello from Telnyx" in segments(many.events))
        assert many.last_id is not None and many.last_id.startswith(cursor.HASHED)
        key = StreamKey.call(sid)
        epochs = {key: live.hub.streams[key].log.epoch}
        position = cursor.decode(many.last_id, [key], epochs.get)[key]
        named = f"call:{sid}={position}"  # the named form, with the ':' of the id
        await many.stop()
        oss_sim.add_segment(sid, "assistant", "Still here")
        resumed = Viewer(live.url, f"/api/events?call={encoded}", last_id=named)
        resumed.start(client)
        first = await resumed.wait_for(lambda e: e.event in ("transcript", "reset", "snapshot"))
        assert first.event == "transcript"  # the cursor with ':' in its id resumed exactly
        assert data(first)["segment"]["content"] == "Still here"
        board = (await client.get(f"{live.url}/wallboard")).text
        assert "Hello from Telnyx" in board  # no longer skipped
        export = await client.get(f"{live.url}/calls/{encoded}/transcript.json")
        assert export.json()["call_sid"] == sid
        for viewer in (single, resumed):
            await viewer.stop()
    stream = StreamKey.call(sid)
    assert oss_sim.connections_total(str(stream)) >= 1  # the upstream path was encoded


async def test_what_cannot_be_a_call_id_is_still_refused(oss_sim: Simulator) -> None:
    async with running_app(oss_sim) as live, live.client() as client:
        for bad in ("..", "a%20b", "x" * 129, "a%0Ab"):
            answer = await client.get(f"{live.url}/api/calls/{bad}/events")
            assert answer.status_code == 400, bad
        assert live.hub.streams == {}


# -- 4. a dead handler -----------------------------------------------------------------------


async def test_a_dead_handler_is_noticed_by_the_json_ping_and_the_stream_reconnects(
    oss_sim: Simulator,
) -> None:
    sid = oss_sim.add_call()
    oss_sim.add_segment(sid, "user", "before")
    fast = {"burki_keepalive_interval": 0.2, "burki_pong_timeout": 0.3}
    async with running_app(oss_sim, **fast) as live, live.client() as client:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        await viewer.wait_for(is_event("status", state="live"))
        seen = len(viewer.events)
        oss_sim.kill_handlers(f"call:{sid}")  # protocol pings still answered, nothing else
        lost = await next_event(viewer, is_event("status", state="reconnecting"), seen)
        assert "no pong" in data(lost)["message"]
        await next_event(viewer, is_event("status", state="live"), viewer.events.index(lost))
        oss_sim.add_segment(sid, "user", "after")
        await viewer.wait_for(lambda e: "after" in segments(viewer.events))
        assert segments(viewer.events) == ["before", "after"]  # the replay was deduped
        await viewer.stop()


# -- 5. 1008 while Burki's database is down ---------------------------------------------------


async def test_a_refused_key_is_retried_slowly_and_the_stream_recovers_by_itself(
    oss_sim: Simulator,
) -> None:
    sid = oss_sim.add_call()
    oss_sim.faults.database_down = True
    async with running_app(oss_sim, burki_auth_retry=0.5) as live, live.client() as client:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        refused = await viewer.wait_for(is_event("status", state="reconnecting", reason="auth"))
        assert data(refused)["retry_in"] >= 0.5
        assert "trying again" in data(refused)["message"]
        oss_sim.faults.database_down = False
        await viewer.wait_for(is_event("status", state="live"))
        assert oss_sim.rest.served[f"/api/v1/calls/sid/{sid}/transcripts"] == 0  # no polling
        await viewer.stop()


# -- 6. the rest of the server's habits --------------------------------------------------------


async def test_a_restart_close_1012_reconnects_promptly_every_time(oss_sim: Simulator) -> None:
    sid = oss_sim.add_call()
    async with running_app(oss_sim, burki_backoff_cap=60.0) as live, live.client() as client:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        await viewer.wait_for(is_event("status", state="live"))
        for _ in range(3):
            seen = len(viewer.events)
            await oss_sim.restart()
            status = await next_event(viewer, is_event("status", state="reconnecting"), seen)
            assert data(status)["retry_in"] <= 1.5  # not the growing backoff (1, 2, 4, ...)
            await next_event(viewer, is_event("status", state="live"), seen)
        await viewer.stop()


async def test_a_live_segment_before_the_greeting_is_shown_once(oss_sim: Simulator) -> None:
    sid = oss_sim.add_call()
    oss_sim.faults.greeting_delay = 0.5
    async with running_app(oss_sim) as live, live.client() as client:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        await oss_sim.wait_for_connections(f"call:{sid}", 1)  # registered, not greeted yet
        oss_sim.add_segment(sid, "user", "first, before connection_established")
        await viewer.wait_for(is_event("call_status"))
        await viewer.wait_for(lambda e: len(segments(viewer.events)) >= 1)
        assert segments(viewer.events) == ["first, before connection_established"]
        await viewer.wait_for(is_event("status", state="live"))
        await viewer.stop()


async def test_a_call_with_nothing_said_is_marked_no_activity_everywhere(
    oss_sim: Simulator,
) -> None:
    sid = oss_sim.add_call()  # "ongoing" forever: media never connected
    quick = {"relay_no_activity_minutes": 0.005}
    async with running_app(oss_sim, **quick) as live, live.client() as client:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        await viewer.wait_for(is_event("call_status", no_activity=True))
        assert "no activity" in (await client.get(f"{live.url}/calls/{sid}")).text
        assert "no activity" in (await client.get(f"{live.url}/wallboard")).text
        assert "no activity" in (await client.get(f"{live.url}/")).text
        oss_sim.add_segment(sid, "user", "hello?")
        await viewer.wait_for(is_event("call_status", no_activity=False))
        await viewer.stop()


async def test_status_words_and_metadata_shapes_become_one_word_and_one_record(
    oss_sim: Simulator,
) -> None:
    sid = oss_sim.add_call(customer_phone="+15553334444")
    async with running_app(oss_sim) as live, live.client() as client:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        first = await viewer.wait_for(is_event("call_status"))
        assert data(first)["status"] == "in-progress"  # Burki said "ongoing"
        oss_sim.set_call_status(sid, "in-progress")  # media starts: the third shape
        oss_sim.set_call_status(sid, "completed")  # the end: duration only
        last = await viewer.wait_for(is_event("call_status", status="completed"))
        metadata = data(last)["metadata"]
        assert metadata["customer_phone_number"] == "••••4444"  # not lost to the end's shape
        assert metadata["call_type"] == "inbound" and "duration" in metadata
        assert "started_at" in metadata
        page = (await client.get(f"{live.url}/calls/{sid}")).text
        assert "ongoing" not in page
        assert "data-until=" in page  # the end from start + duration: the clock stops
        await viewer.stop()


async def test_calls_without_assistant_names_show_burki_s_names_and_filter_by_them(
    oss_sim: Simulator,
) -> None:
    sid = oss_sim.add_call(assistant_name="Front desk")
    async with running_app(oss_sim) as live, live.client() as client:
        page = (await client.get(f"{live.url}/?assistant=Front+desk")).text
        assert f"/calls/{sid}" in page and "Front desk" in page
        other = (await client.get(f"{live.url}/?assistant=Nobody")).text
        assert f"/calls/{sid}" not in other


def test_the_demo_calls_of_oss_mode_include_telnyx_and_uuid_ids() -> None:
    ids = CallIds(Simulator(oss_quirks=True))
    world_sids = [f"CA{n:032x}" for n in range(6)]
    started = [ids.mapped(StartCall(sid, "Front desk", "+1555")) for sid in world_sids]
    mapped = [action.sid for action in started if isinstance(action, StartCall)]
    assert any(sid.startswith("v3:") and len(sid) > 34 for sid in mapped)  # Telnyx
    assert any(len(sid) == 36 and sid.count("-") == 4 for sid in mapped)  # UUID (Vonage)
    assert any(sid.startswith("CA") for sid in mapped)  # Twilio
    assert all(valid_sid(sid) for sid in mapped)
    assert ids.mapped(EndCall(world_sids[1], "completed")) == EndCall(mapped[1], "completed")


# -- 7. a campaign opened mid-run --------------------------------------------------------------


async def test_a_campaign_opened_mid_run_starts_with_its_curve_so_far(sim: Simulator) -> None:
    cid = sim.add_campaign(dialect="C", contacts=20)
    for n in range(6):
        sim.advance_campaign(cid, "success" if n % 3 else "failed")
    async with running_app(sim) as live, live.client() as client:
        viewer = Viewer(live.url, f"/api/campaigns/{cid}/events").start(client)
        filled = await viewer.wait_for(is_event("history"))
        assert len(data(filled)["history"]) >= 6  # one sample per contact done so far
        done = [sample["completed"] for sample in data(filled)["history"]]
        assert done == sorted(done) and done[-1] == 6
        page = (await client.get(f"{live.url}/campaigns/{cid}")).text
        points = page.split('class="line-done" points="', 1)[1].split('"', 1)[0]
        assert len(points.split()) >= 6  # the page's first render draws the curve so far
        await viewer.stop()
