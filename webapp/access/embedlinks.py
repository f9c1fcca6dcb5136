"""Signed, expiring, revocable embed links, each scoped to one call, one campaign or the wallboard.

``burki-dashboard embed-link call CA.. --ttl 8h`` (or the admin page) prints
``/embed/calls/CA..?token=...``; only the embed routes accept such a token, and
only for what it names. The token is signed (HMAC via itsdangerous, with a salt
of its own, so no other signed value of the dashboard can pass for one) and
carries the link's id, its scope, its expiry and the kind of instance that made
it (``demo`` or ``live``). A token counts only while:

- its instance kind is this instance's (a demo instance that shares the secret
  cannot make links that open anything on a live one);
- it names the page asked for, and has not expired;
- the link's record is in the store (:mod:`webapp.access.embedstore`) and not
  revoked. A token whose id the store does not know (made by another
  instance, or before the store existed) opens nothing.

Links are checked against the store at every request and every re-check of an
open stream, so a revoked link stops at its next request and its open streams
end at their next re-check, on every node that reads the same store.
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

from webapp.access.embedstore import (
    EMBED_KINDS,
    EmbedKind,
    EmbedLinkRecord,
    EmbedLinkStore,
    new_link_id,
)
from webapp.access.sessions import Instance
from webapp.wire.streamkey import DEFAULT_ORG, BadStreamId, StreamKey, quoted

SALT = "burki-live.embed-link.v2"  # v1 tokens (no id, no instance) are refused as not ours
MIN_SECRET_LENGTH = 32
MAX_TTL_SECONDS = 30 * 86_400
MAX_TOKEN_LENGTH = 512
WALLBOARD = "all"  # the one wallboard scope: every ongoing call, as the wallboard shows them

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


class EmbedLinkWrongInstance(EmbedLinkError):
    """A genuine token, made by an instance of the other kind (demo on live, or back)."""

    reason = "wrong_instance"


class EmbedLinkRevoked(EmbedLinkError):
    """A genuine token whose link was revoked, or that this dashboard has no record of."""

    reason = "revoked"


@dataclass(frozen=True, slots=True)
class EmbedScope:
    """What a link opens: ``call`` <sid>, ``campaign`` <id>, or ``wallboard`` (``all``), of
    one organisation (the same id in another organisation is another scope)."""

    kind: EmbedKind
    ident: str
    org: str = DEFAULT_ORG

    def __str__(self) -> str:
        if self.kind == "wallboard":
            return "wallboard" if self.org == DEFAULT_ORG else f"{self.org}/wallboard"
        return str(StreamKey(self.kind, self.ident, self.org))

    @property
    def path(self) -> str:
        prefix = "" if self.org == DEFAULT_ORG else f"/o/{self.org}"
        if self.kind == "wallboard":
            return f"{prefix}/embed/wallboard"
        return f"{prefix}/embed/{self.kind}s/{quoted(self.ident)}"

    @property
    def stream(self) -> StreamKey | None:
        """The one stream a call or campaign link opens; None for the wallboard."""
        if self.kind == "wallboard":
            return None
        return StreamKey.of(self.kind, self.ident, self.org)


def embed_scope(kind: str, ident: str | int = WALLBOARD, org: str = DEFAULT_ORG) -> EmbedScope:
    """The canonical scope; BadStreamId (a ValueError) for a bad kind, id or organisation."""
    if kind == "call":
        return EmbedScope("call", StreamKey.call(str(ident), org).id, org)
    if kind == "campaign":
        return EmbedScope("campaign", StreamKey.campaign(ident, org).id, org)
    if kind == "wallboard" and str(ident) == WALLBOARD:
        StreamKey.call("x", org)  # the organisation's slug checked as a stream's would be
        return EmbedScope("wallboard", WALLBOARD, org)
    raise BadStreamId("an embed link is for a call, a campaign or the wallboard")


@dataclass(frozen=True, slots=True)
class EmbedGrant:
    """What a valid token opens, through which link, and until when."""

    link_id: str
    scope: EmbedScope
    expires_at: datetime

    @property
    def kind(self) -> EmbedKind:
        return self.scope.kind

    @property
    def ident(self) -> str:
        return self.scope.ident


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


class EmbedSigner:
    """Signs and checks embed tokens with ``secret`` (at least 32 characters) for ``instance``.

    ``clock`` (seconds since the epoch) sets expiries and checks them; tests move it.
    The signature alone proves a token is ours; :class:`EmbedLinks` adds the store.
    """

    def __init__(
        self, secret: str, instance: Instance = "live", clock: Callable[[], float] = time.time
    ) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(f"the signing secret has at least {MIN_SECRET_LENGTH} characters")
        self._serializer = URLSafeTimedSerializer(secret, salt=SALT)
        self.instance = instance
        self.clock = clock

    def __repr__(self) -> str:
        return f"EmbedSigner(instance={self.instance!r}, secret=[redacted])"

    def sign(self, link_id: str, scope: EmbedScope, expires: int) -> str:
        payload: dict[str, object] = {"l": link_id, "k": scope.kind, "i": scope.ident}
        if scope.org != DEFAULT_ORG:  # a link of the default organisation reads as before
            payload["o"] = scope.org
        payload |= {"x": expires, "n": self.instance}
        return str(self._serializer.dumps(payload))

    def verify(self, token: str, scope: EmbedScope) -> EmbedGrant:
        """The grant if ``token`` opens ``scope`` now, by its signature alone.

        Raises EmbedLinkTampered (not ours, or malformed), EmbedLinkWrongInstance,
        EmbedLinkWrongScope or EmbedLinkExpired, checked in that order.
        """
        payload = self._load(token)
        if payload["n"] != self.instance:
            raise EmbedLinkWrongInstance("this link was made by another dashboard")
        named = (payload["k"], payload["i"], payload.get("o", DEFAULT_ORG))
        if named != (scope.kind, scope.ident, scope.org):
            raise EmbedLinkWrongScope("this link is for another page")
        if self.clock() >= payload["x"]:
            raise EmbedLinkExpired("this link has expired")
        return EmbedGrant(payload["l"], scope, datetime.fromtimestamp(payload["x"], UTC))

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
        and isinstance(payload.get("l"), str)
        and payload.get("k") in EMBED_KINDS
        and isinstance(payload.get("i"), str)
        and type(payload.get("x")) is int
        and payload.get("n") in ("demo", "live")
        and isinstance(payload.get("o", DEFAULT_ORG), str)
    )


@dataclass(frozen=True, slots=True)
class Minted:
    """A new link: its record, and its token (which exists only now)."""

    record: EmbedLinkRecord
    token: str

    @property
    def path(self) -> str:
        scope = EmbedScope(self.record.kind, self.record.ident, self.record.org)
        return f"{scope.path}?token={self.token}"  # the token is URL-safe

    def url(self, base_url: str) -> str:
        """``<base_url>/embed/...?token=...``; a bare path if no base."""
        if base_url and not base_url.startswith(("http://", "https://")):
            raise ValueError("the base URL starts with http:// or https://")
        return base_url.rstrip("/") + self.path


class EmbedLinks:
    """Embed links of this instance: made, checked, listed and revoked (in the store)."""

    def __init__(self, signer: EmbedSigner, store: EmbedLinkStore) -> None:
        self.signer = signer
        self.store = store

    def __repr__(self) -> str:
        return f"EmbedLinks({self.signer!r}, {self.store!r})"

    def _now(self) -> datetime:
        return datetime.fromtimestamp(int(self.signer.clock()), UTC)

    async def mint(
        self,
        kind: str,
        ident: str | int,
        ttl_seconds: int,
        made_by: str,
        org: str = DEFAULT_ORG,
    ) -> Minted:
        """A new link to ``kind`` ``ident`` of ``org``, kept in the store; ValueError for bad
        input, EmbedStoreError when the store refuses. Whether Burki knows the id is the
        caller's to check first (it needs Burki's REST, with ``org``'s key)."""
        scope = embed_scope(kind, ident, org)
        _check_ttl(ttl_seconds)
        now = self._now()
        expires = int(now.timestamp()) + ttl_seconds
        record = EmbedLinkRecord(
            id=new_link_id(),
            kind=scope.kind,
            ident=scope.ident,
            instance=self.signer.instance,
            created_at=now,
            expires_at=datetime.fromtimestamp(expires, UTC),
            created_by=made_by,
            org=scope.org,
        )
        await self.store.add(record, now)
        return Minted(record, self.signer.sign(record.id, scope, expires))

    async def verify(self, token: str, scope: EmbedScope) -> EmbedGrant:
        """The grant if ``token`` opens ``scope`` now; EmbedLinkRevoked past the signature
        when its record is missing, revoked, or for something else."""
        grant = self.signer.verify(token, scope)
        record = await self.store.get(grant.link_id)
        if record is None or record.revoked_at is not None:
            raise EmbedLinkRevoked("this link was revoked")
        if (record.kind, record.ident, record.org, record.instance) != (
            scope.kind,
            scope.ident,
            scope.org,
            self.signer.instance,
        ):
            raise EmbedLinkRevoked("this link was revoked")
        return grant

    async def is_valid(self, token: str, scope: EmbedScope) -> bool:
        try:
            await self.verify(token, scope)
        except EmbedLinkError:
            return False
        return True

    async def list(self) -> list[EmbedLinkRecord]:
        return await self.store.list()

    async def revoke(self, link_id: str, by: str) -> EmbedLinkRecord:
        return await self.store.revoke(link_id.strip(), by, self._now())


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
