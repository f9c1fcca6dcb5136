"""The audit log's rows: appended, read newest first, pruned past the retention; never changed.

The application has no way to change a row (and the database refuses it: a
trigger the first migration made); the retention prune is the only delete.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select

from webapp.store.database import Database
from webapp.store.schema import audit_log


@dataclass(frozen=True, slots=True)
class AuditRow:
    at: datetime
    who: str
    via: str
    what: str
    route: str
    address: str
    org: str = ""  # the organisation of what was opened ('' for nothing of one)


class AuditRows:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def append(self, rows: Sequence[AuditRow]) -> None:
        """Append ``rows`` in one transaction (all or none)."""
        if not rows:
            return
        values = [
            {
                "at": r.at,
                "who": r.who,
                "via": r.via,
                "what": r.what,
                "route": r.route,
                "address": r.address,
                "org": r.org,
            }
            for r in rows
        ]
        async with self.db.begin() as conn:
            await conn.execute(insert(audit_log), values)

    async def newest(
        self, limit: int | None, since: datetime | None = None, org: str | None = None
    ) -> list[AuditRow]:
        """Up to ``limit`` rows (all with None) at or after ``since`` (and of ``org``, when
        given), newest first."""
        c = audit_log.c
        query = select(c.at, c.who, c.via, c.what, c.route, c.address, c.org)
        if since is not None:
            query = query.where(c.at >= since)
        if org is not None:
            query = query.where(c.org == org)
        query = query.order_by(c.at.desc(), c.id.desc()).limit(limit)
        async with self.db.begin() as conn:
            rows = await conn.execute(query)
        return [AuditRow(**row._asdict()) for row in rows]

    async def prune(self, before: datetime) -> int:
        """Delete the rows older than ``before``; how many went."""
        async with self.db.begin() as conn:
            done = await conn.execute(delete(audit_log).where(audit_log.c.at < before))
        return done.rowcount
