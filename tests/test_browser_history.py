"""The history pages in a real browser: the Alerts page filters with htmx and links each alert
to its call, the shift report draws its charts, an ended call's page shows its summary."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.axe import violations
from tests.browser import chromium, screenshot
from tests.live import LiveApp, Viewer, csrf_of, is_event, running_app
from webapp.simulator import Simulator

RULES = {"alert_keywords": "lawyer:high, speak to a manager:medium, cancel:low"}
ANGRY = "This is ridiculous, I am furious, the worst service ever!"


async def a_shift(live: LiveApp, sim: Simulator) -> list[str]:
    """Three calls of two assistants with alerts; one acknowledged; all ended."""
    calls = [
        (sim.add_call(assistant_name="Billing bot"), ["I want to speak to a manager.", ANGRY]),
        (sim.add_call(assistant_name="Billing bot"), ["Fine, my lawyer will call you."]),
        (sim.add_call(assistant_name="Sales bot"), ["Please cancel my order."]),
    ]
    async with live.client(timeout=10) as client:
        for n, (sid, lines) in enumerate(calls):
            viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
            await viewer.wait_for(is_event("status", state="live"))
            for line in lines:
                sim.add_segment(sid, "user", line)
                sim.add_segment(sid, "assistant", "I am sorry to hear that; let me help.")
            await viewer.wait_for(is_event("alert"))
            if n == 0:
                csrf = await csrf_of(client, f"{live.url}/calls/{sid}")
                headers = {"hx-request": "true"}
                form = {"action": "ack", "csrf": csrf}
                await client.post(f"{live.url}/calls/{sid}/claim", data=form, headers=headers)
                await viewer.wait_for(is_event("claim"))
            sim.set_call_status(sid, "completed")
            await viewer.wait_for(is_event("end"))
            await viewer.stop()
    assert live.state.history is not None
    await live.state.history.recorder.drained()
    return [sid for sid, _ in calls]


async def test_the_history_pages_show_a_shift_at_a_glance(sim: Simulator) -> None:
    async with running_app(sim, **RULES) as live, chromium() as browser:
        sids = await a_shift(live, sim)
        page = await live.page(browser, start="/history/alerts", bypass_csp=True)
        alerts = page.locator("#alert-results .alert")
        await expect(alerts).to_have_count(4)
        await expect(page.locator(".alert .handled")).to_have_count(2)  # the first call's
        await screenshot(page, "history-alerts")
        assert (found := await violations(page)) == [], found[0]["nodes"] if found else ""

        await page.evaluate("window.stillHere = true")  # gone if the page were loaded again
        await page.select_option("select[name=severity]", "medium")
        await page.get_by_role("button", name="Show").click()
        await expect(alerts).to_have_count(2)  # the first call's keyword and mood
        assert await page.evaluate("window.stillHere === true"), "htmx did not swap the results"
        csv_link = page.get_by_role("link", name="Download these as CSV")
        await expect(csv_link).to_have_attribute("href", re.compile(r"severity=medium"))
        await page.select_option("select[name=severity]", "")
        await page.select_option("select[name=handled]", "no")
        await page.get_by_role("button", name="Show").click()
        # The same count as the last filter's: wait for these calls, not for a number.
        for sid in sids[1:]:
            await expect(alerts.locator(f'a[href="/calls/{sid}"]')).to_have_count(1)
        await expect(alerts).to_have_count(2)

        await page.goto(f"{live.url}/history/shift")
        await expect(page.locator('[data-figure="calls"]')).to_have_text("3")
        await expect(page.locator('[data-figure="attention"]')).to_have_text("3")
        await expect(page.locator('[data-figure="alerts"]')).to_have_text("4")
        await expect(page.locator(".hour-chart rect")).not_to_have_count(0)
        await expect(page.locator(".hbars li")).to_have_count(4)  # 2 assistants, 2 charts
        await expect(page.locator(".worst-calls li")).not_to_have_count(0)
        await expect(page.locator(".people")).to_contain_text("1 acknowledged")
        await screenshot(page, "shift-report")
        assert (found := await violations(page)) == [], found[0]["nodes"] if found else ""

        await page.goto(f"{live.url}/calls/{sids[0]}")
        await expect(page.locator(".stored-summary")).to_be_visible()
        await expect(page.locator('.stored-summary [data-figure="alerts"]')).to_have_text("2")
        await screenshot(page, "call-stored-summary")
