"""The Slack message: Block Kit with a plain-text fallback, sent to an incoming webhook by
:class:`~webapp.alerts.channel.ChatHookChannel`.

Slack's hook URL is its secret, so nothing is signed; the message says what
:func:`~webapp.alerts.messages.summarise` makes of the event, with a button to its page.
"""

from __future__ import annotations

from typing import Any

from webapp.alerts.messages import Summary


def slack(summary: Summary) -> dict[str, Any]:
    """A Slack incoming-webhook message: ``text`` (notifications, fallback) and blocks."""
    headline = f"*{_slack_escape(summary.title)}*"
    body = headline + (f"\n{_slack_escape(summary.text)}" if summary.text else "")
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": body}}]
    if summary.org:  # plain text: an organisation's name is shown as written, never as markup
        where = {"type": "plain_text", "text": f"Organisation: {summary.where}"}
        blocks.append({"type": "context", "elements": [where]})
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
    fallback = summary.title + (f" ({summary.where})" if summary.org else "")
    fallback += f" {summary.link}" if summary.link else ""
    return {"text": fallback, "blocks": blocks}


def _slack_escape(text: str) -> str:
    """Slack's three control characters; anything else is shown as sent."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
