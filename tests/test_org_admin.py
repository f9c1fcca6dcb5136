"""Roles per organisation, tokens of one organisation and the audit log by organisation, as an
admin manages them on /admin, over a real server."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from tests.conftest import SIM_KEY
from tests.live import FAST, LiveApp, csrf_of, running_app
from tests.test_org_access import NO_SUCH_ORG, answer, person
from webapp import orgparts, parts
from webapp.access.users import Role
from webapp.orgs.model import Org
from webapp.relay.bulletin import Bulletin
from webapp.settings import Settings
from webapp.simulator import Simulator

GLOBEX_KEY = "globex-key-51f0a"


@pytest.fixture
async def two() -> AsyncIterator[Simulator]:
    """One Burki serving two organisations: the default one (the dashboard's key) and globex."""
    orgs = {"default": SIM_KEY, "globex": GLOBEX_KEY}
    async with Simulator(orgs=orgs, autoplay=False) as simulator:
        yield simulator


async def test_a_role_given_and_taken_on_the_admin_page_counts_from_the_next_request(
    sim: Simulator,
) -> None:
    sid = sim.add_call()
    async with (
        running_app(sim) as live,
        live.client(Role.ADMIN, timeout=10) as admin,
        person(live, "erin", None) as erin,
    ):
        page = f"{live.url}/calls/{sid}"
        assert (await erin.get(page)).status_code == 404
        csrf = await csrf_of(admin, f"{live.url}/admin")
        form = {"csrf": csrf, "name": "erin", "org": "default", "role": "supervisor"}
        given = await admin.post(f"{live.url}/admin/users/grant", data=form)
        assert given.status_code == 200 and "erin is now supervisor in default." in given.text
        assert (await erin.get(page)).status_code == 200  # the same session: no new sign-in
        form = {"csrf": csrf, "name": "erin", "org": "default"}
        taken = await admin.post(f"{live.url}/admin/users/revoke", data=form)
        assert taken.status_code == 200 and "erin is now none." in taken.text
        assert (await erin.get(page)).status_code == 404
        form = {"csrf": csrf, "name": "erin", "org": "../x", "role": "admin"}
        bad = await admin.post(f"{live.url}/admin/users/grant", data=form)
        assert bad.status_code == 400 and "an organisation is 1 to 32" in bad.text


async def test_a_token_made_on_the_admin_page_opens_its_organisation_only(sim: Simulator) -> None:
    sid = sim.add_call()
    async with (
        running_app(sim) as live,
        live.client(Role.ADMIN, timeout=10) as admin,
        httpx.AsyncClient(timeout=10) as bot,
    ):
        csrf = await csrf_of(admin, f"{live.url}/admin")
        made = {}
        for org in ("globex", "default"):
            form = {"csrf": csrf, "name": f"bot-{org}", "org": org, "role": "supervisor"}
            page = await admin.post(f"{live.url}/admin/tokens", data=form)
            found = re.search(r'class="made-token">([^<]+)<', page.text)
            assert page.status_code == 200 and found
            made[org] = found[1]
        listing = (await admin.get(f"{live.url}/admin")).text
        assert made["globex"] not in listing  # shown once, on the answer to the form
        events = f"{live.url}/api/calls/{sid}/events"
        refused = await answer(
            bot, "GET", events, headers={"Authorization": f"Bearer {made['globex']}"}
        )
        assert refused[0] == 404 and json.loads(refused[2]) == NO_SUCH_ORG
        opened = await answer(
            bot, "GET", events, headers={"Authorization": f"Bearer {made['default']}"}
        )
        assert opened[0] == 200
        tokens = {t.name: t.org for t in await live.state.access.tokens.list()}
        assert tokens == {"bot-globex": "globex", "bot-default": "default"}


async def test_audit_entries_carry_their_organisation_and_the_admin_filters_by_it(
    sim: Simulator,
) -> None:
    sid = sim.add_call()
    async with (
        running_app(sim) as live,
        live.client(Role.ADMIN, timeout=10) as admin,
        person(live, "bob", None, {"globex": Role.SUPERVISOR}) as bob,
    ):
        assert (await admin.get(f"{live.url}/calls/{sid}")).status_code == 200
        assert (await bob.get(f"{live.url}/api/events?call=initech/{sid}")).status_code == 404
        entries = await live.state.access.audit.entries(None)
        orgs = {(e.who, e.what): e.org for e in entries}
        assert orgs[("test-admin", f"call:{sid}")] == "default"
        assert orgs[("bob", "signed in")] == ""
        assert orgs[("bob", "refused: no such organisation")] == "initech"
        exported = (await admin.get(f"{live.url}/admin/audit.csv?org=default")).text
        rows = list(csv.DictReader(io.StringIO(exported)))
        assert rows and {row["org"] for row in rows} == {"default"}
        assert any(row["what"] == f"call:{sid}" for row in rows)
        none = list(
            csv.DictReader(io.StringIO((await admin.get(f"{live.url}/admin/audit.csv?org=-")).text))
        )
        assert none and {row["org"] for row in none} == {""}
        shown = (await admin.get(f"{live.url}/admin?org=initech")).text
        assert "refused: no such organisation" in shown and "signed in" not in shown


@asynccontextmanager
async def globex_served(live: LiveApp, sim: Simulator) -> AsyncIterator[None]:
    """A second organisation, ``globex``, in the running dashboard: the simulator's world of
    that name, with its own key (what h-orgbook's org book will do from the store)."""
    settings = Settings(burki_api_key=GLOBEX_KEY, burki_base_url=sim.base_url, **FAST)
    async with parts.burki_rest(settings) as rest:
        org = Org("globex", "Globex Sales", sim.base_url)
        live.state.tenants.add(orgparts.tenant(settings, org, rest, None, Bulletin()))
        try:
            yield
        finally:
            live.state.tenants.remove("globex")


async def test_an_embed_link_made_on_the_admin_page_asks_its_own_organisations_burki(
    two: Simulator,
) -> None:
    globex = two.org("globex")
    theirs, mine = globex.add_call(), two.add_call()
    async with (
        running_app(two) as live,
        globex_served(live, two),
        live.client(Role.ADMIN, timeout=10) as admin,
    ):
        csrf = await csrf_of(admin, f"{live.url}/admin")
        form = {"csrf": csrf, "kind": "call", "ident": theirs, "ttl": "1h", "org": "globex"}
        made = await admin.post(f"{live.url}/admin/embed-link", data=form)
        found = re.search(r'class="embed-link">([^<]+)<', made.text)
        assert made.status_code == 200 and found
        assert f"{live.url}/o/globex/embed/calls/{theirs}?token=" in found[1]
        asked = two.requests.naming(theirs)
        assert asked and {entry.org for entry in asked} == {"globex"}
        two.requests.clear()
        form |= {"ident": mine}  # default's call, asked of globex: Burki says it has none
        refused = await admin.post(f"{live.url}/admin/embed-link", data=form)
        assert refused.status_code == 400 and "Burki has no call" in refused.text
        assert {entry.org for entry in two.requests.naming(mine)} == {"globex"}
        form |= {"org": "initech"}
        unknown = await admin.post(f"{live.url}/admin/embed-link", data=form)
        assert unknown.status_code == 404 and "No such organisation." in unknown.text
        links = {link.org: link.ident for link in await live.state.access.embeds.list()}
        assert links == {"globex": theirs}
        made_entries = [e for e in await live.state.access.audit.entries(None) if "made" in e.what]
        assert [e.org for e in made_entries] == ["globex"]  # the entry of what it opens
