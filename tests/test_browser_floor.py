"""In real Chromium: screens a supervisor trusts at a glance (issue 26).

Campaign controls that follow the campaign's state, nothing to end or claim twice,
the overview answering "which call needs me", counters that stop when the page
knows it is stale, the TV's summary bar, dense columns and kept focus, the admin
page on a phone and the campaign chart's axes.
"""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from tests.browser import chromium
from tests.live import running_app
from webapp.access.users import Role
from webapp.simulator import Simulator

PHONE = {"width": 390, "height": 844}
TV = {"width": 1920, "height": 1080}


async def live_now(page: Page) -> None:
    await expect(page.locator("[data-live]").first).to_have_attribute("data-link", "live")


async def test_a_campaign_offers_only_the_controls_its_state_allows(sim: Simulator) -> None:
    cid = sim.add_campaign(name="Spring renewals", dialect="A", contacts=2)
    async with running_app(sim) as live, chromium() as browser:
        page = await live.page(browser, Role.MANAGER)
        await page.goto(f"{live.url}/campaigns/{cid}")
        await live_now(page)
        pause, resume = page.locator("button[value=pause]"), page.locator("button[value=start]")
        stop = page.locator("button[value=stop]")
        await expect(page.locator(".campaign-status")).to_have_text("running")
        await expect(pause).to_be_visible()
        await expect(resume).to_be_hidden()
        await pause.click()
        await expect(page.locator(".campaign-status")).to_contain_text("paused")
        await expect(resume).to_be_visible()
        await expect(pause).to_be_hidden()
        await expect(page.locator("#progress")).to_contain_text("Calling0")
        await resume.click()
        await expect(pause).to_be_visible()
        sim.advance_campaign(cid, "success")
        sim.advance_campaign(cid, "failed")  # the last contact: finished
        await expect(page.locator(".campaign-status")).to_contain_text("finished")
        for button in (pause, resume, stop):
            await expect(button).to_be_hidden()
        await expect(page.locator("#conn")).to_have_attribute("data-state", "ended")
        await expect(page.locator("#conn")).not_to_contain_text("Connecting")


async def test_an_ended_or_held_call_offers_no_end_and_no_second_claim(sim: Simulator) -> None:
    sid = sim.add_call(customer_phone="+15550142")
    async with running_app(sim) as live, chromium() as browser:
        page = await live.page(browser, Role.SUPERVISOR)
        await page.goto(f"{live.url}/calls/{sid}")
        await live_now(page)
        end = page.locator(".tools .end-call")
        await expect(end).to_be_visible()
        await page.get_by_role("button", name="I'm on it").click()
        mine = page.locator("#claim button[value=claim]")
        await expect(mine).to_be_disabled()
        await expect(mine).to_have_text("You are on it")
        sim.set_call_status(sid, "completed")
        await expect(page.locator("#call-status")).to_have_attribute("data-ended", "true")
        await expect(end).to_be_hidden()


async def test_the_overview_names_calls_and_keeps_to_what_needs_someone(sim: Simulator) -> None:
    calm = sim.add_call(customer_phone="+15550111", assistant_name="Billing desk")
    upset = sim.add_call(customer_phone="+15550122", assistant_name="Returns desk")
    gone = sim.add_call(customer_phone="+15550133", assistant_name="Night desk")
    async with running_app(sim, directory_poll_interval=0.3) as live, chromium() as browser:
        page = await live.page(browser, Role.SUPERVISOR)
        await page.goto(f"{live.url}/")
        await live_now(page)
        await expect(page.locator("#listing")).to_contain_text("Live")
        assert await page.locator("select[name=sort]").input_value() == "attention"
        sim.add_segment(gone, "user", "I want to cancel my account.")
        sim.add_segment(upset, "user", "This is useless, I want to speak to a manager now!")
        need = page.locator(f"#needs .need[data-sid='{upset}'] a")
        await expect(need).to_have_text("••••0122 · Returns desk")
        await expect(need).to_have_attribute("title", f"Call {upset}")
        rows = page.locator("table.calls tbody tr")
        await expect(rows.first).to_have_attribute("data-sid", re.compile(f"{upset}|{gone}"))
        await expect(page.locator("table.calls code")).to_have_count(0)
        await expect(page.locator(f"tr[data-sid='{calm}'] a.call-name")).to_have_text("••••0111")
        alert = page.locator(f"#alerts .alert[data-call='{gone}']")
        await expect(alert).to_contain_text("••••0133 · Night desk")
        sim.set_call_status(gone, "completed")  # ended: its alert leaves the first screen
        await expect(alert).to_have_count(0)
        await expect(page.locator(f"#alerts .alert[data-call='{upset}']")).to_have_count(1)
        await page.get_by_role("link", name=re.compile("Alert history")).click()
        await expect(page.locator(f".alert[data-call='{gone}']")).to_contain_text("(ended)")


