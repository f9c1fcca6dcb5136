"""Which call needs me, in real Chromium: claims shared live, Needs attention, health figures."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser import chromium, screenshot
from tests.live import running_app
from webapp.access.users import Role
from webapp.simulator import Simulator


async def test_a_claim_shows_on_a_second_browser_within_a_second(sim: Simulator) -> None:
    sid = sim.add_call(assistant_name="Billing bot")
    other = sim.add_call(assistant_name="Sales bot")
    async with running_app(sim) as live, chromium() as browser:
        ada = await live.page(browser, Role.SUPERVISOR)  # a context of its own
        bob = await live.page(browser, Role.ADMIN)  # another context
        await bob.goto(f"{live.url}/wallboard")
        await expect(bob.locator(".card")).to_have_count(2)
        await ada.goto(f"{live.url}/calls/{sid}")
        await expect(ada.locator("#conn")).to_have_attribute("data-state", "live")
        await ada.locator("#claim button[value=claim]").click()
        card = bob.locator(f"#card-{sid} .claimed")
        await expect(card).to_contain_text("test-supervisor is on it", timeout=1000)
        await expect(bob.locator(f"#card-{other} .claimed")).to_have_count(0)
        await expect(ada.locator("#claim .claimed")).to_contain_text("test-supervisor is on it")
        # Bob may not release Ada's claim as a supervisor, but as an admin he may.
        await bob.locator(f"#card-{sid} button[value=release]").click()
        await expect(ada.locator("#claim .claimed")).to_have_count(0, timeout=1000)
        sim.set_call_status(sid, "completed")
        await expect(ada.locator("#claim .claim-actions")).to_have_count(0)


async def test_a_refused_claim_says_why_on_the_page(sim: Simulator) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live, chromium() as browser:
        bob = await live.page(browser, Role.ADMIN)
        ada = await live.page(browser, Role.SUPERVISOR)
        await bob.goto(f"{live.url}/calls/{sid}")
        await ada.goto(f"{live.url}/calls/{sid}")
        await expect(ada.locator("#conn")).to_have_attribute("data-state", "live")
        await bob.locator("#claim button[value=claim]").click()
        await expect(ada.locator("#claim .claimed")).to_contain_text("test-admin is on it")
        await ada.locator("#claim button[value=ack]").click()
        await expect(ada.locator("#claim-note")).to_contain_text("test-admin is already on it")


async def test_the_call_page_shows_live_health_and_the_overview_lists_calls_needing_attention(
    sim: Simulator,
) -> None:
    calm = sim.add_call(assistant_name="Billing bot", customer_phone="+15550111")
    upset = sim.add_call(assistant_name="Sales bot", customer_phone="+15550222")
    async with (
        running_app(sim, health_silence_warn=60, health_silence_alarm=120) as live,
        chromium() as browser,
    ):
        page = await live.page(browser)
        await page.goto(f"{live.url}/")
        await expect(page.locator("#needs .empty")).to_be_visible()
        sim.add_segment(calm, "assistant", "Hello, how can I help you today?")
        sim.add_segment(upset, "assistant", "Hello, how can I help you today?")
        sim.add_segment(
            upset, "user", "This is ridiculous, I am furious and my lawyer will call you!"
        )
        need = page.locator(f"#needs .need[data-sid='{upset}']")
        await expect(need).to_contain_text("said 'lawyer'")
        await expect(need).to_contain_text("caller upset")
        await expect(page.locator(f"#needs .need[data-sid='{calm}']")).to_have_count(0)
        await screenshot(page, "overview-needs-attention")
        await need.locator("a").click()
        await expect(page.locator("#health .latency")).to_be_visible()
        await expect(page.locator("#health .attention")).to_contain_text("said 'lawyer'")
        await expect(
            page.locator("#health .fig", has_text="Turns").locator("dd").first
        ).to_have_text("2")
        await screenshot(page, "call-health")
