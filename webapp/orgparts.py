"""Each Burki organisation's running parts, built from the settings: its REST client and
key, sources, directory, missing ids and monitor (:class:`TenantBuilder`), and the lookups
the hub and the alert routes make by organisation."""

from __future__ import annotations

from dataclasses import replace

from webapp.cluster import startup
from webapp.cluster.booknews import BookNews
from webapp.cluster.listing import RedisListing
from webapp.cluster.monitoring import RedisPlacement
from webapp.cluster.replica import Cluster
from webapp.configs import (
    monitor_config,
    upstream_config,
)
from webapp.logs import mask_too
from webapp.orgs.book import OrgBook
from webapp.orgs.model import Org
from webapp.orgs.tenants import Tenant, Tenants
from webapp.relay.bulletin import Bulletin
from webapp.relay.hub import Hub
from webapp.settings import Settings
from webapp.store.store import Store
from webapp.watch.assistants import fallback_name
from webapp.watch.directory import Directory
from webapp.watch.missing import MissingIds
from webapp.watch.monitor import Monitor
from webapp.watch.placement import Alone
from webapp.wire.rest import BurkiRest
from webapp.wire.sources import Sources
from webapp.wire.streamkey import DEFAULT_ORG, StreamKey
from webapp.wire.upstream import UpstreamConfig


def org_book(settings: Settings, database: Store) -> OrgBook:
    """The store's organisations, their keys sealed under ``BURKI_MASTER_KEY``."""
    return OrgBook(database.orgs, settings.master_key, allow_insecure=settings.burki_allow_insecure)


def book_news(settings: Settings, store: Cluster | None) -> BookNews | None:
    """The cluster's word that the org book changed; None alone (no other node)."""
    if store is None or settings.redis_url is None:
        return None
    return BookNews.connect(settings.redis_url.get_secret_value(), store.bus.config.node_id)


def rest_client(settings: Settings, base_url: str, key: str) -> BurkiRest:
    """A REST client of the Burki at ``base_url`` with ``key``, as the settings configure
    every one (timeout, CA bundle, the caller numbers it redacts)."""
    return BurkiRest(
        base_url,
        key,
        timeout=settings.burki_rest_timeout,
        ca_bundle=str(settings.burki_ca_bundle) if settings.burki_ca_bundle else None,
        callers=settings.redaction_caller_numbers,
    )


class TenantBuilder:
    """Builds an organisation's parts from it and its key: its own REST client (base URL
    and key), sources, directory, missing ids and monitor."""

    def __init__(
        self, settings: Settings, hub: Hub, store: Cluster | None, bulletin: Bulletin
    ) -> None:
        self.settings, self.hub, self.store, self.bulletin = settings, hub, store, bulletin

    def __call__(self, org: Org, key: str) -> Tenant:
        settings = self.settings
        mask_too(key)  # the last line of defence knows this key too
        rest = rest_client(settings, org.base_url, key)
        config = replace(upstream_config(settings), ws_base_url=ws_url(org.base_url), api_key=key)
        each = tenant(settings, org, rest, self.store, self.bulletin, config)
        each.monitor = monitor(settings, self.hub, each, self.store)
        return each


def ws_url(base_url: str) -> str:
    """The WebSocket base of a Burki base URL (https->wss, http->ws)."""
    return "ws" + base_url.removeprefix("http")


def monitors_of(tenants: Tenants) -> list[Monitor]:
    """Every organisation's monitor now (an organisation added later included)."""
    return [each.monitor for each in tenants if each.monitor is not None]


def default_org(settings: Settings) -> Org:
    """The organisation of ``BURKI_API_KEY`` (or the demo's simulator)."""
    return Org(DEFAULT_ORG, settings.burki_org_name, settings.burki_base_url)


def tenant(
    settings: Settings,
    org: Org,
    rest: BurkiRest,
    store: Cluster | None,
    bulletin: Bulletin,
    config: UpstreamConfig | None = None,
) -> Tenant:
    """One organisation's parts: its sources and its directory (the monitor comes with the hub)."""
    interval = settings.directory_poll_interval
    listing = RedisListing(store.bus, interval, org.slug) if store is not None else None
    directory = Directory(
        rest, interval, settings.relay_grace_period, shared=listing, bulletin=bulletin, org=org.slug
    )
    return Tenant(
        org=org,
        rest=rest,
        sources=Sources(config or upstream_config(settings), rest, org.slug),
        directory=directory,
        missing=MissingIds(settings.dashboard_missing_cache_seconds),
    )


def monitor(settings: Settings, hub: Hub, each: Tenant, store: Cluster | None) -> Monitor | None:
    """The organisation's monitor, when monitoring is on (``MONITOR_ENABLED``)."""
    found = Monitor(
        hub,
        each.directory,
        monitor_config(settings),
        RedisPlacement(store.bus, each.slug)
        if store is not None
        else Alone(startup.node_id(settings.dashboard_node_id)),
        org=each.slug,
    )
    return found if found.enabled else None


async def assistant_name(tenants: Tenants, key: StreamKey, assistant: int) -> str:
    """The assistant's name as the stream's own organisation's Burki lists it."""
    found = tenants.find(key.org)
    if found is None:
        return fallback_name(assistant)
    return await found.directory.assistants.name_of(assistant)


def org_name(tenants: Tenants, slug: str) -> str:
    """The organisation's display name as the dashboard knows it now (its slug if unknown)."""
    found = tenants.find(slug)
    return found.org.name if found is not None else slug
