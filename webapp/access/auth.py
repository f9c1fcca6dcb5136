"""Who is asking, and may they: resolved once per request by one ASGI gate.

A request's :class:`Principal` comes from, in this order: the SSO user header
(only from a trusted proxy, in SSO mode), an API token (``Authorization:
Bearer``, only on ``/api/`` and ``/metrics``), an embed link (``?token=``, only
on ``/embed/`` routes and only for the one call or campaign it names), or the
signed session cookie (idle and absolute timeouts, and the user must still
exist with that role). Every request is checked, so a resumed SSE stream is
checked again: a revoked token, a removed user or an expired session stops an
open stream at its next reconnect.

What a path needs is decided by :func:`requirement`; the gate answers a
missing principal with 401 JSON (API) or a redirect to sign-in (pages), and a
wrong role with 403.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs, quote

from starlette.datastructures import Headers
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from webapp.access.embedlinks import EmbedLinkError, EmbedSigner
from webapp.access.netaddr import Network, contains
from webapp.access.tokens import TokenStore
from webapp.access.users import Role, UserStore, parse_role
from webapp.wire.streamkey import BadStreamId, StreamKey

Via = Literal["page", "token", "embed", "sso"]
Need = Literal["public", "signed_in", "call", "campaign", "both", "admin"]

PUBLIC = ("/static/", "/healthz", "/readyz", "/signin")
SESSION_REFRESH = 60.0  # seconds between rewrites of the session's last-seen time


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: Role
    via: Via
    scope: StreamKey | None = None  # an embed link opens exactly one stream

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
    users: UserStore
    tokens: TokenStore
    embeds: EmbedSigner
    idle: float
    max_age: float
    trusted: list[Network]
    sso_user_header: str
    sso_role_header: str
    sso_roles: Callable[[str], Role | None]
    clock: Callable[[], float] = time.time  # seconds since the epoch; tests set it by hand


def requirement(path: str, query: str) -> Need:
    """What a path needs. Pages and streams of calls need a call role, of campaigns a
    campaign role; the multiplexed API needs whatever its streams need."""
    if path.startswith(PUBLIC):
        return "public"
    if path.startswith(("/admin", "/metrics")):
        return "admin"
    if path.startswith("/api/events"):
        params = parse_qs(query)
        if "call" in params and "campaign" in params:
            return "both"
        return "campaign" if "campaign" in params else "call" if "call" in params else "signed_in"
    parts = path.strip("/").split("/")[:4]
    if any(part in ("calls", "call", "wallboard") for part in parts):
        return "call"
    if any(part in ("campaigns", "campaign") for part in parts):
        return "campaign"
    return "signed_in"


def embed_scope(path: str) -> StreamKey | None:
    """The stream an ``/embed/`` path shows: /embed/calls/<sid>, /embed/live/<view>/<kind>/<id>."""
    parts = path.strip("/").split("/")
    try:
        if len(parts) == 3 and parts[1] == "calls":
            return StreamKey.call(parts[2])
        if len(parts) == 3 and parts[1] == "campaigns":
            return StreamKey.campaign(parts[2])
        if len(parts) == 5 and parts[1] == "live":
            return StreamKey.parse(f"{parts[3]}:{parts[4]}")
    except BadStreamId:
        return None
    return None


class Resolver:
    """Finds the principal of a request; never raises for bad input, only returns None."""

    def __init__(self, config: AuthConfig) -> None:
        self.config = config

    def resolve(self, conn: HTTPConnection) -> Principal | None:
        path = conn.url.path
        return (
            self._sso(conn)
            or (self._token(conn.headers) if path.startswith(("/api/", "/metrics")) else None)
            or (self._embed(conn) if path.startswith("/embed/") else None)
            or self._session(conn)
        )

    def _sso(self, conn: HTTPConnection) -> Principal | None:
        config = self.config
        if config.mode != "sso" or not contains(config.trusted, _client(conn)):
            return None
        name = conn.headers.get(config.sso_user_header, "").strip()[:128]
        if not name:
            return None
        role_text = conn.headers.get(config.sso_role_header, "").strip()
        try:
            role = parse_role(role_text) if role_text else config.sso_roles(name)
        except ValueError:
            role = None
        return Principal(name, role, "sso") if role is not None else None

    def _token(self, headers: Headers) -> Principal | None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        info = self.config.tokens.verify(token.strip())
        return Principal(f"token:{info.name}", info.role, "token") if info else None

    def _embed(self, conn: HTTPConnection) -> Principal | None:
        token = conn.query_params.get("token", "")
        scope = embed_scope(conn.url.path)
        if not token or scope is None:
            return None
        try:
            self.config.embeds.verify(token, scope.kind, scope.id)
        except EmbedLinkError:
            return None
        role = Role.SUPERVISOR if scope.kind == "call" else Role.MANAGER
        return Principal(f"embed:{scope}", role, "embed", scope)

    def _session(self, conn: HTTPConnection) -> Principal | None:
        if "session" not in conn.scope:
            return None
        session: dict[str, Any] = conn.session
        name, now = session.get("user"), self.config.clock()
        started, seen = session.get("iat", 0), session.get("seen", 0)
        if not isinstance(name, str) or not isinstance(started, int | float):
            return None
        if now - started > self.config.max_age or now - float(seen) > self.config.idle:
            session.pop("user", None)
            return None
        user = self.config.users.get(name) if session.get("via") != "demo" else None
        role = user.role if user else _demo_role(session)
        if role is None:
            return None
        if now - float(seen) > SESSION_REFRESH:
            session["seen"] = int(now)
        return Principal(name, role, "page")


def _demo_role(session: dict[str, Any]) -> Role | None:
    if session.get("via") != "demo":
        return None
    try:
        return parse_role(str(session.get("role")))
    except ValueError:
        return None


def _client(conn: HTTPConnection) -> str | None:
    return conn.client.host if conn.client else None


def start_session(conn: HTTPConnection, name: str, role: Role, *, demo: bool = False) -> None:
    """A fresh session (a new CSRF token too: no fixation across sign-in)."""
    conn.session.clear()
    now = int(time.time())
    conn.session.update({"user": name, "iat": now, "seen": now, "csrf": secrets.token_urlsafe(24)})
    if demo:
        conn.session.update({"via": "demo", "role": role.value})


def csrf_token(conn: HTTPConnection) -> str:
    """The session's CSRF token, created on first use (also for signed-out visitors)."""
    token = conn.session.get("csrf")
    if not isinstance(token, str):
        token = conn.session["csrf"] = secrets.token_urlsafe(24)
    return token


