"""Every alert route is one Channel: built once by its format, and never shows its secret."""

from __future__ import annotations

from typing import get_args

import httpx
import pytest

from webapp.alerts.channel import HttpPost
from webapp.alerts.channels import BUILDERS, Means, channel_for
from webapp.alerts.endpoints import Endpoint, Format
from webapp.alerts.mail import Mailer

SECRET = "whsec-7c1e5a9b3d2f4e6a"
HOOK = "https://hooks.slack.com/services/T000/B000/XXXXSECRETPATH"


def means(mailer: Mailer | None = None) -> Means:
    return Means(HttpPost(httpx.AsyncClient(), 1.0), lambda: 0.0, "", mailer)


def test_every_route_format_has_exactly_one_channel() -> None:
    assert set(BUILDERS) == set(get_args(Format))


@pytest.mark.parametrize("format", ["signed", "slack", "teams"])
def test_a_web_channel_shows_neither_its_url_nor_its_secret(format: Format) -> None:
    channel = channel_for(Endpoint(HOOK, SECRET, format=format), means())
    assert SECRET not in repr(channel) and "SECRETPATH" not in repr(channel)


def test_an_email_route_without_a_mailer_is_refused_when_built() -> None:
    with pytest.raises(ValueError, match="needs a mailer"):
        channel_for(Endpoint("smtp://127.0.0.1:25", "", format="email"), means())


def test_an_email_channel_shows_no_password() -> None:
    mailer = Mailer("127.0.0.1", 25, "a@example.com", ("b@example.com",), password="hunter22")
    channel = channel_for(Endpoint("smtp://127.0.0.1:25", "", format="email"), means(mailer))
    assert "hunter22" not in repr(channel)
