"""An ended call's clock, in real Chromium: it shows Burki's length and never ticks again.

The page's clock is Playwright's: after the page settled, five seconds of timers are
run at once, and every duration on the page must read as before.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.async_api import Page, expect

from tests.browser import chromium
from tests.clocks import ManualClock
from tests.live import running_app
from webapp.simulator import Simulator

CLOCKS = "#call-status .duration, #health .fig:last-child [data-since]"


async def shown(page: Page, selector: str) -> list[str]:
    return await page.locator(selector).all_inner_texts()


async def test_a_call_opened_after_its_end_shows_burki_s_length_standing_still(
    oss_sim: Simulator,
) -> None:
    """A 3 s call opened half a minute after it ended (the open-source server's on-connect
    status says neither when it ended nor how long it lasted): 0:03 on the call page and
    the embed, not the time since it started, and no clock moves."""
    clock = ManualClock(datetime.now(UTC) - timedelta(seconds=33))
    oss_sim.store.clock = clock
    sid = oss_sim.add_call()
    clock.now += timedelta(seconds=3)
    oss_sim.add_segment(sid, "user", "That's all, bye.")
    oss_sim.set_call_status(sid, "completed")
    clock.now = datetime.now(UTC)
    async with running_app(oss_sim) as live, chromium() as browser:
        page = await live.page(browser)
        await page.clock.install()
        for path in (f"/calls/{sid}", f"/embed/calls/{sid}"):
            await page.goto(live.url + path)
            await expect(page.locator("#conn")).to_have_attribute("data-state", "ended")
            await expect(page.locator("#call-status .duration")).to_have_text("0:03")
            await expect(page.locator(CLOCKS)).to_have_text(["0:03", "0:03"])
            await page.clock.run_for(5000)
            assert await shown(page, CLOCKS) == ["0:03", "0:03"], path


async def test_a_call_that_ends_while_watched_stops_its_clocks_at_burki_s_length(
    oss_sim: Simulator,
) -> None:
    """The call page and the wallboard card watch a call that Burki ends after 4 s (its
    live end says ``duration`` only): both read 0:04 and stand still."""
    clock = ManualClock(datetime.now(UTC) - timedelta(seconds=30))
    oss_sim.store.clock = clock
    sid = oss_sim.add_call()
    oss_sim.add_segment(sid, "user", "Hello?")
    settings = {"directory_poll_interval": 60.0}  # the ended card stays until the next poll
    async with running_app(oss_sim, **settings) as live, chromium() as browser:
        call, board = await live.page(browser), await live.page(browser)
        for page in (call, board):
            await page.clock.install()
        await call.goto(f"{live.url}/calls/{sid}")
        await board.goto(f"{live.url}/wallboard")
        card = board.locator(f"#card-{sid} .duration")
        await expect(card).to_be_visible()
        clock.now += timedelta(seconds=4)  # Burki's clock: the page watched for longer
        oss_sim.set_call_status(sid, "completed")
        await expect(call.locator(CLOCKS)).to_have_text(["0:04", "0:04"])
        await expect(card).to_have_text("0:04")
        for page in (call, board):
            await page.clock.run_for(5000)
        assert await shown(call, CLOCKS) == ["0:04", "0:04"]
        assert await card.inner_text() == "0:04"
