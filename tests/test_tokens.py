from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.clocks import ManualClock
from webapp.access.tokens import TOKEN_PREFIX, TokenError, TokenStore, token_digest
from webapp.access.users import Role

Clock = ManualClock[datetime]


@pytest.fixture
def clock() -> Clock:
    return ManualClock(datetime(2025, 3, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "tokens.toml"


@pytest.fixture
def store(path: Path, clock: Clock) -> TokenStore:
    return TokenStore(path, clock)


def test_a_created_token_verifies_with_its_name_and_role(store: TokenStore) -> None:
    token = store.create("wallboard-bot", Role.MANAGER)
    assert token.startswith(TOKEN_PREFIX) and len(token) > 40
    info = store.verify(token)
    assert info is not None
    assert (info.name, info.role, info.revoked) == ("wallboard-bot", Role.MANAGER, False)


def test_every_token_is_new(store: TokenStore) -> None:
    assert store.create("a", Role.ADMIN) != store.create("b", Role.ADMIN)


def test_unknown_altered_or_foreign_tokens_fail(store: TokenStore) -> None:
    token = store.create("bot", Role.SUPERVISOR)
    assert store.verify(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert store.verify(token[len(TOKEN_PREFIX) :]) is None
    assert store.verify("bl_" + "x" * 500) is None
    assert store.verify("") is None
    assert store.verify("sk-burki-key-0123456789") is None


def test_a_revoked_token_fails_and_keeps_its_name(store: TokenStore) -> None:
    token = store.create("bot", Role.ADMIN)
    store.revoke("bot")
    assert store.verify(token) is None
    [info] = store.list()
    assert info.revoked
    with pytest.raises(TokenError, match="taken by a revoked token"):
        store.create("bot", Role.ADMIN)


def test_revoking_an_unknown_name_is_a_one_line_error(store: TokenStore) -> None:
    with pytest.raises(TokenError, match=r"^no token named 'ghost'$"):
        store.revoke("ghost")


def test_a_bad_name_is_refused(store: TokenStore) -> None:
    with pytest.raises(TokenError, match="1 to 64"):
        store.create("has space", Role.ADMIN)


def test_the_file_holds_only_a_hash_and_is_private(path: Path, store: TokenStore) -> None:
    token = store.create("bot", Role.MANAGER)
    text = path.read_text()
    assert token not in text
    assert token[len(TOKEN_PREFIX) :] not in text
    assert token_digest(token) in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_list_never_shows_a_hash_or_the_token(store: TokenStore) -> None:
    token = store.create("bot", Role.MANAGER)
    shown = repr(store.list()) + str(store.list())
    assert token not in shown
    assert token_digest(token) not in shown
    assert [info.name for info in store.list()] == ["bot"]


def test_last_used_is_recorded_at_most_hourly(path: Path, store: TokenStore, clock: Clock) -> None:
    token = store.create("bot", Role.MANAGER)
    assert store.list()[0].last_used is None
    first = store.verify(token)
    assert first is not None and first.last_used == clock.now
    written = path.stat().st_mtime_ns, path.stat().st_ino
    clock.now += timedelta(minutes=10)
    store.verify(token)
    assert (path.stat().st_mtime_ns, path.stat().st_ino) == written
    clock.now += timedelta(hours=1)
    store.verify(token)
    assert store.list()[0].last_used == clock.now


def test_a_revocation_by_another_process_takes_effect_at_once(
    path: Path, store: TokenStore
) -> None:
    token = store.create("bot", Role.MANAGER)
    assert store.verify(token) is not None
    TokenStore(path).revoke("bot")  # e.g. the CLI
    assert store.verify(token) is None
