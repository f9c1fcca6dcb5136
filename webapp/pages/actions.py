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

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webapp.access.auth import Principal
from webapp.access.users import Role
from webapp.access.wiring import principal_of
from webapp.calls.callstate import CallState
from webapp.calls.campaignstate import CampaignState
from webapp.pages.callers import caller_text
from webapp.pages.capabilities import CANNOT, Capability
from webapp.pages.known import unless_foreign
from webapp.pages.orgpaths import path_for, route_key, tenant_of
from webapp.pages.state import app_state, record
from webapp.pages.templating import campaign_status, templates
from webapp.wire.rest import NetworkError, NoRoute, NotFound, RestError
from webapp.wire.streamkey import StreamKey

PEOPLE = ("page", "sso")
VERBS = {"pause": "paused", "start": "resumed", "stop": "stopped"}
ASKS = {"pause": "pause", "start": "resume", "stop": "stop"}
STATUS_AFTER = {"pause": "paused", "start": "running", "stop": "cancelled"}  # Burki's words
VALID_FROM = {"pause": ("running",), "start": ("paused",), "stop": ("running", "paused")}
"""The statuses each verb is offered in (a campaign whose status is not known yet: all)."""
BURKI_STATUSES = ("draft", "scheduled", "running", "paused", "completed", "cancelled", "failed")


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
    retry: bool = True  # offer the same action again (not when it cannot apply now)
    danger: bool = True  # a red button: it cannot be undone


# -- ending a call -----------------------------------------------------------------------


async def end_call_form(request: Request) -> Response:
    key = route_key(request, "call", request.path_params["sid"])
    _allowed(request, app_state(request).actions.end_call_roles, "end calls")
    step = await _end_step(request, key)
    await record(request, f"end-call page {key}", once=True)  # it shows the caller's number
    return _confirm(request, step)


async def end_call(request: Request) -> Response:
    key = route_key(request, "call", request.path_params["sid"])
    who = await _checked(request, app_state(request).actions.end_call_roles, "end calls")
    step = await _end_step(request, key)
    if _has_ended(request, key):  # nothing to end: Burki is not asked
        await record(request, f"end {key}: not sent (the call has ended)")
        return _confirm(request, step, 409)
    rest = tenant_of(request, key).rest
    # Another organisation's call fails as an unknown one, and Burki is not asked.
    work = unless_foreign(request, key, lambda: rest.terminate_call(key.id))
    return await _act(request, who, key, "end_call", step, work)


def _has_ended(request: Request, key: StreamKey) -> bool:
    stream = app_state(request).hub.streams.get(key)
    return stream is not None and isinstance(stream.state, CallState) and stream.state.ended


async def _end_step(request: Request, key: StreamKey) -> Step:
    number = caller_text(await _caller_number(request, key)) or "an unknown number"
    if _has_ended(request, key):
        return Step(
            title="This call has ended",
            question="",
            action_url="",
            back_url=path_for(request, "call", key.org, sid=key.id),
            button="",
            cannot=f"The call with {number} has already ended: there is nothing to end.",
        )
    return Step(
        title="End this call?",
        question=f"End the call with {number}? The caller is hung up at once.",
        action_url=path_for(request, "end_call", key.org, sid=key.id),
        back_url=path_for(request, "call", key.org, sid=key.id),
        button="End call",
        cannot=_cannot(request, "end_call"),
    )


async def _caller_number(request: Request, key: StreamKey) -> str:
    """The caller's number as the stream knows it, else as Burki's REST has it: both
    labelled (``REDACTION_CALLER_NUMBERS``) where they were read."""
    stream = app_state(request).hub.streams.get(key)
    state = stream.state if stream is not None else None
    if isinstance(state, CallState) and (number := state.info.caller):
        return number
    try:
        rest = tenant_of(request, key).rest
        summary = await unless_foreign(request, key, lambda: rest.call(key.id))()
    except RestError:
        return ""
    return summary.customer_phone or ""


# -- campaigns ---------------------------------------------------------------------------


async def campaign_stop_form(request: Request) -> Response:
    key = route_key(request, "campaign", request.path_params["campaign_id"])
    _allowed(request, app_state(request).actions.campaign_roles, "run campaigns")
    await record(request, f"stop page {key}", once=True)
    step = _campaign_step(request, key, "stop")
    refused = _invalid_now(request, key, "stop")
    return _confirm(request, replace(step, error=refused, retry=False) if refused else step)


