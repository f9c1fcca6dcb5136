"""Who is asking, and may they: resolved once per request by one ASGI gate.

A request's :class:`Principal` comes from, in this order: the SSO user header
(only from a trusted proxy, in SSO mode), an API token (``Authorization:
Bearer``, only on ``/api/`` and ``/metrics``), an embed link (``?token=``, only
on ``/embed/`` routes and only for the one call, campaign or wallboard it names, while
its record stands: see :mod:`webapp.access.embedlinks`), or the
signed session cookie (see :mod:`webapp.access.sessions`). Every request is
checked, so a resumed SSE stream is checked again; an open stream is checked
again every ``recheck`` seconds and ended when its principal no longer holds.

**Organisations.** A principal has a role per organisation (:class:`Roles`). The gate
checks the one the route's path names (``/o/{org}/...``; unprefixed, the default one)
and, for the multiplexed API, every one its ``call=``/``campaign=`` values name. An
organisation in which the principal has no role is refused with :class:`NoSuchOrg`, the
very answer an organisation that does not exist gets: nobody learns that another one
exists. An API token and an embed link have a role in their own organisation only.

What a route needs is declared on the route (:mod:`webapp.access.routes`);
the gate refuses by raising (:mod:`webapp.access.refusals`): nobody signed in,
a wrong role, a stream over its caps; each refusal is audited (repeats folded).
It builds no response: the error map (``webapp.pages.errorpages``), installed
around it, answers each refusal as a page, a redirect to sign-in or JSON.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Literal

from starlette.datastructures import Headers
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from webapp.access.audit import AuditLog
from webapp.access.caps import CapReached, Lease, SharedCaps, SharedPlace, StreamCaps
from webapp.access.embedlinks import EmbedLinkError, EmbedLinks, EmbedScope
from webapp.access.embedlinks import embed_scope as scope_of
from webapp.access.held import held_of
from webapp.access.netaddr import Network, contains
from webapp.access.refusals import BadStreams, Forbidden, NoSuchOrg, SignInNeeded
from webapp.access.routes import Need, OrgNeed, guard_of, opened_org, route_org, split_org
from webapp.access.sessions import SessionPolicy
from webapp.access.streamguard import Recheck, RevocableReceive, renewed, renews
from webapp.access.tokens import TokenStore
from webapp.access.users import Role, Roles, parse_role
from webapp.store.database import StoreError
from webapp.wire.streamkey import DEFAULT_ORG, BadStreamId

Via = Literal["page", "token", "embed", "sso"]
PEER = "burki.peer"  # the scope key of the TCP peer's address, before forwarded headers
REFUSAL_FOLD = 60.0  # seconds: repeated refusals of one kind from one address are one entry


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    roles: Roles
    via: Via
    scope: EmbedScope | None = None  # an embed link opens one call, campaign or the wallboard
    session: str | None = None  # what streams are capped per: a session, token or link
    org: str = DEFAULT_ORG  # the organisation of this request's route (the gate sets it)

    @property
    def role(self) -> Role | None:
        """The role in the organisation of this request's route (None: none there)."""
        return self.roles.role_in(self.org)

    def role_in(self, org: str) -> Role | None:
        return self.roles.role_in(org)

    def may(self, need: Need, org: str | None = None) -> bool:
        """Whether what ``need`` says may be opened in ``org`` (None: the organisation of
        this request's route). The admin pages span every
        organisation: a person needs to be an admin in every one (``users.role``), an API
        token (``/metrics``) to be an admin token of ``org``."""
        if need in ("public", "signed_in"):
            return True
        org = self.org if org is None else org
        role = self.roles.role_in(org)
        if role is None:
            return False
        if need == "admin":
            everywhere = self.roles.everywhere is Role.ADMIN and self.roles.only is None
            return role.is_admin and (everywhere or self.via == "token")
        kinds = ("call", "campaign") if need == "both" else (need,)
        return all(role.can_watch(kind) for kind in kinds)  # type: ignore[arg-type]

    def within(self, org: str) -> Principal:
        return replace(self, org=org)


@dataclass
class AuthConfig:
    mode: Literal["password", "sso"]
    tokens: TokenStore
    embeds: EmbedLinks
    sessions: SessionPolicy
    trusted: list[Network]
    sso_user_header: str
    sso_role_header: str
    sso_role_header_enabled: bool
    sso_roles: Callable[[str], Roles | None] | None  # None: no roles file configured


def embed_scope(path: str) -> EmbedScope | None:
    """What an ``/embed/`` path shows: /embed/calls/<sid>, /embed/campaigns/<id>,
    /embed/live/<view>/<kind>/<id>, /embed/wallboard and /embed/wallboard/updates; of the
    organisation an ``/o/{org}`` prefix names (unprefixed, the default one)."""
    org, path = split_org(path)
    org = DEFAULT_ORG if org is None else org
    parts = path.strip("/").split("/")
    try:
        if len(parts) == 3 and parts[1] in ("calls", "campaigns"):
            return scope_of(parts[1].removesuffix("s"), parts[2], org)
        if len(parts) == 5 and parts[1] == "live" and parts[3] in ("call", "campaign"):
            return scope_of(parts[3], parts[4], org)
        if parts[1:] in (["wallboard"], ["wallboard", "updates"]):
            return scope_of("wallboard", org=org)
    except (BadStreamId, IndexError):
        return None
    return None


