from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, Literal

import pytest
from argon2 import PasswordHasher

from webapp.access import users
from webapp.access.users import Role, StoreError, User, UserError, UserStore, parse_role

PASSWORD = "correct horse battery"


def cheap_hasher(time_cost: int = 1) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=8, parallelism=1)


class CountingHasher(PasswordHasher):
    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.verified: list[str] = []

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.verified.append(str(hash))
        return super().verify(hash, password)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "users.toml"


@pytest.fixture
def store(path: Path) -> UserStore:
    return UserStore(path, cheap_hasher())


def test_roles_decide_what_each_may_watch() -> None:
    assert Role.SUPERVISOR.can_watch("call") and not Role.SUPERVISOR.can_watch("campaign")
    assert Role.MANAGER.can_watch("campaign") and not Role.MANAGER.can_watch("call")
    assert Role.ADMIN.can_watch("call") and Role.ADMIN.can_watch("campaign")
    assert Role.ADMIN.is_admin and not Role.MANAGER.is_admin and not Role.SUPERVISOR.is_admin


def test_parse_role_accepts_any_case_and_names_the_choices_otherwise() -> None:
    assert parse_role("Admin") is Role.ADMIN
    with pytest.raises(StoreError, match="supervisor, manager, admin"):
        parse_role("root")


def test_a_missing_file_means_no_users(store: UserStore) -> None:
    assert store.list() == []
    assert store.verify("alice", PASSWORD) is None


def test_a_user_signs_in_with_their_password_and_no_other(store: UserStore) -> None:
    store.add("alice", PASSWORD, Role.ADMIN)
    user = store.verify("alice", PASSWORD)
    assert user is not None and user.name == "alice" and user.role is Role.ADMIN
    assert store.verify("alice", PASSWORD + "!") is None
    assert store.verify("alice", "") is None


def test_an_unknown_user_costs_a_hash_check_like_a_known_one(path: Path) -> None:
    hasher = CountingHasher()
    store = UserStore(path, hasher)
    store.add("alice", PASSWORD, Role.MANAGER)
    for name in ("alice", "bob", "NOT A VALID NAME!"):
        hasher.verified.clear()
        assert store.verify(name, "wrong password here") is None
        assert len(hasher.verified) == 1, name
    hasher.verified.clear()
    assert store.verify("bob", "x" * 5000) is None  # over-long: still one (dummy) check
    assert len(hasher.verified) == 1


def test_names_are_case_folded_and_checked(store: UserStore) -> None:
    store.add("Alice@Example.COM", PASSWORD, Role.SUPERVISOR)
    assert store.verify("alice@example.com", PASSWORD) is not None
    assert [u.name for u in store.list()] == ["alice@example.com"]
    for bad in ("", "a b", "a/b", "x" * 65, "émile", "name\n"):
        with pytest.raises(UserError, match="1 to 64"):
            store.add(bad, PASSWORD, Role.SUPERVISOR)


def test_a_short_password_is_refused(store: UserStore) -> None:
    with pytest.raises(UserError, match="at least 12 characters"):
        store.add("alice", "short-pass1", Role.ADMIN)
    store.add("alice", PASSWORD, Role.ADMIN)
    with pytest.raises(UserError, match="at least 12"):
        store.set_password("alice", "tiny")


def test_a_duplicate_or_missing_user_is_a_one_line_error(store: UserStore) -> None:
    store.add("alice", PASSWORD, Role.ADMIN)
    with pytest.raises(UserError, match=r"^user 'alice' already exists$"):
        store.add("ALICE", PASSWORD, Role.MANAGER)
    with pytest.raises(UserError, match=r"^no user 'bob'$"):
        store.remove("bob")
    with pytest.raises(UserError, match=r"^no user 'bob'$"):
        store.set_password("bob", PASSWORD)


def test_remove_and_set_password_take_effect(store: UserStore) -> None:
    store.add("alice", PASSWORD, Role.ADMIN)
    store.add("bob", PASSWORD, Role.MANAGER)
    store.set_password("bob", "another long password")
    assert store.verify("bob", PASSWORD) is None
    assert store.verify("bob", "another long password") is not None
    store.remove("alice")
    assert [u.name for u in store.list()] == ["bob"]
    assert store.verify("alice", PASSWORD) is None


def test_another_process_changes_are_seen_without_a_restart(path: Path, store: UserStore) -> None:
    store.add("alice", PASSWORD, Role.ADMIN)
    assert store.get("alice") is not None
    UserStore(path, cheap_hasher()).remove("alice")  # e.g. the CLI
    assert store.get("alice") is None


def test_the_file_is_private_and_holds_hashes_only(path: Path, store: UserStore) -> None:
    store.add("alice", PASSWORD, Role.ADMIN)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    text = path.read_text()
    assert PASSWORD not in text
    assert "$argon2id$" in text


def test_a_failed_write_leaves_the_old_file_whole_and_no_temp_file(
    path: Path, store: UserStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.add("alice", PASSWORD, Role.ADMIN)
    before = path.read_bytes()

    def crash(*_: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        store.add("bob", PASSWORD, Role.MANAGER)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["users.toml", "users.toml.lock"]


def test_a_hash_with_weaker_parameters_is_upgraded_at_sign_in(path: Path) -> None:
    UserStore(path, cheap_hasher(time_cost=1)).add("alice", PASSWORD, Role.ADMIN)
    old_hash = path.read_text()
    stronger = UserStore(path, cheap_hasher(time_cost=2))
    assert stronger.verify("alice", PASSWORD) is not None
    new_hash = path.read_text()
    assert new_hash != old_hash and "t=2" in new_hash
    assert stronger.verify("alice", PASSWORD) is not None


def test_a_failed_upgrade_still_signs_in(
    path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    UserStore(path, cheap_hasher(time_cost=1)).add("alice", PASSWORD, Role.ADMIN)

    def read_only(*_: Any) -> None:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(users, "atomic_write", read_only)
    assert UserStore(path, cheap_hasher(time_cost=2)).verify("alice", PASSWORD) is not None
    assert "could not store a stronger hash" in caplog.text
    assert PASSWORD not in caplog.text


def test_repr_never_shows_a_password_hash(store: UserStore) -> None:
    user = store.add("alice", PASSWORD, Role.ADMIN)
    assert isinstance(user, User)
    assert user.password_hash not in repr(user)
    assert "$argon2" not in repr(store.list())


def test_a_broken_file_is_one_line_naming_it(path: Path, store: UserStore) -> None:
    path.parent.mkdir(parents=True)
    path.write_text('[users.alice]\nrole = "admin"\npassword_hash = "s3cret-looking\n')
    with pytest.raises(StoreError) as caught:
        store.list()
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)
    assert "s3cret" not in str(caught.value)


def test_an_entry_with_an_unknown_role_is_refused(path: Path, store: UserStore) -> None:
    path.parent.mkdir(parents=True)
    path.write_text(
        '[users.alice]\nrole = "root"\npassword_hash = "$argon2id$x"\n'
        "created_at = 2025-01-01T00:00:00Z\n"
    )
    with pytest.raises(StoreError, match="user 'alice': unknown role 'root'"):
        store.list()


def test_a_file_others_can_read_is_warned_about(
    path: Path, store: UserStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.add("alice", PASSWORD, Role.ADMIN)
    os.chmod(path, 0o644)
    UserStore(path, cheap_hasher()).list()
    assert "readable by others" in caplog.text
