"""Who is asking, and may they: resolved once per request by one ASGI gate.

A request's :class:`Principal` comes from, in this order: the SSO user header
(only from a trusted proxy, in SSO mode), an API token (``Authorization:
Bearer``, only on ``/api/`` and ``/metrics``), an embed link (``?token=``, only
on ``/embed/`` routes and only for the one call, campaign or wallboard it names, while
its record stands: see :mod:`webapp.access.embedlinks`), or the
signed session cookie (see :mod:`webapp.access.sessions`). Every request is
checked, so a resumed SSE stream is checked again; an open stream is checked
again every ``recheck`` seconds and ended when its principal no longer holds.

What a route needs is declared on the route (:mod:`webapp.access.routes`);
the gate refuses by raising (:mod:`webapp.access.refusals`): nobody signed in,
a wrong role, a stream over its caps; each refusal is audited (repeats folded).
It builds no response: the error map (``webapp.pages.errorpages``), installed
around it, answers each refusal as a page, a redirect to sign-in or JSON.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from starlette.datastructures import Headers
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from webapp.access.audit import AuditLog
from webapp.access.caps import CapReached, Lease, SharedCaps, SharedPlace, StreamCaps
from webapp.access.embedlinks import EmbedLinkError, EmbedLinks, EmbedScope
from webapp.access.embedlinks import embed_scope as scope_of
from webapp.access.netaddr import Network, contains
from webapp.access.refusals import BadStreams, Forbidden, SignInNeeded
from webapp.access.routes import Need, guard_of, local_path
from webapp.access.sessions import SessionPolicy
from webapp.access.streamguard import Recheck, RevocableReceive
from webapp.access.tokens import TokenStore
from webapp.access.users import Role, parse_role
from webapp.store.database import StoreError
from webapp.wire.streamkey import BadStreamId

Via = Literal["page", "token", "embed", "sso"]
PEER = "burki.peer"  # the scope key of the TCP peer's address, before forwarded headers
REFUSAL_FOLD = 60.0  # seconds: repeated refusals of one kind from one address are one entry


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: Role
    via: Via
    scope: EmbedScope | None = None  # an embed link opens one call, campaign or the wallboard
    session: str | None = None  # what streams are capped per: a session, token or link

    def may(self, need: Need) -> bool:
        if need in ("public", "signed_in"):
            return True
        if need == "admin":
            return self.role.is_admin
        kinds = ("call", "campaign") if need == "both" else (need,)
        return all(self.role.can_watch(kind) for kind in kinds)  # type: ignore[arg-type]


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
    sso_roles: Callable[[str], Role | None] | None  # None: no roles file configured


def embed_scope(path: str) -> EmbedScope | None:
    """What an ``/embed/`` path shows: /embed/calls/<sid>, /embed/campaigns/<id>,
    /embed/live/<view>/<kind>/<id>, /embed/wallboard and /embed/wallboard/updates."""
    parts = path.strip("/").split("/")
    try:
        if len(parts) == 3 and parts[1] in ("calls", "campaigns"):
            return scope_of(parts[1].removesuffix("s"), parts[2])
        if len(parts) == 5 and parts[1] == "live" and parts[3] in ("call", "campaign"):
            return scope_of(parts[3], parts[4])
        if parts[1:] in (["wallboard"], ["wallboard", "updates"]):
            return scope_of("wallboard")
    except (BadStreamId, IndexError):
        return None
    return None


def sso_role(config: AuthConfig, name: str, header: str) -> Role | None:
    """The SSO user's role: the roles file decides where there is one.

    The role header counts only when enabled, and then only where no roles
    file is configured: it never raises (nor grants) a role the file gives,
    and a name the file does not list gets nothing.
    """
    if config.sso_roles is not None:
        return config.sso_roles(name)
    if not config.sso_role_header_enabled or not header:
        return None
    try:
        return parse_role(header)
    except ValueError:
        return None


def peer(conn: HTTPConnection) -> str | None:
    """The TCP peer: the proxy itself when one forwarded the request."""
    found = conn.scope.get(PEER)
    if isinstance(found, str):
        return found
    return conn.client.host if conn.client else None


class Resolver:
    """Finds the principal of a request; never raises for bad input, only returns None."""

    def __init__(self, config: AuthConfig) -> None:
        self.config = config

    async def resolve(self, conn: HTTPConnection, *, check_idle: bool = True) -> Principal | None:
        path = local_path(conn.url.path)
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
        role = sso_role(config, name, conn.headers.get(config.sso_role_header, "").strip())
        return Principal(name, role, "sso") if role is not None else None

    async def _token(self, headers: Headers) -> Principal | None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        info = await self.config.tokens.verify(token.strip())
        if info is None:
            return None
        return Principal(f"token:{info.name}", info.role, "token", session=f"token:{info.name}")

    async def _embed(self, conn: HTTPConnection) -> Principal | None:
        token = conn.query_params.get("token", "")
        # The full path: a link names a stream of the default organisation, so it opens
        # nothing under ``/o/<org>/embed/`` (no scope) until links carry their organisation.
        scope = embed_scope(conn.url.path)
        if not token or scope is None:
            return None
        try:
            grant = await self.config.embeds.verify(token, scope)
        except (EmbedLinkError, StoreError):
            return None
        role = Role.MANAGER if scope.kind == "campaign" else Role.SUPERVISOR
        link = f"embed:{grant.link_id}"
        return Principal(link, role, "embed", scope, link)

    async def _session(self, conn: HTTPConnection, check_idle: bool) -> Principal | None:
        if self.config.mode == "sso" or "session" not in conn.scope:
            return None  # in SSO mode only the proxy signs people in (its MFA, its policy)
        found = await self.config.sessions.resolve(conn.session, check_idle=check_idle)
        if found is None:
            return None
        return Principal(found.name, found.role, "page", session=f"session:{found.session_id}")


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
        scope.setdefault("state", {})["principal"] = principal
        if need == "public":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(conn, need, principal)
        if refusal is not None:
            await self._audit_refusal(conn, principal, refusal)
            raise refusal
        if guard.stream and principal is not None:
            count = guard.streams_for(params, conn.url.query)
            await self._stream(conn, need, principal, count, receive, send)
            return
        await self.app(scope, receive, send)

    async def _stream(
        self,
        conn: HTTPConnection,
        need: Need,
        who: Principal,
        count: int,
        receive: Receive,
        send: Send,
    ) -> None:
        """Serve a response of ``count`` streams under the caps (each stream takes a place:
        each may be an upstream to Burki), ending it once its principal no longer holds.

        Raises :class:`BadStreams` for more than ``per_request`` streams and
        :class:`CapReached` (audited) when a cap is full; nothing is sent then."""
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
            return now is not None and self._refusal(conn, need, now) is None

        recheck = Recheck(self.recheck, holds, guarded.revoke)
        try:
            await self.app(conn.scope, guarded, send_start)
            if guarded.revoked and started:  # the response stopped short: end it cleanly
                with contextlib.suppress(RuntimeError, OSError):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            lease.release()
            recheck.stop()
            if place is not None:
                await place.release()

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
    def _refusal(conn: HTTPConnection, need: Need, who: Principal | None) -> Exception | None:
        """Why ``who`` may not have what ``need`` says (None: they may)."""
        if who is None:
            return SignInNeeded(conn.url.path + (f"?{conn.url.query}" if conn.url.query else ""))
        if not who.may(need) or (who.scope is not None and embed_scope(conn.url.path) != who.scope):
            return Forbidden(f"Your role ({who.role.value}) may not open this.")
        return None

    async def _audit_refusal(
        self, conn: HTTPConnection, who: Principal | None, refusal: Exception
    ) -> None:
        what = (
            "refused: sign-in needed"
            if isinstance(refusal, SignInNeeded)
            else "refused: too many streams"
            if isinstance(refusal, CapReached)
            else "refused: forbidden"
        )
        address = conn.client.host if conn.client else "unknown"
        name, via = (who.name, who.via) if who is not None else ("anonymous", None)
        await self.audit.record(
            name, via or "none", what, conn.url.path, address, fold=REFUSAL_FOLD
        )
