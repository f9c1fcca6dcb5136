"""Wiring of who-may-watch: the stores, the middleware stack and the audit helpers."""

from __future__ import annotations

import secrets
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection

from webapp.access.audit import AuditLog
from webapp.access.auth import AuthConfig, AuthGate, Principal, Resolver
from webapp.access.caps import Limits, StreamCaps
from webapp.access.embedlinks import EmbedSigner
from webapp.access.hashwork import HashWork
from webapp.access.netaddr import parse_networks
from webapp.access.proxies import TrustedProxies
from webapp.access.secheaders import SecurityHeaders, parse_origins
from webapp.access.sessions import LinkEpochs, SchemeSessions, SessionPolicy, SignInLinks
from webapp.access.throttle import SignInThrottle
from webapp.access.tokens import TokenStore
from webapp.access.users import Role, UserStore, parse_role
from webapp.settings import Settings

SESSION_COOKIE = "burki_live_session"
RESUME_FOLD = 600.0  # seconds: a resume this soon after the same opening is the same viewing


@dataclass
class Access:
    users: UserStore
    tokens: TokenStore
    audit: AuditLog
    embeds: EmbedSigner
    throttle: SignInThrottle
    links: SignInLinks
    session_secret: str
    sessions: SessionPolicy
    hashing: HashWork
    caps: StreamCaps

    @classmethod
    def from_settings(cls, settings: Settings, *, demo: bool | None = None) -> Access:
        configured = settings.dashboard_session_secret
        secret = configured.get_secret_value() if configured else secrets.token_urlsafe(48)
        users = UserStore(settings.dashboard_users_file)
        return cls(
            users=users,
            tokens=TokenStore(settings.dashboard_tokens_file),
            audit=AuditLog(settings.dashboard_audit_file, settings.dashboard_audit_retention_days),
            embeds=EmbedSigner(secret),
            throttle=SignInThrottle(),
            links=SignInLinks(),
            session_secret=secret,
            sessions=SessionPolicy(
                instance="demo" if (settings.demo if demo is None else demo) else "live",
                users=users,
                links=LinkEpochs(),
                idle=settings.dashboard_session_idle_minutes * 60,
                max_age=settings.dashboard_session_max_hours * 3600,
            ),
            hashing=HashWork(settings.dashboard_signin_workers, settings.dashboard_signin_queue),
            caps=StreamCaps(
                Limits(
                    per_session=settings.dashboard_streams_per_session,
                    per_user=settings.dashboard_streams_per_user,
                    total=settings.dashboard_streams_total,
                )
            ),
        )

    def middleware(self, settings: Settings) -> list[Middleware]:
        """Outermost first: forwarded headers, security headers, the session, the auth gate."""
        config = AuthConfig(
            mode=settings.dashboard_auth_mode,
            tokens=self.tokens,
            embeds=self.embeds,
            sessions=self.sessions,
            trusted=parse_networks(settings.dashboard_trusted_proxies),
            sso_user_header=settings.dashboard_sso_user_header,
            sso_role_header=settings.dashboard_sso_role_header,
            sso_role_header_enabled=settings.dashboard_sso_role_header_enabled,
            sso_roles=sso_roles(settings.dashboard_sso_roles_file),
        )
        return [
            Middleware(TrustedProxies, trusted=trusted_hosts(settings)),
            Middleware(
                SecurityHeaders,
                frame_ancestors=parse_origins(settings.dashboard_embed_origins),
                https=settings.dashboard_https,
            ),
            Middleware(
                SchemeSessions,
                https=settings.dashboard_https,
                secret_key=self.session_secret,
                session_cookie=SESSION_COOKIE,
                max_age=int(settings.dashboard_session_max_hours * 3600),
                same_site="lax",
            ),
            Middleware(
                AuthGate,
                resolver=Resolver(config),
                audit=self.audit,
                caps=self.caps,
                recheck=settings.dashboard_stream_recheck_minutes * 60,
            ),
        ]

    def demo_link(self) -> str:
        """A one-time sign-in link for demo mode (an admin, so every page can be seen)."""
        return self.links.issue("demo", Role.ADMIN)

    def close(self) -> None:
        self.hashing.close()


def trusted_hosts(settings: Settings) -> list[str]:
    return [str(network) for network in parse_networks(settings.dashboard_trusted_proxies)]


def sso_roles(path: Path | None) -> Callable[[str], Role | None] | None:
    """User name -> role from a TOML mapping file (``[roles] alice = "admin"``), read per call.

    None when no file is configured. A file that cannot be read grants nothing.
    """
    if path is None:
        return None

    def lookup(name: str) -> Role | None:
        try:
            roles = tomllib.loads(path.read_text()).get("roles", {})
            return parse_role(str(roles[name])) if name in roles else None
        except (OSError, tomllib.TOMLDecodeError, ValueError):
            return None

    return lookup


def principal_of(conn: HTTPConnection) -> Principal | None:
    found = conn.scope.get("state", {}).get("principal")
    return found if isinstance(found, Principal) else None


def address_of(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client else "unknown"


async def record(conn: HTTPConnection, what: str, *, resume: bool = False) -> None:
    """Note in the audit log that this request's principal opened ``what``.

    ``resume``: a stream resumed from an event id; folded into the entry of the
    same viewing when one was written in the last ten minutes.
    """
    who = principal_of(conn)
    if who is None:
        return
    audit: AuditLog = conn.app.state.audit
    fold = RESUME_FOLD if resume else 0.0
    path, address = conn.url.path, address_of(conn)
    await run_in_threadpool(audit.record, who.name, who.via, what, path, address, fold=fold)


async def record_event(conn: HTTPConnection, who: str, what: str, *, fold: float = 0.0) -> None:
    """Note a sign-in event that opened nothing (failed, throttled, refused), by nobody yet."""
    audit: AuditLog = conn.app.state.audit
    path, address = conn.url.path, address_of(conn)
    await run_in_threadpool(audit.record, who, "none", what, path, address, fold=fold)
