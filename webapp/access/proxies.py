"""Forwarded headers, honoured only from the configured proxies.

One setting, ``DASHBOARD_TRUSTED_PROXIES``, decides both whose
``X-Forwarded-For``/``-Proto`` set the client address and scheme (uvicorn's
own ``ProxyHeadersMiddleware``, run here inside the app so that no server
default can widen it: uvicorn alone trusts 127.0.0.1) and whose SSO user
header is believed. The TCP peer's address is kept in the scope first
(:data:`webapp.access.auth.PEER`), so SSO trust is decided by who actually
connected, never by an address a header claims.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from webapp.access.auth import PEER


class TrustedProxies:
    def __init__(self, app: ASGIApp, trusted: list[str]) -> None:
        self.app: ASGIApp = app
        if trusted:
            self.app = ProxyHeadersMiddleware(app, trusted_hosts=trusted)  # type: ignore[arg-type,assignment]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] in ("http", "websocket") and client:
            scope[PEER] = client[0]
        await self.app(scope, receive, send)
