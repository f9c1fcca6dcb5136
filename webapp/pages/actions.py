"""Supervisors act on Burki: end a call, pause, resume or stop a campaign.

Each action is a confirm step (a page naming what will happen, a plain form: no
script, so the CSP stays strict) and a ``POST`` with the session's CSRF token,
by a signed-in person whose role the settings allow (``ACTIONS_END_CALL_ROLES``,
``ACTIONS_CAMPAIGN_ROLES``). The dashboard asks Burki server-side
(:meth:`~webapp.wire.rest.BurkiRest.terminate_call`,
:meth:`~webapp.wire.rest.BurkiRest.control_campaign`), writes the attempt and
its outcome to the audit log and announces the outcome on the stream as an
``action`` event, so every screen showing the call or campaign sees it.

A Burki without the endpoint answers 404 (the open-source server has none of
them): that is remembered (:mod:`webapp.pages.capabilities`) and the page says
"This Burki cannot end calls" instead of an error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webapp.access.auth import Principal, csrf_ok
from webapp.access.users import Role
from webapp.access.wiring import principal_of
from webapp.pages.capabilities import CANNOT, Capability
from webapp.pages.state import app_state, record
from webapp.pages.templating import templates
from webapp.wire.caller import caller_of
from webapp.wire.rest import NetworkError, NoRoute, NotFound, RestError
from webapp.wire.streamkey import StreamKey

PEOPLE = ("page", "sso")
VERBS = {"pause": "paused", "start": "resumed", "stop": "stopped"}
ASKS = {"pause": "pause", "start": "resume", "stop": "stop"}


@dataclass(frozen=True, slots=True)
class Step:
    """What the confirm page shows: the question, the form, or why there is none."""

    title: str
    question: str
    action_url: str
    back_url: str
    button: str
    verb: str = ""
    cannot: str = ""  # this Burki lacks the endpoint: no button
    error: str = ""  # the last attempt failed: say why, offer it again


# -- ending a call -----------------------------------------------------------------------


async def end_call_form(request: Request) -> Response:
    key = StreamKey.call(request.path_params["sid"])
    _allowed(request, app_state(request).actions.end_call_roles, "end calls")
    step = await _end_step(request, key)
    await record(request, f"end-call page {key}", once=True)  # it shows the caller's number
    return _confirm(request, step)


async def end_call(request: Request) -> Response:
    key = StreamKey.call(request.path_params["sid"])
    who = await _checked(request, app_state(request).actions.end_call_roles, "end calls")
    step = await _end_step(request, key)
    rest = app_state(request).rest
    return await _act(request, who, key, "end_call", step, lambda: rest.terminate_call(key.id))


async def _end_step(request: Request, key: StreamKey) -> Step:
    number = await _caller_number(request, key)
    return Step(
        title="End this call?",
        question=f"End the call with {number}? The caller is hung up at once.",
        action_url=request.url_for("end_call", sid=key.id).path,
        back_url=request.url_for("call", sid=key.id).path,
        button="End call",
        cannot=_cannot(request, "end_call"),
    )


async def _caller_number(request: Request, key: StreamKey) -> str:
    """The caller's number as the stream knows it, else as Burki's REST has it: both
    labelled (``REDACTION_CALLER_NUMBERS``) where they were read."""
    stream = app_state(request).hub.streams.get(key)
    metadata: dict[str, Any] = stream.state.snapshot().get("metadata", {}) if stream else {}
    if found := caller_of(metadata):
        return found
    try:
        summary = await app_state(request).rest.call(key.id)
    except RestError:
        return "an unknown number"
    return summary.customer_phone or "an unknown number"


# -- campaigns ---------------------------------------------------------------------------


async def campaign_stop_form(request: Request) -> Response:
    key = StreamKey.campaign(request.path_params["campaign_id"])
    _allowed(request, app_state(request).actions.campaign_roles, "run campaigns")
    await record(request, f"stop page {key}", once=True)
    return _confirm(request, _campaign_step(request, key, "stop"))


async def campaign_control(request: Request) -> Response:
    key = StreamKey.campaign(request.path_params["campaign_id"])
    who = await _checked(request, app_state(request).actions.campaign_roles, "run campaigns")
    form = await request.form(max_files=0, max_fields=4)
    verb = str(form.get("verb") or "")
    if verb not in VERBS:
        raise HTTPException(400, "verb is one of pause, start, stop")
    if verb == "stop" and form.get("confirmed") != "yes":  # stop is confirmed first
        await record(request, f"stop page {key}", once=True)
        return _confirm(request, _campaign_step(request, key, "stop"))
    step = _campaign_step(request, key, verb)
    rest = app_state(request).rest
    work = lambda: rest.control_campaign(int(key.id), verb)  # noqa: E731
    return await _act(request, who, key, "campaign_control", step, work)


def _campaign_step(request: Request, key: StreamKey, verb: str) -> Step:
    return Step(
        title="Stop this campaign?",
        question=f"Stop campaign #{key.id}? Nobody more is dialed; it cannot be resumed.",
        action_url=request.url_for("campaign_control", campaign_id=key.id).path,
        back_url=request.url_for("campaign", campaign_id=key.id).path,
        button="Stop campaign",
        verb=verb,
        cannot=_cannot(request, "campaign_control"),
    )


# -- the shared steps ---------------------------------------------------------------------


def _allowed(request: Request, roles: frozenset[Role], what: str) -> Principal:
    who = principal_of(request)
    if who is None or who.via not in PEOPLE:
        raise HTTPException(403, f"Only a signed-in person can {what}.")
    if who.role not in roles:
        raise HTTPException(403, f"Your role ({who.role.value}) may not {what}.")
    return who


async def _checked(request: Request, roles: frozenset[Role], what: str) -> Principal:
    """The acting person, after the role and the form's CSRF token are checked."""
    who = _allowed(request, roles, what)
    form = await request.form(max_files=0, max_fields=4)
    token = str(form.get("csrf") or request.headers.get("x-csrf-token") or "")
    if not csrf_ok(request, token):
        raise HTTPException(403, "The form expired; refresh the page and try again.")
    return who


