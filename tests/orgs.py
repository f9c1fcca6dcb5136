"""A second Burki organisation on a running dashboard: its own key, on a simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tests.live import FAST, LiveApp
from webapp import parts
from webapp.orgs.model import Org
from webapp.orgs.tenants import Tenant
from webapp.settings import Settings
from webapp.simulator import Simulator

ACME_KEY = "acme-key-9d41c7e2b05a"


@asynccontextmanager
async def serving_org(
    live: LiveApp, sim: Simulator, key: str, slug: str = "acme", name: str = "Acme Support"
) -> AsyncIterator[Tenant]:
    """Organisation ``slug`` on ``live`` until the block exits: a REST client, sources,
    directory and missing ids of its own with ``key``, on ``sim`` (one of several
    organisations of one simulator, or a simulator of its own), as the dashboard's parts
    build them."""
    settings = Settings(**(FAST | {"burki_api_key": key, "burki_base_url": sim.base_url}))
    bulletin = live.hub.integrations.bulletin if live.hub.integrations is not None else None
    assert bulletin is not None
    async with parts.burki_rest(settings) as rest:
        tenant = parts.tenant(settings, Org(slug, name, sim.base_url), rest, None, bulletin)
        live.state.tenants.add(tenant)
        try:
            yield tenant
        finally:
            live.state.tenants.remove(slug)
            await tenant.directory.close()
