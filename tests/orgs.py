"""A real dashboard serving two Burki organisations, both played by one simulator.

The simulator serves ``default`` (the dashboard's ``BURKI_API_KEY``) and ``globex``, each
with its own key and world; the dashboard gets a second tenant, ``globex``, with its own
REST client (its key), sources, directory, missing ids and monitor. Until the org book
builds tenants from the store (h-orgbook), the second one is added here the way a
running dashboard adds an organisation: into ``state.tenants``, its monitor started; the
app's lifespan closes every tenant's monitor and directory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tests.live import FAST, SESSION_SECRET, LiveApp, running_app
from webapp import orgparts, parts
from webapp.orgs.model import Org
from webapp.orgs.tenants import Tenant
from webapp.settings import Settings
from webapp.simulator import Simulator
from webapp.wire.rest import BurkiRest

ACME_KEY = "acme-key-5d0c2e19b7"  # the default organisation's (BURKI_API_KEY)
GLOBEX_KEY = "globex-key-a83f61c4d2"
GLOBEX = "globex"


@asynccontextmanager
async def two_org_sim(**kwargs: Any) -> AsyncIterator[Simulator]:
    """One simulator serving ``default`` and ``globex`` (no autoplay unless asked)."""
    options = {"autoplay": False} | kwargs
    async with Simulator(orgs={"default": ACME_KEY, GLOBEX: GLOBEX_KEY}, **options) as sim:
        yield sim


@asynccontextmanager
async def two_org_app(
    sim: Simulator,
    *,
    globex_url: str | None = None,
    globex_key: str = GLOBEX_KEY,
    **overrides: Any,
) -> AsyncIterator[LiveApp]:
    """A dashboard whose default organisation is ``sim``'s ``default`` and whose second,
    ``globex``, is at ``globex_url`` (default: the same simulator) with ``globex_key``."""
    url = globex_url or sim.base_url
    settings = Settings(
        **(
            FAST
            | overrides
            | {
                "burki_api_key": globex_key,
                "burki_base_url": url,
                "dashboard_session_secret": SESSION_SECRET,
            }
        )
    )
    async with (
        parts.burki_rest(settings) as rest,
        running_app(sim, burki_api_key=ACME_KEY, **overrides) as live,
    ):
        add_org(live, settings, Org(GLOBEX, "Globex Sales", url), rest)
        yield live


def add_org(live: LiveApp, settings: Settings, org: Org, rest: BurkiRest) -> Tenant:
    """Add ``org`` to the running dashboard, its monitor started when monitoring is on."""
    state = live.state
    bulletin = state.tenants.first.directory.bulletin  # the lists' one bulletin
    tenant = orgparts.tenant(settings, org, rest, None, bulletin)
    state.tenants.add(tenant)
    tenant.monitor = orgparts.monitor(settings, state.hub, tenant, None)
    if tenant.monitor is not None:
        tenant.monitor.start()
    return tenant


def asked_with(sim: Simulator, org: str | None, *idents: str) -> list[str]:
    """The requests made with ``org``'s key whose path names one of ``idents``."""
    return [
        f"{entry.channel} {entry.method} {entry.path}"
        for entry in sim.requests.of(org)
        if any(entry.names(ident) for ident in idents)
    ]
