"""Who-may-watch's running parts and the principal of a request.

The root (``webapp.parts``) builds :class:`Access` and its middleware from the settings.
"""

from __future__ import annotations

import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from starlette.requests import HTTPConnection

from webapp.access.audit import AuditLog, SharedOnce
from webapp.access.auth import Principal
from webapp.access.caps import SharedCaps, StreamCaps
from webapp.access.devices import DeviceCookies
from webapp.access.embedlinks import EmbedLinks
from webapp.access.hashwork import HashWork
from webapp.access.proxies import UntrustedForwarding
from webapp.access.sessions import SessionPolicy
from webapp.access.signinlinks import SignInLinks
from webapp.access.throttle import SharedAttempts, SignInThrottle
from webapp.access.tokens import TokenStore
from webapp.access.users import Role, UserStore, parse_role
from webapp.store.store import Store

SESSION_COOKIE = "burki_live_session"


@dataclass
class Access:
    store: Store  # the database of the four below; the app's lifespan opens and closes it
    users: UserStore
    tokens: TokenStore
    audit: AuditLog
    embeds: EmbedLinks
    throttle: SignInThrottle
    links: SignInLinks
    session_secret: str
    sessions: SessionPolicy
    hashing: HashWork
    caps: StreamCaps
    clock: Callable[[], float] = time.time  # seconds since the epoch: sessions and embed links
    shared_throttle: SharedAttempts | None = None  # a cluster's sign-in counts (Redis)
    shared_caps: SharedCaps | None = None  # a cluster's per-user and per-session stream caps
    shared_once: SharedOnce | None = None  # a cluster's once-per-session page views
    devices: DeviceCookies | None = None  # None: no device cookies (DASHBOARD_DEVICE_DAYS=0)
    forwarding: UntrustedForwarding = field(default_factory=UntrustedForwarding)

    def demo_link(self) -> str:
        """A one-time sign-in link for demo mode (an admin, so every page can be seen)."""
        return self.links.issue("demo", Role.ADMIN)

    def close(self) -> None:
        """Stop the password-check workers (the app's lifespan calls it on shutdown)."""
        self.hashing.close()

    async def open(self) -> None:
        """Bring the database's schema up to date; StoreUnavailable when it cannot be reached."""
        await self.store.upgrade()

    async def aclose(self) -> None:
        """Write the audit entries that wait, then let the database go (shutdown, last)."""
        await self.audit.close()
        await self.store.close()


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
