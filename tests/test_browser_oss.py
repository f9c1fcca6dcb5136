"""The dashboard in real headless Chromium against the open-source Burki's habits."""

from __future__ import annotations

import random
from urllib.parse import quote

from playwright.async_api import expect

from tests.browser import chromium
from tests.live import running_app
from webapp.simulator import Simulator
from webapp.simulator.oss import telnyx_call_id

LINES = [f"Line {n} of a call that ended before anyone looked." for n in range(12)]


async def test_an_ended_telnyx_call_shows_its_whole_transcript_and_the_boards_list_calls(
    oss_sim: Simulator,
) -> None:
    ended = oss_sim.add_call(telnyx_call_id(random.Random(5)))
    for n, text in enumerate(LINES):
        oss_sim.add_segment(ended, "user" if n % 2 else "assistant", text)
    oss_sim.set_call_status(ended, "completed")
    ongoing = oss_sim.add_call(telnyx_call_id(random.Random(6)))
    oss_sim.add_segment(ongoing, "user", "Still talking")
    async with running_app(oss_sim) as live, chromium() as browser:
        page = await live.page(browser)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"{live.url}/calls/{quote(ended, safe='')}")
        await expect(page.locator("#transcript .seg")).to_have_count(len(LINES))
        assert await page.locator("#transcript .seg .text").all_inner_texts() == LINES
        await expect(page.locator("#conn")).to_have_attribute("data-state", "ended")
        await page.goto(f"{live.url}/")
        await expect(page.locator(f"table.calls tr[data-sid='{ongoing}']")).to_have_count(1)
        await expect(page.locator("#campaigns")).to_contain_text("This Burki has no campaigns")
        await page.goto(f"{live.url}/wallboard")
        await expect(page.locator("article.card")).to_have_count(1)
        await expect(page.locator("article.card")).to_contain_text("Still talking")
        assert errors == []
