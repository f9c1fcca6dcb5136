from __future__ import annotations

from typing import Literal

import pytest
from argon2 import PasswordHasher

from webapp.access.users import Role, StoreError, User, UserError, UserStore, parse_role
from webapp.store.store import Store

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
def store(store_db: Store) -> UserStore:
    return UserStore(store_db, cheap_hasher())


def test_roles_decide_what_each_may_watch() -> None:
    assert Role.SUPERVISOR.can_watch("call") and not Role.SUPERVISOR.can_watch("campaign")
    assert Role.MANAGER.can_watch("campaign") and not Role.MANAGER.can_watch("call")
    assert Role.ADMIN.can_watch("call") and Role.ADMIN.can_watch("campaign")
    assert Role.ADMIN.is_admin and not Role.MANAGER.is_admin and not Role.SUPERVISOR.is_admin


def test_parse_role_accepts_any_case_and_names_the_choices_otherwise() -> None:
    assert parse_role("Admin") is Role.ADMIN
    with pytest.raises(StoreError, match="supervisor, manager, admin"):
        parse_role("root")


async def test_an_empty_store_means_no_users(store: UserStore) -> None:
    assert await store.list() == []
    assert await store.verify("alice", PASSWORD) is None


async def test_a_user_signs_in_with_their_password_and_no_other(store: UserStore) -> None:
    await store.add("alice", PASSWORD, Role.ADMIN)
    user = await store.verify("alice", PASSWORD)
    assert user is not None and user.name == "alice" and user.role is Role.ADMIN
    assert await store.verify("alice", PASSWORD + "!") is None
    assert await store.verify("alice", "") is None


async def test_an_unknown_user_costs_a_hash_check_like_a_known_one(store_db: Store) -> None:
    hasher = CountingHasher()
    store = UserStore(store_db, hasher)
    await store.add("alice", PASSWORD, Role.MANAGER)
    for name in ("alice", "bob", "NOT A VALID NAME!"):
        hasher.verified.clear()
        assert await store.verify(name, "wrong password here") is None
        assert len(hasher.verified) == 1, name
    hasher.verified.clear()
    assert await store.verify("alice", "x" * 5000) is None  # over-long: still one (dummy) check
    assert len(hasher.verified) == 1


async def test_names_are_case_folded_and_checked(store: UserStore) -> None:
    await store.add("Alice@Example.COM", PASSWORD, Role.SUPERVISOR)
    assert await store.verify("alice@example.com", PASSWORD) is not None
    assert [u.name for u in await store.list()] == ["alice@example.com"]
    for bad in ("", "a b", "a/b", "x" * 65, "émile", "name\n"):
        with pytest.raises(UserError, match="1 to 64"):
            await store.add(bad, PASSWORD, Role.SUPERVISOR)


async def test_a_short_password_is_refused(store: UserStore) -> None:
    with pytest.raises(UserError, match="at least 12 characters"):
        await store.add("alice", "short-pass1", Role.ADMIN)
    await store.add("alice", PASSWORD, Role.ADMIN)
    with pytest.raises(UserError, match="at least 12"):
        await store.set_password("alice", "tiny")


async def test_a_duplicate_or_missing_user_is_a_one_line_error(store: UserStore) -> None:
    await store.add("alice", PASSWORD, Role.ADMIN)
    with pytest.raises(UserError, match=r"^user 'alice' already exists$"):
        await store.add("ALICE", PASSWORD, Role.MANAGER)
    with pytest.raises(UserError, match=r"^no user 'bob'$"):
        await store.remove("bob")
    with pytest.raises(UserError, match=r"^no user 'bob'$"):
        await store.set_password("bob", PASSWORD)


async def test_remove_and_set_password_take_effect(store: UserStore) -> None:
    await store.add("alice", PASSWORD, Role.ADMIN)
    await store.add("bob", PASSWORD, Role.MANAGER)
    await store.set_password("bob", "another long password")
    assert await store.verify("bob", PASSWORD) is None
    assert await store.verify("bob", "another long password") is not None
    await store.remove("alice")
    assert [u.name for u in await store.list()] == ["bob"]
    assert await store.verify("alice", PASSWORD) is None


async def test_another_process_changes_are_seen_at_once(store_db: Store, store: UserStore) -> None:
    await store.add("alice", PASSWORD, Role.ADMIN)
    assert await store.get("alice") is not None
    await UserStore(store_db, cheap_hasher()).remove("alice")  # e.g. the CLI, or another node
    assert await store.get("alice") is None


async def test_the_store_holds_hashes_only(store_db: Store, store: UserStore) -> None:
    await store.add("alice", PASSWORD, Role.ADMIN)
    [row] = await store_db.users.all()
    assert PASSWORD not in repr(row) and row.password_hash.startswith("$argon2id$")


async def test_a_hash_with_weaker_parameters_is_upgraded_at_sign_in(store_db: Store) -> None:
    await UserStore(store_db, cheap_hasher(time_cost=1)).add("alice", PASSWORD, Role.ADMIN)
    [old] = await store_db.users.all()
    stronger = UserStore(store_db, cheap_hasher(time_cost=2))
    assert await stronger.verify("alice", PASSWORD) is not None
    [new] = await store_db.users.all()
    assert new.password_hash != old.password_hash and "t=2" in new.password_hash
    assert new.session_epoch == old.session_epoch  # a stronger hash ends no session
    assert await stronger.verify("alice", PASSWORD) is not None


async def test_an_upgrade_never_overwrites_a_password_changed_meanwhile(store_db: Store) -> None:
    weak = UserStore(store_db, cheap_hasher(time_cost=1))
    await weak.add("alice", PASSWORD, Role.ADMIN)
    stronger = UserStore(store_db, cheap_hasher(time_cost=2))
    user = await stronger.get("alice")
    checked = stronger.check(user, PASSWORD)  # the hashing done, the write not yet
    await weak.set_password("alice", "a newer long password")
    assert await stronger.accept(user, checked) is not None
    assert await stronger.verify("alice", "a newer long password") is not None


async def test_repr_never_shows_a_password_hash(store: UserStore) -> None:
    user = await store.add("alice", PASSWORD, Role.ADMIN)
    assert isinstance(user, User)
    assert user.password_hash not in repr(user)
    assert "$argon2" not in repr(await store.list())
