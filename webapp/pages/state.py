"""The application's running parts, typed: what every handler reads.

``webapp.app`` builds one :class:`AppState` when the app starts (its lifespan)
and keeps it as ``app.state.running``; a handler reads it with
:func:`app_state`, never by untyped ``app.state`` names. Uvicorn serves no
request before the lifespan has started, so a handler always finds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import HTTPConnection

from webapp.access.audit import Via
from webapp.access.routes import opened_org
from webapp.access.users import Role
from webapp.access.wiring import Access, principal_of
from webapp.alerts.webhooks import WebhookDispatcher
from webapp.calls.redactor import RedactionConfig
from webapp.history.keeper import Keeper
from webapp.orgs.runner import OrgRunner
from webapp.orgs.tenants import Tenants
from webapp.pages.capabilities import ActionPolicy
from webapp.relay.hub import Hub
from webapp.relay.metrics import Metrics
from webapp.relay.ports import SharedStore
from webapp.wire.streamkey import StreamKey

NAME = "running"


@dataclass
class AppState:
    access: Access
    metrics: Metrics
    tenants: Tenants  # each organisation's REST, directory, missing ids and monitor
    hub: Hub
    webhooks: WebhookDispatcher | None
    demo: bool  # the data is simulated: pages say so
    sso: bool  # people sign in through the SSO proxy, not a password form
    audit_retention_days: int
    redaction: RedactionConfig
    unredact_roles: frozenset[Role]  # may see the unredacted transcript (audited)
    links_base: LinksBase  # where links the dashboard makes point
    attention_threshold: int  # the overview lists calls from this score (ATTENTION_THRESHOLD)
    store: SharedStore | None = None  # the cluster's Redis (None: one process alone)
    actions: ActionPolicy = field(default_factory=ActionPolicy)  # who may end calls, etc.
    history: Keeper | None = None  # alerts, actions and summaries in the store
    orgs: OrgRunner | None = None  # keeps the tenants in step with the org book


@dataclass(frozen=True, slots=True)
class LinksBase:
    """``DASHBOARD_PUBLIC_URL``, and the address the dashboard listens on."""

    public_url: str
    bind_host: str


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


RESUME_FOLD = 600.0  # seconds: a resume this soon after the same opening is the same viewing
ONCE_FOLD = 86_400.0  # seconds: a page recorded once per session is recorded again after this


async def record(
    conn: HTTPConnection,
    what: str,
    *,
    resume: bool = False,
    once: bool = False,
    org: str | None = None,
) -> None:
    """Note in the audit log that this request's principal opened ``what``.

    ``resume``: a stream resumed from an event id; folded into the entry of the
    same viewing when one was written in the last ten minutes. ``once``: a page
    view recorded once per session (or token, or embed link) and page, however
    often it is reloaded and its update stream reconnects (a day at most).
    ``org``: the organisation of what was opened; by default the one of the stream
    ``what`` names (``acme/call:CA1``), else the route's (:func:`opened_org`).
    """
    who = principal_of(conn)
    if who is None:
        return
    access = app_state(conn).access
    audit = access.audit
    fold = ONCE_FOLD if once else RESUME_FOLD if resume else 0.0
    session = (who.session or who.name) if once else ""
    path, address = conn.url.path, _address(conn)
    org = org if org is not None else org_of(conn, what)
    key = (who.name, who.via, what, address, session, org)  # the audit log's fold, org included
    if once and access.shared_once is not None and not await access.shared_once.first(key, fold):
        return  # another node of the cluster recorded this session's view of the page
    await audit.record(who.name, who.via, what, path, address, fold=fold, session=session, org=org)


class _AnyOrg:
    """Every organisation, for reading a stream key back from an entry's words."""

    def __contains__(self, slug: object) -> bool:
        return True


def org_of(conn: HTTPConnection, what: str) -> str:
    """The organisation of the first stream ``what`` names, else the route's."""
    for word in what.split():  # "made for acme/call:CA1, until ...", "end call:CA1: not sent"
        key = StreamKey.read(word.strip(",;()").rstrip(":"), _AnyOrg())
        if key is not None:
            return key.org
    return opened_org(conn.scope)


async def record_event(
    conn: HTTPConnection, who: str, what: str, *, fold: float = 0.0, via: Via = "none"
) -> None:
    """Note a sign-in event by a name that no principal of this request holds: a failed,
    throttled or refused sign-in (``via`` none), or a successful one (``via`` page)."""
    audit = app_state(conn).access.audit
    path, address = conn.url.path, _address(conn)
    await audit.record(who, via, what, path, address, fold=fold)


def _address(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client else "unknown"
