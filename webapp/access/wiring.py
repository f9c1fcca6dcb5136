"""Wiring of who-may-watch: the stores, the middleware stack and the audit helper."""

from __future__ import annotations

import secrets
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import HTTPConnection

from webapp.access.audit import AuditLog
from webapp.access.auth import AuthConfig, AuthGate, Principal, Resolver
from webapp.access.embedlinks import EmbedSigner
from webapp.access.netaddr import parse_networks
from webapp.access.secheaders import SecurityHeaders, parse_origins
from webapp.access.throttle import SignInThrottle
from webapp.access.tokens import TokenStore
from webapp.access.users import Role, UserStore, parse_role
from webapp.pages.signin import SignInLinks
from webapp.settings import Settings

SESSION_COOKIE = "burki_live_session"


@dataclass
class Access:
    users: UserStore
    tokens: TokenStore
    audit: AuditLog
    embeds: EmbedSigner
    throttle: SignInThrottle
    links: SignInLinks
    session_secret: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Access:
        configured = settings.dashboard_session_secret
        secret = configured.get_secret_value() if configured else secrets.token_urlsafe(48)
        return cls(
            users=UserStore(settings.dashboard_users_file),
            tokens=TokenStore(settings.dashboard_tokens_file),
            audit=AuditLog(settings.dashboard_audit_file, settings.dashboard_audit_retention_days),
            embeds=EmbedSigner(secret),
            throttle=SignInThrottle(),
            links=SignInLinks(),
            session_secret=secret,
        )

    def middleware(self, settings: Settings) -> list[Middleware]:
        """Outermost first: security headers, the signed session cookie, the auth gate."""
        config = AuthConfig(
            mode=settings.dashboard_auth_mode,
            users=self.users,
            tokens=self.tokens,
            embeds=self.embeds,
            idle=settings.dashboard_session_idle_minutes * 60,
            max_age=settings.dashboard_session_max_hours * 3600,
            trusted=parse_networks(settings.dashboard_trusted_proxies),
            sso_user_header=settings.dashboard_sso_user_header,
            sso_role_header=settings.dashboard_sso_role_header,
            sso_roles=sso_roles(settings.dashboard_sso_roles_file),
        )
        return [
            Middleware(
                SecurityHeaders,
                frame_ancestors=parse_origins(settings.dashboard_embed_origins),
                https=settings.dashboard_https,
            ),
            Middleware(
                SessionMiddleware,
                secret_key=self.session_secret,
                session_cookie=SESSION_COOKIE,
                max_age=int(settings.dashboard_session_max_hours * 3600),
                same_site="lax",
                https_only=settings.dashboard_https is True,
            ),
            Middleware(AuthGate, resolver=Resolver(config)),
        ]

    def demo_link(self) -> str:
        """A one-time sign-in link for demo mode (an admin, so every page can be seen)."""
        return self.links.issue("demo", Role.ADMIN)


def sso_roles(path: Path | None) -> Callable[[str], Role | None]:
    """User name -> role from a TOML mapping file (``[roles] alice = "admin"``), read per call."""

    def lookup(name: str) -> Role | None:
        if path is None:
            return None
        try:
            roles = tomllib.loads(path.read_text()).get("roles", {})
            return parse_role(str(roles[name])) if name in roles else None
        except (OSError, tomllib.TOMLDecodeError, ValueError):
            return None

    return lookup


def principal_of(conn: HTTPConnection) -> Principal | None:
    found = conn.scope.get("state", {}).get("principal")
    return found if isinstance(found, Principal) else None


async def record(conn: HTTPConnection, what: str) -> None:
    """Note in the audit log that this request's principal opened ``what``."""
    who = principal_of(conn)
    if who is None:
        return
    audit: AuditLog = conn.app.state.audit
    address = conn.client.host if conn.client else "unknown"
    await run_in_threadpool(audit.record, who.name, who.via, what, conn.url.path, address)
