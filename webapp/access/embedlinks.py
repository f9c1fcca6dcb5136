"""Signed, expiring embed links, each scoped to one call or one campaign.

``burki-dashboard embed-link call CA.. --ttl 8h`` prints
``/embed/calls/CA..?token=...``; only the embed routes accept such a token, and
only for the call or campaign it names. The token is signed (HMAC via
itsdangerous, with a salt of its own, so no other signed value of the dashboard
can pass for one) and carries its expiry. There is no list of issued links: a
link cannot be revoked before it expires except by rotating the secret, which
is why lifetimes are capped (``MAX_TTL_SECONDS``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer

from webapp.access.users import StreamKind
from webapp.wire.streamkey import BadStreamId, StreamKey

SALT = "burki-live.embed-link.v1"
MIN_SECRET_LENGTH = 32
MAX_TTL_SECONDS = 30 * 86_400
MAX_TOKEN_LENGTH = 512
EMBED_PATHS = {"call": "/embed/calls/", "campaign": "/embed/campaigns/"}

_TTL = re.compile(r"([0-9]{1,7})([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400}


class EmbedLinkError(Exception):
    """An embed token does not open this page; ``reason`` says why in one word."""

    reason: ClassVar[str] = "invalid"


class EmbedLinkExpired(EmbedLinkError):
    reason = "expired"


class EmbedLinkTampered(EmbedLinkError):
    """The token is not one we signed: altered, truncated, or signed with another secret."""

    reason = "tampered"


class EmbedLinkWrongScope(EmbedLinkError):
    """A genuine token, but for another call, another campaign, or the other kind."""

    reason = "wrong_scope"


@dataclass(frozen=True, slots=True)
class EmbedGrant:
    """What a valid token opens, and until when."""

    kind: StreamKind
    ident: str
    expires_at: datetime


def parse_ttl(text: str) -> int:
    """Seconds in ``90s``, ``30m``, ``8h`` or ``2d``; ValueError unless 1 s to 30 days."""
    match = _TTL.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(f"a lifetime looks like 90s, 30m, 8h or 2d, not {text[:20]!r}")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    _check_ttl(seconds)
    return seconds


def _check_ttl(seconds: int) -> None:
    if not 0 < seconds <= MAX_TTL_SECONDS:
        raise ValueError(f"a lifetime is between 1 second and {MAX_TTL_SECONDS // 86_400} days")


def _scope(kind: str, ident: str | int) -> StreamKey:
    """The canonical stream key; BadStreamId (a ValueError) for a bad kind or id."""
    if kind == "call":
        return StreamKey.call(str(ident))
    if kind == "campaign":
        return StreamKey.campaign(ident)
    raise BadStreamId("an embed link is for a call or a campaign")


class EmbedSigner:
    """Signs and checks embed tokens with ``secret`` (at least 32 characters).

    ``clock`` (seconds since the epoch) sets expiries and checks them; tests move it.
    """

    def __init__(self, secret: str, clock: Callable[[], float] = time.time) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(f"the signing secret has at least {MIN_SECRET_LENGTH} characters")
        self._serializer = URLSafeTimedSerializer(secret, salt=SALT)
        self._clock = clock

    def __repr__(self) -> str:
        return "EmbedSigner(secret=[redacted])"

    def sign(self, kind: StreamKind, ident: str | int, ttl_seconds: int) -> str:
        """A token opening ``kind`` ``ident`` for ``ttl_seconds``; ValueError for bad input."""
        key = _scope(kind, ident)
        _check_ttl(ttl_seconds)
        expires = int(self._clock()) + ttl_seconds
        return str(self._serializer.dumps({"k": key.kind, "i": key.id, "x": expires}))

    def verify(self, token: str, kind: StreamKind, ident: str | int) -> EmbedGrant:
        """The grant if ``token`` opens ``kind`` ``ident`` now.

        Raises EmbedLinkTampered (not ours, or malformed), EmbedLinkWrongScope
        (ours, for something else) or EmbedLinkExpired, checked in that order.
        """
        payload = self._load(token)
        try:
            wanted = _scope(kind, ident)
        except BadStreamId:
            raise EmbedLinkWrongScope("this link is for another page") from None
        if (payload["k"], payload["i"]) != (wanted.kind, wanted.id):
            raise EmbedLinkWrongScope("this link is for another page")
        if self._clock() >= payload["x"]:
            raise EmbedLinkExpired("this link has expired")
        return EmbedGrant(wanted.kind, wanted.id, datetime.fromtimestamp(payload["x"], UTC))

    def is_valid(self, token: str, kind: StreamKind, ident: str | int) -> bool:
        try:
            self.verify(token, kind, ident)
        except EmbedLinkError:
            return False
        return True

    def link(self, base_url: str, kind: StreamKind, ident: str | int, ttl_seconds: int) -> str:
        """``<base_url>/embed/calls/<sid>?token=...`` (or campaigns); a bare path if no base."""
        if base_url and not base_url.startswith(("http://", "https://")):
            raise ValueError("the base URL starts with http:// or https://")
        key = _scope(kind, ident)
        token = self.sign(key.kind, key.id, ttl_seconds)
        # A call sid and a campaign id are URL-safe by their patterns; so is the token.
        return f"{base_url.rstrip('/')}{EMBED_PATHS[key.kind]}{key.id}?token={token}"

    def _load(self, token: str) -> dict[str, Any]:
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise EmbedLinkTampered("this link is not valid")
        try:
            payload = self._serializer.loads(token, max_age=MAX_TTL_SECONDS + 60)
        except SignatureExpired:  # older than any lifetime we sign
            raise EmbedLinkExpired("this link has expired") from None
        except BadData:
            raise EmbedLinkTampered("this link is not valid") from None
        if not _well_formed(payload):
            raise EmbedLinkTampered("this link is not valid")
        return dict(payload)


def _well_formed(payload: Any) -> bool:
    return (
        isinstance(payload, dict)
        and payload.get("k") in EMBED_PATHS
        and isinstance(payload.get("i"), str)
        and type(payload.get("x")) is int
    )


def link_base(public_url: str, request_base: str, bind_host: str) -> str:
    """The base URL of links the dashboard makes for a request (no trailing slash).

    ``DASHBOARD_PUBLIC_URL`` when set. Otherwise the request's own base URL only
    when its host is the address the dashboard listens on; a ``Host`` header
    naming anything else (anyone can send one) gives a relative link instead.
    """
    if public_url:
        return public_url.rstrip("/")
    parts = urlsplit(request_base)
    if parts.hostname is not None and parts.hostname == bind_host.strip("[]").lower():
        return request_base.rstrip("/")
    return ""
