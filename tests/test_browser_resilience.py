"""Pages through failures, in real Chromium: upstream drops, the browser's own link cut."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser import chromium, screenshot
from tests.live import running_app
from webapp.simulator import Simulator


async def test_an_upstream_drop_shows_reconnecting_then_live_with_no_duplicate_line(
    sim: Simulator,
) -> None:
    sid = sim.add_call()
    sim.add_segment(sid, "user", "Before the drop.")
    async with running_app(sim, relay_poll_after_failures=50) as live, chromium() as browser:
        page = await live.page(browser)
        await page.goto(f"{live.url}/calls/{sid}")
        await expect(page.locator("#conn")).to_have_attribute("data-state", "live")
        sim.faults.refuse_all = True  # keep Burki away long enough to be seen
        await sim.drop(f"call:{sid}")
        await expect(page.locator("#conn")).to_have_attribute("data-state", "reconnecting")
        await expect(page.locator("#conn .countdown")).to_be_visible()
        await screenshot(page, "call-reconnecting")
        sim.add_segment(sid, "assistant", "Said while we were away.")
        sim.faults.refuse_all = False
        await expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=15000)
        sim.add_segment(sid, "user", "After the drop.")
        await expect(page.locator("#transcript .seg")).to_have_count(3)
        texts = await page.locator("#transcript .seg .text").all_inner_texts()
        assert texts == ["Before the drop.", "Said while we were away.", "After the drop."]


async def test_a_cut_browser_connection_resumes_with_no_gap_and_no_duplicate(
    sim: Simulator,
) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live, chromium() as browser:
        page = await live.page(browser)
        await page.goto(f"{live.url}/calls/{sid}")
        await expect(page.locator("#conn")).to_have_attribute("data-state", "live")
        sim.add_segment(sid, "user", "One.")
        await expect(page.locator("#transcript .seg")).to_have_count(1)
        stream = next(iter(live.hub.streams.values()))
        sessions = live.state.metrics.registry.get_sample_value("burki_live_viewer_sessions_total")
        for sub in list(stream.subscribers):  # the server cuts the viewer, as it does a slow one
            stream.detach(sub)
            sub.close("test cut")
        sim.add_segment(sid, "assistant", "Two, while the browser was cut off.")
        sim.add_segment(sid, "user", "Three.")
        await expect(page.locator("#transcript .seg")).to_have_count(3)
        assert (
            live.state.metrics.registry.get_sample_value("burki_live_viewer_sessions_total")
            > sessions
        )  # it reconnected
        sim.add_segment(sid, "assistant", "Four.")
        await expect(page.locator("#transcript .seg")).to_have_count(4)
        texts = await page.locator("#transcript .seg .text").all_inner_texts()
        assert texts == ["One.", "Two, while the browser was cut off.", "Three.", "Four."]


async def test_the_overview_filters_and_updates_without_a_reload(sim: Simulator) -> None:
    first = sim.add_call(assistant_name="Billing bot", customer_phone="+15550111")
    sim.add_call(assistant_name="Sales bot", customer_phone="+15550222")
    sim.add_campaign(name="Winter promo", dialect="C", contacts=5)
    async with running_app(sim) as live, chromium() as browser:
        page = await live.page(browser)
        await page.goto(f"{live.url}/?assistant=Billing+bot")
        await expect(page.locator("#calls tbody tr")).to_have_count(1)
        await expect(page.locator(f"#calls tr[data-sid='{first}']")).to_have_count(1)
        newcomer = sim.add_call(assistant_name="Billing bot", customer_phone="+15550333")
        await live.state.tenants.first.directory.refresh()
        await expect(page.locator("#calls tbody tr")).to_have_count(2)
        await expect(page.locator(f"#calls tr[data-sid='{newcomer}']")).to_have_count(1)
        await page.goto(f"{live.url}/?q=0222")
        await expect(page.locator("#calls tbody tr")).to_have_count(1)
        await expect(page.locator("#calls")).to_contain_text("Sales bot")
        await page.goto(f"{live.url}/")
        await expect(page.locator("#campaigns")).to_contain_text("Winter promo")
        await screenshot(page, "overview")


async def test_embeds_render_without_chrome(sim: Simulator) -> None:
    sid = sim.add_call()
    sim.add_segment(sid, "assistant", "Thanks for calling, how can I help?")
    cid = sim.add_campaign(name="Embedded campaign", dialect="B", contacts=4)
    async with running_app(sim) as live, chromium() as browser:
        page = await live.page(browser, viewport={"width": 640, "height": 480})
        await page.goto(f"{live.url}/embed/calls/{sid}")
        await expect(page.locator("#transcript .seg")).to_have_count(1)
        assert await page.locator("header.top").count() == 0
        await screenshot(page, "embed-call")
        await page.goto(f"{live.url}/embed/campaigns/{cid}")
        await expect(page.locator("#conn")).to_have_attribute("data-state", "live")
        sim.advance_campaign(cid, outcome="success")
        await expect(page.locator("#contacts .contact")).to_have_count(1)
        await screenshot(page, "embed-campaign")
