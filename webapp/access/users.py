"""Dashboard users: roles (in every organisation, or in one), argon2 password hashes, and
their rows in the store.

A person's role in an organisation (:class:`Roles`) is the one their row for that
organisation gives (``burki-dashboard user grant``), else their role in every
organisation (``users.role``; none when empty). An API token or an embed link belongs to
one organisation and has no role in any other.

The store (:mod:`webapp.store`) is the single source of truth, managed by
``burki-dashboard user ...`` and the admin page and read at every request, so a
removed user or a new password takes effect on every node at once. It holds
hashes only. While the database is unreachable, the last row read of each user
stands in (:meth:`UserStore.last_known`), so signed-in people keep watching;
nothing is changed and nobody new signs in until it is back.
"""

from __future__ import annotations

import builtins
import logging
import re
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import cached_property
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from webapp.store.database import StoreConflict, StoreError
from webapp.store.store import Store
from webapp.store.users import UserRow
from webapp.wire.streamkey import DEFAULT_ORG, ORG_PATTERN, ORG_RULE

__all__ = ["Role", "Roles", "StoreError", "User", "UserError", "UserStore"]

log = logging.getLogger(__name__)

NAME_PATTERN = re.compile(r"[a-z0-9_.@-]{1,64}")
MIN_PASSWORD_LENGTH = 12
# argon2 copes with long inputs, but nobody types a kilobyte: refusing it bounds the work.
MAX_PASSWORD_LENGTH = 1024

StreamKind = Literal["call", "campaign"]
KNOWN = 4096  # users remembered for when the database is unreachable


class UserError(StoreError):
    """A user operation failed: bad name, short password, unknown or duplicate user."""


class Role(StrEnum):
    """What a signed-in user (or an API token) may watch."""

    SUPERVISOR = "supervisor"  # calls
    MANAGER = "manager"  # campaigns
    ADMIN = "admin"  # everything, plus the audit log and the settings pages

    def can_watch(self, kind: StreamKind) -> bool:
        if self is Role.ADMIN:
            return True
        return (kind == "call") if self is Role.SUPERVISOR else (kind == "campaign")

    @property
    def is_admin(self) -> bool:
        return self is Role.ADMIN


def parse_role(text: str) -> Role:
    """The role named ``text`` (any case), or a StoreError naming the choices."""
    try:
        return Role(text.strip().lower())
    except ValueError:
        choices = ", ".join(role.value for role in Role)
        raise StoreError(f"unknown role {text[:32]!r} (choose {choices})") from None


EVERY_ORG = "*"  # a grant in every organisation: the user's own role (``users.role``)


def checked_org(slug: str) -> str:
    """``slug`` as an organisation's (or ``*``, every one), or a UserError saying what one is."""
    slug = slug.strip()
    if slug in (EVERY_ORG, DEFAULT_ORG) or ORG_PATTERN.fullmatch(slug):
        return slug
    raise UserError(ORG_RULE)


@dataclass(frozen=True, slots=True)
class Roles:
    """Who may what in each organisation.

    ``everywhere``: the role in every organisation (None: in none); ``orgs``: a role in
    one organisation each, which wins there (an admin everywhere may be a supervisor of one);
    ``only``: the one organisation of an API token or an embed link, outside which there
    is no role at all.
    """

    everywhere: Role | None = None
    orgs: tuple[tuple[str, Role], ...] = ()
    only: str | None = None

    @classmethod
    def of(cls, everywhere: Role | None, orgs: Mapping[str, Role] | None = None) -> Roles:
        pairs = sorted((orgs or {}).items())
        return cls(everywhere, tuple(pairs))

    @classmethod
    def one_org(cls, org: str, role: Role) -> Roles:
        """The roles of a token or an embed link: ``role`` in ``org``, nothing elsewhere."""
        return cls(role, (), org)

    def role_in(self, org: str) -> Role | None:
        if self.only is not None and org != self.only:
            return None
        for slug, role in self.orgs:
            if slug == org:
                return role
        return self.everywhere

    @property
    def granted(self) -> dict[str, Role]:
        return dict(self.orgs)

    def __str__(self) -> str:
        """``admin``, ``supervisor in acme``, ``admin; manager in acme`` or ``none``."""
        words = [self.everywhere.value] if self.everywhere is not None else []
        if self.only is not None and words:
            words = [f"{words[0]} in {self.only}"]
        words += [f"{role.value} in {org}" for org, role in self.orgs]
        return "; ".join(words) or "none"