async def campaign_control(request: Request) -> Response:
    key = route_key(request, "campaign", request.path_params["campaign_id"])
    who = await _checked(request, app_state(request).actions.campaign_roles, "run campaigns")
    form = await request.form(max_files=0, max_fields=4)
    verb = str(form.get("verb") or "")
    if verb not in VERBS:
        raise HTTPException(400, "verb is one of pause, start, stop")
    step = _campaign_step(request, key, verb)
    refused = _invalid_now(request, key, verb)
    if refused:
        await record(request, f"{verb} {key}: not sent ({refused.split(',')[0]})")
        return _confirm(request, replace(step, error=refused, retry=False), 409)
    if verb == "stop" and form.get("confirmed") != "yes":  # stop is confirmed first
        await record(request, f"stop page {key}", once=True)
        return _confirm(request, step)
    rest = tenant_of(request, key).rest
    work = unless_foreign(request, key, lambda: rest.control_campaign(int(key.id), verb))
    return await _act(request, who, key, "campaign_control", step, work)


def _invalid_now(request: Request, key: StreamKey, verb: str) -> str:
    """Why ``verb`` cannot apply to the campaign as its stream knows it ("" when it may):
    nothing is sent to Burki for a pause of a finished campaign."""
    stream = app_state(request).hub.streams.get(key)
    state = stream.state if stream is not None else None
    if not isinstance(state, CampaignState) or state.status not in BURKI_STATUSES:
        return ""  # not known here (or a word Burki did not document): Burki decides
    if state.ended or state.status not in VALID_FROM[verb]:
        word = campaign_status(state.status)
        return f"the campaign is {word}, so it cannot be {VERBS[verb]}. Nothing was sent to Burki."
    return ""


QUESTIONS = {
    "pause": (
        "Pause this campaign?",
        "Pause campaign #{id}? Nobody new is dialed until it is resumed.",
        "Pause campaign",
    ),
    "start": (
        "Resume this campaign?",
        "Resume campaign #{id}? Dialing starts again.",
        "Resume campaign",
    ),
    "stop": (
        "Stop this campaign?",
        "Stop campaign #{id}? Nobody more is dialed; it cannot be resumed.",
        "Stop campaign",
    ),
}


def _campaign_step(request: Request, key: StreamKey, verb: str) -> Step:
    title, question, button = QUESTIONS[verb]
    return Step(
        title=title,
        question=question.format(id=key.id),
        action_url=path_for(request, "campaign_control", key.org, campaign_id=key.id),
        back_url=path_for(request, "campaign", key.org, campaign_id=key.id),
        button=button,
        verb=verb,
        cannot=_cannot(request, "campaign_control"),
        danger=verb == "stop",
    )


# -- the shared steps ---------------------------------------------------------------------


def _allowed(request: Request, roles: frozenset[Role], what: str) -> Principal:
    who = principal_of(request)
    if who is None or who.via not in PEOPLE:
        raise HTTPException(403, f"Only a signed-in person can {what}.")
    if who.role not in roles:
        raise HTTPException(
            403, f"Your role ({who.role.value if who.role else 'none'}) may not {what}."
        )
    return who


async def _checked(request: Request, roles: frozenset[Role], what: str) -> Principal:
    """The acting person, after the role is checked (the route checked the CSRF token)."""
    return _allowed(request, roles, what)


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
        status = _status_of(exc)
        return _confirm(request, replace(step, error=message, retry=status == 502), status)
    await record(request, f"{label}: done")
    message = done if key.kind == "call" else f"{done} the campaign"
    await _announce(request, key, who.name, "done", message, STATUS_AFTER.get(step.verb, ""))
    return RedirectResponse(step.back_url, status_code=303)


def _status_of(exc: RestError) -> int:
    """The error map's rule for Burki's REST, on the confirm page (so it can be tried again):
    404 for an id Burki does not know, 502 when Burki failed, 409 when it refused the action."""
    if isinstance(exc, NotFound):
        return 404
    return 502 if isinstance(exc, NetworkError) or (exc.status or 500) >= 500 else 409


def _failure(exc: RestError) -> str:
    if isinstance(exc, NetworkError):
        return "could not reach Burki; nothing was changed as far as we know. Try again."
    if isinstance(exc, NotFound):
        return "Burki does not know this call or campaign."
    said = f': "{exc.detail}"' if exc.detail else ""
    return f"Burki refused ({exc.status or 'no status'}){said}; nothing was changed."


async def _announce(
    request: Request, key: StreamKey, who: str, outcome: str, text: str, status: str = ""
) -> None:
    stream = app_state(request).hub.streams.get(key)
    if stream is not None:  # nobody watching: nobody to tell (the audit log has it)
        await stream.announce(who, outcome, text, status)


def _confirm(request: Request, step: Step, status: int = 200) -> Response:
    context = {"step": step, "page": {"demo": app_state(request).demo}}
    return templates.TemplateResponse(request, "confirm.html", context, status_code=status)
