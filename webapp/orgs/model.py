"""An organisation: its slug (in URLs, stream keys, Redis keys and rows), name and Burki URL.

The key is not here: it lives sealed in the store (or in ``BURKI_API_KEY`` for the
default organisation) and is opened only into the organisation's REST client and
upstream configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from webapp.wire.streamkey import DEFAULT_ORG, ORG_PATTERN, ORG_RULE

MAX_NAME = 64
RESERVED = frozenset({DEFAULT_ORG, "o", "api", "admin", "static", "embed", "all"})  # ours


class OrgError(ValueError):
    """An organisation's slug, name or URL that cannot be used; the sentence says why."""


@dataclass(frozen=True, slots=True)
class Org:
    slug: str
    name: str
    base_url: str

    @property
    def is_default(self) -> bool:
        """The organisation of ``BURKI_API_KEY``: its streams and URLs carry no prefix."""
        return self.slug == DEFAULT_ORG


def checked_slug(slug: str) -> str:
    """``slug`` when it can name an organisation; OrgError otherwise."""
    if not ORG_PATTERN.fullmatch(slug) or slug in RESERVED:
        raise OrgError(ORG_RULE)
    return slug


def checked_name(name: str) -> str:
    """The display name, stripped: 1 to 64 printable characters."""
    name = name.strip()
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise OrgError(f"an organisation's name is 1 to {MAX_NAME} printable characters")
    return name


def checked_url(url: str) -> str:
    """A Burki base URL: http or https with a host, no credentials, query or fragment."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OrgError("a Burki base URL is http(s)://host[:port][/path]")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise OrgError("a Burki base URL holds no credentials, query or fragment")
    return url
