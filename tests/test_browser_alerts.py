"""Alerts in the browser: the call page's banner and line, the wallboard card, the overview."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser import chromium, screenshot
from tests.live import running_app
from webapp.simulator import Simulator

ANGRY = "This is ridiculous, I am furious, the worst service ever! I want to cancel my account."


async def test_an_angry_caller_turns_the_card_red_and_flags_the_line(sim: Simulator) -> None:
    calm = sim.add_call(assistant_name="Billing bot")
    angry = sim.add_call(assistant_name="Billing bot")
    async with running_app(sim) as live, chromium() as browser:
        board = await live.page(browser)
        await board.goto(f"{live.url}/wallboard")
        await expect(board.locator(".card")).to_have_count(2)
        await expect(board.locator(f"#card-{angry} .conn-dot")).to_have_attribute(
            "data-state", "live"
        )
        sim.add_segment(calm, "user", "Thank you, that was very helpful!")
        sim.add_segment(angry, "user", ANGRY)
        await expect(board.locator(f"#card-{angry}")).to_have_attribute("data-alarm", "true")
        await expect(board.locator(f"#card-{calm}")).to_have_attribute("data-alarm", "false")
        await expect(board.locator(f"#card-{angry} .card-alert")).to_be_visible()
        await screenshot(board, "wallboard-alert")

        call = await live.page(browser)
        await call.goto(f"{live.url}/calls/{angry}")
        await expect(call.locator("#alerts .alert")).to_have_count(2)  # mood and keyword
        await expect(call.locator("#transcript .seg.alarm")).to_have_count(1)
        await expect(call.locator("#sentiment")).to_be_visible()
        sim.add_segment(angry, "user", "And I will talk to my lawyer about it.")
        await expect(call.locator("#alerts .alert")).to_have_count(3)
        await expect(call.locator("#transcript .seg.alarm")).to_have_count(2)
        await screenshot(call, "call-alert")

        overview = await live.page(browser)
        await overview.goto(f"{live.url}/")
        await expect(overview.locator("#alerts li")).to_have_count(3)
