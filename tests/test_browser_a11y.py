"""Every page, in real Chromium, checked by axe-core: no serious or critical violation."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.axe import violations
from tests.browser import chromium
from tests.live import running_app
from webapp.access.users import Role
from webapp.simulator import Simulator

PAGES = [
    "overview",
    "alerts",
    "call",
    "captions",
    "campaign",
    "wallboard",
    "tv",
    "admin",
    "end-call",
    "stop-campaign",
    "signin",
    "not-found",
    "embed-call",
    "embed-campaign",
]


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_every_page_has_no_serious_accessibility_violation(
    sim: Simulator, scheme: str
) -> None:
    sid = sim.add_call(assistant_name="Billing assistant", customer_phone="+15550111")
    sim.add_segment(sid, "assistant", "Hello, how can I help you today?")
    sim.add_segment(sid, "user", "I want to cancel my account, this is useless.")
    cid = sim.add_campaign(name="Spring renewals", dialect="C", contacts=4)
    sim.advance_campaign(cid, "success")
    paths = {
        "overview": "/",
        "alerts": "/alerts",
        "call": f"/calls/{sid}",
        "captions": f"/calls/{sid}/captions",
        "campaign": f"/campaigns/{cid}",
        "wallboard": "/wallboard",
        "tv": "/wallboard?tv=1",
        "admin": "/admin",
        "end-call": f"/calls/{sid}/end",
        "stop-campaign": f"/campaigns/{cid}/stop",
        "signin": "/signin",
        "not-found": "/calls/CAnothere/nothing/here",
        "embed-call": f"/embed/calls/{sid}",
        "embed-campaign": f"/embed/campaigns/{cid}",
    }
    found, headings = {}, {}
    async with running_app(sim, demo=True) as live, chromium() as browser:
        page = await live.page(browser, Role.ADMIN, bypass_csp=True, color_scheme=scheme)
        for name in PAGES:
            await page.goto(live.url + paths[name])
            if page.url.endswith(paths[name]) and await page.locator("[data-live]").count():
                await expect(page.locator("[data-live]").first).to_have_attribute(
                    "data-link", "live"
                )
            found[name] = await violations(page)
            headings[name] = await page.locator("h1").count()
            if name not in ("tv", "embed-call", "embed-campaign"):  # pages with navigation
                await page.keyboard.press("Tab")
                skip = await page.evaluate("document.activeElement.textContent")
                assert skip == "Skip to the content", name
    report = [
        f"{name}: {v['id']} ({v['impact']}) {target}: {summary.splitlines()[-1].strip()}"
        for name, listed in found.items()
        for v in listed
        for target, summary in v["nodes"]
    ]
    assert not report, "\n".join(report)
    assert {name: n for name, n in headings.items() if n != 1} == {}  # one h1 per page
