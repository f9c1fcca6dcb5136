"""Errors mapped once: a page for people, JSON for the API and update streams, no traceback.

Handlers raise and this module answers. An ``HTTPException``
carries its status and sentence; the relay's and the wire's own errors
(:class:`~webapp.wire.streamkey.BadStreamId`, :class:`~webapp.relay.hub.HubClosed`)
carry their sentence, and :data:`MEANINGS` says, here and only here, what
they mean over HTTP. The route decides the form: ``/api/`` paths get the JSON
API's documented answer, the HTML update streams (``/live/``,
``/embed/live/``, read by htmx, not people) JSON too, every other path a page.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from html import escape
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from webapp.pages.templating import templates
from webapp.relay.claims import ClaimRefused
from webapp.relay.hub import HubClosed
from webapp.store.database import StoreUnavailable
from webapp.wire.streamkey import BadStreamId

log = logging.getLogger(__name__)

API_PREFIX = "/api/"
STREAM_PREFIXES = ("/live/", "/embed/live/")


def render(request: Request, template: str, page: Any, status_code: int = 200) -> Response:
    return templates.TemplateResponse(request, template, {"page": page}, status_code=status_code)


def json_error(status: int, error: str, message: str) -> JSONResponse:
    """The JSON API's error body: a code for programs, a sentence for people."""
    return JSONResponse({"error": error, "message": message}, status_code=status)


def unknown(what: str) -> HTTPException:
    """Burki answered 404 for the call or campaign a URL names."""
    return HTTPException(404, f"Burki has no {what} with this id.")


@dataclass(frozen=True, slots=True)
class ErrorPage:
    status: int
    title: str
    detail: str


@dataclass(frozen=True, slots=True)
class Meaning:
    """What an exception means over HTTP.

    ``status`` on a page and an update stream, ``api_status`` on the JSON API
    when its contract says otherwise; ``error`` the JSON code; ``page`` the
    page's sentence around the exception's own (``{}``).
    """

    status: int
    error: str
    api_status: int | None = None
    page: str = "{}"


MEANINGS: dict[type[Exception], Meaning] = {
    # A URL that names no call or campaign: no such page, but a bad API request.
    BadStreamId: Meaning(404, "bad_stream_id", api_status=400, page="No such page: {}."),
    HubClosed: Meaning(503, "shutting_down"),
    ClaimRefused: Meaning(409, "claim_refused"),
    # The store is away: what needs it waits; live views go on without it.
    StoreUnavailable: Meaning(503, "database_unavailable", page="Not now: {}. Live views go on."),
}


async def mapped_error(request: Request, exc: Exception) -> Response:
    meaning = next(MEANINGS[kind] for kind in type(exc).__mro__ if kind in MEANINGS)
    path = request.url.path
    if path.startswith(API_PREFIX):
        return json_error(meaning.api_status or meaning.status, meaning.error, str(exc))
    if path.startswith(STREAM_PREFIXES):
        return json_error(meaning.status, meaning.error, str(exc))
    return _page(request, meaning.status, meaning.page.format(exc))


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith((API_PREFIX, *STREAM_PREFIXES)):
        error = _TITLES.get(exc.status_code, "error").lower().replace(" ", "_")
        return json_error(exc.status_code, error, str(exc.detail))
    return _page(request, exc.status_code, str(exc.detail))


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s", request.url.path, exc_info=exc)
    page = ErrorPage(500, "Something went wrong", "The error was logged.")
    return render(request, "error.html", page, status_code=500)


def _page(request: Request, status: int, detail: str) -> Response:
    if request.headers.get("hx-request"):  # htmx shows the sentence where the form said
        return HTMLResponse(f'<span class="error">{escape(detail)}</span>', status_code=status)
    page = ErrorPage(status, _TITLES.get(status, "Error"), detail)
    return render(request, "error.html", page, status_code=status)


_TITLES = {
    400: "Bad request",
    401: "Sign-in needed",
    403: "Forbidden",
    404: "Not found",
    409: "Not done",
    502: "Burki is not answering as it should",
    503: "Unavailable",
}
EXCEPTION_HANDLERS: dict[Any, Any] = {
    HTTPException: http_error,
    **dict.fromkeys(MEANINGS, mapped_error),
    500: server_error,
}
