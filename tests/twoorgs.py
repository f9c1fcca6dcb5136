"""A running dashboard serving a second Burki organisation, for the pages of several.

The dashboard starts with the default organisation (``BURKI_API_KEY``); :func:`another_org`
adds a second one at run time, with its own key, REST client, sources and directory,
exactly as a tenant is built (``webapp.orgparts.tenant``), and removes it after the block.
One simulator serves both, each with its own key and world (``Simulator(orgs=...)``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tests.conftest import SIM_KEY
from tests.live import LiveApp
from webapp.orgparts import ws_url
from webapp.orgs.model import Org
from webapp.orgs.tenants import Tenant
from webapp.simulator import Simulator
from webapp.watch.directory import Directory
from webapp.watch.missing import MissingIds
from webapp.wire.rest import BurkiRest
from webapp.wire.sources import Sources

OTHER_KEY = "globex-key-3a9e61c07d"
ORGS = {"default": SIM_KEY, "globex": OTHER_KEY}  # the simulator's worlds by key


@asynccontextmanager
async def another_org(
    live: LiveApp, sim: Simulator, slug: str = "globex", name: str = "Globex Sales"
) -> AsyncIterator[Tenant]:
    """The dashboard also serves ``slug`` (the simulator's world of the same name) until the
    block exits."""
    state = live.state
    first = state.tenants.first
    key = sim.org(slug).api_key
    # Its own Burki for streams too (``sim`` may be another simulator than the first's).
    config = dataclasses.replace(
        first.sources.config, api_key=key, ws_base_url=ws_url(sim.base_url)
    )
    async with BurkiRest(sim.base_url, key, timeout=5.0) as rest:
        directory = Directory(
            rest,
            first.directory.interval,
            first.directory.grace,
            bulletin=first.directory.bulletin,
            org=slug,
        )
        tenant = Tenant(
            Org(slug, name, sim.base_url),
            rest,
            Sources(config, rest, slug),
            directory,
            MissingIds(60.0),
        )
        state.tenants.add(tenant)
        try:
            yield tenant
        finally:
            state.tenants.remove(slug)
            await directory.close()
