"""Each organisation's running parts kept in step with the org book, without a restart.

:class:`OrgRunner` owns the tenants: the fixed one of ``BURKI_API_KEY`` (never touched
by the book) and one per organisation of the store. It reads the book at start, every
``interval`` seconds, and when asked (:meth:`refresh`: a change on this node's /admin), so an
organisation added, removed or re-keyed by the CLI or on another node of a cluster takes
effect within ``interval``:

- added: its parts are built and started (REST client, sources, directory, monitor);
- removed: it leaves the tenants first (no new stream can open with its key), then its
  monitor stops, each of its streams tells its viewers "organisation removed" in band and
  ends, its directory stops and its REST client closes;
- re-keyed (or moved to another URL): a new tenant takes its place at once, then the old
  one's streams end ("key changed") and viewers reconnect onto streams of the new key.

A book that cannot be read (the database went away) leaves the tenants as they are:
that is logged once, and once more when it reads again. An organisation whose key no
longer opens (a wrong master key) keeps running on the key it opened with, logged once.

In a cluster the runner also has :class:`News` (the cluster's word that the book changed):
a change made on this node (:meth:`changed`) is told to the other nodes, and a word from
another node makes this one read the book at once instead of at its next refresh.

Ownership: the app's lifespan calls :meth:`start` and :meth:`close`; the refresh and
listening tasks are the runner's, and only they (or :meth:`refresh`, awaited) change the
tenants.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from webapp.orgs.book import Opened, OrgBook
from webapp.orgs.model import Org
from webapp.orgs.tenants import Tenant, Tenants
from webapp.relay.hub import Hub
from webapp.store.database import StoreError, one_line

log = logging.getLogger(__name__)

REMOVED = "This organisation was removed from the dashboard."
REKEYED = "This organisation's Burki key or URL changed: reconnecting."

Build = Callable[[Org, str], Tenant]  # an organisation's parts, from it and its key


class News(Protocol):
    """Word between the nodes of a cluster that the book changed (``cluster.booknews``)."""

    async def tell(self) -> None: ...

    async def listen(self, read_book: Callable[[], Awaitable[None]]) -> None: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class _Held:
    """What a running tenant was built from (a digest of its key: the key stays in the
    tenant's REST client and sources only)."""

    base_url: str
    key_digest: bytes


def _held(found: Opened) -> _Held:
    return _Held(found.org.base_url, hashlib.sha256(found.key.encode()).digest())


class OrgRunner:
    def __init__(
        self,
        tenants: Tenants,
        hub: Hub,
        book: OrgBook | None,
        build: Build,
        *,
        interval: float,
        news: News | None = None,
    ) -> None:
        self.tenants = tenants
        self.hub = hub
        self.book = book
        self.build = build
        self.interval = interval
        self.news = news  # None alone: no other node to tell or to hear from
        self.fixed: set[str] = set()  # BURKI_API_KEY's: not the book's to change
        self._held: dict[str, _Held] = {}
        self._refused: dict[str, str] = {}  # slug -> why its key does not open (logged once)
        self._unreadable = False
        self._lock = asyncio.Lock()  # one pass at a time: the loop's and /admin's
        self._task: asyncio.Task[None] | None = None
        self._listening: asyncio.Task[None] | None = None

    def add_fixed(self, tenant: Tenant) -> None:
        """The organisation of ``BURKI_API_KEY``: served from start to end, whatever the book."""
        self.tenants.add(tenant)
        self.fixed.add(tenant.slug)

    async def start(self) -> None:
        """Read the book once (its organisations served from the first request), start every
        tenant's monitor, then refresh in the background."""
        for tenant in self.tenants:
            _start(tenant)
        await self.refresh()
        if self.book is not None and self._task is None:
            self._task = asyncio.create_task(self._run(), name="org book refresh")
        if self.book is not None and self.news is not None and self._listening is None:
            self._listening = asyncio.create_task(
                self.news.listen(self.refresh), name="org book news"
            )

    async def changed(self) -> None:
        """The book was changed on this node: serve the change here before returning, then
        tell the other nodes of a cluster to read it now."""
        await self.refresh()
        if self.news is not None:
            await self.news.tell()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.refresh()
            except Exception:  # a bug must not end the refreshes for good
                log.exception("the organisation book refresh failed")

    async def refresh(self) -> None:
        """One pass: the tenants made to match the book (see the module's docstring)."""
        if self.book is None:
            return
        async with self._lock:
            try:
                opened, refused = await self.book.opened()
            except StoreError as exc:
                if not self._unreadable:
                    log.warning(
                        "the organisation book cannot be read (%s): serving the "
                        "organisations as they were",
                        one_line(exc),
                    )
                self._unreadable = True
                return
            if self._unreadable:
                log.info("the organisation book reads again")
                self._unreadable = False
            self._note_refused(refused)
            await self._apply({o.org.slug: o for o in opened}, set(refused))

    def _note_refused(self, refused: dict[str, str]) -> None:
        for slug, why in refused.items():
            if self._refused.get(slug) != why:
                log.error("organisation %s: %s", slug, why)
        self._refused = refused

    async def _apply(self, wanted: dict[str, Opened], kept: set[str]) -> None:
        for slug in list(self._held):
            if slug not in wanted and slug not in kept:
                await self._stop(slug, REMOVED, "organisation removed")
        for slug, found in wanted.items():
            if slug in self.fixed:
                continue
            held = self._held.get(slug)
            if held is None:
                self._add(found)
                log.info("organisation %s (%s) is served", slug, found.org.name)
            elif held != _held(found):
                old = self.tenants.remove(slug)
                self._held.pop(slug, None)
                self._add(found)
                if old is not None:
                    await self._close(old, REKEYED, "organisation re-keyed")
                log.info("organisation %s: its new key or URL is in use", slug)
            else:
                self.tenants.get(slug).org = found.org  # a new name shows at once

    def _add(self, found: Opened) -> None:
        tenant = self.build(found.org, found.key)
        self.tenants.add(tenant)
        self._held[found.org.slug] = _held(found)
        _start(tenant)

    async def _stop(self, slug: str, message: str, reason: str) -> None:
        self._held.pop(slug, None)
        tenant = self.tenants.remove(slug)
        if tenant is not None:
            await self._close(tenant, message, reason)
            log.info("organisation %s is no longer served", slug)

    async def _close(self, tenant: Tenant, message: str, reason: str) -> None:
        """Stop ``tenant``'s parts (it has left the tenants: nothing new opens with it)."""
        if tenant.monitor is not None:
            await tenant.monitor.close()
        await self.hub.end_org(tenant.slug, message, reason, sources=tenant.sources)
        await tenant.directory.close()
        await tenant.rest.aclose()

    async def close(self) -> None:
        """Stop refreshing, and stop every organisation's monitor and directory (the hub's
        own close ends the streams); then close the REST clients."""
        for task in (self._task, self._listening):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._task = self._listening = None
        if self.news is not None:
            await self.news.close()
        for tenant in self.tenants:
            if tenant.monitor is not None:
                await tenant.monitor.close()
            await tenant.directory.close()

    async def aclose_clients(self) -> None:
        """Close every REST client (after the hub: its streams' polls use them)."""
        for tenant in self.tenants:
            await tenant.rest.aclose()


def _start(tenant: Tenant) -> None:
    if tenant.monitor is not None:
        tenant.monitor.start()
