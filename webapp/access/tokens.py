"""API tokens for machine clients of the JSON SSE API (``Authorization: Bearer bl_...``).

A token is shown once, when it is created; the store keeps only its SHA-256,
its name, role, organisation, dates and whether it was revoked. A token belongs to one
organisation: it opens that organisation's streams and no other's. Revoked tokens stay in the
store so their names (which the audit log shows) are never reused.
These tokens are the dashboard's own; the Burki key is never one of them.
"""

from __future__ import annotations

import builtins
import hashlib
import logging
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from webapp.access.users import (
    EVERY_ORG,
    KNOWN,
    Role,
    Roles,
    UserError,
    checked_org,
    normalise_name,
    parse_role,
    utc_now,
)
from webapp.store.database import StoreConflict, StoreError, StoreUnavailable
from webapp.store.store import Store
from webapp.store.tokens import TokenRow
from webapp.wire.streamkey import DEFAULT_ORG

log = logging.getLogger(__name__)

TOKEN_PREFIX = "bl_"
MAX_TOKEN_LENGTH = 128
# last_used is a hint for spotting dead tokens, not a log: write it at most hourly.
LAST_USED_RESOLUTION = timedelta(hours=1)


class TokenError(StoreError):
    """A token operation failed: bad or duplicate name, unknown token."""


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What the dashboard knows about a token; never the token or its hash."""

    name: str
    role: Role
    created_at: datetime
    revoked: bool = False
    last_used: datetime | None = None
    org: str = DEFAULT_ORG  # the one organisation whose streams it opens

    @property
    def roles(self) -> Roles:
        return Roles.one_org(self.org, self.role)


def token_digest(token: str) -> str:
    # A plain SHA-256 is the right hash here, unlike for passwords: a token carries
    # 256 random bits, so there is no dictionary to try and brute force is hopeless
    # however fast the hash. A slow KDF would add nothing but a per-request CPU cost
    # that any client could trigger (every API request checks a token).
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    """API tokens in the store: their SHA-256, name, role, dates and revocation.

    Every method may raise StoreUnavailable; :meth:`verify` answers from the
    tokens it last saw instead, so machine clients keep their streams while the
    database is away (a token revoked meanwhile stops when it is back).
    """

    def __init__(self, store: Store, clock: Callable[[], datetime] = utc_now) -> None:
        self.store = store
        self._clock = clock
        self._known: OrderedDict[str, TokenInfo | None] = OrderedDict()

    def __repr__(self) -> str:
        return f"TokenStore({self.store.where!r})"

    async def create(self, name: str, role: Role, org: str = DEFAULT_ORG) -> str:
        """Store a new token of ``org`` and return it: the only time its plaintext exists."""
        key = _token_name(name)
        org = _token_org(org)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = TokenRow(key, token_digest(token), Role(role).value, self._clock(), org=org)
        try:
            await self.store.tokens.add(row)
        except StoreConflict:
            found = await self.store.tokens.get(key)
            taken = " by a revoked token" if found is not None and found.revoked_at else ""
            raise TokenError(f"the token name {key!r} is taken{taken}") from None
        return token

    async def verify(self, token: str) -> TokenInfo | None:
        """The token's info if it is known and not revoked, else None.

        Looked up by its SHA-256 (an index lookup: a digest of 256 random bits
        tells an attacker nothing by its timing). A successful check records
        ``last_used`` (at most hourly). When the database is unreachable, the
        answer it gave last for this token stands.
        """
        if not token.startswith(TOKEN_PREFIX) or len(token) > MAX_TOKEN_LENGTH:
            return None
        digest = token_digest(token)
        try:
            row = await self.store.tokens.by_digest(digest)
        except StoreUnavailable:
            return self._known.get(digest)
        info = _info(row) if row is not None and row.revoked_at is None else None
        self._remember(digest, info)
        return await self._touch(info) if info is not None else None

    def _remember(self, digest: str, info: TokenInfo | None) -> None:
        self._known[digest] = info
        self._known.move_to_end(digest)
        while len(self._known) > KNOWN:
            self._known.popitem(last=False)

    async def list(self) -> builtins.list[TokenInfo]:
        return [_info(row) for row in await self.store.tokens.all()]

    async def revoke(self, name: str) -> None:
        key = _token_name(name)
        if not await self.store.tokens.revoke(key, self._clock()):
            raise TokenError(f"no token named {key!r}")

    async def _touch(self, info: TokenInfo) -> TokenInfo:
        now = self._clock()
        if info.last_used is not None and now - info.last_used < LAST_USED_RESOLUTION:
            return info
        try:
            await self.store.tokens.touch(info.name, now)
        except StoreError as exc:
            log.warning("could not record the use of token %r: %s", info.name, exc)
        return replace(info, last_used=now)


def _token_name(name: str) -> str:
    try:
        return normalise_name(name)
    except StoreError:
        raise TokenError("a token name is 1 to 64 of a-z, 0-9, '_', '.', '@' or '-'") from None


def _token_org(org: str) -> str:
    try:
        slug = checked_org(org)
    except UserError as exc:
        raise TokenError(str(exc)) from None
    if slug == EVERY_ORG:
        raise TokenError("a token belongs to one organisation, not to every one")
    return slug


def _info(row: TokenRow) -> TokenInfo:
    return TokenInfo(
        name=row.name,
        role=parse_role(row.role),
        created_at=row.created_at,
        revoked=row.revoked_at is not None,
        last_used=row.last_used,
        org=row.org,
    )
