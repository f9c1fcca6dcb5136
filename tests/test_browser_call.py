"""The call page and captions in real headless Chromium against the simulator."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.browser import chromium, screenshot
from tests.live import running_app
from webapp.simulator import Simulator


async def transcript_texts(page: Page) -> list[str]:
    return await page.locator("#transcript .seg .text").all_inner_texts()


async def test_segments_appear_in_order_and_interim_text_is_replaced(sim: Simulator) -> None:
    sid = sim.add_call(assistant_name="Billing bot", customer_phone="+15550199")
    sim.add_segment(sid, "assistant", "Hello, how can I help you today?")
    async with running_app(sim) as live, chromium() as browser:
        page = await live.page(browser)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"{live.url}/calls/{sid}")
        await expect(page.locator("#conn")).to_have_attribute("data-state", "live")
        # The state's label and its message say different things ("Live Live." once).
        await expect(page.locator("#conn")).to_have_text("Live Connected to Burki.")
        sim.add_segment(sid, "user", "I was charged", is_final=False)
        await expect(page.locator("#interim-user .text")).to_have_text("I was charged")
        sim.add_segment(sid, "user", "I was charged twice this month.")
        await expect(page.locator("#transcript .seg")).to_have_count(2)
        await expect(page.locator("#interim-user")).to_be_hidden()
        sim.add_segment(sid, "assistant", "Let me check that for you.")
        await expect(page.locator("#transcript .seg")).to_have_count(3)
        assert await transcript_texts(page) == [
            "Hello, how can I help you today?",
            "I was charged twice this month.",
            "Let me check that for you.",
        ]
        await screenshot(page, "call")
        assert errors == []


async def test_hostile_transcript_text_shows_as_text_and_runs_nothing(sim: Simulator) -> None:
    hostile = "<img src=x onerror=alert(1)><script>alert(2)</script>"
    sid = sim.add_call()
    sim.add_segment(sid, "user", hostile)
    async with running_app(sim) as live, chromium() as browser:
        page = await live.page(browser)
        dialogs: list[str] = []
        page.on("dialog", lambda d: dialogs.append(d.message))
        await page.goto(f"{live.url}/calls/{sid}")
        await expect(page.locator("#conn")).to_have_attribute("data-state", "live")
        sim.add_segment(sid, "assistant", hostile)
        await expect(page.locator("#transcript .seg")).to_have_count(2)
        assert await transcript_texts(page) == [hostile, hostile]
        assert await page.locator("#transcript img").count() == 0
        assert await page.locator("#transcript script").count() == 0
        assert dialogs == []


async def test_captions_show_the_last_lines_large(sim: Simulator) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live, chromium() as browser:
        page = await live.page(browser)
        await page.goto(f"{live.url}/calls/{sid}/captions")
        await expect(page.locator("#conn")).to_have_attribute("data-state", "live")
        for n in range(5):
            sim.add_segment(sid, "user" if n % 2 else "assistant", f"Caption line {n}")
        await expect(page.locator("#captions .line").last).to_contain_text("Caption line 4")
        await expect(page.locator("#captions .line")).to_have_count(3)
        await screenshot(page, "captions")


async def test_a_card_read_over_two_segments_never_shows_in_the_page(sim: Simulator) -> None:
    sid = sim.add_call(assistant_name="Billing bot", customer_phone="+15550199")
    sim.add_segment(sid, "assistant", "Please read me the card number.")
    async with running_app(sim) as live, chromium() as browser:
        page = await live.page(browser)
        await page.goto(f"{live.url}/calls/{sid}")
        await expect(page.locator("#conn")).to_have_attribute("data-state", "live")
        sim.add_segment(sid, "user", "It's 4111 11", is_final=False)
        await expect(page.locator("#interim-user .text")).to_have_text("It's [digits]")
        sim.add_segment(sid, "user", "It's 4111 1111")
        sim.add_segment(sid, "user", "1111 1111, and mail me at ada@example.com.")
        sim.add_segment(sid, "assistant", "Thank you, the card is saved.")
        await expect(page.locator("#transcript .seg")).to_have_count(4)
        assert await transcript_texts(page) == [
            "Please read me the card number.",
            "It's [card ••••1111]",
            "[card ••••1111], and mail me at [email].",
            "Thank you, the card is saved.",
        ]
        assert "4111" not in await page.content()
        await screenshot(page, "call-redacted")


async def test_a_card_read_in_groups_with_pauses_is_masked_again_on_the_open_page(
    sim: Simulator,
) -> None:
    """ "4111" / "1111" / "1111" / "1111": each group shown alone after the hold, the agent
    saying "Mm-hm" between; once the last group completes the card, every line of it on
    the open page turns into the card marker. A lone small number in an interim shows as
    its final will ("down three"), never as "[digits]"."""
    sid = sim.add_call()
    async with running_app(sim, redaction_hold=0.1) as live, chromium() as browser:
        page = await live.page(browser)
        await page.goto(f"{live.url}/calls/{sid}")
        await expect(page.locator("#conn")).to_have_attribute("data-state", "live")
        sim.add_segment(sid, "user", "Go down three", is_final=False)
        await expect(page.locator("#interim-user .text")).to_have_text("Go down three")
        sim.add_segment(sid, "user", "Go down three.")
        for n, group in enumerate(["4111", "1111", "1111"]):
            sim.add_segment(sid, "user", group)
            await expect(page.locator("#transcript .seg")).to_have_count(2 + 2 * n)
            sim.add_segment(sid, "assistant", "Mm-hm.")
            await expect(page.locator("#transcript .seg")).to_have_count(3 + 2 * n)
        assert (await transcript_texts(page))[1:6:2] == ["4111", "[digits]", "[digits]"]
        sim.add_segment(sid, "user", "1111 and I want a lawyer")
        card = "[card ••••1111]"
        await expect(page.locator("#transcript .seg").nth(1)).to_contain_text(card)
        assert (await transcript_texts(page))[1::2] == [
            card,
            card,
            card,
            f"{card} and I want a lawyer",
        ]
        assert "4111" not in await page.locator("#transcript").inner_html()
