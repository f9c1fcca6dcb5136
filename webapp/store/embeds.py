"""Embed links: one row per link (never its token), so a link can be listed and revoked."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, insert, literal, or_, select, update

from webapp.store.database import Database, StoreError
from webapp.store.schema import UtcDateTime, embed_links
from webapp.wire.streamkey import DEFAULT_ORG


class TooManyLinks(StoreError):
    """As many links are active as the dashboard keeps: revoke some first."""


@dataclass(frozen=True, slots=True)
class EmbedRow:
    id: str
    kind: str
    ident: str
    instance: str
    created_at: datetime
    expires_at: datetime
    created_by: str
    revoked_at: datetime | None = None
    revoked_by: str = ""
    org: str = DEFAULT_ORG  # the organisation of the stream it opens


COLUMNS = tuple(f.name for f in fields(EmbedRow))


class EmbedLinkRows:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, link: EmbedRow, now: datetime, max_active: int, keep: timedelta) -> None:
        """Keep ``link``, first dropping links gone (expired or revoked) before ``now - keep``.

        TooManyLinks when ``max_active`` links are active at ``now``; StoreConflict
        when the id is taken.
        """
        c, cutoff = embed_links.c, now - keep
        async with self.db.begin() as conn:
            await conn.execute(
                delete(embed_links).where(or_(c.expires_at < cutoff, c.revoked_at < cutoff))
            )
            active = select(func.count()).where(and_(c.expires_at > now, c.revoked_at.is_(None)))
            if ((await conn.execute(active)).scalar() or 0) >= max_active:
                raise TooManyLinks(f"{max_active} embed links are active: revoke some first")
            await conn.execute(insert(embed_links).values(**_values(link)))

    async def get(self, link_id: str) -> EmbedRow | None:
        async with self.db.begin() as conn:
            found = await conn.execute(select(embed_links).where(embed_links.c.id == link_id))
            row = found.first()
        return EmbedRow(**row._asdict()) if row is not None else None

    async def all(self) -> list[EmbedRow]:
        """Every kept link, newest first."""
        query = select(embed_links).order_by(embed_links.c.created_at.desc(), embed_links.c.id)
        async with self.db.begin() as conn:
            rows = await conn.execute(query)
        return [EmbedRow(**row._asdict()) for row in rows]

    async def revoke(self, link_id: str, by: str, at: datetime) -> EmbedRow | None:
        """Mark the link revoked (once: a second revocation changes nothing); None if unknown."""
        c = embed_links.c
        async with self.db.begin() as conn:
            await conn.execute(
                update(embed_links)
                .where(and_(c.id == link_id, c.revoked_at.is_(None)))
                .values(revoked_at=literal(at, UtcDateTime()), revoked_by=by[:128])
            )
            row = (await conn.execute(select(embed_links).where(c.id == link_id))).first()
        return EmbedRow(**row._asdict()) if row is not None else None


def _values(link: EmbedRow) -> dict[str, object]:
    return {name: getattr(link, name) for name in COLUMNS}
