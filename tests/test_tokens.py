from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.clocks import ManualClock
from webapp.access.tokens import TOKEN_PREFIX, TokenError, TokenStore, token_digest
from webapp.access.users import Role
from webapp.store.store import Store

Clock = ManualClock[datetime]


@pytest.fixture
def clock() -> Clock:
    return ManualClock(datetime(2025, 3, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def store(store_db: Store, clock: Clock) -> TokenStore:
    return TokenStore(store_db, clock)


async def test_a_created_token_verifies_with_its_name_and_role(store: TokenStore) -> None:
    token = await store.create("wallboard-bot", Role.MANAGER)
    assert token.startswith(TOKEN_PREFIX) and len(token) > 40
    info = await store.verify(token)
    assert info is not None
    assert (info.name, info.role, info.revoked) == ("wallboard-bot", Role.MANAGER, False)


async def test_every_token_is_new(store: TokenStore) -> None:
    assert await store.create("a", Role.ADMIN) != await store.create("b", Role.ADMIN)


async def test_unknown_altered_or_foreign_tokens_fail(store: TokenStore) -> None:
    token = await store.create("bot", Role.SUPERVISOR)
    assert await store.verify(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert await store.verify(token[len(TOKEN_PREFIX) :]) is None
    assert await store.verify("bl_" + "x" * 500) is None
    assert await store.verify("") is None
    assert await store.verify("sk-burki-key-0123456789") is None


async def test_a_revoked_token_fails_and_keeps_its_name(store: TokenStore) -> None:
    token = await store.create("bot", Role.ADMIN)
    await store.revoke("bot")
    assert await store.verify(token) is None
    [info] = await store.list()
    assert info.revoked
    with pytest.raises(TokenError, match="taken by a revoked token"):
        await store.create("bot", Role.ADMIN)


async def test_revoking_an_unknown_name_is_a_one_line_error(store: TokenStore) -> None:
    with pytest.raises(TokenError, match=r"^no token named 'ghost'$"):
        await store.revoke("ghost")


async def test_a_bad_name_is_refused(store: TokenStore) -> None:
    with pytest.raises(TokenError, match="1 to 64"):
        await store.create("has space", Role.ADMIN)


async def test_the_store_holds_only_a_hash(store_db: Store, store: TokenStore) -> None:
    token = await store.create("bot", Role.MANAGER)
    [row] = await store_db.tokens.all()
    assert token not in repr(row) and token[len(TOKEN_PREFIX) :] not in repr(row)
    assert row.sha256 == token_digest(token)


async def test_list_never_shows_a_hash_or_the_token(store: TokenStore) -> None:
    token = await store.create("bot", Role.MANAGER)
    shown = repr(await store.list()) + str(await store.list())
    assert token not in shown
    assert token_digest(token) not in shown
    assert [info.name for info in await store.list()] == ["bot"]


async def test_last_used_is_recorded_at_most_hourly(
    store_db: Store, store: TokenStore, clock: Clock
) -> None:
    token = await store.create("bot", Role.MANAGER)
    assert (await store.list())[0].last_used is None
    first = await store.verify(token)
    assert first is not None and first.last_used == clock.now
    clock.now += timedelta(minutes=10)
    await store.verify(token)
    assert (await store.list())[0].last_used == clock.now - timedelta(minutes=10)
    clock.now += timedelta(hours=1)
    await store.verify(token)
    assert (await store.list())[0].last_used == clock.now


async def test_a_revocation_by_another_process_takes_effect_at_once(
    store_db: Store, store: TokenStore
) -> None:
    token = await store.create("bot", Role.MANAGER)
    assert await store.verify(token) is not None
    await TokenStore(store_db).revoke("bot")  # e.g. the CLI, or another node
    assert await store.verify(token) is None
