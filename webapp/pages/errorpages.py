"""Errors as pages (or JSON under /api/), never tracebacks: one handler for all."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from webapp.pages.templating import templates

log = logging.getLogger(__name__)


def render(request: Request, template: str, page: Any, status_code: int = 200) -> Response:
    return templates.TemplateResponse(request, template, {"page": page}, status_code=status_code)


@dataclass(frozen=True, slots=True)
class ErrorPage:
    status: int
    title: str
    detail: str


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith("/api/"):
        error = _TITLES.get(exc.status_code, "error").lower().replace(" ", "_")
        return JSONResponse({"error": error, "message": str(exc.detail)}, exc.status_code)
    page = ErrorPage(exc.status_code, _TITLES.get(exc.status_code, "Error"), str(exc.detail))
    return render(request, "error.html", page, status_code=exc.status_code)


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s", request.url.path, exc_info=exc)
    page = ErrorPage(500, "Something went wrong", "The error was logged.")
    return render(request, "error.html", page, status_code=500)


_TITLES = {
    400: "Bad request",
    401: "Sign-in needed",
    403: "Forbidden",
    404: "Not found",
    502: "Burki is not answering as it should",
    503: "Unavailable",
}
EXCEPTION_HANDLERS: dict[Any, Any] = {HTTPException: http_error, 500: server_error}
