"""The alert history and the shift report of several organisations, over real sockets: each
organisation's own (``/o/{org}/history/...``) and every one the person may see combined,
each row tagged and linked under its organisation; a person of one organisation never
reads another's rows, on the page or in the CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

import pytest

from tests.live import LiveApp, Viewer, running_app
from tests.test_org_access import person
from tests.test_orgviews import ONLY_DEFAULT
from tests.twoorgs import ORGS, another_org
from webapp.access.users import Role
from webapp.simulator import Simulator

RULES = {"alert_keywords": "lawyer:high"}


@pytest.fixture
async def two() -> AsyncIterator[Simulator]:
    async with Simulator(orgs=ORGS, autoplay=False) as simulator:
        yield simulator


async def alerts_in_both(live: LiveApp, sim: Simulator) -> tuple[str, str]:
    """A call of each organisation says 'lawyer' and ends; their alerts are in the store."""
    mine = sim.add_call(assistant_name="Billing bot")
    theirs = sim.org("globex").add_call(assistant_name="Globex secret bot")
    async with live.client(Role.ADMIN, timeout=20) as admin:
        board = Viewer(live.url, "/wallboard/updates").start(admin)
        await board.wait_for(lambda e: "Globex secret bot" in e.data, timeout=10)
        sim.add_segment(mine, "user", "Fine, my lawyer will call you.")
        sim.org("globex").add_segment(theirs, "user", "Our lawyer hears of this, globex-only.")
        await board.wait_for(lambda e: "globex-only" in e.data and "lawyer" in e.data, timeout=10)
        sim.set_call_status(mine, "completed")
        sim.org("globex").set_call_status(theirs, "completed")
        await board.wait_for(lambda e: f"#card-globex_2fcall_3a{theirs}" in e.data, timeout=10)
        await board.stop()
    keeper = live.state.history
    assert keeper is not None
    await keeper.recorder.drained()
    return mine, theirs


async def test_each_organisations_history_is_its_own_and_the_combined_one_tags_them(
    two: Simulator,
) -> None:
    async with (
        running_app(two, burki_org_name="Acme Support", **RULES) as live,
        another_org(live, two),
    ):
        mine, theirs = await alerts_in_both(live, two)
        async with live.client(Role.SUPERVISOR, timeout=20) as client:
            every = (await client.get(f"{live.url}/history/alerts")).text
            assert f'data-call="{mine}"' in every and f'data-call="{theirs}"' in every
            assert f'href="/o/globex/calls/{theirs}"' in every
            assert '<span class="org-tag">Globex Sales</span>' in every
            exported = await client.get(f"{live.url}/history/alerts.csv")
            table = list(csv.DictReader(io.StringIO(exported.text)))
            assert {(r["org"], r["call_id"]) for r in table} == {
                ("default", mine),
                ("globex", theirs),
            }
            one = (await client.get(f"{live.url}/o/globex/history/alerts")).text
            assert f'data-call="{theirs}"' in one and f'data-call="{mine}"' not in one
            assert "org-tag" not in one.split('id="alert-results"')[1]
            both = (await client.get(f"{live.url}/history/shift")).text
            assert 'tr data-org="globex"' in both and 'tr data-org="default"' in both
            assert '<span class="org-tag">Globex Sales</span> Globex secret bot' in both
            shift = (await client.get(f"{live.url}/o/default/history/shift")).text
            assert "Globex secret bot" not in shift
        async with person(live, ONLY_DEFAULT, None, {"default": Role.SUPERVISOR}) as client:
            seen = ""
            for path in ("/history/alerts", "/history/alerts.csv", "/history/shift"):
                answer = await client.get(live.url + path)
                assert answer.status_code == 200, path
                seen += answer.text
            assert mine in seen
            for secret in (theirs, "globex", "Globex"):
                assert secret not in seen, secret
            for path in ("/o/globex/history/alerts", "/o/globex/history/shift"):
                refused = await client.get(live.url + path)
                assert refused.status_code == 404 and "No such organisation." in refused.text


async def test_one_organisations_history_page_shows_none_of_anothers_rows(
    two: Simulator,
) -> None:
    async with (
        running_app(two, burki_org_name="Acme Support", **RULES) as live,
        another_org(live, two),
    ):
        mine = two.add_call(assistant_name="Billing bot")
        async with live.client(Role.ADMIN, timeout=20) as admin:
            viewer = Viewer(live.url, f"/api/calls/{mine}/events").start(admin)
            two.add_segment(mine, "user", "Fine, my lawyer will call you.")
            await viewer.wait_for(lambda e: e.event == "alert", timeout=10)
            await viewer.stop()
            keeper = live.state.history
            assert keeper is not None
            await keeper.recorder.drained()
            default = (await admin.get(f"{live.url}/o/default/history/alerts")).text
            assert f'data-call="{mine}"' in default
            globex = (await admin.get(f"{live.url}/o/globex/history/alerts")).text
            assert f'data-call="{mine}"' not in globex and "No alert in this range." in globex
