"""Roles per organisation, tokens of one organisation and the audit log by organisation, as an
admin manages them on /admin, over a real server."""

from __future__ import annotations

import csv
import io
import json
import re

import httpx

from tests.live import csrf_of, running_app
from tests.test_org_access import NO_SUCH_ORG, answer, person
from webapp.access.users import Role
from webapp.simulator import Simulator


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
