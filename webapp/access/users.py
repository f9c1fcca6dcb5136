"""Dashboard users: roles, argon2 password hashes, and the private TOML file they live in.

The file is the single source of truth, managed by ``burki-dashboard user ...``
and re-read whenever it changes on disk, so a removed user or a new password
takes effect without a restart. It holds hashes only, is written atomically
(temp file + ``os.replace``) under an exclusive lock, and is only readable by
its owner (mode 0600).
"""

from __future__ import annotations

import builtins
import fcntl
import logging
import os
import re
import secrets
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import tomli_w
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

log = logging.getLogger(__name__)

NAME_PATTERN = re.compile(r"[a-z0-9_.@-]{1,64}")
MIN_PASSWORD_LENGTH = 12
# argon2 copes with long inputs, but nobody types a kilobyte: refusing it bounds the work.
MAX_PASSWORD_LENGTH = 1024

StreamKind = Literal["call", "campaign"]


class StoreError(Exception):
    """A store (users, tokens) refused an operation; the message is one line, without secrets."""


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
    role: Role
    password_hash: str = field(repr=False)
    created_at: datetime
    # Sessions carry the epoch they began in; a new epoch ends every older session.
    session_epoch: str = field(default="", repr=False)


def new_epoch() -> str:
    return secrets.token_urlsafe(12)


