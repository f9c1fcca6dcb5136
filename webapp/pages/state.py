"""The application's running parts, typed: what every handler reads.

``webapp.app`` builds one :class:`AppState` when the app starts (its lifespan)
and keeps it as ``app.state.running``; a handler reads it with
:func:`app_state`, never by untyped ``app.state`` names. Uvicorn serves no
request before the lifespan has started, so a handler always finds it.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from webapp.access.wiring import Access, principal_of
from webapp.alerts.webhooks import WebhookDispatcher
from webapp.pages.directory import Directory
from webapp.relay.hub import Hub
from webapp.relay.metrics import Metrics
from webapp.wire.rest import BurkiRest

NAME = "running"


@dataclass
class AppState:
    access: Access
    metrics: Metrics
    rest: BurkiRest
    hub: Hub
    directory: Directory
    webhooks: WebhookDispatcher | None
    demo: bool  # the data is simulated: pages say so
    sso: bool  # people sign in through the SSO proxy, not a password form
    audit_retention_days: int
    attention_threshold: int = 20  # the overview lists calls from this score


def state_of(app: Starlette) -> AppState | None:
    """The app's running parts; None before its lifespan has started them."""
    found = getattr(app.state, NAME, None)
    return found if isinstance(found, AppState) else None


def app_state(conn: HTTPConnection) -> AppState:
    """The running parts of the app that serves ``conn``."""
    found = state_of(conn.app)
    if found is None:
        raise RuntimeError("the app's lifespan has not started")
    return found


async def record(conn: HTTPConnection, what: str) -> None:
    """Note in the audit log that this request's principal opened ``what``."""
    who = principal_of(conn)
    if who is None:
        return
    audit = app_state(conn).access.audit
    address = conn.client.host if conn.client else "unknown"
    await run_in_threadpool(audit.record, who.name, who.via, what, conn.url.path, address)
