"""The org book: the organisations of the store, each with its Burki key sealed.

Add, list, remove, rotate an organisation's Burki key, and re-seal every key under the
newest master key (``rewrap``). A key is taken once, when entered, and only a masked
confirmation (its last 4 characters) comes back; a listing shows when a key was set and
a fingerprint, never the key. The running dashboard reads :meth:`OrgBook.opened`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from webapp.orgs.model import Org, OrgError, checked_name, checked_slug, checked_url
from webapp.orgs.sealing import MASTER_KEY_HELP, MasterKey, MasterKeyError, fingerprint, masked
from webapp.store.orgs import OrgRow, OrgRows

MAX_KEY = 1024


class NoSuchOrg(OrgError):
    def __init__(self, slug: str) -> None:
        super().__init__(f"there is no organisation {slug!r}")


@dataclass(frozen=True, slots=True)
class Listed:
    """One organisation as a listing shows it: never its key."""

    org: Org
    created_at: datetime | None
    key_set_at: datetime | None
    fingerprint: str  # "fp:…", or why there is none ("does not open", "no master key")


@dataclass(frozen=True, slots=True)
class Opened:
    """An organisation and its key, opened for its REST client and sources only."""

    org: Org
    key: str

    def __repr__(self) -> str:
        return f"Opened({self.org!r})"


def checked_key(key: str) -> str:
    """A Burki key as typed or piped: stripped, 1 to 1024 printable characters, no spaces."""
    key = key.strip()
    if not key or len(key) > MAX_KEY or not key.isascii() or not key.isprintable() or " " in key:
        raise OrgError(f"a Burki key is 1 to {MAX_KEY} printable characters without spaces")
    return key


def checked_transport(url: str, allow_insecure: bool) -> str:
    """``url`` unless it is http:// to another machine (the key would travel in clear)."""
    host = urlsplit(url).hostname or ""
    if url.startswith("http://") and not allow_insecure and not _is_loopback(host):
        raise OrgError(
            "http:// to a Burki that is not on this machine sends the key in clear: use "
            "https:// (or set BURKI_ALLOW_INSECURE=true)"
        )
    return url


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class OrgBook:
    """The store's organisations, their keys sealed under ``master`` (None: not set)."""

    def __init__(
        self,
        rows: OrgRows,
        master: MasterKey | None,
        *,
        allow_insecure: bool = False,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.rows = rows
        self.master = master
        self.allow_insecure = allow_insecure
        self.clock = clock

    def require_master(self) -> MasterKey:
        if self.master is None:
            raise MasterKeyError(
                f"BURKI_MASTER_KEY (or BURKI_MASTER_KEY_FILE) is not set: {MASTER_KEY_HELP}"
            )
        return self.master

    async def add(self, slug: str, name: str, url: str, key: str) -> tuple[Org, str]:
        """Keep a new organisation with its key sealed; the org and the key, masked."""
        org = Org(
            checked_slug(slug.strip()),
            checked_name(name),
            checked_transport(checked_url(url), self.allow_insecure),
        )
        key = checked_key(key)
        if await self.rows.history_left(org.slug):
            raise OrgError(
                f"the history of a removed organisation {org.slug!r} is still kept (until it "
                "is pruned): choose another slug, so that nobody of the new one sees it"
            )
        now = self.clock()
        sealed = self.require_master().seal(org.slug, key)
        await self.rows.add(OrgRow(org.slug, org.name, org.base_url, sealed, now, now))
        return org, masked(key)

    async def put(self, org: Org, key: str) -> None:
        """Keep ``org`` with ``key`` whether or not it exists (the demo's, at each start)."""
        now = self.clock()
        sealed = self.require_master().seal(org.slug, checked_key(key))
        await self.rows.put(OrgRow(org.slug, org.name, org.base_url, sealed, now, now))

    async def listed(self) -> list[Listed]:
        """Every organisation with when its key was set and a fingerprint, never the key."""
        return [
            Listed(_org(row), row.created_at, row.key_set_at, self._fingerprint(row))
            for row in await self.rows.all()
        ]

    def _fingerprint(self, row: OrgRow) -> str:
        if self.master is None:
            return "(no master key)"
        try:
            return fingerprint(self.master.open(row.slug, row.sealed_key))
        except MasterKeyError:
            return "(does not open)"

    async def remove(self, slug: str) -> None:
        """Forget ``slug``, its key, and every grant, token and embed link of it (revoked)."""
        if not await self.rows.remove(slug, self.clock()):
            raise NoSuchOrg(slug)

    async def rotate_key(self, slug: str, key: str) -> str:
        """A new Burki key for ``slug``; the new key, masked."""
        key = checked_key(key)
        sealed = self.require_master().seal(slug, key)
        if not await self.rows.set_key(slug, sealed, self.clock()):
            raise NoSuchOrg(slug)
        return masked(key)

    async def rewrap(self) -> int:
        """Re-seal every key under the newest master key; how many. Opens them all first,
        so a key no master key opens stops it before anything is written."""
        master = self.require_master()
        rows = await self.rows.all()
        resealed = [(row.slug, master.rewrap(row.slug, row.sealed_key)) for row in rows]
        for slug, sealed in resealed:
            await self.rows.set_key(slug, sealed, None)
        return len(resealed)

    async def opened(self) -> tuple[list[Opened], dict[str, str]]:
        """Every organisation whose key opens, with it; and those whose key does not, with
        why (a sentence without any key), left out so that the others still run."""
        found, refused = [], {}
        for row in await self.rows.all():
            try:
                key = self.require_master().open(row.slug, row.sealed_key)
                found.append(Opened(_org(row), key))
            except MasterKeyError as exc:
                refused[row.slug] = str(exc)
        return found, refused


def _org(row: OrgRow) -> Org:
    return Org(row.slug, row.name, row.base_url)
