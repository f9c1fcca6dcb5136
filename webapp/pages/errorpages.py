"""Errors mapped once: a page for people, JSON for programs and update streams, no traceback.

Routes and the gate raise; this module answers, here and only here.
:data:`MEANINGS` says what each exception means over HTTP (its status, its
JSON code, the sentence on its page); an ``HTTPException`` carries its status
and sentence itself. The same handlers run around the gate (installed by
``webapp.parts.middleware``) and around the routes (``create_app``), so a
refusal by the gate and one by a route look the same.

Who gets what (:func:`wants_json`): a person gets an HTML page (an htmx request
the sentence alone, where its form shows it), nobody signed in a redirect to
sign-in; a program or an update stream gets the JSON API's body
``{"error": code, "message": sentence}`` with the same status.

**Burki's REST failing.** Burki answering 404 for the call or campaign a URL
names is our 404 (:class:`~webapp.pages.known.UnknownId`), remembered a while.
Any other REST failure is **502 Bad Gateway**, code ``burki_error``, wherever
the answer is made of what Burki's REST says (an export from Burki's record, an
action, an embed link's check, the admin's forms): the request was right and
the dashboard stands in front of Burki, which failed; 502 says exactly that
(503 would say the dashboard itself is down), and the person or program may
try again. Where Burki's REST is only *consulted* for a live view (does the id
exist before a stream opens, whom to name in a heading), a failure other than
404 does not refuse the view: the stream reports Burki's condition in-band
(``status`` events: reconnecting, polled, key refused) and recovers by itself,
which no error status could. One exception, on pages only: a key Burki refuses
(401) is said at once as a 502 (``burki_refused_key``), since the page would
otherwise sit empty with nothing to tell its reader why; a stream says the same
in-band and retries (Burki refuses a valid key while its database is down).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from webapp.access.bodylimit import BodyTooLarge, LengthRequired
from webapp.access.caps import CapReached
from webapp.access.csrf import CsrfRefused
from webapp.access.refusals import BadStreams, Forbidden, NoSuchOrg, SignInNeeded
from webapp.access.routes import guard_of, local_path
from webapp.calls.claims import ClaimRefused
from webapp.orgs.tenants import UnknownOrg
from webapp.pages.known import UnknownId
from webapp.pages.templating import templates
from webapp.relay.hub import HubClosed
from webapp.store.database import StoreUnavailable
from webapp.wire.rest import NotFound, RestError, Unauthorized
from webapp.wire.streamkey import BadStreamId

log = logging.getLogger(__name__)

API_PREFIXES = ("/api/", "/metrics")  # the JSON API's own paths: its documented statuses
KNOWN_TYPES = ("text/html", "application/json", "text/event-stream")
KEY_REFUSED = "Burki refused the dashboard's API key."


def render(request: Request, template: str, page: Any, status_code: int = 200) -> Response:
    return templates.TemplateResponse(request, template, {"page": page}, status_code=status_code)


def json_error(status: int, error: str, message: str) -> JSONResponse:
    """The JSON API's error body: a code for programs, a sentence for people."""
    return JSONResponse({"error": error, "message": message}, status_code=status)


def wants_json(conn: HTTPConnection) -> bool:
    """Whether an answer goes to a program (JSON) rather than a person (HTML).

    The ``Accept`` header decides when it names one of ``text/html``,
    ``application/json`` or ``text/event-stream`` (an EventSource; our SSE
    clients read the JSON body): the one it prefers. Otherwise (``*/*``, as
    curl, httpx and htmx send) the route decides: the JSON API (``/api/``,
    ``/metrics``) and every update stream get JSON, every other route a page.
    """
    preferred = preferred_type(conn.headers.get("accept", ""))
    if preferred is not None:
        return preferred != "text/html"
    guard, _ = guard_of(conn.scope)
    return guard.stream or local_path(conn.url.path).startswith(API_PREFIXES)


def preferred_type(accept: str) -> str | None:
    """The known media type ``accept`` ranks highest (the first of equals); None: none named."""
    best: tuple[float, str] | None = None
    for part in accept.split(",")[:32]:
        kind, *params = (piece.strip() for piece in part.split(";"))
        if kind.lower() not in KNOWN_TYPES:
            continue
        weights = [_q(p.replace(" ", "")[2:]) for p in params if p.replace(" ", "")[:2] == "q="]
        weight = weights[0] if weights else 1.0
        if weight > 0 and (best is None or weight > best[0]):
            best = (weight, kind.lower())
    return best[1] if best is not None else None


