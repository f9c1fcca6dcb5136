"""Dashboard users, their session epochs and their roles per organisation (the rules of names
and roles are access's).

``users.role`` is a person's role in every organisation ('' for none); each ``user_orgs``
row gives their role in one organisation. A user's rows are read with the user, in one
transaction, so a grant or a revocation counts from the next request on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from webapp.store.database import Database
from webapp.store.schema import user_orgs, users

Grants = tuple[tuple[str, str], ...]  # (organisation, role), sorted by organisation


@dataclass(frozen=True, slots=True)
class UserRow:
    name: str
    role: str  # in every organisation; '' for none
    password_hash: str
    created_at: datetime
    session_epoch: str
    orgs: Grants = ()  # a role in one organisation each


class Users:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, name: str) -> UserRow | None:
        async with self.db.begin() as conn:
            row = (await conn.execute(select(users).where(users.c.name == name))).first()
            if row is None:
                return None
            grants = await _grants(conn, [name])
        return UserRow(**row._asdict(), orgs=grants.get(name, ()))

    async def all(self) -> list[UserRow]:
        async with self.db.begin() as conn:
            rows = list(await conn.execute(select(users).order_by(users.c.name)))
            grants = await _grants(conn, None)
        return [UserRow(**row._asdict(), orgs=grants.get(row.name, ())) for row in rows]

    async def add(self, user: UserRow) -> None:
        """Keep a new user and their grants; StoreConflict when the name is taken."""
        async with self.db.begin() as conn:
            await conn.execute(insert(users).values(**_values(user)))
            for org, role in user.orgs:
                await conn.execute(insert(user_orgs).values(name=user.name, org=org, role=role))

    async def remove(self, name: str) -> bool:
        async with self.db.begin() as conn:
            await conn.execute(delete(user_orgs).where(user_orgs.c.name == name))
            done = await conn.execute(delete(users).where(users.c.name == name))
        return done.rowcount > 0

    async def change(self, name: str, *, when_hash: str | None = None, **values: str) -> bool:
        """Set ``values`` (role, password_hash, session_epoch) of ``name``; whether it exists.

        With ``when_hash``, only while the stored hash is still that one (a rehash
        never overwrites a password changed meanwhile).
        """
        query = update(users).where(users.c.name == name).values(**values)
        if when_hash is not None:
            query = query.where(users.c.password_hash == when_hash)
        async with self.db.begin() as conn:
            done = await conn.execute(query)
        return done.rowcount > 0

    async def grant(self, name: str, org: str, role: str) -> bool:
        """Give ``name`` ``role`` in ``org`` (replacing the one they had there); whether the
        user exists."""
        c = user_orgs.c
        async with self.db.begin() as conn:
            found = await conn.execute(select(users.c.name).where(users.c.name == name))
            if found.first() is None:
                return False
            await conn.execute(delete(user_orgs).where(c.name == name, c.org == org))
            await conn.execute(insert(user_orgs).values(name=name, org=org, role=role))
        return True

    async def revoke(self, name: str, org: str) -> bool:
        """Take ``name``'s role in ``org`` away; whether they had one there."""
        c = user_orgs.c
        async with self.db.begin() as conn:
            done = await conn.execute(delete(user_orgs).where(c.name == name, c.org == org))
        return done.rowcount > 0


async def _grants(conn: AsyncConnection, names: list[str] | None) -> dict[str, Grants]:
    c = user_orgs.c
    query = select(c.name, c.org, c.role).order_by(c.name, c.org)
    if names is not None:
        query = query.where(c.name.in_(names))
    found: dict[str, list[tuple[str, str]]] = {}
    for row in await conn.execute(query):
        found.setdefault(row.name, []).append((row.org, row.role))
    return {name: tuple(pairs) for name, pairs in found.items()}


def _values(user: UserRow) -> dict[str, object]:
    return {
        "name": user.name,
        "role": user.role,
        "password_hash": user.password_hash,
        "created_at": user.created_at,
        "session_epoch": user.session_epoch,
    }
