"""The organisations' rows: slug, name, Burki URL and the key *sealed* (never in clear).

Sealing and opening are the org book's (``webapp.orgs``); this module only keeps what
it is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, exists, insert, select, update

from webapp.store.database import Database, StoreConflict
from webapp.store.schema import (
    actions,
    alerts,
    api_tokens,
    call_summaries,
    campaign_summaries,
    embed_links,
    orgs,
    user_orgs,
)

HISTORY = (alerts, actions, call_summaries, campaign_summaries)  # rows a shift leaves behind


@dataclass(frozen=True, slots=True)
class OrgRow:
    slug: str
    name: str
    base_url: str
    sealed_key: str = ""  # a Fernet token; never shown, never logged
    created_at: datetime | None = None
    key_set_at: datetime | None = None

    def __repr__(self) -> str:
        return f"OrgRow({self.slug!r}, {self.name!r}, {self.base_url!r})"


class OrgRows:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def all(self) -> list[OrgRow]:
        """Every organisation, by slug."""
        async with self.db.begin() as conn:
            rows = await conn.execute(select(orgs).order_by(orgs.c.slug))
        return [OrgRow(**row._asdict()) for row in rows]

    async def get(self, slug: str) -> OrgRow | None:
        async with self.db.begin() as conn:
            row = (await conn.execute(select(orgs).where(orgs.c.slug == slug))).first()
        return OrgRow(**row._asdict()) if row is not None else None

    async def add(self, row: OrgRow) -> None:
        """Keep a new organisation; StoreConflict when its slug is taken."""
        try:
            async with self.db.begin() as conn:
                await conn.execute(
                    insert(orgs).values(
                        slug=row.slug,
                        name=row.name,
                        base_url=row.base_url,
                        sealed_key=row.sealed_key,
                        created_at=row.created_at,
                        key_set_at=row.key_set_at,
                    )
                )
        except StoreConflict:
            raise StoreConflict(f"there is already an organisation {row.slug!r}") from None

    async def put(self, row: OrgRow) -> None:
        """Keep ``row`` whether or not its slug exists (the demo's organisations each start)."""
        async with self.db.begin() as conn:
            done = await conn.execute(
                update(orgs)
                .where(orgs.c.slug == row.slug)
                .values(
                    name=row.name,
                    base_url=row.base_url,
                    sealed_key=row.sealed_key,
                    key_set_at=row.key_set_at,
                )
            )
        if done.rowcount == 0:
            await self.add(row)

    async def set_key(self, slug: str, sealed_key: str, at: datetime | None) -> bool:
        """A new sealed key for ``slug`` (``at``: when it was set; None keeps that time, as a
        re-seal under a new master key does); whether the organisation exists."""
        values: dict[str, object] = {"sealed_key": sealed_key}
        if at is not None:
            values["key_set_at"] = at
        async with self.db.begin() as conn:
            done = await conn.execute(update(orgs).where(orgs.c.slug == slug).values(**values))
        return done.rowcount > 0

    async def remove(self, slug: str, at: datetime, by: str = "organisation removed") -> bool:
        """Forget ``slug`` (and its sealed key) and, in the same transaction, everything that
        opened it: its grants go, its API tokens and embed links are revoked (at ``at``), so
        none of them opens an organisation that takes the slug later. Whether it existed."""
        async with self.db.begin() as conn:
            done = await conn.execute(delete(orgs).where(orgs.c.slug == slug))
            if done.rowcount == 0:
                return False
            await conn.execute(delete(user_orgs).where(user_orgs.c.org == slug))
            await conn.execute(
                update(api_tokens)
                .where(api_tokens.c.org == slug, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=at)
            )
            await conn.execute(
                update(embed_links)
                .where(embed_links.c.org == slug, embed_links.c.revoked_at.is_(None))
                .values(revoked_at=at, revoked_by=by[:128])
            )
        return True

    async def history_left(self, slug: str) -> bool:
        """Whether the history (alerts, actions, call and campaign summaries) still holds
        rows of ``slug``: those of an organisation removed, kept until they are pruned."""
        async with self.db.begin() as conn:
            for table in HISTORY:
                if (await conn.execute(select(exists().where(table.c.org == slug)))).scalar():
                    return True
        return False
