"""The demo screenshots (desktop, phone, TV) of the README and docs/pages.md, taken from a
running demo.

    make run   # in one terminal, then in another:
    .venv/bin/python -m tests.demoshots "$(.venv/bin/burki-dashboard signin-link)"

Each screen gets its own sign-in link's session (one browser context); the pages are
shot after some demo traffic has arrived (``--wait`` seconds, default 40).
"""

from __future__ import annotations

import argparse
import asyncio
import re

from playwright.async_api import async_playwright

from tests.browser import FLAGS, SCREENSHOTS

SHOTS = [  # name, path, viewport
    ("demo-desktop", "/", {"width": 1440, "height": 900}),
    ("demo-phone", "/", {"width": 390, "height": 844}),
    ("demo-tv", "/wallboard?tv=1", {"width": 1920, "height": 1080}),
]


async def shoot(link: str, wait: float) -> None:
    base = re.match(r"https?://[^/]+", link)
    assert base is not None, "a sign-in link is http(s)://host:port/signin/link?token=..."
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        page = await browser.new_page()
        await page.goto(link)  # signs in; the session cookie serves every shot
        await page.wait_for_timeout(wait * 1000)
        for name, path, viewport in SHOTS:
            await page.set_viewport_size(viewport)
            await page.goto(base.group(0) + path)
            await page.wait_for_timeout(4000)  # cards and scores arrive over SSE
            await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
        await browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("link", help="a sign-in link of the running demo")
    parser.add_argument("--wait", type=float, default=40.0)
    args = parser.parse_args()
    asyncio.run(shoot(args.link, args.wait))


if __name__ == "__main__":
    main()
