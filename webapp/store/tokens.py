"""API tokens: their SHA-256, never the token (the rules of tokens are access's)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, literal, select, update

from webapp.store.database import Database
from webapp.store.schema import UtcDateTime, api_tokens
from webapp.wire.streamkey import DEFAULT_ORG


@dataclass(frozen=True, slots=True)
class TokenRow:
    name: str
    sha256: str
    role: str
    created_at: datetime
    revoked_at: datetime | None = None
    last_used: datetime | None = None
    org: str = DEFAULT_ORG  # the organisation whose streams it opens


class Tokens:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def by_digest(self, sha256: str) -> TokenRow | None:
        """The token whose SHA-256 is ``sha256`` (an index lookup: a digest of 256 random bits
        leaks nothing by its timing)."""
        async with self.db.begin() as conn:
            found = await conn.execute(select(api_tokens).where(api_tokens.c.sha256 == sha256))
            row = found.first()
        return TokenRow(**row._asdict()) if row is not None else None

    async def get(self, name: str) -> TokenRow | None:
        async with self.db.begin() as conn:
            row = (await conn.execute(select(api_tokens).where(api_tokens.c.name == name))).first()
        return TokenRow(**row._asdict()) if row is not None else None

    async def all(self) -> list[TokenRow]:
        async with self.db.begin() as conn:
            rows = await conn.execute(select(api_tokens).order_by(api_tokens.c.name))
        return [TokenRow(**row._asdict()) for row in rows]

    async def add(self, token: TokenRow) -> None:
        """Keep a new token; StoreConflict when the name (or, never, the digest) is taken."""
        async with self.db.begin() as conn:
            await conn.execute(
                insert(api_tokens).values(
                    name=token.name,
                    sha256=token.sha256,
                    role=token.role,
                    created_at=token.created_at,
                    revoked_at=token.revoked_at,
                    last_used=token.last_used,
                    org=token.org,
                )
            )

    async def revoke(self, name: str, at: datetime) -> bool:
        """Revoke ``name`` (a second revocation keeps the first time); whether it exists."""
        first = func.coalesce(api_tokens.c.revoked_at, literal(at, UtcDateTime()))
        async with self.db.begin() as conn:
            done = await conn.execute(
                update(api_tokens).where(api_tokens.c.name == name).values(revoked_at=first)
            )
        return done.rowcount > 0

    async def touch(self, name: str, at: datetime) -> None:
        async with self.db.begin() as conn:
            await conn.execute(
                update(api_tokens).where(api_tokens.c.name == name).values(last_used=at)
            )
