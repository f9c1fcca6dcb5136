"""Claiming a call: ``POST /calls/{sid}/claim`` with ``action`` = claim, ack or release.

Only people (a session or SSO, never an API token or an embed link) with a
call role (the gate checks it: supervisor or admin) may act, with the
session's CSRF token (form field ``csrf`` or header ``X-CSRF-Token``). Each
action is written to the audit log, and travels to every screen showing the
call as a ``claim`` event on its stream. htmx posts get ``204`` (the screen
changes through the stream); a plain form post is sent back to the call page.
Refusals (:class:`~webapp.calls.claims.ClaimRefused`) are mapped to 409 in
:mod:`webapp.pages.errorpages`.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webapp.access.wiring import principal_of
from webapp.calls.claims import ACTIONS, Action
from webapp.pages.orgpaths import path_for, route_key
from webapp.pages.state import app_state, record

PEOPLE = ("page", "sso")


async def claim(request: Request) -> Response:
    key = route_key(request, "call", request.path_params["sid"])
    who = principal_of(request)
    if who is None or who.via not in PEOPLE:
        raise HTTPException(403, "Only a signed-in person can claim a call.")
    form = await request.form(max_files=0, max_fields=4)
    action = _action(str(form.get("action") or ""))
    hub = app_state(request).hub
    stream = hub.streams.get(key)
    if stream is None or stream.health is None:
        raise HTTPException(409, "Nobody is watching this call right now; open it first.")
    await stream.claim(action, who.name, admin=who.role is not None and who.role.is_admin)
    await record(request, f"{action} {key}")
    if request.headers.get("hx-request"):
        return Response(status_code=204)
    return RedirectResponse(path_for(request, "call", key.org, sid=key.id), status_code=303)


def _action(text: str) -> Action:
    for action in ACTIONS:
        if text == action:
            return action
    raise HTTPException(400, f"action is one of {', '.join(ACTIONS)}")