class PrivateTomlFile:
    """A TOML file only its owner may read, cached by identity and rewritten atomically.

    ``read()`` re-parses only when the file's inode, size or mtime changed (an
    ``os.replace`` always changes the inode). ``edit()`` holds an exclusive
    ``flock`` on a sibling ``.lock`` file across read-modify-write, so two
    writers (the CLI and the server rehashing a password) never lose an update.
    A missing file reads as empty. Raises StoreError for unreadable or invalid files.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._cache: tuple[tuple[int, int, int], dict[str, Any]] | None = None

    def read(self) -> dict[str, Any]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot read ({exc.strerror})") from None
        identity = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if self._cache is None or self._cache[0] != identity:
            if stat.st_mode & 0o077:
                log.warning("%s is readable by others: chmod 600 it", self.path)
            self._cache = (identity, self._parse())
        return self._cache[1]

    def _parse(self) -> dict[str, Any]:
        try:
            with self.path.open("rb") as file:
                return tomllib.load(file)
        except tomllib.TOMLDecodeError as exc:  # the message names a line, never the content
            raise StoreError(f"{self.path}: not valid TOML ({exc})") from None
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot read ({exc.strerror})") from None

    @contextmanager
    def edit(self) -> Iterator[dict[str, Any]]:
        """Lock, yield a fresh copy of the data to change, then write it back atomically."""
        with file_lock(self.path):
            self._cache = None
            data = self.read()
            self._cache = None  # the caller changes ``data``: the cache must not share it
            yield data
            atomic_write(self.path, tomli_w.dumps(data).encode())


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``<path>.lock`` (POSIX ``flock``)."""
    lock_path = path.with_name(path.name + ".lock")
    ensure_private_dir(lock_path.parent)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def ensure_private_dir(directory: Path) -> None:
    if not directory.exists():
        directory.mkdir(parents=True, mode=0o700, exist_ok=True)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` all at once, mode 0600, surviving a crash midway.

    Readers see either the old file or the new one, never a half-written one.
    """
    ensure_private_dir(path.parent)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class UserStore:
    """The users file: ``[users.<name>]`` tables of role, password_hash and created_at.

    ``hasher`` defaults to argon2id with argon2-cffi's RFC 9106 parameters;
    tests pass a cheap one. Every method re-reads the file when it changed.
    """

    def __init__(self, path: Path, hasher: PasswordHasher | None = None) -> None:
        self.file = PrivateTomlFile(path)
        self._hasher = hasher or PasswordHasher()

    def __repr__(self) -> str:
        return f"UserStore({str(self.file.path)!r})"

    def get(self, name: str) -> User | None:
        try:
            key = normalise_name(name)
        except UserError:
            return None
        return self._users().get(key)

    def list(self) -> builtins.list[User]:
        return sorted(self._users().values(), key=lambda user: user.name)

    def add(self, name: str, password: str, role: Role) -> User:
        key = normalise_name(name)
        check_password(password)
        user = User(key, Role(role), self._hasher.hash(password), utc_now(), new_epoch())
        with self.file.edit() as data:
            table = data.setdefault("users", {})
            if key in table:
                raise UserError(f"user {key!r} already exists")
            table[key] = _to_toml(user)
        return user

    def remove(self, name: str) -> None:
        key = normalise_name(name)
        with self.file.edit() as data:
            if key not in data.get("users", {}):
                raise UserError(f"no user {key!r}")
            del data["users"][key]

    def set_password(self, name: str, password: str) -> None:
        key = normalise_name(name)
        check_password(password)
        new_hash = self._hasher.hash(password)
        with self.file.edit() as data:
            if key not in data.get("users", {}):
                raise UserError(f"no user {key!r}")
            data["users"][key]["password_hash"] = new_hash
            data["users"][key]["session_epoch"] = new_epoch()  # a new password ends sessions

    def set_role(self, name: str, role: Role) -> User:
        """Give a user another role; every session of theirs ends."""
        key = normalise_name(name)
        with self.file.edit() as data:
            if key not in data.get("users", {}):
                raise UserError(f"no user {key!r}")
            data["users"][key]["role"] = Role(role).value
            data["users"][key]["session_epoch"] = new_epoch()
        user = self.get(key)
        assert user is not None
        return user

    def end_sessions(self, name: str) -> None:
        """End every session of ``name`` (sign-out ends them all, not only this browser's)."""
        key = normalise_name(name)
        with self.file.edit() as data:
            if key in data.get("users", {}):
                data["users"][key]["session_epoch"] = new_epoch()

    def verify(self, name: str, password: str) -> User | None:
        """The user if ``password`` is theirs, else None; the cost is the same either way.

        An unknown name, a malformed name or an over-long password is checked
        against a dummy hash made with the same parameters, so response time does
        not tell which names exist. A hash made with older parameters is
        replaced after a successful check (failure to write is logged, not raised).
        Raises StoreError only when the users file itself cannot be read.
        """
        dummy = self._dummy_hash
        user = self.get(name) if len(password) <= MAX_PASSWORD_LENGTH else None
        try:
            self._hasher.verify(user.password_hash if user else dummy, password)
        except (VerificationError, InvalidHashError):
            return None
        if user is None:
            return None
        if self._hasher.check_needs_rehash(user.password_hash):
            self._rehash(user, password)
        return user

    @cached_property
    def _dummy_hash(self) -> str:
        return self._hasher.hash(secrets.token_urlsafe(24))

    def _rehash(self, user: User, password: str) -> None:
        try:
            with self.file.edit() as data:
                entry = data.get("users", {}).get(user.name)
                # Only if nobody changed the password since we read it.
                if entry is not None and entry.get("password_hash") == user.password_hash:
                    entry["password_hash"] = self._hasher.hash(password)
        except (OSError, StoreError) as exc:
            log.warning("could not store a stronger hash for user %r: %s", user.name, exc)

    def _users(self) -> dict[str, User]:
        table = self.file.read().get("users", {})
        if not isinstance(table, dict):
            raise StoreError(f"{self.file.path}: [users] must be a table")
        return {name: _from_toml(self.file.path, name, entry) for name, entry in table.items()}


def _to_toml(user: User) -> dict[str, Any]:
    return {
        "role": user.role.value,
        "password_hash": user.password_hash,
        "created_at": user.created_at,
        "session_epoch": user.session_epoch,
    }


def _from_toml(path: Path, name: str, entry: Any) -> User:
    where = f"{path}: user {name!r}"
    if not isinstance(entry, dict):
        raise StoreError(f"{where} must be a table")
    password_hash = entry.get("password_hash")
    if not isinstance(password_hash, str) or not password_hash.startswith("$argon2"):
        raise StoreError(f"{where} has no argon2 password_hash")
    created_at = entry.get("created_at")
    if not isinstance(created_at, datetime):
        raise StoreError(f"{where} has no created_at date")
    try:
        role = parse_role(str(entry.get("role", "")))
    except StoreError as exc:
        raise StoreError(f"{where}: {exc}") from None
    epoch = entry.get("session_epoch", "")
    return User(name, role, password_hash, created_at, epoch if isinstance(epoch, str) else "")
