"""The Microsoft Teams message: a ``MessageCard`` (Workflows accept it too), sent to an
incoming webhook by :class:`~webapp.alerts.channel.ChatHookChannel`.

Teams' hook URL is its secret, so nothing is signed; the card says what
:func:`~webapp.alerts.messages.summarise` makes of the event, with an "open" action.
"""

from __future__ import annotations

import re
from typing import Any

from webapp.alerts.messages import Summary

SEVERITY_COLOURS = {"high": "C62828", "medium": "B26A00", "low": "6B7280"}


def teams(summary: Summary) -> dict[str, Any]:
    """A Microsoft Teams incoming-webhook ``MessageCard``, with an "open" action for the link."""
    card: dict[str, Any] = {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": summary.title,  # the notification's plain text: not rendered
        "themeColor": SEVERITY_COLOURS.get(summary.severity, "6B7280"),
        "title": teams_escape(summary.title),
        "text": teams_escape(summary.text or summary.title),
    }
    if summary.org:
        where = {"name": "Organisation", "value": teams_escape(summary.where)}
        card["sections"] = [{"facts": [where]}]
    if summary.link:
        card["potentialAction"] = [
            {
                "@type": "OpenUri",
                "name": "Open in Burki Live",
                "targets": [{"os": "default", "uri": summary.link}],
            }
        ]
    return card


# Teams renders a card's title and text as Markdown with some HTML: a caller's words
# must not become a link, an image, a heading or markup in the channel.
# Line breaks go too: a list or heading starts only at the start of a line.
_TEAMS_MARKDOWN = re.compile(r"([\\`*_\[\]#~|])")


def teams_escape(text: str) -> str:
    """One line; HTML's three characters as entities, Markdown's markers backslash-escaped."""
    line = " ".join(text.split())
    html = line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _TEAMS_MARKDOWN.sub(r"\\\1", html)