async def test_a_stale_page_stops_its_counters_and_says_so_in_large(sim: Simulator) -> None:
    sid = sim.add_call()
    sim.add_segment(sid, "assistant", "Hello, how can I help?")
    async with running_app(sim) as live, chromium() as browser:
        page = await live.page(browser, Role.SUPERVISOR)
        await page.clock.install()
        await page.goto(f"{live.url}/calls/{sid}")
        await live_now(page)
        await page.clock.fast_forward(50_000)  # no news for 50 s, as far as the page knows
        live_region = page.locator("[data-live]")
        await expect(live_region).to_have_class(re.compile(r"\bstale\b"))
        quiet = page.locator("#health .silence [data-since]")
        before = await quiet.inner_text()
        await page.clock.fast_forward(7_000)
        assert await quiet.inner_text() == before  # stopped: it cannot know the silence goes on
        banner = await live_region.evaluate(
            "el => parseFloat(getComputedStyle(el, '::before').fontSize)"
        )
        assert banner >= 24


async def test_tv_mode_sums_up_the_floor_in_dense_columns_without_end_call(
    sim: Simulator,
) -> None:
    calls = [sim.add_call(customer_phone=f"+1555012{n:02}") for n in range(10)]
    sim.add_segment(calls[0], "user", "I want to speak to a manager, this is useless!")
    async with running_app(sim) as live, chromium() as browser:
        page = await live.page(browser, Role.SUPERVISOR, viewport=TV)
        await page.goto(f"{live.url}/wallboard?tv=1")
        await expect(page.locator(".card")).to_have_count(10)
        summary = page.locator("#tv-summary")
        await expect(summary.locator("[data-sum=live]")).to_have_text("10")
        await expect(page.locator(f"#card-{calls[0]} .attention .score")).not_to_have_text("0")
        # Read together (the bar follows each swap at once): those at the threshold or more.
        shown, counted = await page.evaluate(
            """() => [document.querySelector("[data-sum=need]").textContent,
                      [...document.querySelectorAll(".card")]
                        .filter(c => +c.dataset.score >= 20).length]"""
        )
        assert int(shown) == counted >= 1
        await expect(summary.locator("[data-sum=unclaimed]")).to_have_text(re.compile(r"[1-9]"))
        await expect(summary).to_contain_text("Longest silence now")
        await expect(summary).to_contain_text("AI latency now")
        lefts = await page.locator(".card").evaluate_all(
            "cards => cards.map(c => Math.round(c.getBoundingClientRect().left))"
        )
        assert len(set(lefts)) >= 5  # five columns or more on a 1920 px screen
        await expect(page.locator(".card .end-call:visible")).to_have_count(0)


async def test_keyboard_focus_stays_on_a_tv_card_that_re_renders(sim: Simulator) -> None:
    calls = [sim.add_call(customer_phone=f"+1555013{n:02}") for n in range(3)]
    async with running_app(sim) as live, chromium() as browser:
        page = await live.page(browser, Role.SUPERVISOR, viewport=TV)
        await page.goto(f"{live.url}/wallboard?tv=1")
        await expect(page.locator(".card")).to_have_count(3)
        await live_now(page)
        quiet = calls[1]
        link = page.locator(f"#card-{quiet} header a")
        await link.focus()
        sim.add_segment(quiet, "user", "Are you still there?")
        await expect(page.locator(f"#card-{quiet} .lines")).to_contain_text("still there")
        focused = await page.evaluate("document.activeElement.closest('.card')?.id")
        assert focused == f"card-{quiet}"  # the keyboard stays where it was


async def test_admin_fits_a_390_px_phone(sim: Simulator) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live, chromium() as browser:
        page = await live.page(browser, Role.ADMIN, viewport=PHONE, is_mobile=True)
        await page.goto(f"{live.url}/calls/{sid}")
        await page.goto(f"{live.url}/admin")
        await expect(page.locator("table.audit tbody tr")).not_to_have_count(0)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]


async def test_the_campaign_chart_has_axes_times_and_values(sim: Simulator) -> None:
    cid = sim.add_campaign(name="Chart", dialect="B", contacts=4)
    async with running_app(sim) as live, chromium() as browser:
        page = await live.page(browser, Role.MANAGER)
        await page.goto(f"{live.url}/campaigns/{cid}")
        await live_now(page)
        sim.advance_campaign(cid, "success")
        sim.advance_campaign(cid, "failed")
        chart = page.locator("#chart")
        await expect(chart.locator(".y-axis")).to_contain_text("100%")
        await expect(chart.locator(".y-axis")).to_contain_text("0%")
        clock = re.compile(r"\d\d:\d\d:\d\d")
        await expect(chart.locator(".x-axis time").first).to_have_text(clock)
        await expect(chart.locator(".x-axis time").last).to_have_text(clock)
        await expect(chart.locator("figcaption")).to_contain_text("done: 50%")
        await expect(chart.locator("figcaption")).to_contain_text("success rate: 50%")
