"""The Burki REST client: lists, one call or campaign, transcripts, campaign progress.

Used for the index page's lists, for history, and to feed a stream by polling
when its WebSocket keeps failing. The key travels only in the
``Authorization: Bearer`` header, never in a URL.

Redirects are followed (the open-source Burki server answers 307 to the
trailing-slash path of its lists). httpx keeps ``Authorization`` on a
same-origin redirect and drops it on a redirect to another origin (except an
http -> https upgrade of the same host), so the key never leaves Burki's origin;
such a request then fails with ``Unauthorized``, whose message says why.

Every failure is one ``RestError`` subclass. Its message is fit to show a user
and never holds the API key (it is built from the method, path and status, and
masked once more on the way out).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import ssl
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import partial
from types import TracebackType
from typing import Self
from urllib.parse import quote

import httpx

from webapp.wire import restbodies as bodies
from webapp.wire.caller import CallerShown
from webapp.wire.events import Progress, Skipped, Transcript
from webapp.wire.redact import redact
from webapp.wire.restbodies import CallSummary, CampaignSummary
from webapp.wire.resterrors import (
    BadResponse,
    NetworkError,
    NoRoute,
    NotFound,
    RateLimited,
    RestError,
    ServerError,
    Unauthorized,
)

__all__ = [
    "BadResponse",
    "BurkiRest",
    "CallSummary",
    "CampaignSummary",
    "NetworkError",
    "NoRoute",
    "NotFound",
    "RateLimited",
    "RestError",
    "ServerError",
    "Unauthorized",
]

log = logging.getLogger(__name__)

Params = Mapping[str, str | int]


class BurkiRest:
    """An async Burki REST client; one per process, closed by its owner (the app's lifespan).

    ``timeout`` bounds each request as a whole, redirects included. Every method
    raises a ``RestError`` subclass on failure and nothing else.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        ca_bundle: str | None = None,
        callers: CallerShown = "last4",
    ) -> None:
        headers = {"Accept": "application/json", "User-Agent": "burki-live"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._key = api_key
        self._timeout = timeout
        self._callers = callers  # how callers' numbers are labelled (REDACTION_CALLER_NUMBERS)
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers=headers,
            timeout=timeout,
            follow_redirects=True,
            max_redirects=5,
            transport=transport,
            verify=ssl.create_default_context(cafile=ca_bundle) if ca_bundle else True,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- calls ---------------------------------------------------------------------

    async def list_calls(
        self, status: str | None = "ongoing", skip: int = 0, limit: int = 100
    ) -> list[CallSummary]:
        """One page of calls (``status=None``: every status)."""
        path = "/api/v1/calls"
        body = await self._get_json(path, _page(status, skip, limit))
        convert = partial(bodies.call_summary, callers=self._callers)
        return bodies.convert(bodies.rows(body, path), convert, path)

    async def call(self, call_sid: str) -> CallSummary:
        path = f"/api/v1/calls/sid/{_segment(call_sid)}"
        row = bodies.as_object(await self._get_json(path), path)
        summary = bodies.call_summary(row, call_sid, self._callers)
        assert summary is not None  # a default SID was given
        return summary

    async def transcripts(self, call_sid: str) -> list[Transcript]:
        """The call's stored segments, oldest first as Burki sends them; unusable rows dropped."""
        path = f"/api/v1/calls/sid/{_segment(call_sid)}/transcripts"
        found = bodies.rows(await self._get_json(path), path)
        return bodies.convert(found, lambda row: bodies.stored_segment(call_sid, row), path)

    async def call_exists(self, call_sid: str) -> bool | None:
        """True if the call answers 200, False on 404, None when it cannot tell.

        Tells a missing call from a forbidden one when a stream is refused as
        "access denied" (the open-source server says that for both).
        """
        try:
            await self._get(f"/api/v1/calls/sid/{_segment(call_sid)}")
        except NotFound:
            return False
        except RestError:
            return None
        return True

    async def campaign_exists(self, campaign_id: int) -> bool | None:
        """True if the campaign answers 200, False on 404 (no such campaign, or no campaign
        API at all), None when it cannot tell."""
        try:
            await self._get(f"/api/v1/campaigns/{int(campaign_id)}")
        except NotFound:
            return False
        except RestError:
            return None
        return True

    async def assistants(self) -> dict[int, str]:
        """Assistant names by id (``GET /api/v1/assistants``; bare or paged list).

        The open-source server's call objects carry only ``assistant_id``.
        """
        path = "/api/v1/assistants"
        names: dict[int, str] = {}
        for row in bodies.rows(await self._get_json(path, {"skip": 0, "limit": 500}), path):
            if isinstance(row, dict):
                ident, name = bodies.integer(row, "id"), bodies.text(row, "name")
                if ident is not None and name:
                    names[ident] = name
        return names

    # -- campaigns -----------------------------------------------------------------

    async def list_campaigns(
        self, status: str | None = "running", skip: int = 0, limit: int = 50
    ) -> list[CampaignSummary]:
        path = "/api/v1/campaigns"
        body = await self._get_json(path, _page(status, skip, limit))
        return bodies.convert(bodies.rows(body, path), bodies.campaign_summary, path)

    async def campaign(self, campaign_id: int) -> CampaignSummary:
        path = f"/api/v1/campaigns/{int(campaign_id)}"
        row = bodies.as_object(await self._get_json(path), path)
        summary = bodies.campaign_summary(row, campaign_id)
        assert summary is not None  # a default id was given
        return summary

    async def campaign_progress(self, campaign_id: int) -> Progress:
        """The campaign's counters and recent activity, as a live ``Progress`` would carry."""
        path = f"/api/v1/campaigns/{int(campaign_id)}/progress"
        result = bodies.progress_body(bodies.as_object(await self._get_json(path), path))
        if isinstance(result, Skipped):
            raise self._error(BadResponse, f"GET {path}: unusable progress ({result.reason})")
        if result.campaign_id is None:
            result = dataclasses.replace(result, campaign_id=int(campaign_id))
        return result

    # -- actions (a Burki without the endpoint answers 404: NotFound) --------------------

    async def terminate_call(self, call_sid: str) -> None:
        """``POST /api/v1/calls/{call_sid}/terminate``: hang up a live call."""
        await self._send("POST", f"/api/v1/calls/{_segment(call_sid)}/terminate")

    async def control_campaign(self, campaign_id: int, verb: str) -> None:
        """``POST /api/v1/campaigns/{id}/{verb}``, ``verb`` one of pause, start, stop."""
        if verb not in ("pause", "start", "stop"):
            raise ValueError(f"unknown campaign verb {verb!r}")
        await self._send("POST", f"/api/v1/campaigns/{int(campaign_id)}/{verb}")

    # -- transport -----------------------------------------------------------------

    async def _get_json(self, path: str, params: Params | None = None) -> object:
        response = await self._get(path, params)
        try:
            return response.json()
        except ValueError:
            raise self._error(BadResponse, f"GET {path}: the body is not JSON") from None

    async def _get(self, path: str, params: Params | None = None) -> httpx.Response:
        return await self._send("GET", path, params)

    async def _send(self, method: str, path: str, params: Params | None = None) -> httpx.Response:
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._client.request(method, path, params=params)
            # The body is read: drop its stream, which refers back to the response (a cycle
            # per request in httpx 0.28, freed only by the cycle detector: encode/httpx#3733).
            response.stream = _READ
        except (TimeoutError, httpx.TimeoutException):
            message = f"{method} {path}: no answer within {self._timeout:g} s"
            raise self._error(NetworkError, message) from None
        except httpx.HTTPError as exc:
            detail = str(exc) or type(exc).__name__
            raise self._error(NetworkError, f"{method} {path}: {detail}") from None
        self._check(response, f"{method} {path}")
        return response

    def _check(self, response: httpx.Response, request: str) -> None:
        status = response.status_code
        if status < 300:
            return
        what = f"{request}: {status} {response.reason_phrase}".rstrip()
        if status == 401:
            hint = _moved_hint(response, self._client.base_url)
            raise self._error(Unauthorized, what + hint, status)
        if status == 404:
            raise self._error(NoRoute if _no_route(response) else NotFound, what, status)
        if status == 429:
            retry = _retry_after(response.headers.get("Retry-After"))
            raise RateLimited(redact(f"Burki REST {what}", self._key), retry_after=retry)
        error = self._error(ServerError if status >= 500 else RestError, what, status)
        error.detail = redact(_detail(response), self._key)
        raise error

    def _error(self, kind: type[RestError], message: str, status: int | None = None) -> RestError:
        return kind(redact(f"Burki REST {message}", self._key), status)


_READ = httpx.ByteStream(b"")


def _detail(response: httpx.Response) -> str:
    """Burki's own words for a refusal (FastAPI's ``{"detail": "..."}``), at most 200
    characters; "" when the body says nothing readable."""
    try:
        body = response.json()
    except ValueError:
        return ""
    detail = body.get("detail") if isinstance(body, dict) else None
    return detail.strip()[:200] if isinstance(detail, str) else ""


def _no_route(response: httpx.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return True  # a bare 404 from a proxy or an old server: no such endpoint either
    return isinstance(body, dict) and body.get("detail") == "Not Found"


def _moved_hint(response: httpx.Response, base: httpx.URL) -> str:
    if not response.history or _origin(response.url) == _origin(base):
        return " (the API key may be wrong)"
    return " (Burki redirected to another origin, which drops the API key)"


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def _page(status: str | None, skip: int, limit: int) -> dict[str, str | int]:
    params: dict[str, str | int] = {"skip": skip, "limit": limit}
    if status is not None:
        params = {"status": status, **params}
    return params


def _segment(value: str) -> str:
    """A caller's id as one path segment: it can never climb to another endpoint."""
    return quote(value, safe="").replace(".", "%2E")
