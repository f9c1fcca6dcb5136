"""Moving over from the files: ``burki-dashboard migrate-files`` and the start-up check.

Before the store, users and tokens lived in TOML files (``DASHBOARD_USERS_FILE``,
``DASHBOARD_TOKENS_FILE``, ``embed-links.toml`` beside the tokens) and the audit
log in JSON lines (``DASHBOARD_AUDIT_FILE``). :func:`migrate_files` copies what
they hold into the store: a user, token or link already there (by name or id)
is left as it is, and an audit entry already there (same time, who, what,
route and address) is not copied twice, so running it again changes nothing.
The files are only read; once the import is checked, they can be deleted.

:func:`files_waiting` is the start-up's check: files with entries and a store
with no users and no tokens mean the move has not been done.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from webapp.access.audit import AuditEntry, clean
from webapp.access.embedstore import EMBED_KINDS
from webapp.access.users import StoreError, normalise_name, parse_role
from webapp.store.audit import AuditRow
from webapp.store.database import StoreConflict
from webapp.store.embeds import EmbedRow
from webapp.store.store import Store
from webapp.store.tokens import TokenRow
from webapp.store.users import UserRow

COMMAND = "burki-dashboard migrate-files"


class FileError(StoreError):
    """An old file cannot be read; the message names the file and the entry, never a value."""


@dataclass(frozen=True, slots=True)
class OldFiles:
    users: Path
    tokens: Path
    embed_links: Path
    audit: Path

    def present(self) -> list[Path]:
        return [
            path
            for path in (self.users, self.tokens, self.embed_links, self.audit)
            if path.exists()
        ]


@dataclass
class Moved:
    """How many of each were copied, and how many were there already."""

    copied: dict[str, int] = field(default_factory=dict)
    there: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str, new: bool) -> None:
        counts = self.copied if new else self.there
        counts[kind] = counts.get(kind, 0) + 1

    def __str__(self) -> str:
        kinds = ("users", "tokens", "embed links", "audit entries")
        copied = ", ".join(f"{self.copied.get(k, 0)} {k}" for k in kinds)
        there = sum(self.there.values())
        return f"copied {copied}" + (f" ({there} were there already)" if there else "")


async def files_waiting(store: Store, files: OldFiles) -> str | None:
    """One line saying what to run, when old files hold users or tokens and the store none."""
    if not _users(files.users) and not _tokens(files.tokens):
        return None
    if await store.users.all() or await store.tokens.all():
        return None
    names = ", ".join(str(path) for path in files.present())
    return f"the old files ({names}) are not in the database yet: run `{COMMAND}`"


async def migrate_files(store: Store, files: OldFiles) -> Moved:
    """Copy users, tokens, embed links and audit entries from ``files`` into ``store``."""
    moved = Moved()
    for user in _users(files.users):
        moved.count("users", await _added(store.users.add(user)))
    for token in _tokens(files.tokens):
        moved.count("tokens", await _added(store.tokens.add(token)))
    for link in _links(files.embed_links):
        moved.count("embed links", await _added(_add_link(store, link)))
    entries = list(_audit(files.audit))
    if entries:
        since = min(entry.at for entry in entries)
        seen = {_key(row) for row in await store.audit.newest(None, since)}
        new = [AuditRow(**_fields(e)) for e in entries if _key(AuditRow(**_fields(e))) not in seen]
        await store.audit.append(new)
        for entry in entries:
            moved.count("audit entries", _key(AuditRow(**_fields(entry))) not in seen)
    return moved


async def _add_link(store: Store, link: EmbedRow) -> None:
    # Old links come in whatever their state; the active bound is for new links only.
    await store.embeds.add(link, link.created_at, max_active=1 << 30, keep=_FOREVER)


async def _added(adding: Any) -> bool:
    try:
        await adding
    except StoreConflict:
        return False
    return True


def _key(row: AuditRow) -> tuple[object, ...]:
    return (row.at, row.who, row.via, row.what, row.route, row.address)


def _fields(entry: AuditEntry) -> dict[str, Any]:
    return {
        "at": entry.at,
        "who": entry.who,
        "via": entry.via,
        "what": entry.what,
        "route": entry.route,
        "address": entry.address,
    }


def _toml(path: Path, table: str) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            found = tomllib.load(file).get(table, {})
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:  # the message names a line, never the content
        raise FileError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise FileError(f"{path}: cannot read ({exc.strerror})") from None
    if not isinstance(found, dict):
        raise FileError(f"{path}: [{table}] must be a table")
    return found


def _users(path: Path) -> list[UserRow]:
    rows = []
    for name, entry in _toml(path, "users").items():
        where = f"{path}: user {name[:64]!r}"
        password_hash, created = (
            _get(entry, where, "password_hash", str),
            _get(entry, where, "created_at", datetime),
        )
        if not password_hash.startswith("$argon2"):
            raise FileError(f"{where} has no argon2 password_hash")
        role = parse_role(str(entry.get("role", ""))).value
        epoch = entry.get("session_epoch", "")
        rows.append(UserRow(normalise_name(name), role, password_hash, created, str(epoch) or "-"))
    return rows


def _tokens(path: Path) -> list[TokenRow]:
    rows = []
    for name, entry in _toml(path, "tokens").items():
        where = f"{path}: token {name[:64]!r}"
        digest, created = (
            _get(entry, where, "sha256", str),
            _get(entry, where, "created_at", datetime),
        )
        if len(digest) != 64:
            raise FileError(f"{where} has no sha256")
        revoked_at = entry.get("revoked_at")
        if entry.get("revoked") is True and not isinstance(revoked_at, datetime):
            revoked_at = created  # revoked before revocations had a time
        last_used = entry.get("last_used")
        rows.append(
            TokenRow(
                normalise_name(name),
                digest,
                parse_role(str(entry.get("role", ""))).value,
                created,
                revoked_at if isinstance(revoked_at, datetime) else None,
                last_used if isinstance(last_used, datetime) else None,
            )
        )
    return rows


def _links(path: Path) -> list[EmbedRow]:
    rows = []
    for link_id, entry in _toml(path, "links").items():
        where = f"{path}: embed link {link_id[:32]!r}"
        kind, instance = entry.get("kind"), entry.get("instance")
        if kind not in EMBED_KINDS or instance not in ("demo", "live"):
            raise FileError(f"{where} has no kind or instance")
        revoked = entry.get("revoked_at")
        rows.append(
            EmbedRow(
                id=link_id[:32],
                kind=kind,
                ident=str(entry.get("ident", ""))[:256],
                instance=instance,
                created_at=_get(entry, where, "created_at", datetime),
                expires_at=_get(entry, where, "expires_at", datetime),
                created_by=str(entry.get("created_by", ""))[:128],
                revoked_at=revoked if isinstance(revoked, datetime) else None,
                revoked_by=str(entry.get("revoked_by", ""))[:128],
            )
        )
    return rows


def _audit(path: Path) -> Iterator[AuditEntry]:
    """The readable entries (a line that cannot be read is skipped, as the file's reader did)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise FileError(f"{path}: cannot read ({exc.strerror})") from None
    for line in lines:
        try:
            data = json.loads(line)
            at = datetime.fromisoformat(data["at"])
            values = {
                name: clean(str(data[name])) for name in ("who", "via", "what", "route", "address")
            }
        except (ValueError, KeyError, TypeError):
            continue
        if at.tzinfo is not None:
            yield AuditEntry(at=at, **values)


def _get(entry: Any, where: str, key: str, kind: type) -> Any:
    value = entry.get(key) if isinstance(entry, dict) else None
    if not isinstance(value, kind):
        raise FileError(f"{where} has no {key}")
    return value


_FOREVER = timedelta(days=36_500)  # old links are copied as they are, none dropped
