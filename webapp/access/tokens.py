"""API tokens for machine clients of the JSON SSE API (``Authorization: Bearer bl_...``).

A token is shown once, when it is created; the tokens file keeps only its
SHA-256, its name, role, dates and whether it was revoked. Revoked tokens stay
in the file so their names (which the audit log shows) are never reused.
These tokens are the dashboard's own; the Burki key is never one of them.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from webapp.access.users import (
    PrivateTomlFile,
    Role,
    StoreError,
    normalise_name,
    parse_role,
    utc_now,
)

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


@dataclass(frozen=True, slots=True)
class _Stored:
    info: TokenInfo
    sha256: str


def token_digest(token: str) -> str:
    # A plain SHA-256 is the right hash here, unlike for passwords: a token carries
    # 256 random bits, so there is no dictionary to try and brute force is hopeless
    # however fast the hash. A slow KDF would add nothing but a per-request CPU cost
    # that any client could trigger (every API request checks a token).
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    """The tokens file: ``[tokens.<name>]`` tables of sha256, role, dates and revoked."""

    def __init__(self, path: Path, clock: Callable[[], datetime] = utc_now) -> None:
        self.file = PrivateTomlFile(path)
        self._clock = clock

    def __repr__(self) -> str:
        return f"TokenStore({str(self.file.path)!r})"

    def create(self, name: str, role: Role) -> str:
        """Store a new token and return it: the only time its plaintext exists."""
        key = _token_name(name)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        entry: dict[str, Any] = {
            "sha256": token_digest(token),
            "role": Role(role).value,
            "created_at": self._clock(),
        }
        with self.file.edit() as data:
            table = data.setdefault("tokens", {})
            if key in table:
                taken = " by a revoked token" if table[key].get("revoked") else ""
                raise TokenError(f"the token name {key!r} is taken{taken}")
            table[key] = entry
        return token

    def verify(self, token: str) -> TokenInfo | None:
        """The token's info if it is known and not revoked, else None.

        Every stored digest is compared in constant time, without stopping at a
        match. A successful check records ``last_used`` (at most hourly).
        """
        if not token.startswith(TOKEN_PREFIX) or len(token) > MAX_TOKEN_LENGTH:
            return None
        digest = token_digest(token)
        found: _Stored | None = None
        for stored in self._entries():
            if hmac.compare_digest(stored.sha256, digest):
                found = stored
        if found is None or found.info.revoked:
            return None
        return self._touch(found.info)

    def list(self) -> builtins.list[TokenInfo]:
        return sorted((stored.info for stored in self._entries()), key=lambda info: info.name)

    def revoke(self, name: str) -> None:
        key = _token_name(name)
        with self.file.edit() as data:
            entry = data.get("tokens", {}).get(key)
            if entry is None:
                raise TokenError(f"no token named {key!r}")
            entry["revoked"] = True
            entry.setdefault("revoked_at", self._clock())

    def _touch(self, info: TokenInfo) -> TokenInfo:
        now = self._clock()
        if info.last_used is not None and now - info.last_used < LAST_USED_RESOLUTION:
            return info
        try:
            with self.file.edit() as data:
                entry = data.get("tokens", {}).get(info.name)
                if entry is not None:
                    entry["last_used"] = now
        except (OSError, StoreError) as exc:
            log.warning("could not record the use of token %r: %s", info.name, exc)
        return replace(info, last_used=now)

    def _entries(self) -> builtins.list[_Stored]:
        table = self.file.read().get("tokens", {})
        if not isinstance(table, dict):
            raise StoreError(f"{self.file.path}: [tokens] must be a table")
        return [_from_toml(self.file.path, name, entry) for name, entry in table.items()]


def _token_name(name: str) -> str:
    try:
        return normalise_name(name)
    except StoreError:
        raise TokenError("a token name is 1 to 64 of a-z, 0-9, '_', '.', '@' or '-'") from None


def _from_toml(path: Path, name: str, entry: Any) -> _Stored:
    where = f"{path}: token {name!r}"
    if not isinstance(entry, dict):
        raise StoreError(f"{where} must be a table")
    digest, created_at = entry.get("sha256"), entry.get("created_at")
    if not isinstance(digest, str) or len(digest) != 64:
        raise StoreError(f"{where} has no sha256")
    if not isinstance(created_at, datetime):
        raise StoreError(f"{where} has no created_at date")
    last_used = entry.get("last_used")
    try:
        role = parse_role(str(entry.get("role", "")))
    except StoreError as exc:
        raise StoreError(f"{where}: {exc}") from None
    info = TokenInfo(
        name=name,
        role=role,
        created_at=created_at,
        revoked=entry.get("revoked") is True,
        last_used=last_used if isinstance(last_used, datetime) else None,
    )
    return _Stored(info, digest)
