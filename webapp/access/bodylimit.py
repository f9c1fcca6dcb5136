"""How much body each route takes: a form route up to a limit, every other route none.

A body is read by the app only when a handler asks for it, so a route that takes none
would leave a large or endless body to the server's body clock alone. This gate answers
before any handler runs: ``413`` for a body over the route's limit (by its
``Content-Length``), ``411`` for a form body without a length (browsers always send one;
a chunked body could run on past any limit). Both close the connection, so the rest of
the body is never waited for.

It raises (:class:`BodyTooLarge`, :class:`LengthRequired`) and builds no response: the
error map (``webapp.pages.errorpages``), installed around it, answers a page for people
and JSON for programs, as for every other refusal.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from webapp.access.routes import takes_form

CLOSE = {"connection": "close"}  # the rest of the body is never read: the connection ends


class BodyTooLarge(Exception):
    """A body over the route's limit, or a body where the route takes none (413)."""

    headers = CLOSE


class LengthRequired(Exception):
    """A form body without a ``Content-Length`` (411)."""

    headers = CLOSE


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
        if chunked and limit:
            raise LengthRequired("Send a Content-Length.")
        if chunked:
            raise BodyTooLarge("No body here.")
        if int(length or 0) > limit:
            raise BodyTooLarge(f"A body here may hold at most {limit} bytes.")
        await self.app(scope, receive, send)
