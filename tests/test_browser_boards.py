"""The campaign dashboard and the wallboard in real headless Chromium."""

from __future__ import annotations

from playwright.async_api import Request, expect

from tests.browser import chromium, screenshot
from tests.live import running_app
from webapp.simulator import Simulator


async def test_campaign_counters_reach_the_final_numbers_and_the_chart_has_points(
    sim: Simulator,
) -> None:
    cid = sim.add_campaign(name="Spring renewals", dialect="A", contacts=10)
    async with running_app(sim) as live, chromium() as browser:
        page = await live.page(browser)
        await page.goto(f"{live.url}/campaigns/{cid}")
        await expect(page.locator("#conn")).to_have_attribute("data-state", "live")
        outcomes = ["success"] * 7 + ["failed"] * 3
        for outcome in outcomes:
            sim.advance_campaign(cid, outcome=outcome)
        await expect(page.locator("#summary")).to_be_visible()
        counters = page.locator(".counters")
        await expect(counters.locator("div", has_text="Reached").locator("dd")).to_have_text("7")
        await expect(counters.locator("div", has_text="Failed").locator("dd")).to_have_text("3")
        await expect(counters.locator(".rate")).to_have_text("70%")
        await expect(page.locator("#progress progress")).to_have_attribute("value", "10")
        points = await page.locator("#chart .line-done").get_attribute("points")
        assert points is not None and len(points.split()) >= 2
        await expect(page.locator("#contacts .contact")).to_have_count(10)
        await expect(page.locator("#conn")).to_have_attribute("data-state", "ended")
        await screenshot(page, "campaign")


async def test_the_wallboard_shows_eight_calls_over_exactly_one_sse_connection(
    sim: Simulator,
) -> None:
    calls = [sim.add_call(assistant_name=f"Agent {n}") for n in range(8)]
    async with running_app(sim) as live, chromium() as browser:
        page = await live.page(browser)
        streams: list[str] = []

        def count(request: Request) -> None:
            if "/updates" in request.url or "/events" in request.url:
                streams.append(request.url)

        page.on("request", count)
        await page.goto(f"{live.url}/wallboard")
        await expect(page.locator(".card")).to_have_count(8)
        for n, sid in enumerate(calls):
            sim.add_segment(sid, "user", f"Hello from caller {n}")
        for n, sid in enumerate(calls):
            await expect(page.locator(f"#card-{sid} .lines")).to_contain_text(f"caller {n}")
        new = sim.add_call(assistant_name="Agent 9")
        await live.state.tenants.first.directory.refresh()
        await expect(page.locator(f"#card-{new}")).to_be_visible()
        sim.set_call_status(calls[0], "completed")
        await live.state.tenants.first.directory.refresh()
        await expect(page.locator(f"#card-{calls[0]}")).to_have_count(0)
        await screenshot(page, "wallboard")
        assert len(streams) == 1, streams
