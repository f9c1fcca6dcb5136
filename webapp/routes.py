"""The route table: every route, with what it needs and what the audit log gets of it.

``routes()`` is the table the app serves and ``tests/test_audit_doors.py`` walks; the
routes of one organisation's streams come twice (:func:`org_routes`), the boards twice
(:func:`view_routes`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from functools import wraps
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from webapp import probes
from webapp.access.routes import (
    PUBLIC,
    SIGNED_IN,
    Guard,
    GuardedRoute,
    OrgNeed,
    kind_param,
    streams_in_query,
    streams_named,
)
from webapp.orgs.tenants import UnknownOrg
from webapp.pages import (
    actions,
    admin,
    api,
    claims,
    exports,
    history,
    livepages,
    overview,
    signin,
    wallboard,
)
from webapp.pages.orgpaths import org_of
from webapp.pages.state import app_state
from webapp.settings import PROJECT_ROOT
from webapp.wire.streamkey import DEFAULT_ORG, ORG_PREFIX

Endpoint = Callable[[Request], Awaitable[Any]]
ORG_ROUTE = ORG_PREFIX + "{org}"  # the path parameter webapp.access.routes.route_org reads


async def favicon(request: Request) -> Response:
    """Browsers ask every page's origin for it: the icon, not a 404 in every log."""
    headers = {"Cache-Control": "public, max-age=86400"}
    return FileResponse(PROJECT_ROOT / "static" / "favicon.ico", headers=headers)


def every_org(params: Mapping[str, Any], query: str) -> list[OrgNeed]:
    """What an unprefixed overview, wallboard or history page needs of each organisation:
    nothing the gate can tell, since it shows every one the person may see, and the page
    picks them (``webapp.pages.orgscope``: none that a call role sees is a 403). Not the
    default organisation's role: a person of another one alone reads these pages too."""
    return []


def routes() -> list[BaseRoute]:
    """Every route, with what it needs and what the audit log gets declared on it (never read
    from words in its path); ``tests/test_audit_doors.py`` walks this table.

    The routes of an organisation's streams come twice, with the same names and guards:
    unprefixed for the default organisation and under ``/o/{org}`` for any other
    (:func:`org_routes`). Each is a route of the table itself, not a ``Mount``: the gate
    finds the route a request reaches, and its guard, by the router's own matching
    (:func:`webapp.access.routes.guard_of`), which does not look inside a mount.
    """
    admin_only, route = Guard("admin"), GuardedRoute
    return [
        route("/signin", signin.signin_form, name="signin", guard=PUBLIC, audit="none"),
        route(
            "/signin",
            signin.signin,
            methods=["POST"],
            name="signin_post",
            guard=PUBLIC,
            audit="each",
        ),
        route("/signin/link", signin.signin_link, name="signin_link", guard=PUBLIC, audit="each"),
        route(
            "/signout",
            signin.signout,
            methods=["POST"],
            name="signout",
            guard=SIGNED_IN,
            audit="each",
        ),
        route("/admin", admin.page, name="admin", guard=admin_only, audit="once"),
        route(
            "/admin/audit.csv",
            admin.audit_csv,
            name="admin_audit_csv",
            guard=admin_only,
            audit="each",
        ),
        route(
            "/admin/embed-link",
            admin.embed_link,
            methods=["POST"],
            name="admin_embed_link",
            guard=admin_only,
            audit="each",
        ),
        route(
            "/admin/embed-link/revoke",
            admin.embed_revoke,
            methods=["POST"],
            name="admin_embed_revoke",
            guard=admin_only,
            audit="each",
        ),
        route(
            "/admin/orgs",
            admin.org_add,
            methods=["POST"],
            name="admin_org_add",
            guard=admin_only,
            audit="each",
        ),
        route(
            "/admin/users/grant",
            admin.grant,
            methods=["POST"],
            name="admin_user_grant",
            guard=admin_only,
            audit="each",
        ),
        route(
            "/admin/orgs/remove",
            admin.org_remove,
            methods=["POST"],
            name="admin_org_remove",
            guard=admin_only,
            audit="each",
        ),
        route(
            "/admin/users/revoke",
            admin.revoke_role,
            methods=["POST"],
            name="admin_user_revoke",
            guard=admin_only,
            audit="each",
        ),
        route(
            "/admin/orgs/rotate-key",
            admin.org_rotate_key,
            methods=["POST"],
            name="admin_org_rotate_key",
            guard=admin_only,
            audit="each",
        ),
        route(
            "/admin/tokens",
            admin.token_create,
            methods=["POST"],
            name="admin_token_create",
            guard=admin_only,
            audit="each",
        ),
        route(
            "/admin/alert-test",
            admin.alert_test,
            methods=["POST"],
            name="admin_alert_test",
            guard=admin_only,
            audit="each",
        ),
        *view_routes(),
        *org_routes(in_org=False),
        *org_routes(in_org=True),
        route("/favicon.ico", favicon, name="favicon", guard=PUBLIC, audit="none"),
        route("/healthz", probes.healthz, name="healthz", guard=PUBLIC, audit="none"),
        route("/readyz", probes.readyz, name="readyz", guard=PUBLIC, audit="none"),
        route("/metrics", probes.metrics, name="metrics", guard=admin_only, audit="once"),
        Mount("/static", StaticFiles(directory=PROJECT_ROOT / "static"), name="static"),
    ]