def _q(value: str) -> float:
    try:
        return min(max(float(value), 0.0), 1.0)
    except ValueError:
        return 0.0


@dataclass(frozen=True, slots=True)
class ErrorPage:
    status: int
    title: str
    detail: str


@dataclass(frozen=True, slots=True)
class Meaning:
    """What an exception means over HTTP.

    ``status`` everywhere, but ``api_status`` on the JSON API's paths when its
    contract says otherwise; ``error`` the JSON code; ``message`` and ``page``
    the JSON's and the page's sentences, formatted with the exception (``{0}``).
    """

    status: int
    error: str
    api_status: int | None = None
    message: str = "{0}"
    page: str = "{0}"


# One answer for an organisation that does not exist and one the principal has no role in.
NO_SUCH_ORG = Meaning(
    404, "no_such_org", message="No such organisation.", page="No such organisation."
)

MEANINGS: dict[type[Exception], Meaning] = {
    NoSuchOrg: NO_SUCH_ORG,
    UnknownOrg: NO_SUCH_ORG,
    # A URL that names no call or campaign: no such page, but a bad API request.
    BadStreamId: Meaning(404, "bad_stream_id", api_status=400, page="No such page: {0}."),
    UnknownId: Meaning(404, "not_found", page="{0.in_page}"),
    NotFound: Meaning(404, "not_found", message="Burki has no such call or campaign."),
    Unauthorized: Meaning(502, "burki_refused_key", message=KEY_REFUSED, page=KEY_REFUSED),
    RestError: Meaning(502, "burki_error", page="Burki did not answer as it should: {0}."),
    HubClosed: Meaning(503, "shutting_down"),
    ClaimRefused: Meaning(409, "claim_refused"),
    Forbidden: Meaning(403, "forbidden"),
    CsrfRefused: Meaning(403, "form_expired"),
    CapReached: Meaning(429, "too_many_streams"),
    BadStreams: Meaning(400, "bad_streams"),
    BodyTooLarge: Meaning(413, "body_too_large"),
    LengthRequired: Meaning(411, "length_required"),
    # The store is away: what needs it waits; live views go on without it.
    StoreUnavailable: Meaning(503, "database_unavailable", page="Not now: {0}. Live views go on."),
}


async def mapped_error(request: Request, exc: Exception) -> Response:
    meaning = next(MEANINGS[kind] for kind in type(exc).__mro__ if kind in MEANINGS)
    if wants_json(request):
        api = local_path(request.url.path).startswith(API_PREFIXES)
        status = (meaning.api_status if api else None) or meaning.status
        answer: Response = json_error(status, meaning.error, meaning.message.format(exc))
    else:
        answer = _page(request, meaning.status, meaning.page.format(exc))
    answer.headers.update(getattr(exc, "headers", None) or {})  # e.g. the body limit's close
    return answer


async def sign_in_needed(request: Request, exc: Exception) -> Response:
    """A program gets 401; a person is sent to sign in, and brought back afterwards."""
    assert isinstance(exc, SignInNeeded)
    if wants_json(request):
        return json_error(401, "unauthorized", str(exc))
    return RedirectResponse(f"/signin?next={quote(exc.target, safe='')}", 303)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if wants_json(request):
        error = _TITLES.get(exc.status_code, "error").lower().replace(" ", "_")
        return json_error(exc.status_code, error, str(exc.detail))
    return _page(request, exc.status_code, str(exc.detail))


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s", request.url.path, exc_info=exc)
    if wants_json(request):
        return json_error(500, "internal_error", "The error was logged.")
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
    411: "Length required",
    413: "Too large",
    429: "Too many streams",
    502: "Burki is not answering as it should",
    503: "Unavailable",
}
EXCEPTION_HANDLERS: dict[Any, Any] = {
    HTTPException: http_error,
    SignInNeeded: sign_in_needed,
    **dict.fromkeys(MEANINGS, mapped_error),
}
"""Every exception this module answers, for the gate's handler and the app's alike."""
APP_HANDLERS: dict[Any, Any] = {**EXCEPTION_HANDLERS, 500: server_error}
