"""An organisation removed, and another added later under the same slug (a client leaves,
a new one is called the same): nothing that opened the first opens the second. Over a real
server and two real Burkis (the old client's and the new one's, each with its own key):
the old client's grants, API token and embed link are gone with it, and a slug whose
history is still kept cannot be given to a new organisation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.test_access import status_of
from tests.test_org_access import NO_SUCH_ORG, answer, person
from tests.test_orgs_live import MASTER, book_put, book_remove, serving, store_url
from webapp.access.users import Role
from webapp.orgs.book import OrgBook
from webapp.orgs.model import Org, OrgError
from webapp.orgs.sealing import MasterKey
from webapp.simulator import Simulator
from webapp.store.database import database_url
from webapp.store.records import AlertRecord
from webapp.store.store import open_store

OLD_KEY, NEW_KEY = "acme-old-key-1b7d", "acme-new-key-93c0"
JSON = {"Accept": "application/json"}


@pytest.fixture
async def old() -> AsyncIterator[Simulator]:
    async with Simulator(api_key=OLD_KEY, autoplay=False) as simulator:
        yield simulator


@pytest.fixture
async def new() -> AsyncIterator[Simulator]:
    async with Simulator(api_key=NEW_KEY, autoplay=False, seed=23) as simulator:
        yield simulator


async def book_add(folder: Path, org: Org, key: str) -> None:
    """What ``burki-dashboard org add`` (and /admin's form) does: OrgBook.add."""
    store = await open_store(database_url(store_url(folder)))
    try:
        await OrgBook(store.orgs, MasterKey.from_text(MASTER)).add(
            org.slug, org.name, org.base_url, key
        )
    finally:
        await store.close()


async def test_nothing_that_opened_a_removed_organisation_opens_one_added_with_its_slug(
    sim: Simulator, old: Simulator, new: Simulator, tmp_path: Path
) -> None:
    old_call, new_call = old.add_call(), new.add_call(assistant_name="New client bot")
    await book_put(tmp_path, (Org("acme", "Acme Support", old.base_url), OLD_KEY))
    async with (
        serving(sim, tmp_path) as live,
        person(live, "bob", None, {"acme": Role.SUPERVISOR}) as bob,
        httpx.AsyncClient(timeout=20) as stranger,
    ):
        runner = live.state.orgs
        assert runner is not None
        token = await live.state.access.tokens.create("acme-crm", Role.SUPERVISOR, "acme")
        link = await live.state.access.embeds.mint("wallboard", "all", 3600, "test", org="acme")
        bearer = {"Authorization": f"Bearer {token}"}
        assert (await answer(bob, "GET", f"{live.url}/o/acme/calls/{old_call}"))[0] == 200
        assert (
            await status_of(stranger, f"{live.url}/o/acme/api/calls/{old_call}/events", **bearer)
            == 200
        )
        assert await status_of(stranger, live.url + link.path) == 200

        await book_remove(tmp_path, "acme")  # the client leaves
        await runner.refresh()
        await book_add(tmp_path, Org("acme", "Acme Logistics", new.base_url), NEW_KEY)
        await runner.refresh()  # another client, the same slug
        assert live.state.tenants.get("acme").org.name == "Acme Logistics"

        for path in (f"/o/acme/calls/{new_call}", f"/o/acme/api/calls/{new_call}/events"):
            got = await answer(bob, "GET", live.url + path, headers=JSON)
            assert got[0] == 404 and got[2] and NO_SUCH_ORG["message"] in got[2], (path, got)
        api = f"{live.url}/o/acme/api/calls/{new_call}/events"
        assert await status_of(stranger, api, **bearer) in (401, 403, 404)
        board = await stranger.get(live.url + link.path)
        assert board.status_code in (303, 401, 403) and "New client bot" not in board.text
        [record] = await live.state.access.embeds.list()
        assert record.revoked_by == "organisation removed"
        assert [t.revoked for t in await live.state.access.tokens.list()] == [True]
        user = await live.state.access.users.get("bob")
        assert user is not None and "acme" not in dict(user.orgs)
    assert new.requests.naming(new_call) == []  # nobody of the old client asked the new Burki


async def test_a_slug_whose_history_is_kept_is_not_given_to_a_new_organisation(
    tmp_path: Path,
) -> None:
    store = await open_store(database_url(store_url(tmp_path)))
    try:
        book = OrgBook(store.orgs, MasterKey.from_text(MASTER))
        await book.add("acme", "Acme Support", "https://acme.burki.example", OLD_KEY)
        at = datetime.now(UTC)
        alert = AlertRecord("CA1", "a1", at, "keyword", "high", "lawyer", "…", org="acme")
        await store.history.write([alert])
        await book.remove("acme")
        with pytest.raises(OrgError, match="history of a removed organisation 'acme'"):
            await book.add("acme", "Acme Logistics", "https://new.burki.example", NEW_KEY)
        assert await store.orgs.get("acme") is None
        await book.add("acme-logistics", "Acme Logistics", "https://new.burki.example", NEW_KEY)
    finally:
        await store.close()