def _cannot(request: Request, what: Capability) -> str:
    return CANNOT[what] if app_state(request).actions.capabilities.lacks(what) else ""


async def _act(
    request: Request,
    who: Principal,
    key: StreamKey,
    what: Capability,
    step: Step,
    work: Callable[[], Awaitable[None]],
) -> Response:
    """Ask Burki, audit, announce; the page to go back to, or the confirm step saying why."""
    done = VERBS.get(step.verb, "ended the call")
    label = f"{step.verb or 'end'} {key}"
    asked = f"{ASKS[step.verb]} the campaign" if step.verb else "end the call"
    # Told before Burki is asked: ending a call ends its stream, and a viewer's page stops
    # listening at the end, so an outcome told only afterwards could reach nobody live.
    await _announce(request, key, who.name, "asked", f"asked Burki to {asked}")
    try:
        await work()
    except NoRoute:
        app_state(request).actions.capabilities.missing(what)
        await record(request, f"{label}: this Burki lacks it")
        await _announce(request, key, who.name, "failed", "this Burki has no endpoint for it")
        return _confirm(request, replace(step, cannot=CANNOT[what]))
    except (NotFound, NetworkError, RestError) as exc:
        await record(request, f"{label}: failed ({exc.status or 'no answer'})")
        message = _failure(exc)
        await _announce(request, key, who.name, "failed", message)
        status = 502 if isinstance(exc, NetworkError) or (exc.status or 500) >= 500 else 409
        return _confirm(request, replace(step, error=message), status)
    await record(request, f"{label}: done")
    message = done if key.kind == "call" else f"{done} the campaign"
    await _announce(request, key, who.name, "done", message)
    return RedirectResponse(step.back_url, status_code=303)


def _failure(exc: RestError) -> str:
    if isinstance(exc, NetworkError):
        return "could not reach Burki; nothing was changed as far as we know. Try again."
    if isinstance(exc, NotFound):
        return "Burki does not know this call or campaign."
    return f"Burki refused ({exc.status or 'no status'}); nothing was changed."


async def _announce(request: Request, key: StreamKey, who: str, outcome: str, text: str) -> None:
    stream = app_state(request).hub.streams.get(key)
    if stream is not None:  # nobody watching: nobody to tell (the audit log has it)
        await stream.announce(who, outcome, text)


def _confirm(request: Request, step: Step, status: int = 200) -> Response:
    context = {"step": step, "page": {"demo": app_state(request).demo}}
    return templates.TemplateResponse(request, "confirm.html", context, status_code=status)
