"""Who-may-watch's running parts and the principal of a request.

The root (``webapp.parts``) builds :class:`Access` and its middleware from the settings.
"""

from __future__ import annotations

import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
from webapp.access.users import Role, Roles, UserStore, checked_org, parse_role
from webapp.store.database import StoreError
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


def sso_roles(path: Path | None) -> Callable[[str], Roles | None] | None:
    """User name -> roles from a TOML mapping file, read per call::

        [roles]            # a role in every organisation
        alice = "admin"
        [orgs.acme]        # a role in one organisation (wins there over [roles])
        bob = "supervisor"

    None when no file is configured. A file that cannot be read, or a bad entry of the
    name asked for, grants nothing; a name the file does not list gets nothing.
    """
    if path is None:
        return None

    def lookup(name: str) -> Roles | None:
        try:
            return roles_in_file(tomllib.loads(path.read_text()), name)
        except (
            OSError,
            tomllib.TOMLDecodeError,
            ValueError,
            StoreError,
            AttributeError,
            TypeError,
        ):
            return None  # a bad entry (a role or an organisation's slug) grants nothing

    return lookup


def roles_in_file(data: dict[str, Any], name: str) -> Roles | None:
    """``name``'s roles in a parsed roles file (None: it names them nowhere)."""
    everywhere = data.get("roles", {})
    role = parse_role(str(everywhere[name])) if name in everywhere else None
    orgs = {
        checked_org(str(slug)): parse_role(str(people[name]))
        for slug, people in data.get("orgs", {}).items()
        if name in people
    }
    if role is None and not orgs:
        return None
    return Roles.of(role, orgs)


def principal_of(conn: HTTPConnection) -> Principal | None:
    found = conn.scope.get("state", {}).get("principal")
    return found if isinstance(found, Principal) else None
