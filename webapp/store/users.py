"""Dashboard users and their session epochs (the rules of names and roles are access's)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select, update

from webapp.store.database import Database
from webapp.store.schema import users


@dataclass(frozen=True, slots=True)
class UserRow:
    name: str
    role: str
    password_hash: str
    created_at: datetime
    session_epoch: str


class Users:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, name: str) -> UserRow | None:
        async with self.db.begin() as conn:
            row = (await conn.execute(select(users).where(users.c.name == name))).first()
        return UserRow(**row._asdict()) if row is not None else None

    async def all(self) -> list[UserRow]:
        async with self.db.begin() as conn:
            rows = await conn.execute(select(users).order_by(users.c.name))
        return [UserRow(**row._asdict()) for row in rows]

    async def add(self, user: UserRow) -> None:
        """Keep a new user; StoreConflict when the name is taken."""
        async with self.db.begin() as conn:
            await conn.execute(insert(users).values(**_values(user)))

    async def remove(self, name: str) -> bool:
        async with self.db.begin() as conn:
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


def _values(user: UserRow) -> dict[str, object]:
    return {
        "name": user.name,
        "role": user.role,
        "password_hash": user.password_hash,
        "created_at": user.created_at,
        "session_epoch": user.session_epoch,
    }
