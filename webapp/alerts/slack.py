"""The Slack channel: an incoming-webhook message (Block Kit with a plain-text fallback).

Slack's hook URL is its secret, so nothing is signed; the message says what
:func:`~webapp.alerts.messages.summarise` makes of the event, with a button to its page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from webapp.alerts import messages
from webapp.alerts.channel import HttpPost, Outcome
from webapp.alerts.lanes import Item
from webapp.alerts.messages import Summary


def slack(summary: Summary) -> dict[str, Any]:
    """A Slack incoming-webhook message: ``text`` (notifications, fallback) and blocks."""
    headline = f"*{_slack_escape(summary.title)}*"
    body = headline + (f"\n{_slack_escape(summary.text)}" if summary.text else "")
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": body}}]
    if summary.link:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open in Burki Live"},
                        "url": summary.link,
                    }
                ],
            }
        )
    fallback = summary.title + (f" {summary.link}" if summary.link else "")
    return {"text": fallback, "blocks": blocks}


def _slack_escape(text: str) -> str:
    """Slack's three control characters; anything else is shown as sent."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass(frozen=True, slots=True, repr=False)
class SlackChannel:
    url: str  # the secret: never shown
    post: HttpPost
    public_url: str  # the message's link points here

    def __repr__(self) -> str:
        return "SlackChannel()"

    async def attempt(self, item: Item) -> Outcome:
        body = json.dumps(slack(messages.of(item, self.public_url)), ensure_ascii=False).encode()
        return await self.post(self.url, body, {"Content-Type": "application/json"})
