"""Isolation, proven (issue 25): one dashboard serving two organisations, both played by
one simulator with two keys, over real sockets.

A user of one organisation who guesses another's call or campaign ids is refused with the
404 of an id nobody has, and the simulator's request log proves that no REST or upstream
request ever used one organisation's key for an id only the other lists. Cases of the
other organisation's own URLs go through its ``/o/{org}`` routes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.live import LiveApp, Viewer, csrf_of, has_segment, is_live
from tests.orgs import GLOBEX, asked_with, two_org_app, two_org_sim
from webapp.access.users import Role
from webapp.simulator import Simulator
from webapp.wire.streamkey import StreamKey

UNKNOWN = "Burki has no call with this id."
WORDS = (
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
)


@dataclass
class World:
    sim: Simulator
    live: LiveApp
    a_call: str  # the default organisation's
    a_campaign: int
    b_call: str  # globex's
    b_campaign: int


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async with two_org_sim() as sim, two_org_app(sim) as live:
        globex = sim.org(GLOBEX)
        a_call, a_campaign = sim.add_call(), sim.add_campaign()
        b_call, b_campaign = globex.add_call(), globex.add_campaign()
        for tenant in live.state.tenants:  # each lists its own (as its overview would)
            await tenant.directory.refresh()
        sim.requests.clear()  # the lists were read with each one's own key
        yield World(sim, live, a_call, a_campaign, b_call, b_campaign)


def b_ids(world: World) -> tuple[str, str]:
    return world.b_call, str(world.b_campaign)


ROUTES = (
    "/calls/{call}",
    "/calls/{call}/captions",
    "/calls/{call}/transcript.txt",
    "/calls/{call}/transcript.json",
    "/api/calls/{call}/transcript",
    "/api/calls/{call}/events",
    "/api/events?call={call}",
    "/api/events?campaign={campaign}",
    "/api/events?call={a_call}&call={call}",
    "/live/call/call/{call}",
    "/calls/{call}/end",
    "/campaigns/{campaign}",
    "/campaigns/{campaign}/stop",
    "/api/campaigns/{campaign}/events",
    "/live/campaign/campaign/{campaign}",
)
NOBODY_CALL, NOBODY_CAMPAIGN = "CA" + "0" * 32, "424242"


async def test_globex_ids_under_the_default_organisation_get_what_nobodys_get_without_a_request(
    world: World,
) -> None:
    live, b_call, b_campaign = world.live, world.b_call, world.b_campaign
    async with live.client(Role.ADMIN, timeout=10) as admin:
        for route in ROUTES:
            theirs = route.format(call=b_call, campaign=b_campaign, a_call=world.a_call)
            nobodys = route.format(call=NOBODY_CALL, campaign=NOBODY_CAMPAIGN, a_call=world.a_call)
            foreign = await admin.get(live.url + theirs)
            unknown = await admin.get(live.url + nobodys)
            assert foreign.status_code == unknown.status_code, (route, foreign.status_code)
            assert (
                foreign.text.replace(b_call, "ID").replace(str(b_campaign), "ID")
                == (unknown.text.replace(NOBODY_CALL, "ID").replace(NOBODY_CAMPAIGN, "ID"))
                or foreign.status_code == 200
            ), route  # a form carries its own CSRF token
        csrf = await csrf_of(admin, f"{live.url}/admin")
        end = await admin.post(f"{live.url}/calls/{b_call}/end", data={"csrf": csrf})
        pause = await admin.post(
            f"{live.url}/campaigns/{b_campaign}/control", data={"csrf": csrf, "verb": "pause"}
        )
        link = await admin.post(
            f"{live.url}/admin/embed-link",
            data={"kind": "call", "ident": b_call, "ttl": "1h", "csrf": csrf},
        )
    assert (end.status_code, pause.status_code) == (404, 404)
    assert "Burki does not know this call or campaign." in end.text
    assert link.status_code == 400 and f"Burki has no call {b_call}: no link was made." in link.text
    assert asked_with(world.sim, "default", *b_ids(world)) == []
    assert not world.sim.org(GLOBEX).store.calls[b_call].ended  # nothing reached Burki
    assert world.sim.org(GLOBEX).store.campaigns[b_campaign].status == "running"


async def test_the_refusal_says_what_an_id_nobody_has_says(world: World) -> None:
    async with world.live.client(Role.ADMIN, timeout=10) as admin:
        foreign = await admin.get(f"{world.live.url}/calls/{world.b_call}")
        nobody = await admin.get(f"{world.live.url}/calls/CA{'0' * 32}")
        api_foreign = await admin.get(f"{world.live.url}/api/calls/{world.b_call}/events")
        api_nobody = await admin.get(f"{world.live.url}/api/calls/CA{'0' * 32}/events")
    assert foreign.status_code == nobody.status_code == 404
    assert UNKNOWN in foreign.text and UNKNOWN in nobody.text
    assert "globex" not in foreign.text.lower() and "Globex" not in foreign.text
    foreign_body = api_foreign.json()
    nobody_body = api_nobody.json()
    assert foreign_body["error"].replace(world.b_call, "ID") == nobody_body["error"].replace(
        "CA" + "0" * 32, "ID"
    )


async def test_an_id_nobody_lists_is_looked_up_once_with_the_routes_own_key(
    world: World,
) -> None:
    nobody = "CA" + "f" * 32
    async with world.live.client(Role.ADMIN, timeout=10) as admin:
        assert (await admin.get(f"{world.live.url}/calls/{nobody}")).status_code == 404
        assert (await admin.get(f"{world.live.url}/api/calls/{nobody}/events")).status_code == 404
    assert asked_with(world.sim, "default", nobody) == [
        f"rest GET /api/v1/calls/sid/{nobody}"
    ]  # the second was remembered as missing
    assert asked_with(world.sim, GLOBEX, nobody) == []


async def test_the_default_organisations_own_ids_stream_with_its_own_key(world: World) -> None:
    async with world.live.client(Role.ADMIN, timeout=10) as admin:
        viewer = Viewer(world.live.url, f"/api/calls/{world.a_call}/events").start(admin)
        try:
            await viewer.wait_for(is_live)
            world.sim.add_segment(world.a_call, "user", "Hello from the default org")
            await viewer.wait_for(has_segment("Hello from the default org"))
        finally:
            await viewer.stop()
    assert asked_with(world.sim, GLOBEX, world.a_call) == []
    assert any(line.startswith("ws ") for line in asked_with(world.sim, "default", world.a_call))


@pytest.mark.parametrize(
    "path",
    [
        "/calls/{b}%2F..%2F..%2Fo%2Fglobex%2Fcalls%2F{b}",
        "/calls/globex%2F{b}",
        "/calls/globex%2Fcall:{b}",
        "/api/calls/globex%2F{b}/events",
        "/api/events?call=..%2F{b}",
        "/calls/{b}%00",
        "/calls/{b}%20",
        "/calls/" + "C" * 5000,
        "/api/events?call=" + "CA" * 3000,
        "/calls/%2e%2e%2fo%2fglobex%2fcalls%2f{b}",
        "/live/call/call/globex%2F{b}",
    ],
)
async def test_hostile_ids_under_the_default_organisation_never_reach_globex_ids(
    world: World, path: str
) -> None:
    async with world.live.client(Role.ADMIN, timeout=10) as admin:
        answer = await admin.get(world.live.url + path.format(b=world.b_call))
    assert answer.status_code in (400, 404, 414), answer.status_code
    assert asked_with(world.sim, "default", *b_ids(world)) == []
    assert asked_with(world.sim, GLOBEX, *b_ids(world)) == []


async def test_an_unknown_organisation_is_the_same_404_as_one_you_may_not_see_and_asks_nothing(
    world: World,
) -> None:
    async with world.live.client(Role.ADMIN, timeout=10) as admin:
        for path in (
            f"/o/initech/calls/{world.b_call}",
            f"/o/initech/api/calls/{world.b_call}/events",
            f"/o/INITECH/calls/{world.b_call}",
            f"/o/{'x' * 200}/calls/{world.b_call}",
            f"/o/%2e%2e/calls/{world.b_call}",
        ):
            answer = await admin.get(world.live.url + path)
            assert answer.status_code == 404, path
    assert list(world.sim.requests) == []


async def test_an_unknown_organisation_says_no_such_organisation(world: World) -> None:
    async with world.live.client(Role.ADMIN, timeout=10) as admin:
        answer = await admin.get(f"{world.live.url}/o/initech/calls/{world.b_call}")
    assert answer.status_code == 404 and "No such organisation." in answer.text


async def test_globex_ids_under_globex_routes_are_asked_with_globex_key_only(
    world: World,
) -> None:
    unlisted_b = world.sim.org(GLOBEX).add_call()  # not listed yet: looked up in REST
    async with world.live.client(Role.ADMIN, timeout=10) as admin:
        listed = await admin.get(f"{world.live.url}/o/globex/calls/{world.b_call}")
        found = await admin.get(f"{world.live.url}/o/globex/calls/{unlisted_b}")
        a_under_b = await admin.get(f"{world.live.url}/o/globex/calls/{world.a_call}")
    assert (listed.status_code, found.status_code, a_under_b.status_code) == (200, 200, 404)
    lookup = f"rest GET /api/v1/calls/sid/{unlisted_b}"
    assert asked_with(world.sim, GLOBEX, unlisted_b)[0] == lookup
    assert asked_with(world.sim, "default", world.b_call, unlisted_b) == []
    assert asked_with(world.sim, GLOBEX, world.a_call) == []


async def test_the_multiplexed_api_reads_an_org_prefix_and_refuses_the_wrong_orgs_id(
    world: World,
) -> None:
    async with world.live.client(Role.ADMIN, timeout=10) as admin:
        viewer = Viewer(
            world.live.url, f"/api/events?call={world.a_call}&call=globex/{world.b_call}"
        ).start(admin)
        try:
            await viewer.wait_for(is_live)
        finally:
            await viewer.stop()
        crossed = await admin.get(f"{world.live.url}/api/events?call=globex/{world.a_call}")
    assert crossed.status_code == 404
    assert asked_with(world.sim, "default", world.b_call) == []
    assert asked_with(world.sim, GLOBEX, world.a_call) == []


async def test_concurrent_users_guessing_the_other_organisations_ids_never_cross_keys(
    world: World,
) -> None:
    """Viewers of the default organisation's call stream while many clients at once ask
    for globex's ids under the default organisation's routes (and for ids nobody has)."""
    live, sim = world.live, world.sim
    guesses = [f"/calls/{world.b_call}", f"/api/calls/{world.b_call}/events"]
    guesses += [f"/campaigns/{world.b_campaign}", f"/api/events?campaign={world.b_campaign}"]
    guesses += [f"/calls/CA{n:032x}" for n in range(8)]  # nobody's: each asked once at most
    async with (
        live.client(Role.ADMIN, timeout=10) as watcher,
        live.client(Role.ADMIN, timeout=10) as guesser,
    ):
        viewers = [
            Viewer(live.url, f"/api/calls/{world.a_call}/events").start(watcher) for _ in range(5)
        ]
        try:
            for viewer in viewers:
                await viewer.wait_for(is_live)

            async def guess(path: str) -> int:
                return (await guesser.get(live.url + path)).status_code

            said = asyncio.gather(
                *(guess(path) for path in guesses * 6),
            )
            for word in WORDS:
                sim.add_segment(world.a_call, "user", f"the {word} line of the default org")
            codes = await said
            for viewer in viewers:
                await viewer.wait_for(has_segment("the juliet line of the default org"))
        finally:
            for viewer in viewers:
                await viewer.stop()
    assert set(codes) == {404}
    assert asked_with(sim, "default", *b_ids(world)) == []
    assert asked_with(sim, GLOBEX, world.a_call) == []
    nobody = [f"CA{n:032x}" for n in range(8)]
    assert len(asked_with(sim, "default", *nobody)) <= len(nobody)  # shared, remembered


async def test_users_of_both_organisations_at_once_each_stream_with_their_own_key_only(
    world: World,
) -> None:
    """Default and globex viewers stream their own calls while each guesses the other's."""
    live, sim = world.live, world.sim
    async with (
        live.client(Role.ADMIN, timeout=10) as one,
        live.client(Role.ADMIN, timeout=10) as other,
    ):
        ours = [Viewer(live.url, f"/api/calls/{world.a_call}/events").start(one) for _ in range(3)]
        theirs = [
            Viewer(live.url, f"/o/globex/api/calls/{world.b_call}/events").start(other)
            for _ in range(3)
        ]
        try:
            for viewer in ours + theirs:
                await viewer.wait_for(is_live)
            crossed = await asyncio.gather(
                *(one.get(f"{live.url}/calls/{world.b_call}") for _ in range(10)),
                *(other.get(f"{live.url}/o/globex/calls/{world.a_call}") for _ in range(10)),
            )
            sim.add_segment(world.a_call, "user", "the default organisation speaks")
            sim.org(GLOBEX).add_segment(world.b_call, "user", "globex speaks")
            for viewer in ours:
                await viewer.wait_for(has_segment("the default organisation speaks"))
            for viewer in theirs:
                await viewer.wait_for(has_segment("globex speaks"))
        finally:
            for viewer in ours + theirs:
                await viewer.stop()
    assert {answer.status_code for answer in crossed} == {404}
    assert asked_with(sim, "default", *b_ids(world)) == []
    assert asked_with(sim, GLOBEX, world.a_call, str(world.a_campaign)) == []
    assert asked_with(sim, GLOBEX, world.b_call)  # globex's own key streamed globex's call


