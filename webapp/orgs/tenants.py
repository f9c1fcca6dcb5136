"""Each organisation's running parts, and the book that finds them by slug or stream key.

A :class:`Tenant` is one organisation's REST client (its key), its sources, its
directory of listed calls and campaigns, its cache of ids Burki said do not exist and
its monitor. :class:`Tenants` is the hub's source book: a stream's sources are its own
organisation's, and an unknown organisation has none (:class:`UnknownOrg`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from webapp.orgs.model import Org
from webapp.watch.directory import Directory
from webapp.watch.missing import MissingIds
from webapp.watch.monitor import Monitor
from webapp.wire.rest import BurkiRest
from webapp.wire.sources import Sources
from webapp.wire.streamkey import DEFAULT_ORG, StreamKey


class UnknownOrg(LookupError):
    """No organisation of this dashboard has this slug."""

    def __init__(self, slug: str) -> None:
        super().__init__("No such organisation.")
        self.slug = slug


@dataclass(eq=False)
class Tenant:
    org: Org
    rest: BurkiRest
    sources: Sources
    directory: Directory
    missing: MissingIds  # ids this organisation's Burki just said it does not have
    monitor: Monitor | None = None  # every listed call held open (None: monitoring off)

    @property
    def slug(self) -> str:
        return self.org.slug


class Tenants:
    """The organisations this dashboard serves, in the order they were configured."""

    def __init__(self, tenants: Iterable[Tenant] = ()) -> None:
        self._by_slug: dict[str, Tenant] = {}
        for tenant in tenants:
            self.add(tenant)

    def add(self, tenant: Tenant) -> None:
        if tenant.slug in self._by_slug:
            raise ValueError(f"organisation {tenant.slug!r} twice")
        self._by_slug[tenant.slug] = tenant

    def remove(self, slug: str) -> Tenant | None:
        return self._by_slug.pop(slug, None)

    def get(self, slug: str) -> Tenant:
        """The organisation ``slug``; :class:`UnknownOrg` when there is none."""
        found = self._by_slug.get(slug)
        if found is None:
            raise UnknownOrg(slug)
        return found

    def find(self, slug: str) -> Tenant | None:
        return self._by_slug.get(slug)

    def of(self, key: StreamKey) -> Sources:
        """The hub's source book: the sources of the stream's own organisation."""
        return self.get(key.org).sources.of(key)

    @property
    def slugs(self) -> frozenset[str]:
        return frozenset(self._by_slug)

    @property
    def default(self) -> Tenant | None:
        """The organisation of ``BURKI_API_KEY`` (unprefixed URLs), if configured."""
        return self._by_slug.get(DEFAULT_ORG)

    @property
    def first(self) -> Tenant:
        """The default organisation, else the first configured (a dashboard has one at least)."""
        found = self.default or next(iter(self._by_slug.values()), None)
        if found is None:
            raise UnknownOrg(DEFAULT_ORG)
        return found

    def __contains__(self, slug: object) -> bool:
        return slug in self._by_slug

    def __iter__(self) -> Iterator[Tenant]:
        return iter(list(self._by_slug.values()))

    def __len__(self) -> int:
        return len(self._by_slug)
