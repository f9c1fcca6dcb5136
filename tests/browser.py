"""Real headless Chromium (Debian's) driven by playwright, for tests that look at pages."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import Browser, Page, async_playwright

from tests.conftest import chromium_or_skip

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "docs" / "screenshots"
# A test run leaves the tracked pictures of the docs alone (it dirtied the work tree, and a
# later `git add -A` committed whatever a loaded run happened to show); UPDATE_SCREENSHOTS=1
# writes them where the README and docs/ read them.
TEST_SHOTS = ROOT / "test-artifacts" / "screenshots"

# Without the background-networking flags Chromium keeps dialling out, and this
# machine's closed network refuses it.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    executable = chromium_or_skip()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=FLAGS)
        try:
            yield browser
        finally:
            await browser.close()


async def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot: under test-artifacts/, or docs/screenshots/ for the
    docs when UPDATE_SCREENSHOTS=1."""
    folder = SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else TEST_SHOTS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
