"""What an alert says in Slack, Microsoft Teams and e-mail, with a link to its page.

Pure: a stream event (its type, stream key and payload as on the SSE stream)
becomes a Slack message (Block Kit with a plain-text fallback, the format of
Slack's incoming webhooks), a Teams ``MessageCard`` (the format of Teams'
incoming webhook connectors; Workflows accept it too), or an e-mail. The link
points at the call or campaign page under ``DASHBOARD_PUBLIC_URL``; without one
the message has no link (a relative link is no use in a chat).

Transcript text is customer data: an alert's ``excerpt`` is already redacted by
the relay; messages carry the alert's sentence and, for Slack and Teams, the
excerpt, as the webhook payload already does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote

SEVERITY_COLOURS = {"high": "C62828", "medium": "B26A00", "low": "6B7280"}


@dataclass(frozen=True, slots=True)
class Summary:
    """One event in words: a title, a line of detail, a colour and a link (may be empty)."""

    title: str
    text: str
    severity: str
    link: str


def page_link(public_url: str, stream: str) -> str:
    """The dashboard page of ``stream`` (``call:<sid>``, ``campaign:<id>``); "" without a base."""
    if not public_url:
        return ""
    kind, _, ident = stream.partition(":")
    path = {"call": "calls", "campaign": "campaigns"}.get(kind)
    if path is None:
        return public_url.rstrip("/") + "/"
    return f"{public_url.rstrip('/')}/{path}/{quote(ident, safe='')}"


def summarise(type: str, stream: str, data: dict[str, Any], public_url: str) -> Summary:
    link = page_link(public_url, stream)
    kind, _, ident = stream.partition(":")
    what = f"call {ident}" if kind == "call" else f"campaign {ident}"
    if type == "alert":
        severity = str(data.get("severity") or "medium")
        title = f"{severity.upper()} alert on {what}"
        detail = str(data.get("message") or "")
        if data.get("excerpt"):
            detail += f': "{data["excerpt"]}"'
        return Summary(title, detail, severity, link)
    if type == "call_status":
        return Summary(f"{what.capitalize()}: {data.get('status', '?')}", "", "low", link)
    if type == "campaign_completed":
        return Summary(f"{what.capitalize()} completed", "", "low", link)
    return Summary(f"{what.capitalize()}: {type}", "", "low", link)


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
    if summary.link:
        card["potentialAction"] = [
            {
                "@type": "OpenUri",
                "name": "Open in Burki Live",
                "targets": [{"os": "default", "uri": summary.link}],
            }
        ]
    return card


def email(summary: Summary, sender: str, recipients: tuple[str, ...]) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"[Burki Live] {summary.title}"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    lines = [summary.title, "", summary.text] if summary.text else [summary.title]
    if summary.link:
        lines += ["", f"Open it: {summary.link}"]
    message.set_content("\n".join(lines) + "\n")
    return message


# Teams renders a card's title and text as Markdown with some HTML: a caller's words
# must not become a link, an image, a heading or markup in the channel.
# Line breaks go too: a list or heading starts only at the start of a line.
_TEAMS_MARKDOWN = re.compile(r"([\\`*_\[\]#~|])")


def teams_escape(text: str) -> str:
    """One line; HTML's three characters as entities, Markdown's markers backslash-escaped."""
    line = " ".join(text.split())
    html = line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _TEAMS_MARKDOWN.sub(r"\\\1", html)


def _slack_escape(text: str) -> str:
    """Slack's three control characters; anything else is shown as sent."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
