"""HTML pages: small typed contexts rendered with Jinja2 (autoescape on)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.templating import Jinja2Templates

from webapp.rest import BurkiRest, CallSummary, CampaignSummary, RestError
from webapp.settings import PROJECT_ROOT

log = logging.getLogger(__name__)
templates = Jinja2Templates(directory=PROJECT_ROOT / "templates")


@dataclass(frozen=True, slots=True)
class IndexPage:
    calls: list[CallSummary]
    campaigns: list[CampaignSummary]
    demo: bool
    error: str | None = None


async def index(request: Request) -> Response:
    rest: BurkiRest = request.app.state.rest
    calls_result, campaigns_result = await asyncio.gather(
        rest.list_calls(status="ongoing"),
        rest.list_campaigns(status="running"),
        return_exceptions=True,
    )
    results = (calls_result, campaigns_result)
    error = next((r for r in results if isinstance(r, BaseException)), None)
    if error is not None and not isinstance(error, RestError):
        raise error
    page = IndexPage(
        calls=calls_result if isinstance(calls_result, list) else [],
        campaigns=campaigns_result if isinstance(campaigns_result, list) else [],
        demo=request.app.state.demo,
        error=str(error) if error is not None else None,
    )
    return render(request, "index.html", page)


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


_TITLES = {400: "Bad request", 401: "Sign-in needed", 403: "Forbidden", 404: "Not found"}
EXCEPTION_HANDLERS: dict[Any, Any] = {HTTPException: http_error, 500: server_error}