def normalise_name(name: str) -> str:
    """The case-folded name, or a UserError when it is not 1-64 of ``a-z 0-9 _ . @ -``."""
    folded = name.casefold()
    if not NAME_PATTERN.fullmatch(folded):
        raise UserError("a name is 1 to 64 of a-z, 0-9, '_', '.', '@' or '-'")
    return folded


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UserError(f"a password has at most {MAX_PASSWORD_LENGTH} characters")


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: Role | None  # in every organisation (None: in none but those ``orgs`` name)
    password_hash: str = field(repr=False)
    created_at: datetime
    # Sessions carry the epoch they began in; a new epoch ends every older session.
    session_epoch: str = field(default="", repr=False)
    orgs: tuple[tuple[str, Role], ...] = ()  # a role in one organisation each

    @property
    def roles(self) -> Roles:
        return Roles(self.role, self.orgs)


def new_epoch() -> str:
    return secrets.token_urlsafe(12)


class UserStore:
    """Users in the store. ``hasher`` defaults to argon2id with argon2-cffi's RFC 9106
    parameters; tests pass a cheap one. Every method may raise StoreUnavailable
    (:mod:`webapp.store.database`) when the database cannot be reached."""

    def __init__(self, store: Store, hasher: PasswordHasher | None = None) -> None:
        self.store = store
        self._hasher = hasher or PasswordHasher()
        self._known: OrderedDict[str, User | None] = OrderedDict()

    def __repr__(self) -> str:
        return f"UserStore({self.store.where!r})"

    async def get(self, name: str) -> User | None:
        try:
            key = normalise_name(name)
        except UserError:
            return None
        row = await self.store.users.get(key)
        user = _from_row(row) if row is not None else None
        self._remember(key, user)
        return user

    def last_known(self, name: str) -> User | None:
        """The user as last read from the store (None if never read, or gone)."""
        return self._known.get(name.casefold())

    def _remember(self, key: str, user: User | None) -> None:
        self._known[key] = user
        self._known.move_to_end(key)
        while len(self._known) > KNOWN:
            self._known.popitem(last=False)

    async def list(self) -> builtins.list[User]:
        return [_from_row(row) for row in await self.store.users.all()]

    async def add(self, name: str, password: str, role: Role | None, org: str = EVERY_ORG) -> User:
        """A new user with ``role`` in every organisation, or only in ``org``."""
        key = normalise_name(name)
        org = checked_org(org)
        check_password(password)
        everywhere = Role(role) if role is not None and org == EVERY_ORG else None
        orgs = ((org, Role(role)),) if role is not None and org != EVERY_ORG else ()
        user = User(key, everywhere, self._hasher.hash(password), utc_now(), new_epoch(), orgs)
        try:
            await self.store.users.add(_to_row(user))
        except StoreConflict:
            raise UserError(f"user {key!r} already exists") from None
        return user

    async def remove(self, name: str) -> None:
        key = normalise_name(name)
        if not await self.store.users.remove(key):
            raise UserError(f"no user {key!r}")
        self._known.pop(key, None)

    async def set_password(self, name: str, password: str) -> None:
        key = normalise_name(name)
        check_password(password)
        new_hash = self._hasher.hash(password)
        # A new password ends every session.
        if not await self.store.users.change(
            key, password_hash=new_hash, session_epoch=new_epoch()
        ):
            raise UserError(f"no user {key!r}")

    async def set_role(self, name: str, role: Role | None) -> User:
        """Give a user another role in every organisation (None: none); every session of
        theirs ends."""
        key = normalise_name(name)
        value = Role(role).value if role is not None else ""
        if not await self.store.users.change(key, role=value, session_epoch=new_epoch()):
            raise UserError(f"no user {key!r}")
        return await self._reread(key)

    async def grant(self, name: str, org: str, role: Role) -> User:
        """Give a user ``role`` in ``org`` (``*``: in every one, as :meth:`set_role`). Their
        sessions go on: every request reads the roles again, so it counts from the next."""
        key, org = normalise_name(name), checked_org(org)
        if org == EVERY_ORG:
            return await self.set_role(key, role)
        if not await self.store.users.grant(key, org, Role(role).value):
            raise UserError(f"no user {key!r}")
        return await self._reread(key)

    async def revoke(self, name: str, org: str) -> User:
        """Take a user's role in ``org`` away (``*``: their role in every organisation);
        their open streams of it end at the next re-check, their pages at the next request."""
        key, org = normalise_name(name), checked_org(org)
        if org == EVERY_ORG:
            return await self.set_role(key, None)
        if not await self.store.users.revoke(key, org) and await self.get(key) is None:
            raise UserError(f"no user {key!r}")
        return await self._reread(key)

    async def _reread(self, key: str) -> User:
        user = await self.get(key)
        if user is None:
            raise UserError(f"no user {key!r}")
        return user

    async def end_sessions(self, name: str) -> None:
        """End every session of ``name`` (sign-out ends them all, not only this browser's)."""
        await self.store.users.change(normalise_name(name), session_epoch=new_epoch())

    async def verify(self, name: str, password: str, run: Runner | None = None) -> User | None:
        """The user if ``password`` is theirs, else None; the cost is the same either way.

        An unknown name, a malformed name or an over-long password is checked
        against a dummy hash made with the same parameters, so response time does
        not tell which names exist. ``run(work, *args)`` runs the hashing (the
        sign-in's bounded workers); without it, it runs here. A hash made with
        older parameters is replaced after a successful check (failure to write
        is logged, not raised). Raises StoreUnavailable when the user cannot be read.
        """
        if len(password) > MAX_PASSWORD_LENGTH:
            name = ""  # checked against the dummy hash, never looked up
        user = await self.get(name)
        return await self.accept(user, await (run or _inline)(self.check, user, password))

    async def accept(self, user: User | None, checked: str | None) -> User | None:
        """The user whose :meth:`check` gave ``checked``, a stronger hash stored; or None."""
        if user is None or checked is None:
            return None
        if checked != user.password_hash:
            await self._rehash(user, checked)
        return user

    def check(self, user: User | None, password: str) -> str | None:
        """The (CPU-bound) check: None when ``password`` is wrong, else the hash to keep
        (a new one when the stored one was made with older parameters)."""
        if len(password) > MAX_PASSWORD_LENGTH:
            user = None
        try:
            self._hasher.verify(user.password_hash if user else self._dummy_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        if user is None:
            return None
        if self._hasher.check_needs_rehash(user.password_hash):
            return self._hasher.hash(password)
        return user.password_hash

    @cached_property
    def _dummy_hash(self) -> str:
        return self._hasher.hash(secrets.token_urlsafe(24))

    async def _rehash(self, user: User, new_hash: str) -> None:
        try:
            # Only if nobody changed the password since we read it.
            await self.store.users.change(
                user.name, when_hash=user.password_hash, password_hash=new_hash
            )
        except StoreError as exc:
            log.warning("could not store a stronger hash for user %r: %s", user.name, exc)


Runner = Callable[..., Awaitable[str | None]]


async def _inline(work: Callable[..., str | None], *args: object) -> str | None:
    return work(*args)


def _to_row(user: User) -> UserRow:
    role = user.role.value if user.role is not None else ""
    orgs = tuple((org, role.value) for org, role in user.orgs)
    return UserRow(user.name, role, user.password_hash, user.created_at, user.session_epoch, orgs)


def _from_row(row: UserRow) -> User:
    orgs = tuple((org, parse_role(role)) for org, role in row.orgs if org != EVERY_ORG)
    # A "*" row is a role in every organisation, as users.role is (the latter wins).
    star = next((parse_role(role) for org, role in row.orgs if org == EVERY_ORG), None)
    role = parse_role(row.role) if row.role else star
    return User(row.name, role, row.password_hash, row.created_at, row.session_epoch, orgs)
