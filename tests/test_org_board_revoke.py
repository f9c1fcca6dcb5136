"""The boards of every organisation a person may see (unprefixed overview, wallboard and its
TV mode) narrow while open when a grant is revoked or a role changes: over a real server
and real SSE clients, one simulator serving two organisations with their own keys, the
re-check every 0.6 s. From the message that takes the organisation off the page, no
further frame of it reaches the viewer, while the stream stays open for the other one."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from httpx_sse import ServerSentEvent

from tests.live import LiveApp, Viewer, running_app
from tests.test_org_access import RECHECK, person
from tests.test_orgviews import rows
from tests.twoorgs import ORGS, another_org
from webapp.access.users import Role
from webapp.delivery import cursor
from webapp.pages.views import card_id
from webapp.simulator import Simulator
from webapp.wire.streamkey import StreamKey

SECRET = "globex caller reads out the contract number"
AFTER = "the default organisation speaks after"


@pytest.fixture
async def two() -> AsyncIterator[Simulator]:
    async with Simulator(orgs=ORGS, autoplay=False) as simulator:
        yield simulator


def shown_after(viewer: Viewer, cut: ServerSentEvent) -> str:
    """Everything ``viewer`` received after the event ``cut``: data and ids."""
    later = viewer.events[viewer.events.index(cut) + 1 :]
    return "".join(e.data + (e.id or "") for e in later)


async def globex_speaks(live: LiveApp, two: Simulator, sid: str) -> None:
    """globex's call says ``SECRET``, seen by someone who still watches it (so it was sent)."""
    async with live.client(Role.ADMIN, timeout=20) as admin:
        watcher = Viewer(live.url, f"/o/globex/api/calls/{sid}/events").start(admin)
        try:
            await watcher.wait_for(lambda e: e.event == "snapshot", timeout=10)
            two.org("globex").add_segment(sid, "user", SECRET)
            await watcher.wait_for(lambda e: "contract number" in e.data, timeout=10)
        finally:
            await watcher.stop()


async def test_a_grant_revoked_while_the_boards_of_every_organisation_are_open_drops_it_at_once(
    two: Simulator,
) -> None:
    mine = two.add_call(assistant_name="Billing bot")
    theirs = two.org("globex").add_call(assistant_name="Globex secret bot")
    grants = {"default": Role.SUPERVISOR, "globex": Role.SUPERVISOR}
    async with (
        running_app(two, burki_org_name="Acme Support", **RECHECK) as live,
        another_org(live, two),
        person(live, "erin", None, grants) as erin,
    ):
        board = Viewer(live.url, "/wallboard/updates").start(erin)
        tv = Viewer(live.url, "/wallboard/updates?tv=1").start(erin)
        overview = Viewer(live.url, "/overview/updates").start(erin)
        try:
            for viewer in (board, tv):
                await viewer.wait_for(lambda e: "Globex secret bot" in e.data, timeout=10)
            await overview.wait_for(lambda e: f"globex/{theirs}" in rows(e.data), timeout=10)
            two.org("globex").add_segment(theirs, "user", "said before the revocation")
            await board.wait_for(lambda e: "before the revocation" in e.data, timeout=10)

            await live.state.access.users.revoke("erin", "globex")
            card = card_id(StreamKey.call(theirs, "globex"))
            cuts = [
                await viewer.wait_for(lambda e: f'"#{card}" hx-swap="delete"' in e.data, 15)
                for viewer in (board, tv)
            ]
            cleared = await overview.wait_for(
                lambda e: 'id="calls"' in e.data and rows(e.data) == [f"default/{mine}"], 15
            )
            await globex_speaks(live, two, theirs)
            two.add_segment(mine, "user", AFTER)
            for viewer in (board, tv):  # the same response, still open for the default one
                await viewer.wait_for(lambda e: "speaks after" in e.data, timeout=10)
            await overview.wait_for(lambda e: e is not cleared and 'id="calls"' in e.data, 10)
            seen = [shown_after(board, cuts[0]), shown_after(tv, cuts[1])]
            seen.append(shown_after(overview, cleared))
            for text in seen:
                for secret in (theirs, "contract number", "Globex", "globex"):
                    assert secret not in text, secret
        finally:
            for viewer in (board, tv, overview):
                await viewer.stop()


