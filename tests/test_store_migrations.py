"""The migrations build exactly the tables the code expects, from empty, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from webapp.store import migrate
from webapp.store.audit import AuditRow
from webapp.store.database import database_url as parse_url
from webapp.store.store import open_store


async def test_upgrade_from_empty_reaches_the_newest_revision(database_url: str) -> None:
    store = await open_store(parse_url(database_url))
    try:
        assert await migrate.revision(store.db.engine, store.db.url) == migrate.head()
    finally:
        await store.close()


async def test_the_tables_match_the_migrations(database_url: str) -> None:
    store = await open_store(parse_url(database_url))
    try:
        assert await migrate.differences(store.db.engine, store.db.url) == []
    finally:
        await store.close()


async def test_a_second_upgrade_changes_nothing(database_url: str) -> None:
    first = await open_store(parse_url(database_url))
    await first.close()
    again = await open_store(parse_url(database_url))
    try:
        assert await migrate.revision(again.db.engine, again.db.url) == migrate.head()
    finally:
        await again.close()


async def test_the_database_refuses_to_change_an_audit_row(database_url: str) -> None:
    store = await open_store(parse_url(database_url))
    try:
        at = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
        await store.audit.append([AuditRow(at, "alice", "page", "opened", "/calls/x", "::1")])
        with pytest.raises(Exception, match="append-only"):
            async with store.db.engine.begin() as conn:
                await conn.execute(text("UPDATE audit_log SET who = 'mallory'"))
        assert [row.who for row in await store.audit.newest(10)] == ["alice"]
    finally:
        await store.close()
