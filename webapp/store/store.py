"""The store: one database, its repositories, and whether it answers.

Ownership: the app's lifespan (or a CLI command) opens it with :func:`open_store`
and closes it; everything else borrows it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.engine import URL

from webapp.store import migrate
from webapp.store.audit import AuditRows
from webapp.store.database import Database, StoreUnavailable, make_engine, shown
from webapp.store.embeds import EmbedLinkRows
from webapp.store.history import History
from webapp.store.orgs import OrgRows
from webapp.store.tokens import Tokens
from webapp.store.users import Users

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0  # seconds: connect, statement, a connection from the pool


@dataclass
class Store:
    db: Database
    users: Users = field(init=False)
    tokens: Tokens = field(init=False)
    embeds: EmbedLinkRows = field(init=False)
    audit: AuditRows = field(init=False)
    history: History = field(init=False)
    orgs: OrgRows = field(init=False)

    def __post_init__(self) -> None:
        self.users = Users(self.db)
        self.tokens = Tokens(self.db)
        self.embeds = EmbedLinkRows(self.db)
        self.audit = AuditRows(self.db)
        self.history = History(self.db)
        self.orgs = OrgRows(self.db)

    def __repr__(self) -> str:
        return f"Store({shown(self.db.url)!r})"

    @property
    def where(self) -> str:
        """The database, for a log line (no password)."""
        return shown(self.db.url)

    async def ping(self) -> None:
        """Return when the database answers; StoreUnavailable when it does not."""
        async with self.db.begin() as conn:
            await conn.execute(text("SELECT 1"))

    async def upgrade(self) -> None:
        await migrate.upgrade(self.db.engine, self.db.url)

    async def close(self) -> None:
        await self.db.engine.dispose()


async def open_store(url: URL, timeout: float = DEFAULT_TIMEOUT, *, upgrade: bool = True) -> Store:
    """A store on ``url``, its schema brought up to date (unless ``upgrade`` is False).

    Raises StoreUnavailable (one line) when the database cannot be reached.
    """
    store = Store(Database(make_engine(url, timeout), url))
    try:
        if upgrade:
            await store.upgrade()
        else:
            await store.ping()
    except BaseException:
        await store.close()
        raise
    return store


__all__ = ["Store", "StoreUnavailable", "open_store"]
