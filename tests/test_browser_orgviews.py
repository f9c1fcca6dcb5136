"""The organisation switcher and the pages of every organisation, in real Chromium (axe-core
checks them): two organisations of one simulator, a person who sees both."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import TimeoutError as PlaywrightTimeout
from playwright.async_api import expect

from tests.axe import violations
from tests.browser import chromium, screenshot
from tests.live import running_app
from tests.twoorgs import ORGS, another_org
from webapp.access.users import Role
from webapp.simulator import Simulator

QUIET = {"health_silence_warn": 60, "health_silence_alarm": 120}  # no dead-air points here
OPENING_TAGS = "cards => cards.map(c => c.outerHTML.split('>')[0])"
FIRST_DRAWN = """() => {
  const upset = document.querySelector(".card[data-org='globex']");
  const calm = document.querySelector(".card:not([data-org])");
  if (!upset || !calm) return false;
  const a = upset.getBoundingClientRect(), b = calm.getBoundingClientRect();
  return a.top < b.top || (a.top === b.top && a.left < b.left);
}"""


@pytest.fixture
async def two() -> AsyncIterator[Simulator]:
    async with Simulator(orgs=ORGS, autoplay=False) as simulator:
        yield simulator


async def test_the_switcher_goes_from_every_organisation_to_one_by_keyboard(
    two: Simulator,
) -> None:
    mine = two.add_call(assistant_name="Billing bot", customer_phone="+15550111")
    theirs = two.org("globex").add_call(assistant_name="Sales bot", customer_phone="+15550222")
    async with (
        running_app(two, burki_org_name="Acme Support") as live,
        another_org(live, two),
        chromium() as browser,
    ):
        page = await live.page(browser, Role.SUPERVISOR, start="/", bypass_csp=True)
        switch = page.locator("nav .org-switch")
        await expect(switch.locator("summary")).to_contain_text("All organisations")
        await expect(page.locator(f"#calls tr[data-sid='{theirs}'] .org-tag")).to_have_text(
            "Globex Sales"
        )
        await expect(page.locator(f"#calls tr[data-sid='{mine}'] .org-tag")).to_have_text(
            "Acme Support"
        )
        assert await violations(page) == []
        # Keyboard only: focus the switcher, open it, go to Globex Sales.
        await switch.locator("summary").focus()
        await page.keyboard.press("Enter")
        await expect(switch.locator("ul")).to_be_visible()
        current = switch.locator("a[aria-current='page']")
        await expect(current).to_have_text("All organisations")
        await screenshot(page, "org-switcher-open")
        assert await violations(page) == []
        await switch.locator("a", has_text="Globex Sales").focus()
        await page.keyboard.press("Enter")
        await page.wait_for_url(f"{live.url}/o/globex/")
        await expect(switch.locator("summary")).to_contain_text("Globex Sales")
        await expect(page.locator(f"#calls tr[data-sid='{theirs}']")).to_have_count(1)
        await expect(page.locator(f"#calls tr[data-sid='{mine}']")).to_have_count(0)
        await expect(page.locator("#calls .org-tag")).to_have_count(0)  # one organisation
        # The nav keeps to the organisation; the switcher keeps to the page.
        await page.locator("nav a", has_text="Wallboard").click()
        await page.wait_for_url(f"{live.url}/o/globex/wallboard")
        await expect(page.locator(".card")).to_have_count(1)
        await switch.locator("summary").click()
        await switch.locator("a", has_text="All organisations").click()
        await page.wait_for_url(f"{live.url}/wallboard")
        await expect(page.locator(".card")).to_have_count(2)
        await expect(page.locator(".card .org-tag")).to_have_count(2)


async def test_every_organisations_overview_and_wallboard_sort_by_attention_across_them(
    two: Simulator,
) -> None:
    calm = two.add_call(assistant_name="Billing bot", customer_phone="+15550111")
    upset = two.org("globex").add_call(assistant_name="Sales bot", customer_phone="+15550222")
    async with (
        running_app(two, burki_org_name="Acme Support", **QUIET) as live,
        another_org(live, two),
        chromium() as browser,
    ):
        page = await live.page(browser, Role.SUPERVISOR, start="/", bypass_csp=True)
        await expect(page.locator("#calls tbody tr")).to_have_count(2)
        board = await live.page(browser, Role.SUPERVISOR, start="/wallboard", bypass_csp=True)
        await expect(board.locator(".card")).to_have_count(2)
        two.add_segment(calm, "assistant", "Hello, how can I help you today?")
        two.org("globex").add_segment(
            upset, "user", "This is ridiculous, I am furious and my lawyer will call you!"
        )
        first = page.locator("#calls tbody tr").first
        await expect(first).to_have_attribute("data-sid", upset)
        await expect(first.locator(".org-tag")).to_have_text("Globex Sales")
        need = page.locator(f"#needs .need[data-sid='{upset}']")
        await expect(need.locator(".org-tag")).to_have_text("Globex Sales")
        await expect(need.locator("a")).to_have_attribute("href", f"/o/globex/calls/{upset}")
        await screenshot(page, "overview-all-organisations")
        assert await violations(page) == []
        card = board.locator(".card[data-org='globex']")
        await expect(card.locator(".attention .score")).not_to_have_text("0")
        # CSS orders the cards by attention: the upset one is drawn first (top left).
        try:
            await board.wait_for_function(FIRST_DRAWN, timeout=15000)
        except PlaywrightTimeout:
            drawn = await board.locator(".card").evaluate_all(OPENING_TAGS)
            raise AssertionError(f"the upset call is not drawn first: {drawn}") from None
        await screenshot(board, "wallboard-all-organisations")
        assert await violations(board) == []
        tv = await live.page(browser, Role.SUPERVISOR, start="/wallboard?tv=1")
        await expect(tv.locator(".card .org-tag")).to_have_count(2)
        await screenshot(tv, "wallboard-tv-all-organisations")