async def test_a_role_that_no_longer_watches_calls_takes_them_off_the_open_overview(
    two: Simulator,
) -> None:
    mine = two.add_call(assistant_name="Billing bot")
    globex = two.org("globex")
    theirs = globex.add_call(assistant_name="Globex secret bot")
    campaign = globex.add_campaign(name="Globex spring drive", contacts=3)
    grants = {"default": Role.SUPERVISOR, "globex": Role.ADMIN}
    async with (
        running_app(two, burki_org_name="Acme Support", **RECHECK) as live,
        another_org(live, two),
        person(live, "finn", None, grants) as finn,
    ):
        overview = Viewer(live.url, "/overview/updates").start(finn)
        board = Viewer(live.url, "/wallboard/updates").start(finn)
        try:
            await overview.wait_for(lambda e: f"globex/{theirs}" in rows(e.data), timeout=10)
            await board.wait_for(lambda e: "Globex secret bot" in e.data, timeout=10)
            # A manager of globex watches its campaigns, not its calls.
            await live.state.access.users.grant("finn", "globex", Role.MANAGER)
            cleared = await overview.wait_for(
                lambda e: 'id="calls"' in e.data and rows(e.data) == [f"default/{mine}"], 15
            )
            assert "Globex spring drive" in cleared.data  # its campaigns stay on the page
            card = card_id(StreamKey.call(theirs, "globex"))
            cut = await board.wait_for(lambda e: f'"#{card}" hx-swap="delete"' in e.data, 15)
            await globex_speaks(live, two, theirs)
            two.add_segment(mine, "user", AFTER)
            await board.wait_for(lambda e: "speaks after" in e.data, timeout=10)
            assert theirs not in shown_after(board, cut)
            assert "contract number" not in shown_after(overview, cleared)
            assert f"campaign:{campaign}" not in shown_after(board, cut)
        finally:
            await overview.stop()
            await board.stop()


async def test_a_board_resuming_with_cards_of_an_organisation_it_no_longer_shows_is_drawn_anew(
    two: Simulator,
) -> None:
    mine = two.add_call(assistant_name="Billing bot")
    theirs = two.org("globex").add_call(assistant_name="Globex secret bot")
    async with (
        running_app(two, burki_org_name="Acme Support") as live,
        another_org(live, two),
        person(live, "gus", None, {"default": Role.SUPERVISOR}) as gus,
        live.client(Role.ADMIN, timeout=20) as admin,
    ):
        # The cursor of a board that showed both (gus's grant in globex was revoked, or globex
        # removed, while it was away): its globex card is still on his screen.
        both = Viewer(live.url, "/wallboard/updates").start(admin)
        await both.wait_for(lambda e: "Globex secret bot" in e.data, timeout=10)
        await both.wait_for(lambda e: f"card-{mine}" in e.data and e.id is not None, timeout=10)
        await both.stop()
        assert both.last_id is not None and "globex/call:" in both.last_id
        resumed = Viewer(live.url, "/wallboard/updates", last_id=both.last_id).start(gus)
        kept = [key for key in cursor.entries(both.last_id, {"globex"}) if key.org == "default"]
        own = Viewer(live.url, "/wallboard/updates", last_id=cursor.encode({kept[0]: "x"}))
        try:
            drawn = await resumed.wait_for(lambda e: "Billing bot" in e.data, timeout=10)
            assert 'hx-target="#cards" hx-swap="beforeend"' in drawn.data  # drawn anew
            first = resumed.events[0]
            assert first.data == '<hx-partial hx-target="#cards" hx-swap="innerHTML"></hx-partial>'
            seen = "".join(e.data + (e.id or "") for e in resumed.events)
            for secret in (theirs, "Globex", "globex"):
                assert secret not in seen, secret
            own.start(gus)  # a cursor of his own organisation's cards alone: no redraw
            other = await own.wait_for(lambda e: True, timeout=10)
            assert 'hx-target="#cards" hx-swap="innerHTML"' not in other.data
        finally:
            await resumed.stop()
            await own.stop()
