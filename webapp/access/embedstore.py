"""Where embed links are kept: one record per link, so a link can be listed and revoked.

:class:`EmbedLinkStore` is the whole interface the dashboard uses (add, get,
list, revoke); :class:`StoredEmbedLinks` keeps the records in the store
(:mod:`webapp.store`), which every node of a cluster reads: a link revoked on
one node is refused by every node at its next request, as a revoked API token
is. While the database is unreachable, the record last read of a link stands
in, so embedded pages keep showing.

A record never holds the link's token: the token is signed, and the record is
what lets the signature count (its id is in the token).
"""

from __future__ import annotations

import builtins
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol, get_args

from webapp.access.sessions import Instance
from webapp.access.users import KNOWN
from webapp.store.database import StoreConflict, StoreError, StoreUnavailable
from webapp.store.embeds import EmbedRow, TooManyLinks
from webapp.store.store import Store
from webapp.wire.streamkey import DEFAULT_ORG

EmbedKind = Literal["call", "campaign", "wallboard"]
EMBED_KINDS: frozenset[str] = frozenset(get_args(EmbedKind))
MAX_ACTIVE = 1_000  # links neither expired nor revoked: a bound on what one admin can fill
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
    org: str = DEFAULT_ORG  # the organisation of what it opens

    @property
    def scope(self) -> str:
        """``call:CA1``, ``acme/call:CA1``, ``wallboard`` or ``acme/wallboard``."""
        local = f"{self.kind}:{self.ident}" if self.kind != "wallboard" else "wallboard"
        return local if self.org == DEFAULT_ORG else f"{self.org}/{local}"

    def state(self, now: datetime) -> str:
        """``active``, ``expired`` or ``revoked``."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if now >= self.expires_at else "active"


class EmbedLinkStore(Protocol):
    """The records of embed links; every method may raise EmbedStoreError or StoreUnavailable."""

    async def add(self, record: EmbedLinkRecord, now: datetime) -> None:
        """Keep ``record`` (its id is new); refuse past MAX_ACTIVE links active at ``now``."""

    async def get(self, link_id: str) -> EmbedLinkRecord | None: ...

    async def list(self) -> builtins.list[EmbedLinkRecord]:
        """Every kept record, newest first."""

    async def revoke(self, link_id: str, by: str, now: datetime) -> EmbedLinkRecord:
        """Mark the link revoked (once: a second revocation changes nothing)."""


def new_link_id() -> str:
    return secrets.token_hex(6)


class StoredEmbedLinks:
    """Embed links in the store's ``embed_links`` table."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._known: OrderedDict[str, EmbedLinkRecord | None] = OrderedDict()

    def __repr__(self) -> str:
        return f"StoredEmbedLinks({self.store.where!r})"

    async def add(self, record: EmbedLinkRecord, now: datetime) -> None:
        try:
            await self.store.embeds.add(_to_row(record), now, MAX_ACTIVE, KEEP_EXPIRED)
        except TooManyLinks:
            raise EmbedStoreError(
                f"{MAX_ACTIVE} embed links are active: revoke some before making more"
            ) from None
        except StoreConflict:
            raise EmbedStoreError("that embed link id is taken; make the link again") from None

    async def get(self, link_id: str) -> EmbedLinkRecord | None:
        try:
            row = await self.store.embeds.get(link_id[:32])
        except StoreUnavailable:
            return self._known.get(link_id)
        record = _from_row(row) if row is not None else None
        self._known[link_id] = record
        self._known.move_to_end(link_id)
        while len(self._known) > KNOWN:
            self._known.popitem(last=False)
        return record

    async def list(self) -> builtins.list[EmbedLinkRecord]:
        return [_from_row(row) for row in await self.store.embeds.all()]

    async def revoke(self, link_id: str, by: str, now: datetime) -> EmbedLinkRecord:
        row = await self.store.embeds.revoke(link_id[:32], by, now)
        if row is None:
            raise EmbedStoreError(f"no embed link {link_id[:32]!r}")
        return _from_row(row)


def _to_row(record: EmbedLinkRecord) -> EmbedRow:
    return EmbedRow(
        id=record.id,
        kind=record.kind,
        ident=record.ident,
        instance=record.instance,
        created_at=record.created_at,
        expires_at=record.expires_at,
        created_by=record.created_by[:128],
        revoked_at=record.revoked_at,
        revoked_by=record.revoked_by[:128],
        org=record.org,
    )


def _from_row(row: EmbedRow) -> EmbedLinkRecord:
    kind, instance = row.kind, row.instance
    if kind not in EMBED_KINDS or instance not in ("demo", "live"):
        raise EmbedStoreError(f"embed link {row.id!r} has no kind or instance")
    return EmbedLinkRecord(
        id=row.id,
        kind=kind,  # type: ignore[arg-type]  # checked just above
        ident=row.ident,
        instance=instance,  # type: ignore[arg-type]
        created_at=row.created_at,
        expires_at=row.expires_at,
        created_by=row.created_by,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
        org=row.org,
    )
