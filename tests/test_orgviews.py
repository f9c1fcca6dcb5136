"""The overview, wallboard and alert pages of several organisations, over real sockets: one
simulator serving two organisations with their own keys, a dashboard serving both, real
SSE clients. A person who sees both gets both, tagged and sorted by attention across them;
a person of one organisation never sees a byte of the other's, on a page or in an update.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from tests.live import LiveApp, Viewer, running_app
from tests.test_org_access import person
from tests.twoorgs import ORGS, OTHER_KEY, another_org
from webapp.access.users import Role
from webapp.delivery import cursor
from webapp.simulator import Simulator
from webapp.wire.streamkey import StreamKey

SAME_SID = "CAsharedid000000000000000000000001"  # the same call id in both organisations
SECRET = "globex-only words about a lawyer"  # what globex's caller says
ONLY_DEFAULT = "only-default"  # a person with a role in the default organisation alone


@pytest.fixture
async def two() -> AsyncIterator[Simulator]:
    async with Simulator(orgs=ORGS, autoplay=False) as simulator:
        yield simulator


@pytest.fixture
async def apart() -> AsyncIterator[tuple[Simulator, Simulator]]:
    """Two Burkis, one per organisation: the same call id can live in both (one simulator
    serving both refuses an id another of its organisations holds)."""
    async with (
        Simulator(api_key=ORGS["default"], autoplay=False) as first,
        Simulator(api_key=OTHER_KEY, autoplay=False, org="globex", seed=11) as second,
    ):
        yield first, second


@asynccontextmanager
async def both(sim: Simulator, other: Simulator | None = None) -> AsyncIterator[LiveApp]:
    async with (
        running_app(sim, burki_org_name="Acme Support") as live,
        another_org(live, other or sim),
    ):
        yield live


def rows(html: str, block: str = "calls") -> list[str]:
    """The call SIDs of the overview's calls table, in order, with their organisation."""
    table = html.split(f'id="{block}"', 1)[1].split("</section>", 1)[0]
    return [
        f"{org or 'default'}/{sid}"
        for sid, org in re.findall(r'<tr data-sid="([^"]+)"(?: data-org="([^"]+)")?', table)
    ]


async def test_the_overview_of_every_organisation_lists_both_tagged_and_linked_under_their_own(
    two: Simulator,
) -> None:
    mine = two.add_call(assistant_name="Billing bot")
    theirs = two.org("globex").add_call(assistant_name="Sales bot")
    async with both(two) as live, live.client(Role.SUPERVISOR, timeout=20) as client:
        html = (await client.get(f"{live.url}/")).text
        assert sorted(rows(html)) == sorted([f"default/{mine}", f"globex/{theirs}"])
        assert '<td class="org-tag">Globex Sales</td>' in html
        assert '<td class="org-tag">Acme Support</td>' in html
        assert f'href="/o/globex/calls/{theirs}"' in html and f'href="/calls/{mine}"' in html
        assert 'aria-current="page">All organisations</a>' in html  # the switcher, marked
        entries = await live.state.access.audit.entries(None)
        opened = {e.org for e in entries if e.what == "overview" and e.who == "test-supervisor"}
        assert opened == {"default", "globex"}  # each organisation's audit log shows the view
        filtered = (await client.get(f"{live.url}/?assistant=Sales+bot")).text
        assert rows(filtered) == [f"globex/{theirs}"]  # the filters hold across them
        board = (await client.get(f"{live.url}/wallboard?assistant=billing")).text
        assert f'id="card-{mine}"' in board and theirs not in board
        one = (await client.get(f"{live.url}/o/globex/")).text
        assert rows(one) == [f"globex/{theirs}"]
        assert "org-tag" not in one.split('id="calls"', 1)[1]  # one organisation: no tags
        assert 'aria-current="page">Globex Sales</a>' in one
        assert 'action="/o/globex/"' in one  # its filters stay on it
        assert 'hx-sse:connect="/o/globex/overview/updates?sort=attention"' in one
        board = (await client.get(f"{live.url}/o/globex/wallboard")).text
        assert re.search(r'class="tv-link" href="/o/globex/wallboard\?[^"]*tv=1"', board)
        assert 'action="/o/globex/wallboard"' in board
        assert f'id="card-globex_2fcall_3a{theirs}"' in board and "org-tag" not in board
        assert 'hx-sse:connect="/o/globex/wallboard/updates?last_event_id=' in board


