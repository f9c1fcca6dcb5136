"""The overview page in a real browser."""

from __future__ import annotations

from tests.browser import chromium, screenshot
from tests.live import running_app
from webapp.simulator import Simulator


async def test_the_overview_renders_in_chromium_with_demo_marking(sim: Simulator) -> None:
    sid = sim.add_call(assistant_name="Billing bot")
    sim.add_campaign(name="Spring renewals", dialect="C", contacts=8)
    async with running_app(sim) as live, chromium() as browser:
        live.state.demo = True
        page = await live.page(browser)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(live.url + "/")
        assert await page.locator(".badge.demo").inner_text() == "Demo data"
        row = page.locator(f"table.calls tr[data-sid='{sid}'] a.call-name")
        assert await row.get_attribute("title") == f"Call {sid}"  # the id in the tooltip
        assert await page.get_by_text("Spring renewals").count() == 1
        await screenshot(page, "index")
        assert errors == []
