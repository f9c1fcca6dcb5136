"""Forwarded headers, honoured only from the configured proxies.

One setting, ``DASHBOARD_TRUSTED_PROXIES``, decides both whose
``X-Forwarded-For``/``-Proto`` set the client address and scheme (uvicorn's
own ``ProxyHeadersMiddleware``, run here inside the app so that no server
default can widen it: uvicorn alone trusts 127.0.0.1) and whose SSO user
header is believed. The TCP peer's address is kept in the scope first
(:data:`webapp.access.auth.PEER`), so SSO trust is decided by who actually
connected, never by an address a header claims.

A start-up cannot see requests, so a missing ``DASHBOARD_TRUSTED_PROXIES`` shows on
the first request that carries ``X-Forwarded-For`` from a peer it does not list:
said once in the log, and on ``/admin`` (:class:`UntrustedForwarding`). Behind such a
proxy every client shares the proxy's address (sign-in limits, the audit log).
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from webapp.access.auth import PEER
from webapp.access.netaddr import Network, contains

log = logging.getLogger(__name__)


class UntrustedForwarding:
    """Requests that carried ``X-Forwarded-For`` from a peer not trusted: the first peer
    (logged once, shown on /admin) and how many."""

    def __init__(self) -> None:
        self.peer: str | None = None
        self.count = 0

    def saw(self, peer: str) -> None:
        self.count += 1
        if self.peer is not None:
            return
        self.peer = peer[:64]
        log.warning(
            "A request came with X-Forwarded-For from %s, which DASHBOARD_TRUSTED_PROXIES "
            "does not list: the header is ignored and every client behind that proxy shares "
            "its address (sign-in limits, audit). If it is your reverse proxy, list it.",
            self.peer,
        )


class TrustedProxies:
    def __init__(
        self,
        app: ASGIApp,
        trusted: list[Network],
        untrusted: UntrustedForwarding | None = None,
    ) -> None:
        self.app: ASGIApp = app
        self.trusted = trusted
        self.untrusted = untrusted
        if trusted:
            hosts = [str(network) for network in trusted]
            self.app = ProxyHeadersMiddleware(app, trusted_hosts=hosts)  # type: ignore[arg-type,assignment]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] in ("http", "websocket") and client:
            scope[PEER] = client[0]
            peer, untrusted = client[0], self.untrusted
            if untrusted is not None and _forwarded(scope) and not contains(self.trusted, peer):
                untrusted.saw(peer)
        await self.app(scope, receive, send)


def _forwarded(scope: Scope) -> bool:
    return any(name == b"x-forwarded-for" for name, _ in scope["headers"])
