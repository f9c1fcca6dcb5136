"""The one CSRF guard: every route that changes state checks the session's token first.

The token lives in the session (created on first use, for signed-out visitors
too, so the sign-in form carries one) and travels in the form field ``csrf`` or
the ``X-CSRF-Token`` header (htmx posts). :class:`~webapp.access.routes.GuardedRoute`
wraps every route that reads a form (every ``POST``) in :func:`csrf_checked`, so
a route cannot be added without the check; a refusal raises :class:`CsrfRefused`,
which the error map answers with 403 before the route has done anything.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from starlette.requests import HTTPConnection, Request

MAX_FORM_FIELDS = 8  # the most any of our forms has (sign-in); the body is bounded too
HEADER = "x-csrf-token"

Endpoint = Callable[[Request], Awaitable[Any]]


class CsrfRefused(Exception):
    """The form's CSRF token is missing or not this session's (403; nothing was done)."""

    def __init__(self) -> None:
        super().__init__("The form expired; refresh the page and try again.")


def csrf_token(conn: HTTPConnection) -> str:
    """The session's CSRF token, created on first use (also for signed-out visitors)."""
    token = conn.session.get("csrf")
    if not isinstance(token, str):
        token = conn.session["csrf"] = secrets.token_urlsafe(24)
    return token


def csrf_ok(conn: HTTPConnection, submitted: str | None) -> bool:
    expected = conn.session.get("csrf") if "session" in conn.scope else None
    if not isinstance(expected, str) or not submitted:
        return False
    # As bytes: compare_digest refuses non-ASCII str, and a hostile form may send anything.
    return secrets.compare_digest(expected.encode(), str(submitted).encode())


async def require_csrf(request: Request) -> None:
    """Raise :class:`CsrfRefused` unless the request carries the session's token.

    Reads the form (Starlette keeps it on the request, so the route's own
    ``request.form()`` gets the same one without reading the body again).
    """
    form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    submitted = form.get("csrf") or request.headers.get(HEADER)
    if not csrf_ok(request, submitted if isinstance(submitted, str) else None):
        raise CsrfRefused


def csrf_checked(endpoint: Endpoint) -> Endpoint:
    """``endpoint``, after :func:`require_csrf`."""

    @wraps(endpoint)
    async def checked(request: Request) -> Any:
        await require_csrf(request)
        return await endpoint(request)

    return checked
