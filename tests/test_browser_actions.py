"""In real Chromium: ending a call from the page (confirmed, seen on a second screen),
and desktop notifications for high alerts (opt-in, sound, snooze per call)."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.browser import chromium, screenshot
from tests.live import running_app
from webapp.access.users import Role
from webapp.simulator import Simulator

# Notification and Audio, wrapped to record what the page asks for (headless Chromium
# shows no desktop); the real Notification still gets the call when it can.
RECORDER = """
window.__notes = []; window.__sounds = [];
(function () {
  var Real = window.Notification;
  function Recorded(title, options) {
    options = options || {};
    window.__notes.push({ title: title, body: options.body, tag: options.tag });
    document.documentElement.dataset.notes = String(window.__notes.length);
    try { return new Real(title, options); } catch (e) { return {}; }
  }
  Object.defineProperty(Recorded, "permission", { get: function () { return Real.permission; } });
  Recorded.requestPermission = function () {
    return Real.requestPermission.apply(Real, arguments);
  };
  window.Notification = Recorded;
  window.Audio = function (src) {
    window.__sounds.push(src);
    return { play: function () { return Promise.resolve(); } };
  };
})();
"""


async def test_a_supervisor_ends_a_call_and_a_second_screen_sees_who(sim: Simulator) -> None:
    sid = sim.add_call(customer_phone="+15550142")
    async with running_app(sim) as live, chromium() as browser:
        watcher = await live.page(browser, Role.ADMIN)
        await watcher.goto(f"{live.url}/calls/{sid}")
        await expect(watcher.locator(".link")).to_have_attribute("data-link", "live")
        ada = await live.page(browser, Role.SUPERVISOR)
        await ada.goto(f"{live.url}/calls/{sid}")
        await ada.get_by_role("link", name="End call").click()
        await expect(ada.locator(".question")).to_contain_text("••••0142")
        await screenshot(ada, "end-call-confirm")
        await ada.get_by_role("button", name="End call").click()
        await expect(ada).to_have_url(f"{live.url}/calls/{sid}")
        note = watcher.locator("#action-note")
        # "asked Burki to end the call" comes first; "ended the call" may follow the end.
        await expect(note).to_contain_text(
            re.compile(r"test-supervisor (ended|asked Burki to end)")
        )
        await expect(watcher.locator("#call-status")).to_contain_text("ompleted")


async def test_a_high_alert_shows_a_desktop_notification_until_the_call_is_snoozed(
    sim: Simulator,
) -> None:
    sid = sim.add_call(customer_phone="+15550187")
    rules = {"alert_keywords": "lawyer:high, refund:low"}
    async with running_app(sim, **rules) as live, chromium() as browser:
        page = await live.page(browser, Role.SUPERVISOR, permissions=["notifications"])
        await page.add_init_script(RECORDER)
        await page.goto(f"{live.url}/calls/{sid}")
        await expect(page.locator(".link")).to_have_attribute("data-link", "live")
        await page.get_by_role("button", name="Desktop alerts: off").click()
        await expect(page.get_by_role("button", name="Desktop alerts: on")).to_be_visible()
        await page.get_by_role("button", name="Sound: off").click()
        sim.add_segment(sid, "user", "I just want a refund.")  # low: no notification
        sim.add_segment(sid, "user", "Otherwise my lawyer will call you.")
        # An attribute to wait on: wait_for_function would evaluate a string, which the CSP
        # refuses (no unsafe-eval).
        await expect(page.locator("html")).to_have_attribute("data-notes", "1")
        note = await page.evaluate("window.__notes[0]")
        # The caller by its label, and the assistant.
        assert note["title"] == "High alert: ••••0187 · Support bot"
        assert "lawyer" in note["body"]
        assert await page.evaluate("window.__sounds") == [f"{live.url}/static/sounds/alert.wav"]
        await page.get_by_role("button", name="Snooze alerts").click()
        await expect(page.get_by_role("button", name="Snoozed")).to_be_visible()
        sim.add_segment(sid, "user", "My lawyer, I said.")
        await expect(page.locator("#alerts .alert")).to_have_count(3)
        assert await page.evaluate("window.__notes.length") == 1  # snoozed: told nothing
        assert await page.evaluate("window.__sounds.length") == 1
