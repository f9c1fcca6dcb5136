"""The failures of a Burki REST request: one :class:`RestError` subclass per kind.

A message is fit to show a user and never holds the API key (the client builds it
from the method, path and status, and masks it once more on the way out).
"""

from __future__ import annotations


class RestError(Exception):
    """A Burki REST request failed. ``status`` is the HTTP status, None when none came."""

    detail = ""  # what Burki said (its JSON ``detail``), for people: "already completed"

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Unauthorized(RestError):
    """401: the key is wrong, or was dropped on a redirect to another origin."""


class NotFound(RestError):
    """404: no such call or campaign (or, as :class:`NoRoute`, no such endpoint)."""


class NoRoute(NotFound):
    """404 ``{"detail": "Not Found"}``: this Burki has no such endpoint (FastAPI's answer
    for an unknown path; a missing call or campaign is named in its detail)."""

    no_route = True


class RateLimited(RestError):
    """429. ``retry_after`` is Burki's ``Retry-After`` in seconds, when it sent one."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message, 429)
        self.retry_after = retry_after


class ServerError(RestError):
    """5xx: Burki failed; worth retrying later."""


class NetworkError(RestError):
    """No answer: connection refused or dropped, TLS failure, timeout, redirect loop."""


class BadResponse(RestError):
    """A 2xx whose body is not what the endpoint promises (not JSON, wrong shape)."""
