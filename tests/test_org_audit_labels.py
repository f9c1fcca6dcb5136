"""The /admin audit log names each call and campaign from its own organisation's lists and
streams, over a real server: two Burkis (one per organisation) holding the same call id and
the same campaign id under different names, both watched while the admin reads the log."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator

import pytest

from tests.live import Viewer, is_event, running_app
from tests.twoorgs import ORGS, OTHER_KEY, another_org
from webapp.access.users import Role
from webapp.simulator import Simulator

SAME_SID = "CAsameid0000000000000000000000042"
SAME_CAMPAIGN = 7


@pytest.fixture
async def apart() -> AsyncIterator[tuple[Simulator, Simulator]]:
    async with (
        Simulator(api_key=ORGS["default"], autoplay=False) as first,
        Simulator(api_key=OTHER_KEY, autoplay=False, org="globex", seed=11) as second,
    ):
        yield first, second


def labels(admin_page: str) -> dict[str, str]:
    """Each audit row's label, by the raw words its tooltip keeps."""
    found = re.findall(r'<td title="([^"]*)">([^<]*)</td>', admin_page)
    return {html.unescape(what): html.unescape(label) for what, label in found}


async def test_the_audit_log_names_each_stream_from_its_own_organisation_only(
    apart: tuple[Simulator, Simulator],
) -> None:
    ours, theirs = apart
    ours.add_call(SAME_SID, assistant_name="Billing bot")
    theirs.add_call(SAME_SID, assistant_name="Globex secret bot")
    ours.add_campaign(name="Spring renewals", campaign_id=SAME_CAMPAIGN)
    theirs.add_campaign(name="Globex secret plan", campaign_id=SAME_CAMPAIGN)
    async with (
        running_app(ours, burki_org_name="Acme Support") as live,
        another_org(live, theirs),
        live.client(Role.ADMIN, timeout=20) as admin,
    ):
        paths = [
            f"/api/campaigns/{SAME_CAMPAIGN}/events",
            f"/o/globex/api/campaigns/{SAME_CAMPAIGN}/events",
            f"/api/calls/{SAME_SID}/events",
            f"/o/globex/api/calls/{SAME_SID}/events",
        ]
        viewers = [Viewer(live.url, path).start(admin) for path in paths]
        try:
            for viewer in viewers:  # each stream open, its campaign's name known
                await viewer.wait_for(is_event("snapshot"), timeout=10)
            page = (await admin.get(f"{live.url}/admin")).text
        finally:
            for viewer in viewers:
                await viewer.stop()
    shown = labels(page)
    assert shown[f"campaign:{SAME_CAMPAIGN}"] == f"campaign Spring renewals #{SAME_CAMPAIGN}"
    assert shown[f"globex/campaign:{SAME_CAMPAIGN}"] == (
        f"campaign Globex secret plan #{SAME_CAMPAIGN}"
    )
    assert "Billing bot" in shown[f"call:{SAME_SID}"]
    assert "Globex" not in shown[f"call:{SAME_SID}"]
    assert "Globex secret bot" in shown[f"globex/call:{SAME_SID}"]