async def test_calls_sort_by_attention_across_organisations_in_the_overview_updates(
    two: Simulator,
) -> None:
    calm = two.add_call(assistant_name="Billing bot")
    upset = two.org("globex").add_call(assistant_name="Sales bot")
    async with both(two) as live, live.client(Role.SUPERVISOR, timeout=20) as client:
        viewer = Viewer(live.url, "/overview/updates?sort=attention").start(client)
        try:
            await viewer.wait_for(lambda e: f"default/{calm}" in rows(e.data), timeout=10)
            two.add_segment(calm, "assistant", "Hello, how can I help you today?")
            two.org("globex").add_segment(upset, "user", "I am furious, my lawyer will call!")
            first = f"globex/{upset}"
            event = await viewer.wait_for(lambda e: rows(e.data)[:1] == [first], timeout=10)
            assert rows(event.data) == [first, f"default/{calm}"]
            assert "Globex Sales" in event.data.split('id="needs"', 1)[1].split("</section>")[0]
        finally:
            await viewer.stop()


async def test_the_wallboard_of_every_organisation_shows_the_same_call_id_of_each_as_two_cards(
    apart: tuple[Simulator, Simulator],
) -> None:
    two, globex = apart
    two.add_call(SAME_SID, assistant_name="Billing bot")
    globex.add_call(SAME_SID, assistant_name="Sales bot")
    globex.add_segment(SAME_SID, "user", SECRET)
    async with both(two, globex) as live, live.client(Role.SUPERVISOR, timeout=20) as client:
        html = (await client.get(f"{live.url}/wallboard")).text
        assert f'id="card-{SAME_SID}"' in html
        assert 'id="card-globex_2fcall_3a' + SAME_SID + '"' in html
        assert '<span class="org-tag">Globex Sales</span>' in html
        assert f'href="/o/globex/calls/{SAME_SID}"' in html
        viewer = Viewer(live.url, "/wallboard/updates").start(client)
        try:
            two.add_segment(SAME_SID, "user", "default's own words")
            await viewer.wait_for(lambda e: "default&#39;s own words" in e.data, timeout=10)
            assert any("globex/call:" + SAME_SID in (e.id or "") for e in viewer.events)
        finally:
            await viewer.stop()


