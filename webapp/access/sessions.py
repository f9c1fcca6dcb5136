"""Sessions: what a signed cookie holds, and when it stops being honoured.

A session holds the user, when it began and was last seen, its CSRF token, a
random id (streams are capped per session), the kind of instance that issued
it (``demo`` or ``live``) and the user's *session epoch* at sign-in. It is
honoured only while:

- the instance is of the same kind (a cookie from a demo instance that shares
  the secret opens nothing on a live one);
- the user's epoch is unchanged: sign-out, a password change, a role change
  and removal all give the user a new epoch (or no row at all), which ends
  every session of that user at its next request, in every browser;
- it is within the idle and absolute timeouts.

Password users keep their epoch in the store (so it survives restarts, and the
CLI's changes and a sign-out on one node reach every node at the next request).
While the database is unreachable, the user as last read stands in: people
signed in keep watching, and nothing they could not do before opens. Sessions
begun from a one-time sign-in link (demo mode, tests) have no row there: their
epochs are kept in memory by :class:`LinkEpochs`, as the links themselves are.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from webapp.access.users import Role, Roles, UserStore, new_epoch, parse_role
from webapp.store.database import StoreUnavailable

Instance = Literal["demo", "live"]
SESSION_REFRESH = 60.0  # seconds between rewrites of the session's last-seen time


@dataclass
class LinkEpochs:
    """The current epoch of each name signed in through a one-time link."""

    _epochs: dict[str, str] = field(default_factory=dict)

    def current(self, name: str) -> str:
        return self._epochs.setdefault(name, new_epoch())

    def end(self, name: str) -> None:
        self._epochs[name] = new_epoch()


@dataclass(frozen=True, slots=True)
class SessionUser:
    name: str
    roles: Roles  # read at every request: a grant or a revocation counts from the next one
    session_id: str


@dataclass
class SessionPolicy:
    instance: Instance
    users: UserStore
    links: LinkEpochs
    idle: float
    max_age: float
    clock: Callable[[], float] = time.time  # seconds since the epoch; tests set it by hand

    async def start(
        self, conn: HTTPConnection, name: str, role: Role | None = None, *, link: bool = False
    ) -> None:
        """A fresh session (a new CSRF token and id too: no fixation across sign-in).

        Raises StoreUnavailable for a password user when the database is away."""
        if link:
            epoch = self.links.current(name)
        else:
            user = await self.users.get(name)
            epoch = user.session_epoch if user is not None else new_epoch()
        conn.session.clear()
        now = int(self.clock())
        conn.session.update(
            {
                "user": name,
                "iat": now,
                "seen": now,
                "csrf": secrets.token_urlsafe(24),
                "id": secrets.token_urlsafe(12),
                "kind": self.instance,
                "epoch": epoch,
            }
        )
        if link and role is not None:
            conn.session.update({"via": "link", "role": role.value})

    async def end(self, conn: HTTPConnection) -> None:
        """Sign-out: end every session of this user, then clear this one.

        This browser's session is cleared even when the database is away (the
        StoreUnavailable is raised after, for the caller to say so).
        """
        session: dict[str, Any] = conn.session
        name = session.get("user")
        via = session.get("via")
        session.clear()
        if isinstance(name, str):
            if via == "link":
                self.links.end(name)
            else:
                await self.users.end_sessions(name)

    async def resolve(
        self, session: dict[str, Any], *, check_idle: bool = True
    ) -> SessionUser | None:
        """Who this session is, if it is still honoured (see the module docstring)."""
        name, now = session.get("user"), self.clock()
        started, seen = session.get("iat", 0), session.get("seen", 0)
        if not isinstance(name, str) or not isinstance(started, int | float):
            return None
        if session.get("kind") != self.instance:
            return None
        idle = check_idle and now - float(seen) > self.idle
        if now - started > self.max_age or idle:
            session.pop("user", None)
            return None
        roles = await self._roles(name, session)
        if roles is None:
            return None
        if check_idle and now - float(seen) > SESSION_REFRESH:
            session["seen"] = int(now)
        return SessionUser(name, roles, str(session.get("id", "")))

    async def _roles(self, name: str, session: dict[str, Any]) -> Roles | None:
        epoch = session.get("epoch")
        if session.get("via") == "link":  # a link's role is in every organisation
            if epoch != self.links.current(name):
                return None
            try:
                return Roles(parse_role(str(session.get("role"))))
            except ValueError:
                return None
        try:
            user = await self.users.get(name)
        except StoreUnavailable:
            user = self.users.last_known(name)
        if user is None or not isinstance(epoch, str) or user.session_epoch != epoch:
            return None
        return user.roles


class SchemeSessions:
    """The signed session cookie, ``Secure`` when the request came over HTTPS.

    ``https`` True or False fixes it (``DASHBOARD_HTTPS``); None decides per
    request from its scheme (which a trusted proxy's ``X-Forwarded-Proto`` sets).
    """

    def __init__(
        self,
        app: ASGIApp,
        https: bool | None,
        secret_key: str,
        session_cookie: str,
        max_age: int,
        same_site: Literal["lax", "strict", "none"],
    ) -> None:
        options: dict[str, Any] = {
            "secret_key": secret_key,
            "session_cookie": session_cookie,
            "max_age": max_age,
            "same_site": same_site,
        }
        self.plain = SessionMiddleware(app, https_only=False, **options)
        self.secure = SessionMiddleware(app, https_only=True, **options)
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        https = self.https
        if https is None:
            https = scope.get("scheme") in ("https", "wss")
        await (self.secure if https else self.plain)(scope, receive, send)
