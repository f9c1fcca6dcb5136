"""What an event says to people, in any channel: a title, a line, a colour and a link.

Pure: a stream event (its type, stream key and payload as on the SSE stream)
becomes a :class:`Summary`, which the Slack, Teams and e-mail channels
(:mod:`~webapp.alerts.slack`, :mod:`~webapp.alerts.teams`, :mod:`~webapp.alerts.mail`)
render in their formats. The link points at the call or campaign page under
``DASHBOARD_PUBLIC_URL`` (another organisation's under ``/o/<org>``,
:func:`~webapp.wire.streamkey.stream_path`); without one the message has no link (a
relative link is no use in a chat). Every message names the stream's organisation.

Transcript text is customer data: an alert's ``excerpt`` is already redacted by
the relay; messages carry the alert's sentence and, for Slack and Teams, the
excerpt, as the webhook payload already does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from webapp.alerts.lanes import Item
from webapp.wire.streamkey import StreamKey, stream_path


@dataclass(frozen=True, slots=True)
class Summary:
    """One event in words: a title, a line of detail, a colour and a link (may be empty),
    and the organisation it happened in (its slug and display name)."""

    title: str
    text: str
    severity: str
    link: str
    org: str = ""
    org_name: str = ""

    @property
    def where(self) -> str:
        """The organisation as people read it: ``Acme Support (acme)``."""
        name = self.org_name or self.org
        return name if name == self.org else f"{name} ({self.org})"


def page_link(public_url: str, stream: StreamKey) -> str:
    """The dashboard page of ``stream`` (a call's, a campaign's); "" without a base."""
    if not public_url:
        return ""
    return public_url.rstrip("/") + stream_path(stream)


def summarise(
    type: str, stream: StreamKey, data: dict[str, Any], public_url: str, org_name: str = ""
) -> Summary:
    link = page_link(public_url, stream)
    what = f"{stream.kind} {stream.id}"
    org = (stream.org, org_name or stream.org)
    if type == "alert":
        severity = str(data.get("severity") or "medium")
        title = f"{severity.upper()} alert on {what}"
        detail = str(data.get("message") or "")
        if data.get("excerpt"):
            detail += f': "{data["excerpt"]}"'
        return Summary(title, detail, severity, link, *org)
    if type == "call_status":
        return Summary(f"{what.capitalize()}: {data.get('status', '?')}", "", "low", link, *org)
    if type == "campaign_completed":
        return Summary(f"{what.capitalize()} completed", "", "low", link, *org)
    return Summary(f"{what.capitalize()}: {type}", "", "low", link, *org)


def of(item: Item, public_url: str) -> Summary:
    """What a queued item says (its payload parsed back from the JSON queued)."""
    return summarise(item.type, item.stream, json.loads(item.data), public_url, item.org_name)
