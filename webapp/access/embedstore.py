"""Where embed links are kept: one record per link, so a link can be listed and revoked.

:class:`EmbedLinkStore` is the whole interface the dashboard uses (add, get,
list, revoke); :class:`TomlEmbedLinks` keeps the records in a private TOML
file beside the tokens file, written with the same lock and atomic replace as
the tokens (:class:`~webapp.access.users.PrivateTomlFile`). Every node of a
cluster already reads the users and tokens files from the same place, so this
file is seen by every node the same way: a link revoked on one node is refused
by every node at its next request, as a revoked API token is. A durable
database can take its place by implementing the same four methods.

A record never holds the link's token: the token is signed, and the record is
what lets the signature count (its id is in the token).
"""

from __future__ import annotations

import builtins
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol, get_args

from webapp.access.sessions import Instance
from webapp.access.users import PrivateTomlFile, StoreError

EmbedKind = Literal["call", "campaign", "wallboard"]
EMBED_KINDS: frozenset[str] = frozenset(get_args(EmbedKind))
MAX_ACTIVE = 1_000  # links neither expired nor revoked; the file stays small
KEEP_EXPIRED = timedelta(days=7)  # an expired or revoked link stays listed this long


class EmbedStoreError(StoreError):
    """An embed-link operation failed: unknown id, too many links, bad file."""


@dataclass(frozen=True, slots=True)
class EmbedLinkRecord:
    """What the dashboard knows of one embed link (never its token)."""

    id: str
    kind: EmbedKind
    ident: str
    instance: Instance
    created_at: datetime
    expires_at: datetime
    created_by: str
    revoked_at: datetime | None = None
    revoked_by: str = ""

    @property
    def scope(self) -> str:
        return f"{self.kind}:{self.ident}" if self.kind != "wallboard" else "wallboard"

    def state(self, now: datetime) -> str:
        """``active``, ``expired`` or ``revoked``."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if now >= self.expires_at else "active"


class EmbedLinkStore(Protocol):
    """The records of embed links; every method may raise EmbedStoreError."""

    def add(self, record: EmbedLinkRecord, now: datetime) -> None:
        """Keep ``record`` (its id is new); refuse past MAX_ACTIVE links active at ``now``."""

    def get(self, link_id: str) -> EmbedLinkRecord | None: ...

    def list(self) -> builtins.list[EmbedLinkRecord]:
        """Every kept record, newest first."""

    def revoke(self, link_id: str, by: str, now: datetime) -> EmbedLinkRecord:
        """Mark the link revoked (once: a second revocation changes nothing)."""


def new_link_id() -> str:
    return secrets.token_hex(6)


class TomlEmbedLinks:
    """``[links.<id>]`` tables in a private TOML file (mode 0600, locked, atomic)."""

    def __init__(self, path: Path) -> None:
        self.file = PrivateTomlFile(path)
        self._parsed: tuple[dict[str, Any], dict[str, EmbedLinkRecord]] | None = None

    def __repr__(self) -> str:
        return f"TomlEmbedLinks({str(self.file.path)!r})"

    def add(self, record: EmbedLinkRecord, now: datetime) -> None:
        with self.file.edit() as data:
            table = data.setdefault("links", {})
            for key in [k for k, v in table.items() if _gone_before(v, now - KEEP_EXPIRED)]:
                del table[key]
            if record.id in table:
                raise EmbedStoreError("that embed link id is taken; make the link again")
            active = sum(1 for v in table.values() if _active(v, now))
            if active >= MAX_ACTIVE:
                raise EmbedStoreError(
                    f"{MAX_ACTIVE} embed links are active: revoke some before making more"
                )
            table[record.id] = _to_toml(record)

    def get(self, link_id: str) -> EmbedLinkRecord | None:
        return self._records().get(link_id)

    def list(self) -> builtins.list[EmbedLinkRecord]:
        return sorted(self._records().values(), key=lambda r: r.created_at, reverse=True)

    def revoke(self, link_id: str, by: str, now: datetime) -> EmbedLinkRecord:
        with self.file.edit() as data:
            entry = data.get("links", {}).get(link_id)
            if not isinstance(entry, dict):
                raise EmbedStoreError(f"no embed link {link_id[:32]!r}")
            if "revoked_at" not in entry:
                entry["revoked_at"] = now
                entry["revoked_by"] = by[:128]
            return _from_toml(self.file.path, link_id, entry)

    def _records(self) -> dict[str, EmbedLinkRecord]:
        raw = self.file.read()  # the same object for as long as the file is unchanged
        if self._parsed is not None and self._parsed[0] is raw:
            return self._parsed[1]
        table = raw.get("links", {})
        if not isinstance(table, dict):
            raise EmbedStoreError(f"{self.file.path}: [links] must be a table")
        records = {key: _from_toml(self.file.path, key, value) for key, value in table.items()}
        self._parsed = (raw, records)
        return records


def _active(entry: Any, now: datetime) -> bool:
    expires = entry.get("expires_at") if isinstance(entry, dict) else None
    return isinstance(expires, datetime) and expires > now and "revoked_at" not in entry


def _gone_before(entry: Any, cutoff: datetime) -> bool:
    """Expired, or revoked, before ``cutoff``: no longer worth listing."""
    if not isinstance(entry, dict):
        return False
    ended = [entry.get("expires_at"), entry.get("revoked_at")]
    return any(isinstance(moment, datetime) and moment < cutoff for moment in ended)


def _to_toml(record: EmbedLinkRecord) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "kind": record.kind,
        "ident": record.ident,
        "instance": record.instance,
        "created_at": record.created_at,
        "expires_at": record.expires_at,
        "created_by": record.created_by[:128],
    }
    if record.revoked_at is not None:
        entry |= {"revoked_at": record.revoked_at, "revoked_by": record.revoked_by[:128]}
    return entry


def _from_toml(path: Path, link_id: str, entry: Any) -> EmbedLinkRecord:
    where = f"{path}: embed link {link_id[:32]!r}"
    if not isinstance(entry, dict):
        raise EmbedStoreError(f"{where} must be a table")
    kind, instance = entry.get("kind"), entry.get("instance")
    created, expires, revoked = (entry.get(k) for k in ("created_at", "expires_at", "revoked_at"))
    if kind not in EMBED_KINDS or instance not in ("demo", "live"):
        raise EmbedStoreError(f"{where} has no kind or instance")
    if not isinstance(created, datetime) or not isinstance(expires, datetime):
        raise EmbedStoreError(f"{where} has no dates")
    record = EmbedLinkRecord(
        id=link_id,
        kind=kind,
        ident=str(entry.get("ident", "")),
        instance=instance,
        created_at=created,
        expires_at=expires,
        created_by=str(entry.get("created_by", "")),
    )
    if isinstance(revoked, datetime):
        record = replace(record, revoked_at=revoked, revoked_by=str(entry.get("revoked_by", "")))
    return record
