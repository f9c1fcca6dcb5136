"""Embeds in real Chromium: the wallboard embed updates live, acts on nothing, and says
"Demo data" in demo mode, as the call embed does."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser import chromium
from tests.live import running_app
from webapp.simulator import Simulator


async def test_the_wallboard_embed_updates_live_without_actions_and_marks_demo_data(
    sim: Simulator,
) -> None:
    first = sim.add_call()
    sim.add_segment(first, "user", "hello from the first call")
    async with running_app(sim, demo=True, directory_poll_interval=0.2) as live:
        board = (await live.state.access.embeds.mint("wallboard", "all", 600, "test")).path
        call = (await live.state.access.embeds.mint("call", first, 600, "test")).path
        async with chromium() as browser:
            page = await browser.new_page(viewport={"width": 800, "height": 600})
            await page.goto(live.url + board)
            await expect(page.locator(".card")).to_have_count(1)
            await expect(page.locator(".badge.demo")).to_be_visible()
            await expect(page.locator(".card .end-call")).to_be_hidden()
            assert await page.locator("header.top").count() == 0
            assert await page.locator("form.filters").count() == 0
            second = sim.add_call()
            await expect(page.locator(".card")).to_have_count(2, timeout=10_000)
            sim.add_segment(second, "assistant", "a line the board shows live")
            await expect(page.locator(".cards")).to_contain_text("a line the board shows live")
            await page.goto(live.url + call)
            await expect(page.locator(".badge.demo")).to_be_visible()
            await expect(page.locator("#transcript")).to_contain_text("hello from the first call")
