"""Every route of an organisation's streams under ``/o/{org}``, over real sockets: two
organisations holding the same call id (two simulators, each its own key: one Burki never
gives two organisations one id, and the simulator serving several refuses one id in two),
their pages, exports, actions and JSON streams apart, resume across both on one
connection exact; and on one simulator serving both, every request for an organisation's
URL made with that organisation's key."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from tests.conftest import SIM_KEY
from tests.hubs import frames_until, of_type
from tests.live import (
    FAST,
    SESSION_SECRET,
    LiveApp,
    Viewer,
    csrf_of,
    data,
    has_segment,
    is_live,
    running_app,
)
from tests.orgs import add_org
from webapp import parts
from webapp.access.routes import local_path
from webapp.alerts.messages import page_link
from webapp.delivery import cursor
from webapp.orgs.model import Org
from webapp.relay.frames import Frame
from webapp.settings import Settings
from webapp.simulator import Simulator
from webapp.wire.streamkey import StreamKey, org_path, stream_path

SID = "CA0123456789abcdef0123456789abcdef"
ACME_KEY = "acme-key-9d41c7e2b05a"  # organisation acme's (the default one's is SIM_KEY)


@asynccontextmanager
async def serving_org(live: LiveApp, sim: Simulator, key: str) -> AsyncIterator[None]:
    """Organisation ``acme`` on ``live`` with ``key``, on ``sim`` (a simulator of its own,
    or one serving several organisations), until the block exits."""
    overrides = {"burki_api_key": key, "burki_base_url": sim.base_url}
    settings = Settings(**(FAST | overrides | {"dashboard_session_secret": SESSION_SECRET}))
    async with parts.burki_rest(settings) as rest:
        add_org(live, settings, Org("acme", "Acme Support", sim.base_url), rest)
        for tenant in live.state.tenants:  # each lists its own calls: an id another lists
            await tenant.directory.refresh()  # and its own does not is refused (known.py)
        yield


@pytest.fixture
async def acme_sim() -> AsyncIterator[Simulator]:
    async with Simulator(api_key=ACME_KEY, autoplay=False) as simulator:
        yield simulator


@pytest.fixture
async def two() -> AsyncIterator[Simulator]:
    """One Burki serving two organisations: the default one (the dashboard's own key) and
    ``acme``; ``two`` scripts the default one's world, ``two.org("acme")`` acme's."""
    orgs = {"default": SIM_KEY, "acme": ACME_KEY}
    async with Simulator(orgs=orgs, autoplay=False) as simulator:
        yield simulator


def both_hold(sim: Simulator, acme_sim: Simulator) -> None:
    """The same call id in both organisations, each saying its own words."""
    for each, words in ((sim, "default says hello"), (acme_sim, "acme says hello")):
        each.add_call(SID, customer_phone="+15550111")
        each.add_segment(SID, "user", words)
        each.add_campaign("Renewals", contacts=5, campaign_id=7)


async def test_the_same_call_id_in_two_organisations_shows_each_its_own_transcript(
    sim: Simulator, acme_sim: Simulator
) -> None:
    both_hold(sim, acme_sim)
    async with (
        running_app(sim) as live,
        serving_org(live, acme_sim, ACME_KEY),
        live.client() as client,
    ):
        for prefix, own, other in (("", "default", "acme"), ("/o/acme", "acme", "default")):
            viewer = Viewer(live.url, f"{prefix}/api/calls/{SID}/events").start(client)
            said = await viewer.wait_for(has_segment(f"{own} says hello"), timeout=10)
            assert data(said)["stream"] == str(StreamKey.call(SID, own))
            await viewer.stop()
            assert not any(has_segment(f"{other} says hello")(e) for e in viewer.events)
            exported = await client.get(f"{live.url}{prefix}/calls/{SID}/transcript.txt")
            assert exported.status_code == 200
            assert f"{own} says hello" in exported.text and other not in exported.text
            api = (await client.get(f"{live.url}{prefix}/api/calls/{SID}/transcript")).json()
            assert [s["content"] for s in api["segments"]] == [f"{own} says hello"]
        assert {StreamKey.call(SID), StreamKey.call(SID, "acme")} <= set(live.hub.streams)


STREAM_LINK = re.compile(
    r'(?:href|action|hx-post|hx-sse:connect)="([^"]*/(?:calls|campaigns|live)/[^"]*)"'
)


async def test_a_page_of_one_organisation_links_only_to_its_own_streams(
    sim: Simulator, acme_sim: Simulator
) -> None:
    both_hold(sim, acme_sim)
    async with (
        running_app(sim) as live,
        serving_org(live, acme_sim, ACME_KEY),
        live.client() as client,
    ):
        for path in (
            f"/calls/{SID}",
            f"/calls/{SID}/captions",
            "/campaigns/7",
            f"/calls/{SID}/end",
        ):
            page = await client.get(f"{live.url}/o/acme{path}")
            assert page.status_code == 200, path
            links = STREAM_LINK.findall(page.text)
            assert links, path
            for link in links:
                assert link.removeprefix(live.url).startswith("/o/acme/"), (path, link)
            default = await client.get(f"{live.url}{path}")
            assert default.status_code == 200, path  # its stream links stay its own (the
            # switcher in the nav links every organisation the person may see, by design)
            assert not [x for x in STREAM_LINK.findall(default.text) if "/o/acme" in x], path
        csrf = await csrf_of(client, f"{live.url}/o/acme/calls/{SID}")
        claimed = await client.post(
            f"{live.url}/o/acme/calls/{SID}/claim", data={"action": "claim", "csrf": csrf}
        )
        assert claimed.status_code == 303
        assert claimed.headers["location"] == f"/o/acme/calls/{SID}"
        claims = [k for k, s in live.hub.streams.items() if s.claims.current is not None]
        assert claims == [StreamKey.call(SID, "acme")]  # the default organisation's untouched


async def test_a_page_of_an_organisations_call_updates_from_its_own_stream(
    sim: Simulator, acme_sim: Simulator
) -> None:
    """The page's own update stream (its ``hx-sse:connect``) is acme's call: the first
    update after the page is acme's next line, with links under ``/o/acme``."""
    both_hold(sim, acme_sim)
    async with (
        running_app(sim) as live,
        serving_org(live, acme_sim, ACME_KEY),
        live.client() as client,
    ):
        page = (await client.get(f"{live.url}/o/acme/calls/{SID}")).text
        found = re.search(r'hx-sse:connect="([^"]+)"', page)
        assert found is not None and found.group(1).startswith(f"/o/acme/live/call/call/{SID}?")
        url = live.url + found.group(1).replace("&amp;", "&")
        async with client.stream("GET", url, timeout=10) as response:
            assert response.status_code == 200
            acme_sim.add_segment(SID, "user", "acme, later")  # after the page's position
            sim.add_segment(SID, "user", "default, later")
            raw = b""
            async for chunk in response.aiter_bytes():
                raw += chunk
                if b"acme, later" in raw and raw.endswith(b"\n\n"):
                    break
        text = raw.decode()
        assert "default" not in text and "/calls/" not in text.replace("/o/acme/calls/", "")


async def test_an_organisation_the_dashboard_does_not_serve_is_a_404_for_pages_and_programs(
    sim: Simulator, acme_sim: Simulator
) -> None:
    both_hold(sim, acme_sim)
    async with (
        running_app(sim) as live,
        serving_org(live, acme_sim, ACME_KEY),
        live.client() as client,
    ):
        for org in ("globex", "default", "ACME"):
            page = await client.get(f"{live.url}/o/{org}/calls/{SID}")
            assert page.status_code == 404 and "No such organisation." in page.text, org
            api = await client.get(f"{live.url}/o/{org}/api/calls/{SID}/events")
            assert api.status_code == 404, org
            assert api.json() == {"error": "no_such_org", "message": "No such organisation."}
        named = await client.get(f"{live.url}/o/acme/api/events?call={SID}&call=globex/{SID}")
        assert named.status_code == 404
        assert named.json()["message"] == "No such organisation."
        assert live.hub.streams == {}  # nothing was opened for any of them


async def test_the_json_api_under_an_organisation_resumes_exactly(
    sim: Simulator, acme_sim: Simulator
) -> None:
    both_hold(sim, acme_sim)
    key = StreamKey.call(SID, "acme")
    async with (
        running_app(sim) as live,
        serving_org(live, acme_sim, ACME_KEY),
        live.client() as client,
    ):
        viewer = Viewer(live.url, f"/o/acme/api/calls/{SID}/events").start(client)
        await viewer.wait_for(is_live, timeout=10)
        await viewer.wait_for(has_segment("acme says hello"), timeout=10)
        await viewer.stop()
        before = len(viewer.events)
        with live.hub.watch([key], {}) as watcher:
            acme_sim.add_segment(SID, "user", "while away")
            await frames_until(watcher.sub, of_type("transcript"))
        viewer.start(client, query_resume=True)
        await viewer.wait_for(has_segment("while away"), timeout=10)
        missed = viewer.events[before:]
        assert not {"snapshot", "reset"} & {e.event for e in missed}
        said = [data(e)["segment"]["content"] for e in missed if e.event == "transcript"]
        assert said == ["while away"]
        await viewer.stop()


async def test_one_connection_carries_both_organisations_streams_and_resumes_each_exactly(
    sim: Simulator, acme_sim: Simulator
) -> None:
    both_hold(sim, acme_sim)
    keys = [StreamKey.call(SID, "acme"), StreamKey.call(SID)]
    async with (
        running_app(sim) as live,
        serving_org(live, acme_sim, ACME_KEY),
        live.client() as client,
    ):
        path = f"/api/events?call=acme/{SID}&call={SID}"
        viewer = Viewer(live.url, path).start(client)
        for own, key in (("acme", keys[0]), ("default", keys[1])):
            said = await viewer.wait_for(has_segment(f"{own} says hello"), timeout=10)
            assert data(said)["stream"] == str(key)
        await viewer.stop()
        before = len(viewer.events)
        assert viewer.last_id is not None and SID not in viewer.last_id  # positions only
        with live.hub.watch(keys, {}) as watcher:
            acme_sim.add_segment(SID, "user", "acme, meanwhile")
            sim.add_segment(SID, "user", "default, meanwhile")
            told: set[str] = set()
            await frames_until(watcher.sub, lambda f: heard(f, told) >= {"acme", "default"})
        viewer.start(client)
        for own in ("acme", "default"):
            await viewer.wait_for(has_segment(f"{own}, meanwhile"), timeout=10)
        missed = viewer.events[before:]
        assert not {"snapshot", "reset"} & {e.event for e in missed}
        said = sorted(
            (data(e)["stream"], data(e)["segment"]["content"])
            for e in missed
            if e.event == "transcript"
        )
        assert said == [
            ("acme/call:" + SID, "acme, meanwhile"),
            ("call:" + SID, "default, meanwhile"),
        ]
        await viewer.stop()


def heard(frame: Frame, told: set[str]) -> set[str]:
    """The organisations whose "meanwhile" segment has been seen, ``frame`` included."""
    if frame.type == "transcript" and "meanwhile" in frame.data["segment"]["content"]:
        told.add(frame.data["segment"]["content"].split(",")[0])
    return told


async def test_a_cursor_naming_another_organisations_stream_opens_and_resumes_nothing_of_it(
    sim: Simulator, acme_sim: Simulator
) -> None:
    both_hold(sim, acme_sim)
    acme = StreamKey.call(SID, "acme")
    async with (
        running_app(sim) as live,
        serving_org(live, acme_sim, ACME_KEY),
        live.client() as client,
    ):
        viewer = Viewer(live.url, f"/o/acme/api/events?call={SID}").start(client)
        await viewer.wait_for(has_segment("acme says hello"), timeout=10)
        await viewer.stop()
        assert viewer.last_id is not None
        epochs = {acme: live.hub.streams[acme].log.epoch}
        position = cursor.decode(viewer.last_id, [acme], epochs.get)[acme]
        assert position != cursor.UNRESUMABLE  # a well-formed id of acme's stream
        # The default organisation's connection, resumed with a cursor naming acme's stream.
        other = Viewer(live.url, f"/api/events?call={SID}", last_id=f"{acme}={position}")
        other.start(client)
        await other.wait_for(has_segment("default says hello"), timeout=10)
        await other.stop()
        assert {data(e)["stream"] for e in other.events if e.data.startswith("{")} <= {
            f"call:{SID}"
        }
        assert other.events[0].event == "reset"  # its own stream: not resumed from acme's id


async def test_an_organisations_stream_routes_are_audited_with_its_key(
    sim: Simulator, acme_sim: Simulator
) -> None:
    both_hold(sim, acme_sim)
    async with (
        running_app(sim) as live,
        serving_org(live, acme_sim, ACME_KEY),
        live.client() as client,
    ):
        assert (await client.get(f"{live.url}/o/acme/calls/{SID}")).status_code == 200
        entries = await live.state.access.audit.entries(None)
        assert f"acme/call:{SID}" in [e.what for e in entries]
        assert f"call:{SID}" not in [e.what for e in entries]


async def test_each_organisations_urls_ask_burki_with_its_own_key_only(two: Simulator) -> None:
    """One Burki, two organisations: acme's call opened under ``/o/acme`` (page, export,
    JSON stream) is asked for with acme's key only; the default organisation's id under
    ``/o/acme`` is not acme's (404) and never asked for with the default key."""
    acme = two.org("acme")
    mine, theirs = acme.add_call(), two.add_call()
    acme.add_segment(mine, "user", "acme's own words")
    async with running_app(two) as live, serving_org(live, two, ACME_KEY), live.client() as client:
        two.requests.clear()
        assert (await client.get(f"{live.url}/o/acme/calls/{mine}")).status_code == 200
        exported = await client.get(f"{live.url}/o/acme/calls/{mine}/transcript.txt")
        assert exported.status_code == 200
        viewer = Viewer(live.url, f"/o/acme/api/calls/{mine}/events").start(client)
        await viewer.wait_for(has_segment("acme's own words"), timeout=10)
        await viewer.stop()
        for path in (f"/o/acme/calls/{theirs}", f"/o/acme/api/calls/{theirs}/transcript"):
            assert (await client.get(live.url + path)).status_code == 404, path
        asked = two.requests.naming(mine) + two.requests.naming(theirs)
        assert {entry.org for entry in two.requests.naming(mine)} == {"acme"}
        assert {entry.org for entry in two.requests.naming(theirs)} <= {"acme"}
        assert {"ws", "rest"} <= {entry.channel for entry in asked}
        assert StreamKey.call(theirs, "acme") not in live.hub.streams


def test_a_link_to_a_stream_carries_its_organisations_prefix_and_the_default_none() -> None:
    acme, default = StreamKey.call("v3:a.b~c", "acme"), StreamKey.campaign(7)
    assert stream_path(acme) == "/o/acme/calls/v3%3Aa.b~c"
    assert stream_path(default) == "/campaigns/7"
    assert (
        page_link("https://dash.example/", acme) == "https://dash.example/o/acme/calls/v3%3Aa.b~c"
    )
    assert page_link("https://dash.example", default) == "https://dash.example/campaigns/7"
    assert org_path("acme", "/api/events") == "/o/acme/api/events"


def test_a_path_past_its_organisation_is_what_the_json_api_and_embed_checks_read() -> None:
    assert local_path("/o/acme/api/events") == "/api/events"
    assert local_path("/o/acme/embed/calls/CA1") == "/embed/calls/CA1"
    assert local_path("/o/acme") == "/"
    assert local_path("/api/events") == "/api/events"


async def test_ending_and_pausing_under_an_organisation_act_on_its_own_with_its_key(
    two: Simulator,
) -> None:
    """The end-call and campaign forms under ``/o/acme`` post to acme's URLs, Burki is asked
    with acme's key, and the default organisation's call and campaign are left alone."""
    acme = two.org("acme")
    mine, theirs = acme.add_call(), two.add_call()
    campaign, other_campaign = acme.add_campaign(contacts=5), two.add_campaign(contacts=5)
    async with running_app(two) as live, serving_org(live, two, ACME_KEY), live.client() as client:
        confirm = await client.get(f"{live.url}/o/acme/calls/{mine}/end")
        assert f'action="/o/acme/calls/{mine}/end"' in confirm.text
        token = await csrf_of(client, f"{live.url}/o/acme/calls/{mine}/end")
        two.requests.clear()
        done = await client.post(f"{live.url}/o/acme/calls/{mine}/end", data={"csrf": token})
        assert done.status_code == 303 and done.headers["location"] == f"/o/acme/calls/{mine}"
        paused = await client.post(
            f"{live.url}/o/acme/campaigns/{campaign}/control",
            data={"csrf": token, "verb": "pause"},
        )
        assert paused.headers["location"] == f"/o/acme/campaigns/{campaign}"
        assert acme.store.calls[mine].status == "completed"
        assert acme.store.campaigns[campaign].status == "paused"
        assert not two.store.calls[theirs].ended
        assert two.store.campaigns[other_campaign].status == "running"
        posts = [e for e in two.requests if e.method == "POST"]
        assert len(posts) == 2 and {e.org for e in posts} == {"acme"}
        refused = await client.post(f"{live.url}/o/acme/calls/{theirs}/end", data={"csrf": token})
        assert refused.status_code == 404  # the default organisation's call is not acme's
        assert not two.store.calls[theirs].ended