async def test_a_person_of_one_organisation_never_sees_the_others_calls_on_pages_or_updates(
    two: Simulator,
) -> None:
    mine = two.add_call(assistant_name="Billing bot")
    two.add_call(SAME_SID, assistant_name="Billing bot")
    globex = two.org("globex")
    theirs = globex.add_call(assistant_name="Globex secret bot")
    globex.add_call(SAME_SID, assistant_name="Globex secret bot")
    async with (
        both(two) as live,
        person(live, ONLY_DEFAULT, None, {"default": Role.SUPERVISOR}) as client,
    ):
        overview = Viewer(live.url, "/overview/updates").start(client)
        board = Viewer(live.url, "/wallboard/updates").start(client)
        # a cursor naming globex's call, as if the board had its card: it is never opened
        hostile = cursor.encode({StreamKey.call(theirs, "globex"): "e-1"})
        guess = Viewer(live.url, "/wallboard/updates", last_id=hostile)
        guess.start(client, query_resume=True)
        try:
            # globex's calls speak, alert and are followed by someone who sees both
            async with live.client(Role.ADMIN, timeout=20) as admin:
                watcher = Viewer(live.url, "/wallboard/updates").start(admin)
                await watcher.wait_for(lambda e: "Globex secret bot" in e.data, timeout=10)
                globex.add_segment(theirs, "user", SECRET)
                globex.add_segment(SAME_SID, "user", SECRET)
                await watcher.wait_for(lambda e: "lawyer" in e.data, timeout=10)
                two.add_segment(mine, "user", "the default organisation's line")
                await overview.wait_for(lambda e: f"default/{mine}" in rows(e.data), timeout=10)
                await board.wait_for(lambda e: "organisation&#39;s line" in e.data, timeout=10)
                await guess.wait_for(lambda e: "organisation&#39;s line" in e.data, timeout=10)
                await watcher.stop()
            pages = {
                path: (await client.get(live.url + path)).text
                for path in ("/", "/wallboard", "/wallboard?tv=1", "/alerts")
            }
            seen = "".join(pages.values()) + "".join(e.data + (e.id or "") for e in overview.events)
            seen += "".join(e.data + (e.id or "") for e in [*board.events, *guess.events])
            for secret in (theirs, SECRET, "lawyer", "Globex", "globex", "Sales"):
                assert secret not in seen, secret
            assert 'class="org-switch"' not in pages["/"]  # one organisation: no switcher
            assert f"default/{SAME_SID}" in rows(pages["/"])
        finally:
            await overview.stop()
            await board.stop()
            await guess.stop()
        for path in (
            "/o/globex/",
            "/o/globex/wallboard",
            "/o/globex/alerts",
            "/o/globex/overview/updates",
            "/o/globex/wallboard/updates",
            "/o/nosuch/",
        ):
            refused = await client.get(live.url + path)
            assert refused.status_code == 404, path
            assert "No such organisation." in refused.text, path
        assert (await client.get(f"{live.url}/o/default/")).status_code == 200


async def test_one_organisation_shows_no_switcher_and_no_tag(sim: Simulator) -> None:
    sid = sim.add_call(assistant_name="Billing bot")
    async with (
        running_app(sim, burki_org_name="Acme Support") as live,
        live.client(Role.SUPERVISOR, timeout=20) as client,
    ):
        for path in ("/", "/wallboard", "/alerts"):
            html = (await client.get(live.url + path)).text
            assert "org-switch" not in html and "org-tag" not in html, path
            assert "Acme Support" not in html, path
        assert f'href="/calls/{sid}"' in (await client.get(f"{live.url}/")).text


async def test_an_embed_link_of_one_organisations_wallboard_shows_its_calls_alone(
    two: Simulator,
) -> None:
    mine = two.add_call(assistant_name="Billing bot")
    theirs = two.org("globex").add_call(assistant_name="Sales bot")
    async with both(two) as live, httpx.AsyncClient(timeout=20) as client:
        link = await live.state.access.embeds.mint("wallboard", "all", 600, "test", org="globex")
        assert link.path.startswith("/o/globex/embed/wallboard?token=")
        board = await client.get(live.url + link.path)
        assert board.status_code == 200
        assert f'id="card-globex_2fcall_3a{theirs}"' in board.text and mine not in board.text
        assert "org-tag" not in board.text and "org-switch" not in board.text
        assert "/o/globex/embed/wallboard/updates?" in board.text
        viewer = Viewer(live.url, f"/o/globex/embed/wallboard/updates?token={link.token}")
        viewer.start(client)
        try:
            two.org("globex").add_segment(theirs, "user", "globex's own words")
            await viewer.wait_for(lambda e: "globex&#39;s own words" in e.data, timeout=10)
            assert all(mine not in e.data for e in viewer.events)
        finally:
            await viewer.stop()
        elsewhere = await client.get(f"{live.url}/embed/wallboard?token={link.token}")
        assert elsewhere.status_code in (303, 401, 403, 404)  # its link opens its board only
