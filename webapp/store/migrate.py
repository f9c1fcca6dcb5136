"""Alembic, run from the dashboard: upgrade to the newest schema, say where a database is.

Alembic's commands are synchronous; they run inside ``AsyncConnection.run_sync``
on the connection the dashboard opened (Alembic's cookbook way for asyncio), so
the settings alone name the database. On PostgreSQL the upgrade holds a
transaction-scoped advisory lock: nodes starting together migrate one at a time,
and the later ones find nothing left to do.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from webapp.store.database import transaction
from webapp.store.schema import metadata

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
LOCK_ID = 0x6275726B69  # "burki": the advisory lock of schema changes


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision the migrations know."""
    found = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert found is not None
    return found


async def upgrade(engine: AsyncEngine, url: URL) -> None:
    """Bring the database to the newest revision (nothing to do if it is there)."""
    async with transaction(engine, url) as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": LOCK_ID})
        await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), "head"))


async def revision(engine: AsyncEngine, url: URL) -> str | None:
    """The database's revision; None when it has none (empty)."""
    async with transaction(engine, url) as conn:
        return await conn.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


async def differences(engine: AsyncEngine, url: URL) -> list[object]:
    """What Alembic's autogenerate finds between the tables and the database (none: in step)."""
    async with transaction(engine, url) as conn:
        return await conn.run_sync(
            lambda sync: list(
                compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), metadata
                )
            )
        )
