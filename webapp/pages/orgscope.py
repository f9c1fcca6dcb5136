"""Which Burki organisations a page shows, and the switcher between them.

The overview, the wallboard (and its TV mode), the shift report and the alert history
show one organisation under ``/o/{org}/...``, or, unprefixed, every organisation the
signed-in person may see: with one organisation only (a dashboard of ``BURKI_API_KEY``
alone, or a person who sees one) that is the one page it always was. An organisation
the person may not see answers exactly as one that does not exist (404, "No such
organisation."): a page never tells that another organisation exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection

from webapp.access.auth import Principal
from webapp.access.refusals import NoSuchOrg
from webapp.access.wiring import principal_of
from webapp.orgs.tenants import Tenant, Tenants
from webapp.pages.state import record, state_of
from webapp.relay.subscriber import Subscriber
from webapp.wire.streamkey import DEFAULT_ORG, quoted

Sees = Literal["call", "campaign", "any"]
# The pages that show one organisation or all: the switcher keeps to the page it is on.
SWITCHED = ("/", "/wallboard", "/history/shift", "/history/alerts")


def may_see(who: Principal | None, org: str, sees: Sees) -> bool:
    role = who.role_in(org) if who is not None else None
    if role is None:
        return False
    if sees == "any":
        return role.can_watch("call") or role.can_watch("campaign")
    return role.can_watch(sees)


def visible(tenants: Tenants, who: Principal | None, sees: Sees = "any") -> list[Tenant]:
    """The organisations ``who`` may see (``sees``: calls, campaigns, or either), in the
    book's order. An embed link sees its own organisation only (its key carries it)."""
    shown = [t for t in tenants if may_see(who, t.slug, sees)]
    scope = who.scope if who is not None else None
    if scope is not None:
        shown = [t for t in shown if t.slug == getattr(scope, "org", DEFAULT_ORG)]
    return shown


def org_base(slug: str) -> str:
    """The path prefix of an organisation's pages: none for the default one."""
    return "" if slug == DEFAULT_ORG else f"/o/{quoted(slug)}"


def page_base(scope: Scope) -> str:
    """The path prefix of a page of one organisation or all: ``/o/<org>`` where its path
    names one (the default one too: unprefixed is every organisation's), else none."""
    return f"/o/{quoted(scope.named)}" if scope.named is not None else ""


@dataclass(frozen=True, slots=True)
class Scope:
    """The organisations a page shows: ``shown``; ``named``: the one its path names
    (None: every one the person may see); ``tagged``: more than one shown, so each call
    and campaign carries its organisation's name."""

    shown: tuple[Tenant, ...]
    named: str | None

    @property
    def tagged(self) -> bool:
        return len(self.shown) > 1

    def name_of(self, slug: str) -> str:
        """The organisation's name as a tag: empty where the page shows one organisation."""
        if not self.tagged:
            return ""
        return next((t.org.name for t in self.shown if t.slug == slug), slug)

    @property
    def slugs(self) -> frozenset[str]:
        return frozenset(t.slug for t in self.shown)


def scope_of(conn: HTTPConnection, sees: Sees) -> Scope:
    """The organisations this request's page shows.

    Raises :class:`NoSuchOrg` (404, "No such organisation.") for an organisation the path
    names that the person may not see or that does not exist, and unprefixed when the
    person sees no organisation at all (the answer the default organisation's page gave;
    the overview, ``sees`` any, is then empty, as a signed-in person's with no role was);
    HTTPException 403 when they see some but may see ``sees`` in none."""
    tenants, who = _tenants(conn), principal_of(conn)
    named = conn.path_params.get("org")
    if isinstance(named, str):
        found = tenants.find(named)
        if found is None or not may_see(who, named, "any"):
            raise NoSuchOrg(named)
        scope = Scope((found,), named)
    else:
        if sees != "any" and not visible(tenants, who):
            raise NoSuchOrg(DEFAULT_ORG)
        scope = Scope(tuple(visible(tenants, who, sees)), None)
    if (not scope.shown and sees != "any") or (named and not may_see(who, named, sees)):
        raise HTTPException(403, "Your role may not see this.")
    conn.state.org_scope = scope  # the switcher marks what the page shows
    return scope


def rescoped(scope: Scope, tenants: Tenants, who: Principal | None, sees: Sees) -> Scope:
    """What an open board of every organisation (``scope``, named none) shows now that its
    stream's re-check found ``who``: the organisations of ``scope`` they may still see
    ``sees`` in and the dashboard still serves (each by the tenant serving it now: a
    re-keyed one's new parts), never one more than it showed."""
    allowed = {t.slug for t in visible(tenants, who, sees)}
    kept = (tenants.find(t.slug) for t in scope.shown if t.slug in allowed)
    return Scope(tuple(t for t in kept if t is not None), scope.named)


def rewatch(before: Scope, now: Scope, sub: Subscriber) -> None:
    """Move a board's subscriber from the directories of ``before`` to those of ``now``: it
    leaves those it no longer shows (their polls stop when nobody else watches), and stays
    on the shared bulletin through those it keeps."""
    for tenant in before.shown:
        if tenant not in now.shown:
            tenant.directory.unwatch(sub)
    for tenant in now.shown:
        tenant.directory.watch(sub)


def _tenants(conn: HTTPConnection) -> Tenants:
    running = state_of(conn.app)
    if running is None:
        raise RuntimeError("the app's lifespan has not started")
    return running.tenants


@dataclass(frozen=True, slots=True)
class Choice:
    label: str
    href: str
    current: bool


def switcher(conn: HTTPConnection) -> list[Choice]:
    """The switcher's entries for this page: "All organisations" and each organisation
    the person may see, the shown one marked; empty where there is nothing to switch."""
    running, who = state_of(conn.app), principal_of(conn)
    if running is None or who is None or who.scope is not None:
        return []
    orgs = visible(running.tenants, who)
    if len(orgs) < 2:
        return []
    scope = getattr(conn.state, "org_scope", None)
    here = _here(conn, scope)
    page = _page(conn)
    entries = [Choice("All organisations", page, here is None)]
    entries += [Choice(t.org.name, f"/o/{quoted(t.slug)}{page}", here == t.slug) for t in orgs]
    return entries


def _here(conn: HTTPConnection, scope: object) -> str | None:
    if isinstance(scope, Scope):
        return scope.named
    named = conn.path_params.get("org") if "path_params" in conn.scope else None
    return named if isinstance(named, str) else DEFAULT_ORG


def _page(conn: HTTPConnection) -> str:
    """The page of :data:`SWITCHED` this request shows (its path without ``/o/{org}``),
    else the overview."""
    path = conn.url.path
    if path.startswith("/o/"):
        path = "/" + path[3:].partition("/")[2]
    return path if path in SWITCHED else "/"


def nav_base(conn: HTTPConnection) -> str:
    """Where the nav's links point: the organisation the page's path names (its overview,
    wallboard and history), else the pages of every organisation (unprefixed)."""
    named = conn.path_params.get("org") if "path_params" in conn.scope else None
    return f"/o/{quoted(named)}" if isinstance(named, str) else ""


async def record_shown(
    conn: HTTPConnection, scope: Scope, what: str, *, resume: bool = False, once: bool = False
) -> None:
    """Note in the audit log that this request's principal opened ``what`` of each
    organisation the page shows: an entry each, so the audit log of one organisation (its
    filter, its CSV) holds every page that showed its calls."""
    if not scope.shown:
        await record(conn, what, resume=resume, once=once)
    for slug in sorted(scope.slugs):
        await record(conn, what, resume=resume, once=once, org=slug)