async def test_a_key_is_never_in_the_simulators_log_nor_a_page(world: World) -> None:
    from tests.orgs import ACME_KEY, GLOBEX_KEY

    async with world.live.client(Role.ADMIN, timeout=10) as admin:
        pages = [
            await admin.get(world.live.url + path)
            for path in ("/", "/admin", f"/calls/{world.b_call}", f"/calls/{world.a_call}")
        ]
    text = "".join(page.text for page in pages) + repr(list(world.sim.requests))
    assert ACME_KEY not in text and GLOBEX_KEY not in text


def test_stream_keys_of_two_organisations_name_the_same_id_apart() -> None:
    a, b = StreamKey.call("CA1"), StreamKey.call("CA1", GLOBEX)
    assert a != b and str(b) == "globex/call:CA1"


PAGES = {
    "call": ("/calls/{}", "/calls/{}/transcript.json", "/api/calls/{}/transcript", "/calls/{}/end"),
    "campaign": ("/campaigns/{}", "/campaigns/{}/stop"),
}
WHOSE = ("default", "globex", "nobody")


@pytest.mark.timeout(300)
@settings(
    max_examples=5,
    deadline=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),  # shrinking over sockets: too slow
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(
        st.tuples(st.sampled_from(("call", "campaign")), st.sampled_from(WHOSE), st.integers(0, 5)),
        min_size=10,
        max_size=40,
    ),
    st.integers(1, 8),
)
async def test_any_interleaving_of_requests_for_any_organisations_ids_keeps_keys_apart(
    asks: list[tuple[str, str, int]], at_once: int
) -> None:
    """Requests for the default organisation's, globex's and nobody's ids, in any order,
    ``at_once`` at a time: the default's are served, globex's get on each page exactly what
    nobody's get, and no request with the default key ever names a globex id."""
    async with two_org_sim() as sim, two_org_app(sim) as live:
        globex = sim.org(GLOBEX)
        ids = {
            ("call", "default"): sim.add_call(),
            ("call", GLOBEX): globex.add_call(),
            ("call", "nobody"): "CA" + "e" * 32,
            ("campaign", "default"): str(sim.add_campaign()),
            ("campaign", GLOBEX): str(globex.add_campaign()),
            ("campaign", "nobody"): "424242",
        }
        for tenant in live.state.tenants:
            await tenant.directory.refresh()
        async with live.client(Role.ADMIN, timeout=10) as admin:

            async def ask(kind: str, whose: str, route: int) -> tuple[str, int]:
                page = PAGES[kind][route % len(PAGES[kind])]
                status = (await admin.get(live.url + page.format(ids[kind, whose]))).status_code
                return f"{whose} {page}", status

            answers = []
            for start in range(0, len(asks), at_once):
                batch = asks[start : start + at_once]
                answers += await asyncio.gather(*(ask(*each) for each in batch))
    seen: dict[str, set[int]] = {}
    for asked, status in answers:
        whose, page = asked.split(" ")
        seen.setdefault(page if whose != "default" else asked, set()).add(status)
    for asked, statuses in seen.items():  # the default's served; globex's answered as nobody's
        assert len(statuses) == 1, (asked, statuses)
        if asked.startswith("default "):
            assert statuses == {200}, asked
    assert asked_with(sim, "default", ids["call", GLOBEX], ids["campaign", GLOBEX]) == []
    assert (
        asked_with(sim, GLOBEX, *(ids[kind, whose] for kind, whose in ids if whose != GLOBEX)) == []
    )