def org_routes(*, in_org: bool) -> list[BaseRoute]:
    """The routes that show or act on one organisation's streams: as the default one serves
    them, or (``in_org``) under ``/o/{org}``, each refused with UnknownOrg (404) before its
    handler runs when the dashboard serves no such organisation."""
    call, campaign = Guard("call"), Guard("campaign")
    by_kind, call_stream = Guard(kind_param, stream=True), Guard("call", stream=True)

    def route(path: str, endpoint: Endpoint, **kw: Any) -> GuardedRoute:
        if not in_org:
            return GuardedRoute(path, endpoint, **kw)
        return GuardedRoute(ORG_ROUTE + path, org_checked(endpoint), **kw)

    return [
        route("/calls/{sid}", livepages.call_page, name="call", guard=call, audit="viewing"),
        route(
            "/calls/{sid}/claim",
            claims.claim,
            methods=["POST"],
            name="claim",
            guard=call,
            audit="each",
        ),
        route(
            "/calls/{sid}/end",
            actions.end_call_form,
            name="end_call_form",
            guard=call,
            audit="once",
        ),
        route(
            "/calls/{sid}/end",
            actions.end_call,
            methods=["POST"],
            name="end_call",
            guard=call,
            audit="each",
        ),
        route(
            "/campaigns/{campaign_id}/stop",
            actions.campaign_stop_form,
            name="campaign_stop_form",
            guard=campaign,
            audit="once",
        ),
        route(
            "/campaigns/{campaign_id}/control",
            actions.campaign_control,
            methods=["POST"],
            name="campaign_control",
            guard=campaign,
            audit="each",
        ),
        route(
            "/calls/{sid}/captions",
            livepages.captions_page,
            name="captions",
            guard=call,
            audit="viewing",
        ),
        route(
            "/calls/{sid}/transcript.{fmt}",
            exports.call_export,
            name="call_export",
            guard=call,
            audit="each",
        ),
        route(
            "/campaigns/{campaign_id}",
            livepages.campaign_page,
            name="campaign",
            guard=campaign,
            audit="viewing",
        ),
        route(
            "/embed/calls/{sid}",
            livepages.call_embed,
            name="call_embed",
            guard=call,
            audit="viewing",
        ),
        route(
            "/embed/campaigns/{campaign_id}",
            livepages.campaign_embed,
            name="campaign_embed",
            guard=campaign,
            audit="viewing",
        ),
        route(
            "/live/{view}/{kind}/{ident}",
            livepages.live_updates,
            name="live_updates",
            guard=by_kind,
            audit="viewing",
        ),
        route(
            "/embed/live/{view}/{kind}/{ident}",
            livepages.live_updates,
            name="embed_live_updates",
            guard=by_kind,
            audit="viewing",
        ),
        route(
            "/api/calls/{sid}/events",
            api.call_events,
            name="call_events",
            guard=call_stream,
            audit="viewing",
        ),
        route(
            "/api/campaigns/{campaign_id}/events",
            api.campaign_events,
            name="campaign_events",
            guard=Guard("campaign", stream=True),
            audit="viewing",
        ),
        route(
            "/api/events",
            api.multiplexed_events,
            name="events",
            guard=Guard(streams_in_query, stream=True, streams=streams_named),
            audit="viewing",
        ),
        route(
            "/api/calls/{sid}/transcript",
            exports.api_transcript,
            name="call_transcript",
            guard=call,
            audit="each",
        ),
    ]


def view_routes() -> list[BaseRoute]:
    """The overview, the wallboard, the alerts and the history: unprefixed, of every
    organisation the person may see (the page picks them: ``webapp.pages.orgscope``); under
    ``/o/{org}``, of that one alone, with the same names (``url_for(name, org=...)`` picks
    the prefixed one). Not wrapped in :func:`org_checked`: ``/o/default/`` is the default
    organisation's own board, where the switcher links."""
    every = Guard("call", orgs=every_org)  # a page of every organisation the person may see
    every_stream = Guard("call", stream=True, orgs=every_org)
    call, call_stream, route = Guard("call"), Guard("call", stream=True), GuardedRoute
    out: list[BaseRoute] = []
    for at, page, stream in (("", every, every_stream), ("/o/{org}", call, call_stream)):
        out += [
            route(f"{at}/", overview.page, name="index", guard=SIGNED_IN, audit="once"),
            route(f"{at}/alerts", overview.alert_history, name="alerts", guard=page, audit="once"),
            route(
                f"{at}/history/alerts",
                history.alerts_page,
                name="history_alerts",
                guard=page,
                audit="once",
            ),
            route(
                f"{at}/history/alerts.csv",
                history.alerts_csv,
                name="history_alerts_csv",
                guard=page,
                audit="each",
            ),
            route(
                f"{at}/history/shift",
                history.shift_page,
                name="shift_report",
                guard=page,
                audit="once",
            ),
            route(
                f"{at}/overview/updates",
                overview.updates,
                name="overview_updates",
                guard=Guard("signed_in", stream=True),
                audit="once",
            ),
            route(
                f"{at}/embed/wallboard",
                wallboard.embed_page,
                name="wallboard_embed",
                guard=call,
                audit="viewing",
            ),
            route(
                f"{at}/embed/wallboard/updates",
                wallboard.embed_updates,
                name="wallboard_embed_updates",
                guard=call_stream,
                audit="viewing",
            ),
            route(f"{at}/wallboard", wallboard.page, name="wallboard", guard=page, audit="viewing"),
            route(
                f"{at}/wallboard/updates",
                wallboard.updates,
                name="wallboard_updates",
                guard=stream,
                audit="viewing",
            ),
        ]
    return out


def org_checked(endpoint: Endpoint) -> Endpoint:
    """``endpoint`` under ``/o/{org}``: 404 ("No such organisation.") for a slug the dashboard
    does not serve, and for the default one, whose URLs have no prefix (one URL a stream)."""

    @wraps(endpoint)
    async def checked(request: Request) -> Any:
        org = org_of(request)
        if org == DEFAULT_ORG or org not in app_state(request).tenants:
            raise UnknownOrg(org)
        return await endpoint(request)

    return checked