def sso_role(config: AuthConfig, name: str, header: str) -> Roles | None:
    """The SSO user's roles: the roles file decides where there is one.

    The role header (a role in every organisation) counts only when enabled, and then
    only where no roles file is configured: it never raises (nor grants) a role the file
    gives, and a name the file does not list gets nothing.
    """
    if config.sso_roles is not None:
        return config.sso_roles(name)
    if not config.sso_role_header_enabled or not header:
        return None
    try:
        return Roles(parse_role(header))
    except ValueError:
        return None


def peer(conn: HTTPConnection) -> str | None:
    """The TCP peer: the proxy itself when one forwarded the request."""
    found = conn.scope.get(PEER)
    if isinstance(found, str):
        return found
    return conn.client.host if conn.client else None


def same_request(conn: HTTPConnection) -> tuple[object, ...] | None:
    """All a stream's re-check reads of its request (path, query, headers: the credentials
    among them; the address): two streams alike in it get the same answer at one moment.
    None for a stream that listens to its re-checks (a board of every organisation): its
    check tells its own listener, so it runs its own."""
    scope = conn.scope
    if renews(scope):
        return None
    return (
        scope.get("root_path"),
        scope.get("path"),
        scope.get("query_string"),
        tuple((bytes(name), bytes(value)) for name, value in scope.get("headers", ())),
        peer(conn),
        conn.client.host if conn.client else None,
    )


class Resolver:
    """Finds the principal of a request; never raises for bad input, only returns None."""

    def __init__(self, config: AuthConfig) -> None:
        self.config = config

    async def resolve(self, conn: HTTPConnection, *, check_idle: bool = True) -> Principal | None:
        _, path = split_org(conn.url.path)  # /o/acme/api/... is the API as /api/... is
        return (
            self._sso(conn)
            or (await self._token(conn.headers) if path.startswith(("/api/", "/metrics")) else None)
            or (await self._embed(conn) if path.startswith("/embed/") else None)
            or await self._session(conn, check_idle)
        )

    def _sso(self, conn: HTTPConnection) -> Principal | None:
        config = self.config
        if config.mode != "sso" or not contains(config.trusted, peer(conn)):
            return None
        name = conn.headers.get(config.sso_user_header, "").strip()[:128]
        if not name:
            return None
        roles = sso_role(config, name, conn.headers.get(config.sso_role_header, "").strip())
        return Principal(name, roles, "sso") if roles is not None else None

    async def _token(self, headers: Headers) -> Principal | None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        info = await self.config.tokens.verify(token.strip())
        if info is None:
            return None
        name = f"token:{info.name}"
        return Principal(name, info.roles, "token", session=name)

    async def _embed(self, conn: HTTPConnection) -> Principal | None:
        token = conn.query_params.get("token", "")
        scope = embed_scope(conn.url.path)
        if not token or scope is None:
            return None
        try:
            grant = await self.config.embeds.verify(token, scope)
        except (EmbedLinkError, StoreError):
            return None
        role = Role.MANAGER if scope.kind == "campaign" else Role.SUPERVISOR
        link = f"embed:{grant.link_id}"
        return Principal(link, Roles.one_org(scope.org, role), "embed", scope, link)

    async def _session(self, conn: HTTPConnection, check_idle: bool) -> Principal | None:
        if self.config.mode == "sso" or "session" not in conn.scope:
            return None  # in SSO mode only the proxy signs people in (its MFA, its policy)
        found = await self.config.sessions.resolve(conn.session, check_idle=check_idle)
        if found is None:
            return None
        return Principal(found.name, found.roles, "page", session=f"session:{found.session_id}")


