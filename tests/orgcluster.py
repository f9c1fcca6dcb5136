"""Several organisations on the cluster's nodes, for the cluster tests of organisations.

:func:`serve_org` gives a running node (``tests.live.LiveApp``) one more organisation, built
by the node's own ``parts`` (its REST client with the organisation's key, its sources, its
directory on the cluster's shared listing, its monitor when ``monitor_enabled``), as a node
does once it has read the organisation from the book; :func:`serving_org` does it on every
node of a cluster and closes what it opened.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from tests.live import FAST, LiveApp
from webapp import orgparts, parts
from webapp.cluster.replica import Cluster
from webapp.orgs.model import Org
from webapp.orgs.tenants import Tenant
from webapp.settings import Settings


def serve_org(live: LiveApp, org: Org, key: str, **overrides: Any) -> Tenant:
    """``live`` serves ``org`` (its Burki at ``org.base_url``, reached with ``key``) from now on."""
    settings = Settings(
        **(FAST | {"burki_api_key": key, "burki_base_url": org.base_url} | overrides)
    )
    integrations = live.hub.integrations
    sharing = integrations.sharing
    cluster = sharing if isinstance(sharing, Cluster) else None
    rest = parts.burki_rest(settings)
    bulletin = integrations.bulletin
    assert bulletin is not None, "the app's hub tells its directories through a bulletin"
    tenant = orgparts.tenant(settings, org, rest, cluster, bulletin)
    tenant.monitor = orgparts.monitor(settings, live.hub, tenant, cluster)  # MONITOR_ENABLED
    live.state.tenants.add(tenant)
    if tenant.monitor is not None:
        tenant.monitor.start()
    return tenant


@asynccontextmanager
async def serving_org(
    nodes: Sequence[LiveApp], org: Org, key: str, **overrides: Any
) -> AsyncIterator[list[Tenant]]:
    """Every one of ``nodes`` serves ``org`` until the block exits (then its parts close)."""
    tenants = [serve_org(live, org, key, **overrides) for live in nodes]
    try:
        yield tenants
    finally:
        for live, tenant in zip(nodes, tenants, strict=True):
            live.state.tenants.remove(org.slug)
            if tenant.monitor is not None:
                await tenant.monitor.close()
            await tenant.directory.close()
            await tenant.rest.aclose()
