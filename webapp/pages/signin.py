"""Sign-in and sign-out pages, and the page a one-time sign-in link opens."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webapp.access.devices import DEVICE_COOKIE
from webapp.access.hashwork import HashWork
from webapp.access.sessions import SessionPolicy
from webapp.access.signinlinks import SignInLinks
from webapp.access.throttle import SignInThrottle
from webapp.access.users import MAX_PASSWORD_LENGTH, UserStore
from webapp.pages.state import app_state, record, record_event
from webapp.pages.templating import templates
from webapp.store.database import StoreUnavailable

MAX_FIELD = 1024


@dataclass(frozen=True, slots=True)
class SignInPage:
    next: str
    error: str | None
    sso: bool
    demo: bool


def safe_next(target: str | None) -> str:
    """Only a path on this site: never ``//evil.example`` or ``https://...``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target[:2048]


async def signin_form(request: Request) -> Response:
    return _form(request, None)


def _form(request: Request, error: str | None, status: int = 200) -> Response:
    page = SignInPage(
        next=safe_next(request.query_params.get("next")),
        error=error,
        sso=app_state(request).sso,
        demo=app_state(request).demo,
    )
    return templates.TemplateResponse(request, "signin.html", {"page": page}, status_code=status)


async def signin(request: Request) -> Response:
    """Password sign-in: the attempt is counted before the hash is checked, and the check
    waits for one of a few workers or is refused at once (docs/security.md, "Sign-in under
    attack")."""
    if app_state(request).sso:
        return _form(request, "Sign in through your organisation's single sign-on.", 403)
    form = await request.form(max_files=0, max_fields=8)
    name, password = _field(form.get("name")).strip(), _field(form.get("password"))
    address = request.client.host if request.client else "unknown"
    access = app_state(request).access
    users: UserStore = access.users
    try:  # read before the throttle: from its check to the hashing, nothing may wait
        known = await users.get(name) if len(password) <= MAX_PASSWORD_LENGTH else None
    except StoreUnavailable:
        return _unavailable(request)
    devices = access.devices
    # A browser that signed in as this name before is not held by its address's limit.
    device = devices.device_of(request.cookies.get(DEVICE_COOKIE), name) if devices else None
    shared = access.shared_throttle
    if shared is not None and (wait := await shared.attempt(name, address, device)) is not None:
        await record_event(request, name, "sign-in throttled", fold=60.0)
        return _form(request, f"Too many failed attempts; try again in {wait} s.", 429)
    throttle: SignInThrottle = access.throttle
    hashing: HashWork = access.hashing
    # No await from here to submit(): the room seen and the attempt counted cannot race.
    if not hashing.has_room:
        await record_event(request, name, "sign-in refused: busy", fold=60.0)
        return _busy(request)
    wait, ticket = throttle.attempt(name, address, device)
    if wait is not None:
        await record_event(request, name, "sign-in throttled", fold=60.0)
        return _form(request, f"Too many failed attempts; try again in {wait} s.", 429)
    try:
        user = await users.accept(known, await hashing.submit(users.check, known, password))
    except StoreUnavailable:
        return _unavailable(request)
    if user is None:
        await record_event(request, name, "sign-in failed")
        return _form(request, "Wrong name or password.", 401)
    throttle.succeeded(name, address, ticket, device)
    if shared is not None:
        await shared.succeeded(name, address, device)
    try:
        await access.sessions.start(request, user.name, user.role)
    except StoreUnavailable:
        return _unavailable(request)
    await record_event(request, user.name, "signed in", via="page")
    response = RedirectResponse(safe_next(_field(form.get("next"))), 303)
    if devices is not None:
        devices.remember(response, user.name, request.url.scheme)
    return response


def _unavailable(request: Request) -> Response:
    message = (
        "Sign-in is unavailable: the dashboard cannot reach its database. "
        "Live views already open go on; try again in a minute."
    )
    response = _form(request, message, 503)
    response.headers["Retry-After"] = "30"
    return response


def _busy(request: Request) -> Response:
    response = _form(request, "Sign-in is busy; try again in a few seconds.", 503)
    response.headers["Retry-After"] = "5"
    return response


async def signout(request: Request) -> Response:
    """Sign-out ends every session of this user, in every browser."""
    sessions: SessionPolicy = app_state(request).access.sessions
    await record(request, "signed out")
    try:
        await sessions.end(request)
    except StoreUnavailable:  # this browser is signed out; the others end when it is back
        return _unavailable(request)
    return RedirectResponse("/signin", 303)


async def signin_link(request: Request) -> Response:
    links: SignInLinks = app_state(request).access.links
    found = links.consume(request.query_params.get("token", ""))
    if found is None:
        return _form(request, "That sign-in link was used already or has expired.", 403)
    await app_state(request).access.sessions.start(request, found[0], found[1], link=True)
    await record_event(request, found[0], "signed in (one-time link)", via="page")
    return RedirectResponse(safe_next(request.query_params.get("next")), 303)


def _field(value: object) -> str:
    return value[:MAX_FIELD] if isinstance(value, str) else ""