class AuthGate:
    """ASGI middleware: resolve the principal, enforce the route's guard, store it in scope.

    Runs inside the session middleware (it reads the cookie) and outside the
    routes. It never reads the body, so SSE and uploads stream through.
    """

    def __init__(
        self,
        app: ASGIApp,
        resolver: Resolver,
        audit: AuditLog,
        caps: StreamCaps,
        recheck: float,
        shared_caps: SharedCaps | None = None,
        per_request: int = 16,
    ) -> None:
        self.app = app
        self.resolver = resolver
        self.audit = audit
        self.caps = caps
        self.recheck = recheck
        self.shared_caps = shared_caps  # a cluster's per-user and per-session counts
        self.per_request = per_request  # streams one (multiplexed) request may name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        guard, params = guard_of(scope)
        need = guard.need_for(params, conn.url.query)
        principal = None if need == "public" else await self.resolver.resolve(conn)
        if principal is not None:
            principal = principal.within(route_org(params))
        scope.setdefault("state", {})["principal"] = principal
        if need == "public":
            await self.app(scope, receive, send)
            return
        needs = guard.orgs_for(params, conn.url.query)
        refusal = self._refusal(conn, needs, principal)
        if refusal is not None:
            await self._audit_refusal(conn, principal, refusal)
            raise refusal
        if guard.stream and principal is not None:
            count = guard.streams_for(params, conn.url.query)
            await self._stream(conn, needs, principal, count, receive, send)
            return
        await self.app(scope, receive, send)

    async def _stream(
        self,
        conn: HTTPConnection,
        needs: list[OrgNeed],
        who: Principal,
        count: int,
        receive: Receive,
        send: Send,
    ) -> None:
        """Serve a response of ``count`` streams under the caps (each stream takes a place:
        each may be an upstream to Burki), ending it once its principal no longer holds.

        Raises :class:`BadStreams` for more than ``per_request`` streams and
        :class:`CapReached` (audited) when a cap is full; nothing is sent then. The re-check
        asks again in every organisation the request names: a role taken away in one of
        them ends the stream."""
        if count > self.per_request:
            raise BadStreams(self.per_request)
        lease, place = await self._places(conn, who, count)
        guarded = RevocableReceive(receive)
        started = False

        async def send_start(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        async def holds() -> bool:  # idle time is not checked: an open stream is activity
            now = await self.resolver.resolve(conn, check_idle=False)
            if now is None or self._refusal(conn, needs, now) is not None:
                return False
            return renewed(conn.scope, now.within(who.org))  # a board narrows what it shows

        recheck = Recheck(self.recheck, holds, guarded.revoke, share=partial(same_request, conn))
        held = held_of(conn.scope)
        try:
            await self.app(conn.scope, guarded, send_start)
        except BaseException:
            await _ended(lease, recheck, place)
            raise
        if held is not None and held.body is not None:
            # The body is served after the stack returns (webapp.access.held): the stream's
            # place and re-check last until it is over, the end as below.
            held.after(partial(_ended, lease, recheck, place, guarded, held.send))
        else:
            await _ended(lease, recheck, place, guarded, send if started else None)

    async def _places(
        self, conn: HTTPConnection, who: Principal, count: int
    ) -> tuple[Lease, SharedPlace | None]:
        """``count`` places under this node's caps and the cluster's; CapReached, audited."""
        try:
            lease = self.caps.take(who.name, who.session, count)
        except CapReached as exc:
            await self._audit_refusal(conn, who, exc)
            raise
        try:
            shared = self.shared_caps
            return lease, (await shared.take(who.name, who.session, count) if shared else None)
        except CapReached as exc:
            lease.release()
            await self._audit_refusal(conn, who, exc)
            raise

    @staticmethod
    def _refusal(
        conn: HTTPConnection, needs: list[OrgNeed], who: Principal | None
    ) -> Exception | None:
        """Why ``who`` may not have what ``needs`` says in each organisation (None: they may).

        An organisation they have no role in is :class:`NoSuchOrg` where the request names it
        or needs to watch something of it: the answer an unknown one gets."""
        if who is None:
            return SignInNeeded(conn.url.path + (f"?{conn.url.query}" if conn.url.query else ""))
        for each in needs:
            role = who.role_in(each.org)
            if role is None and (each.named or each.need in ("call", "campaign", "both")):
                return NoSuchOrg(each.org)
        for each in needs:
            if not who.may(each.need, each.org):
                role = who.role_in(each.org)
                return Forbidden(f"Your role ({role.value if role else 'none'}) may not open this.")
        if who.scope is not None and embed_scope(conn.url.path) != who.scope:
            return Forbidden("This link opens another page.")
        return None

    async def _audit_refusal(
        self, conn: HTTPConnection, who: Principal | None, refusal: Exception
    ) -> None:
        what = (
            "refused: sign-in needed"
            if isinstance(refusal, SignInNeeded)
            else "refused: no such organisation"
            if isinstance(refusal, NoSuchOrg)
            else "refused: too many streams"
            if isinstance(refusal, CapReached)
            else "refused: forbidden"
        )
        address = conn.client.host if conn.client else "unknown"
        name, via = (who.name, who.via) if who is not None else ("anonymous", None)
        org = refusal.org if isinstance(refusal, NoSuchOrg) else opened_org(conn.scope)
        await self.audit.record(
            name, via or "none", what, conn.url.path, address, fold=REFUSAL_FOLD, org=org
        )


async def _ended(
    lease: Lease,
    recheck: Recheck,
    place: SharedPlace | None,
    guarded: RevocableReceive | None = None,
    send: Send | None = None,
) -> None:
    """A stream response is over: a revoked one that stopped short is ended cleanly (on
    ``send``, when its start went out), then its places and its re-check are let go."""
    try:
        if guarded is not None and guarded.revoked and send is not None:
            with contextlib.suppress(RuntimeError, OSError):
                await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        lease.release()
        recheck.stop()
        if place is not None:
            await place.release()
