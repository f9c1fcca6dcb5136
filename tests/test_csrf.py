"""One CSRF guard on every route that changes state: the route table is walked, and each
route is posted to over a real server without the session's token and with a forged one.

A route the app gains that takes a form without the guard fails here: the guard comes with
``GuardedRoute`` (every ``POST`` route), and its refusal is the error map's, the same on
every route, before the route has done anything (nothing is written to the audit log).
"""

from __future__ import annotations

import pytest
from starlette.routing import Route

from tests.live import running_app
from tests.test_audit_doors import DOORS, PASSWORD, client_for, entries
from tests.test_errorpages import BROWSER, PROGRAM, ask, is_json, is_page
from webapp.access.users import Role
from webapp.routes import routes
from webapp.simulator import Simulator

SAFE = {"GET", "HEAD", "OPTIONS"}
REFUSED = "The form expired; refresh the page and try again."


def state_changing() -> list[str]:
    """The name of every route that accepts a method other than GET, HEAD and OPTIONS."""
    return [
        route.name
        for route in routes()
        if isinstance(route, Route) and set(route.methods or ()) - SAFE
    ]


def test_the_walk_finds_every_form_route() -> None:
    assert set(state_changing()) >= {"signin_post", "signout", "claim", "end_call"}
    assert all(DOORS[name].method == "POST" for name in state_changing())


@pytest.mark.parametrize("name", state_changing())
async def test_every_state_changing_route_refuses_a_form_without_the_session_token(
    sim: Simulator, name: str
) -> None:
    door = DOORS[name]
    sid, cid = sim.add_call(), sim.add_campaign(contacts=5)
    async with running_app(sim) as live, client_for(live, door.who) as client:
        await live.state.access.users.add("ada", PASSWORD, Role.SUPERVISOR)
        embeds = live.state.access.embeds
        ids = {"sid": sid, "ending": sid, "cid": str(cid)}
        ids["link"] = (await embeds.mint("call", sid, 600, "test")).record.id
        if door.before:
            await client.get(live.url + door.before.format(**ids))
        await client.get(live.url + "/signin")  # the session has a token: it is not sent
        url = live.url + door.path.format(**ids)
        form = {key: value.format(**ids) for key, value in door.form.items()}
        counted = await entries(live)
        missing = await ask(client, url, BROWSER, form)
        forged = await ask(client, url, PROGRAM, form | {"csrf": "forged"})
        header = await ask(client, url, BROWSER | {"X-CSRF-Token": "forged"}, form)
        assert await entries(live) == counted  # refused before the route did anything
        assert not sim.store.calls[sid].ended
        still = 200 if door.who == "admin" else 303  # a signed-in admin is still signed in
        assert (await client.get(live.url + "/")).status_code == still
    assert is_page(missing, 403, REFUSED), name
    assert is_json(forged, 403, "form_expired"), name
    assert is_page(header, 403, REFUSED), name
