"""Screens people use all day, in real Chromium: phones at 390 px, the wallboard on a TV."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.browser import chromium, screenshot
from tests.live import running_app
from webapp.access.users import Role
from webapp.simulator import Simulator

PASSWORD = "a long tv wall password"
PHONE = {"width": 390, "height": 844}
ON_SCREEN = """cards => cards
  .map(c => [c.getBoundingClientRect(), c.id])
  .sort((a, b) => a[0].top - b[0].top || a[0].left - b[0].left)
  .map(pair => pair[1])"""  # card ids as a reader sees them: by row, then left to right


async def sideways(page: Page) -> int:
    """How many pixels the page is wider than the screen (0: no sideways scrolling)."""
    width = await page.evaluate("document.documentElement.scrollWidth")
    return int(width) - PHONE["width"]


@pytest.mark.parametrize("where", ["overview", "call", "campaign"])
async def test_pages_fit_a_390_px_phone_with_no_sideways_scroll(sim: Simulator, where: str) -> None:
    sid = sim.add_call(
        assistant_name="Billing assistant with a long name", customer_phone="+15550111"
    )
    sim.add_segment(sid, "assistant", "Hello, thanks for calling, how can I help you today?")
    sim.add_segment(sid, "user", "My lawyer says the invoice INV-2026-000123456789 is wrong.")
    cid = sim.add_campaign(name="Spring renewals for returning customers", dialect="A", contacts=6)
    async with running_app(sim) as live, chromium() as browser:
        page = await live.page(browser, viewport=PHONE, is_mobile=True)
        path = {"overview": "/", "call": f"/calls/{sid}", "campaign": f"/campaigns/{cid}"}[where]
        await page.goto(live.url + path)
        await expect(page.locator("[data-live] .link")).to_have_attribute("data-link", "live")
        if where == "campaign":
            sim.advance_campaign(cid, outcome="success")
            await expect(page.locator("#contacts .contact")).to_have_count(1)
        if where == "overview":
            await expect(page.locator(f"#needs .need[data-sid='{sid}']")).to_be_visible()
        if where == "call":
            await expect(page.locator("#transcript .seg")).to_have_count(2)
        assert await sideways(page) <= 0
        await screenshot(page, f"phone-{where}")


async def test_tv_mode_has_no_navigation_and_pages_through_the_cards(sim: Simulator) -> None:
    calls = [sim.add_call(assistant_name=f"Agent {n}") for n in range(9)]
    async with running_app(sim) as live, chromium() as browser:
        page = await live.page(browser, viewport={"width": 1280, "height": 720})
        await page.goto(f"{live.url}/wallboard?tv=1&every=2")
        await expect(page.locator(".card")).to_have_count(9)
        assert await page.locator("header.top").count() == 0
        assert await page.locator("form.filters").count() == 0
        in_dom = await page.locator(".card").evaluate_all("cards => cards.map(c => c.id)")
        upset = in_dom[-1].removeprefix("card-")  # the last card in the page's own order
        sim.add_segment(upset, "user", "This is useless, I want to speak to a manager now!")
        await expect(page.locator(f"#card-{upset} .attention .score")).not_to_have_text("0")
        label = page.locator("#tv-page")
        await expect(label).to_have_text(re.compile(r"page 1 of [2-9]"))
        pages = int((await label.inner_text()).rsplit(" ", 1)[1])
        shown = page.locator(".card:not(.off-page)")
        first = await shown.evaluate_all(ON_SCREEN)
        assert 0 < len(first) < len(calls)
        assert first[0] == f"card-{upset}"  # the call that needs attention comes first
        await screenshot(page, "wallboard-tv")
        await expect(label).to_have_text(f"page 2 of {pages}")
        second = await shown.evaluate_all(ON_SCREEN)
        assert second and set(first).isdisjoint(second)


async def test_tv_mode_survives_a_server_restart_without_a_reload(sim: Simulator) -> None:
    sid = sim.add_call(assistant_name="Night shift")
    with tempfile.TemporaryDirectory() as folder:
        # A real user in a database both servers read (sign-in links end with their process).
        kept = {"dashboard_database_file": Path(folder) / "store.sqlite3"}
        async with chromium() as browser:
            async with running_app(sim, **kept) as live:
                port = int(live.url.rsplit(":", 1)[1])
                await live.state.access.users.add("tv-wall", PASSWORD, Role.SUPERVISOR)
                page = await browser.new_page()
                await page.goto(f"{live.url}/signin?next=/wallboard%3Ftv%3D1")
                await page.fill("input[name=name]", "tv-wall")
                await page.fill("input[name=password]", PASSWORD)
                await page.click("button[type=submit]")
                await expect(page.locator(f"#card-{sid}")).to_be_visible()
                await page.evaluate("window.burkiMarker = 'still the same page'")
            # The server is gone; the page stays up and reconnects to the new one.
            async with running_app(sim, port=port, **kept) as again:
                newcomer = sim.add_call(assistant_name="Morning shift")
                await again.state.tenants.first.directory.refresh()
                sim.add_segment(sid, "user", "Is anyone there after the restart?")
                await expect(page.locator(f"#card-{newcomer}")).to_be_visible(timeout=20000)
                await expect(page.locator(f"#card-{sid} .lines")).to_contain_text(
                    "after the restart", timeout=20000
                )
                assert await page.evaluate("window.burkiMarker") == "still the same page"
