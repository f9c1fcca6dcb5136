"""The store's repositories keep what they are given, on SQLite and on PostgreSQL alike."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from webapp.store.audit import AuditRow
from webapp.store.database import StoreConflict, StoreUnavailable, shown
from webapp.store.database import database_url as parse_url
from webapp.store.embeds import EmbedRow, TooManyLinks
from webapp.store.store import Store, open_store
from webapp.store.tokens import TokenRow
from webapp.store.users import UserRow

T0 = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await open_store(parse_url(database_url))
    try:
        yield opened
    finally:
        await opened.close()


def user(name: str = "alice") -> UserRow:
    return UserRow(name, "admin", "$argon2id$v=19$fake", T0, "epoch-1")


async def test_a_user_is_kept_with_an_aware_utc_creation_time(store: Store) -> None:
    await store.users.add(user())
    found = await store.users.get("alice")
    assert found == user()
    assert found is not None and found.created_at.tzinfo is not None


async def test_a_second_user_of_the_same_name_is_a_conflict(store: Store) -> None:
    await store.users.add(user())
    with pytest.raises(StoreConflict):
        await store.users.add(user())
    assert [u.name for u in await store.users.all()] == ["alice"]


async def test_a_rehash_never_overwrites_a_password_changed_meanwhile(store: Store) -> None:
    await store.users.add(user())
    assert await store.users.change("alice", password_hash="$argon2id$new", session_epoch="e2")
    assert not await store.users.change("alice", when_hash="$argon2id$v=19$fake", password_hash="x")
    found = await store.users.get("alice")
    assert found is not None and found.password_hash == "$argon2id$new"


async def test_a_removed_user_is_gone(store: Store) -> None:
    await store.users.add(user())
    assert await store.users.remove("alice")
    assert not await store.users.remove("alice")
    assert await store.users.get("alice") is None


async def test_a_token_is_found_by_its_digest_and_revoked_once(store: Store) -> None:
    await store.tokens.add(TokenRow("ci", "a" * 64, "supervisor", T0))
    found = await store.tokens.by_digest("a" * 64)
    assert found is not None and found.name == "ci" and found.revoked_at is None
    assert await store.tokens.revoke("ci", T0 + timedelta(hours=1))
    assert await store.tokens.revoke("ci", T0 + timedelta(hours=2))
    again = await store.tokens.get("ci")
    assert again is not None and again.revoked_at == T0 + timedelta(hours=1)
    assert not await store.tokens.revoke("nobody", T0)


async def test_a_token_name_is_never_reused(store: Store) -> None:
    await store.tokens.add(TokenRow("ci", "a" * 64, "supervisor", T0))
    with pytest.raises(StoreConflict):
        await store.tokens.add(TokenRow("ci", "b" * 64, "supervisor", T0))


def link(n: int, expires: datetime = T0 + timedelta(hours=8)) -> EmbedRow:
    return EmbedRow(f"id{n}", "call", "CA1", "live", T0 + timedelta(seconds=n), expires, "alice")


async def test_embed_links_past_the_active_bound_are_refused(store: Store) -> None:
    for n in range(3):
        await store.embeds.add(link(n), T0, max_active=3, keep=timedelta(days=7))
    with pytest.raises(TooManyLinks):
        await store.embeds.add(link(9), T0, max_active=3, keep=timedelta(days=7))
    await store.embeds.revoke("id0", "bob", T0)
    await store.embeds.add(link(9), T0, max_active=3, keep=timedelta(days=7))
    assert [row.id for row in await store.embeds.all()] == ["id9", "id2", "id1", "id0"]


async def test_an_embed_link_keeps_its_first_revocation(store: Store) -> None:
    await store.embeds.add(link(1), T0, max_active=10, keep=timedelta(days=7))
    first = await store.embeds.revoke("id1", "bob", T0)
    second = await store.embeds.revoke("id1", "carol", T0 + timedelta(hours=1))
    assert first == second and second is not None
    assert (second.revoked_by, second.revoked_at) == ("bob", T0)
    assert await store.embeds.revoke("nope", "bob", T0) is None


async def test_links_gone_past_the_keep_time_are_dropped(store: Store) -> None:
    await store.embeds.add(link(1, expires=T0), T0 - timedelta(days=9), 10, timedelta(days=7))
    await store.embeds.add(link(2), T0 + timedelta(days=8), 10, timedelta(days=7))
    assert [row.id for row in await store.embeds.all()] == ["id2"]


async def test_audit_rows_come_back_newest_first_and_prune_by_age(store: Store) -> None:
    rows = [AuditRow(T0 + timedelta(minutes=n), "a", "page", f"w{n}", "/", "::1") for n in range(5)]
    await store.audit.append(rows[:3])
    await store.audit.append(rows[3:])
    assert [row.what for row in await store.audit.newest(2)] == ["w4", "w3"]
    assert [row.what for row in await store.audit.newest(None, since=rows[3].at)] == ["w4", "w3"]
    assert await store.audit.prune(before=rows[2].at) == 2
    assert [row.what for row in await store.audit.newest(None)] == ["w4", "w3", "w2"]


async def test_an_unreachable_database_is_one_line_in_seconds_without_its_password() -> None:
    from tests.redisserver import free_port

    url = parse_url(f"postgresql://burki:s3cret-pw@127.0.0.1:{free_port()}/burki")
    with pytest.raises(StoreUnavailable) as caught:
        await asyncio.wait_for(open_store(url, timeout=2.0), 10)
    message = caught.value.detail
    assert "\n" not in message and "s3cret-pw" not in message
    assert shown(url) in message and "unreachable" in message


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgresql://u@h/db", "postgresql+asyncpg"),
        ("postgres://u@h/db", "postgresql+asyncpg"),
        ("sqlite:///var/x.db", "sqlite+aiosqlite"),
    ],
)
def test_a_database_url_gets_its_async_driver(given: str, driver: str) -> None:
    assert parse_url(given).drivername == driver


@pytest.mark.parametrize("given", ["mysql://u@h/db", "postgresql+psycopg2://u@h/db", "nonsense"])
def test_an_unsupported_database_url_is_refused(given: str) -> None:
    with pytest.raises(ValueError):
        parse_url(given)
