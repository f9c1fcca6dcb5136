"""Which channel carries a route: one builder per endpoint format.

The one place a format string is looked at: the dispatcher builds each route's
:class:`~webapp.alerts.channel.Channel` here once, and from then on only calls
``attempt``. A new channel is a module with a class and one row below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from webapp.alerts.channel import Channel, ChatHookChannel, HttpPost
from webapp.alerts.endpoints import Endpoint, Format
from webapp.alerts.mail import EmailChannel, Mailer
from webapp.alerts.signed import SignedChannel
from webapp.alerts.slack import slack
from webapp.alerts.teams import teams


@dataclass(frozen=True, slots=True)
class Means:
    """What channels send with: the HTTP POST, the clock, the link base, the mailer."""

    post: HttpPost
    clock: Callable[[], float]
    public_url: str
    mailer: Mailer | None


def _signed(endpoint: Endpoint, means: Means) -> Channel:
    return SignedChannel(endpoint.url, endpoint.secret, means.post, means.clock)


def _slack(endpoint: Endpoint, means: Means) -> Channel:
    return ChatHookChannel("SlackChannel", endpoint.url, means.post, means.public_url, slack)


def _teams(endpoint: Endpoint, means: Means) -> Channel:
    return ChatHookChannel("TeamsChannel", endpoint.url, means.post, means.public_url, teams)


def _email(endpoint: Endpoint, means: Means) -> Channel:
    if means.mailer is None:
        raise ValueError("an email route needs a mailer")
    return EmailChannel(means.mailer, means.public_url)


BUILDERS: dict[Format, Callable[[Endpoint, Means], Channel]] = {
    "signed": _signed,
    "slack": _slack,
    "teams": _teams,
    "email": _email,
}


def channel_for(endpoint: Endpoint, means: Means) -> Channel:
    """The channel that delivers ``endpoint``'s events."""
    return BUILDERS[endpoint.format](endpoint, means)
