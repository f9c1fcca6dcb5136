"""axe-core (vendored under tests/vendor/axe-core, never a CDN) run in a real page.

The pages' CSP forbids inline script, so the page is opened in a context that
bypasses CSP for the injected checker only (``bypass_csp=True``); what axe checks
is the page as the server sent it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import Page

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")


async def violations(page: Page) -> list[dict[str, Any]]:
    """The serious and critical axe-core violations of ``page`` as it is now."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.add_script_tag(path=str(AXE))
    found = await page.evaluate(
        """async () => {
          const result = await axe.run(document, { resultTypes: ["violations"] });
          return result.violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map(n => [n.target.join(" "), n.failureSummary]),
          }));
        }"""
    )
    return [v for v in found if v["impact"] in SERIOUS]