def csrf_ok(conn: HTTPConnection, submitted: str | None) -> bool:
    expected = conn.session.get("csrf")
    if not isinstance(expected, str) or not submitted:
        return False
    # As bytes: compare_digest refuses non-ASCII str, and a hostile form may send anything.
    return secrets.compare_digest(expected.encode(), str(submitted).encode())


class AuthGate:
    """ASGI middleware: resolve the principal, enforce :func:`requirement`, store it in scope.

    Runs inside the session middleware (it reads the cookie) and outside the
    routes. It never reads the body, so SSE and uploads stream through.
    """

    def __init__(self, app: ASGIApp, resolver: Resolver) -> None:
        self.app = app
        self.resolver = resolver

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        need = requirement(conn.url.path, conn.url.query)
        principal = None if need == "public" else self.resolver.resolve(conn)
        scope.setdefault("state", {})["principal"] = principal
        if need != "public":
            refusal = self._refusal(conn, need, principal)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _refusal(conn: HTTPConnection, need: Need, who: Principal | None) -> Response | None:
        api = conn.url.path.startswith(("/api/", "/metrics", "/live/", "/embed/live/"))
        api = api or conn.url.path.endswith("/updates")
        if who is None:
            if api:
                return JSONResponse(
                    {"error": "unauthorized", "message": "Sign in, or send an API token."}, 401
                )
            target = conn.url.path + (f"?{conn.url.query}" if conn.url.query else "")
            return RedirectResponse(f"/signin?next={quote(target, safe='')}", 303)
        if not who.may(need) or (who.scope is not None and embed_scope(conn.url.path) != who.scope):
            message = f"Your role ({who.role.value}) may not open this."
            if api:
                return JSONResponse({"error": "forbidden", "message": message}, 403)
            return Response(message, 403, media_type="text/plain")
        return None
