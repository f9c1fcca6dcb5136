"""How much body each route takes: a form route up to a limit, every other route none.

A body is read by the app only when a handler asks for it, so a route that takes none
would leave a large or endless body to the server's body clock alone. This gate answers
before any handler runs: ``413`` for a body over the route's limit (by its
``Content-Length``), ``411`` for a form body without a length (browsers always send one;
a chunked body could run on past any limit). Both close the connection, so the rest of
the body is never waited for.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from webapp.access.routes import takes_form


class BodyLimit:
    """ASGI middleware: refuse request bodies larger than their route takes."""

    def __init__(self, app: ASGIApp, form_bytes: int) -> None:
        self.app = app
        self.form_bytes = form_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        length, chunked = headers.get("content-length"), "transfer-encoding" in headers
        if (length is None or length.strip() == "0") and not chunked:
            await self.app(scope, receive, send)  # no body: the common case, no route lookup
            return
        limit = self.form_bytes if takes_form(scope) else 0
        if chunked:
            status, message = (411, "Send a Content-Length.") if limit else (413, "No body here.")
        elif int(length or 0) > limit:
            status, message = 413, f"A body here may hold at most {limit} bytes."
        else:
            await self.app(scope, receive, send)
            return
        answer = PlainTextResponse(message, status, headers={"connection": "close"})
        await answer(scope, receive, send)
