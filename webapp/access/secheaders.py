"""Security headers on every HTTP response, as a pure ASGI middleware.

Every page gets a strict Content-Security-Policy (no inline script or style, no
eval: htmx's ``hx-on`` and ``js:`` expressions would need it, so the templates
use neither) and may not be framed. Pages under ``/embed/`` (``/o/<org>/embed/``) may be framed by
the configured intranet origins only; with none configured, by nobody.

The middleware overwrites these headers if a route set them itself: one place
decides them. It does not buffer or touch bodies, so SSE streams pass as they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from webapp.access.routes import local_path

EMBED_PREFIX = "/embed/"
CSP_BASE = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'"
)
COMMON = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "cross-origin-opener-policy": "same-origin",
}
HSTS = "max-age=31536000; includeSubDomains"

_HOST_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_ORIGIN = re.compile(
    rf"(?P<scheme>https?)://(?P<host>{_HOST_LABEL}(?:\.{_HOST_LABEL})*|\[[0-9a-f:.]+\])"
    r"(?::(?P<port>[0-9]{1,5}))?"
)


def parse_origins(text: str) -> list[str]:
    """Origins allowed to frame the embeds, from a comma-separated list.

    Each is ``scheme://host[:port]`` (http or https, no path, no wildcard), lower-cased
    and without duplicates. Empty text or ``none`` means no origin. Anything else,
    in particular quotes, semicolons or spaces that would inject into the
    Content-Security-Policy, raises ValueError with a one-line message.
    """
    if text.strip().lower() in {"", "none", "'none'"}:
        return []
    origins: list[str] = []
    for item in text.split(","):
        origin = _parse_origin(item.strip())
        if origin not in origins:
            origins.append(origin)
    return origins


def _parse_origin(item: str) -> str:
    candidate = item.lower().removesuffix("/")
    match = _ORIGIN.fullmatch(candidate)
    port = match and match.group("port")
    if match is None or (port is not None and not 0 < int(port) <= 65_535):
        raise ValueError(
            f"{item[:80]!r} is not an origin like https://intranet.example.com[:port] "
            "(no path, wildcard, quote, space or semicolon)"
        )
    return candidate


class SecurityHeaders:
    """Adds the security headers to every HTTP response of ``app``.

    ``frame_ancestors``: origins (already checked by ``parse_origins``) that may
    frame ``/embed/`` pages. ``https``: send HSTS always (True), never (False),
    or when the request came over https (None; behind a proxy that needs
    uvicorn's ``--proxy-headers`` so the scheme is right).
    """

    def __init__(
        self, app: ASGIApp, frame_ancestors: Iterable[str] = (), https: bool | None = None
    ) -> None:
        self.app = app
        self.https = https
        origins = " ".join(_parse_origin(origin) for origin in frame_ancestors) or "'none'"
        self.page_headers = {
            **COMMON,
            "content-security-policy": f"{CSP_BASE}; frame-ancestors 'none'",
            "x-frame-options": "DENY",
        }
        self.embed_headers = {
            **COMMON,
            "content-security-policy": f"{CSP_BASE}; frame-ancestors {origins}",
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chosen = self.headers_for(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                for name, value in chosen.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def headers_for(self, scope: Scope) -> dict[str, str]:
        embed = local_path(str(scope.get("path", ""))).startswith(EMBED_PREFIX)
        chosen = dict(self.embed_headers if embed else self.page_headers)
        if self.https or (self.https is None and scope.get("scheme") == "https"):
            chosen["strict-transport-security"] = HSTS
        return chosen
