"""Where a stream's name enters (a URL, a query, a cursor), a hostile or malformed one is
refused with the sentence of before keys carried an organisation, and opens nothing."""

from __future__ import annotations

from html import unescape
from urllib.parse import quote

import pytest

from tests.live import running_app
from webapp.delivery import cursor
from webapp.simulator import Simulator
from webapp.wire.streamkey import StreamKey

# The sentences of before, written out: the refusal must not change.
SID_RULE = "a call id is 1 to 128 letters, digits or '.', '_', ':', '~', '-' (not only dots)"
CAMPAIGN_RULE = "a campaign id is a positive whole number"

# An organisation's prefix where none is known, then plain junk.
HOSTILE_CALLS = ["acme/call:CA1", "default/call:CA1", "bad id", "a" * 129, "...", "<x>"]
HOSTILE_CAMPAIGNS = ["acme/campaign:4", "campaign:4", "0", "-1", "99999999999", "٣"]


def named_org_refusal(value: str, rule: str) -> tuple[int, str]:
    """A multiplexed value names its organisation before a ``/`` (``acme/CA1``): one the
    dashboard does not serve is the 404 of every such organisation, as for one the viewer
    may not see (docs/api.md); the default one is never a prefix, so ``default/...`` names
    no id (its kind's rule, 400)."""
    return (400, rule) if value.startswith("default/") else (404, "No such organisation.")


def _path(ident: str) -> str:
    return quote(ident, safe="")


async def test_a_hostile_call_id_at_every_url_edge_is_refused_with_the_call_id_rule(
    sim: Simulator,
) -> None:
    async with running_app(sim) as live, live.client() as client:
        for sid in HOSTILE_CALLS:
            if "/" in sid:  # a path segment cannot hold it: only a query can carry it
                api = await client.get(live.url + "/api/events", params={"call": sid})
                assert (api.status_code, api.json()["message"]) == named_org_refusal(
                    sid, SID_RULE
                ), sid
                continue
            page = await client.get(f"{live.url}/calls/{_path(sid)}")
            updates = await client.get(f"{live.url}/live/call/call/{_path(sid)}")
            single = await client.get(f"{live.url}/api/calls/{_path(sid)}/events")
            many = await client.get(live.url + "/api/events", params={"call": sid})
            assert page.status_code == 404 and f"No such page: {SID_RULE}" in unescape(page.text), (
                sid
            )
            assert (updates.status_code, updates.json()["message"]) == (404, SID_RULE), sid
            for api in (single, many):
                assert (api.status_code, api.json()["message"]) == (400, SID_RULE), sid
        assert live.hub.streams == {}  # nothing was opened, upstream or not


async def test_a_hostile_campaign_id_at_every_url_edge_is_refused_with_the_campaign_rule(
    sim: Simulator,
) -> None:
    async with running_app(sim) as live, live.client() as client:
        for cid in HOSTILE_CAMPAIGNS:
            many = await client.get(live.url + "/api/events", params={"campaign": cid})
            refusal = named_org_refusal(cid, CAMPAIGN_RULE) if "/" in cid else (400, CAMPAIGN_RULE)
            assert (many.status_code, many.json()["message"]) == refusal, cid
            if "/" in cid:
                continue
            page = await client.get(f"{live.url}/campaigns/{_path(cid)}")
            single = await client.get(f"{live.url}/api/campaigns/{_path(cid)}/events")
            assert page.status_code == 404 and f"No such page: {CAMPAIGN_RULE}" in unescape(
                page.text
            ), cid
            assert (single.status_code, single.json()["message"]) == (400, CAMPAIGN_RULE), cid
        assert live.hub.streams == {}


@pytest.mark.parametrize(
    "name", ["acme/call:CA1", "default/call:CA1", "call:CA1 ", "CALL:CA1", "call:CA1/x", "call:"]
)
def test_a_hostile_name_in_a_cursor_resumes_nothing_and_is_never_echoed(name: str) -> None:
    ca1 = StreamKey.call("CA1")
    assert cursor.entries(f"{name}=3f9a0c1e-17") == {}
    assert cursor.decode(f"{name}=3f9a0c1e-17", [ca1]) == {ca1: cursor.UNRESUMABLE}
