"""Errors mapped once: the same exception is a page, or the JSON the route's readers expect."""

from __future__ import annotations

import asyncio
import html
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from tests.live import running_app, wait_started
from webapp.access.routes import PUBLIC, GuardedRoute
from webapp.access.users import Role
from webapp.pages import errorpages
from webapp.pages.errorpages import KNOWN_TYPES, preferred_type
from webapp.routes import routes
from webapp.simulator import Simulator


async def test_a_bad_stream_id_is_a_404_page_a_404_update_stream_and_a_documented_api_400(
    sim: Simulator,
) -> None:
    async with running_app(sim) as live, live.client() as client:
        page = await client.get(live.url + "/calls/bad%20id")
        export = await client.get(live.url + "/calls/bad%20id/transcript.txt")
        updates = await client.get(live.url + "/live/call/call/bad%20id")
        api = await client.get(live.url + "/api/calls/bad%20id/events")
        assert live.hub.streams == {}
    for response in (page, export):
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert "No such page: a call id is 1 to 128" in response.text
    assert updates.status_code == 404 and updates.json()["error"] == "bad_stream_id"
    assert api.status_code == 400 and api.json()["error"] == "bad_stream_id"
    assert api.json()["message"] == updates.json()["message"]


async def test_a_closing_hub_is_a_503_page_and_a_503_api_answer(sim: Simulator) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live, live.client() as client:
        await live.hub.close()
        page = await client.get(f"{live.url}/calls/{sid}")
        board = await client.get(f"{live.url}/wallboard")
        api = await client.get(f"{live.url}/api/calls/{sid}/events")
    for response in (page, board):
        assert response.status_code == 503
        assert "The dashboard is shutting down." in response.text
    assert api.status_code == 503
    assert api.json() == {"error": "shutting_down", "message": "The dashboard is shutting down."}


async def test_an_unknown_view_of_an_update_stream_is_json_not_a_page(sim: Simulator) -> None:
    async with running_app(sim) as live, live.client() as client:
        response = await client.get(live.url + "/live/nosuch/call/CA1")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "message": "no such view"}


# -- every kind of error, for each kind of reader --------------------------------------------

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
PROGRAM = {"Accept": "application/json"}
EVENTSOURCE = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
MADE_UP = "CA" + "0" * 32


@dataclass(frozen=True)
class Answer:
    status: int
    type: str
    body: str
    location: str

    def json(self) -> Any:
        return json.loads(self.body)


async def ask(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], form: dict[str, str] | None = None
) -> Answer:
    """One request; an answer that opens a stream (200) is closed unread."""
    method = "POST" if form is not None else "GET"
    async with client.stream(method, url, headers=headers, data=form) as response:
        body = "" if response.status_code == 200 else (await response.aread()).decode()
        kind = response.headers.get("content-type", "")
        return Answer(response.status_code, kind, body, response.headers.get("location", ""))


def is_page(answer: Answer, status: int, sentence: str) -> bool:
    """The error page people get: the status, HTML in the site's layout, the sentence."""
    return (
        answer.status == status
        and answer.type.startswith("text/html")
        and 'class="error-page"' in answer.body
        and sentence in html.unescape(answer.body)
        and "Traceback" not in answer.body
    )


def is_json(answer: Answer, status: int, error: str) -> bool:
    """The JSON API's error body, with the same status."""
    return (
        answer.status == status
        and answer.type.startswith("application/json")
        and answer.json()["error"] == error
        and bool(answer.json()["message"])
    )


async def test_nobody_signed_in_sends_a_person_to_sign_in_and_is_a_401_for_programs(
    sim: Simulator,
) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live, live.client(None) as stranger:
        page, api = f"{live.url}/calls/{sid}", f"{live.url}/api/calls/{sid}/events"
        person = await ask(stranger, page, BROWSER)
        program = await ask(stranger, page, PROGRAM)
        viewer = await ask(stranger, api, EVENTSOURCE)
        person_on_api = await ask(stranger, api, BROWSER)
    assert person.status == 303 and person.location == f"/signin?next=%2Fcalls%2F{sid}"
    assert is_json(program, 401, "unauthorized")
    assert is_json(viewer, 401, "unauthorized")
    assert person_on_api.status == 303  # a person who followed a link to the API signs in


async def test_a_role_that_may_not_open_it_is_a_403_page_not_plain_text(sim: Simulator) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live, live.client(Role.MANAGER) as manager:
        page, api = f"{live.url}/calls/{sid}", f"{live.url}/api/calls/{sid}/events"
        person = await ask(manager, page, BROWSER)
        program = await ask(manager, page, PROGRAM)
        viewer = await ask(manager, api, EVENTSOURCE)
        assert live.hub.streams == {}
    assert is_page(person, 403, "Your role (manager) may not open this.")
    assert is_json(program, 403, "forbidden")
    assert is_json(viewer, 403, "forbidden")


async def test_an_id_burki_does_not_have_is_a_404_for_every_reader(sim: Simulator) -> None:
    async with running_app(sim) as live, live.client(Role.ADMIN) as admin:
        page, api = f"{live.url}/calls/{MADE_UP}", f"{live.url}/api/calls/{MADE_UP}/events"
        person = await ask(admin, page, BROWSER)
        program = await ask(admin, page, PROGRAM)
        viewer = await ask(admin, api, EVENTSOURCE)
        assert live.hub.streams == {}
    assert is_page(person, 404, "Burki has no call with this id.")
    assert is_json(program, 404, "not_found")
    assert is_json(viewer, 404, "not_found")
    assert viewer.json()["message"] == f"Burki has no call with the id {MADE_UP}."


async def test_a_full_cap_is_a_429_for_every_reader(sim: Simulator) -> None:
    sid = sim.add_call()
    caps = {"dashboard_streams_per_session": 1}
    async with running_app(sim, **caps) as live, live.client(Role.ADMIN) as admin:
        api = f"{live.url}/api/calls/{sid}/events"
        async with admin.stream("GET", api) as holding:
            assert holding.status_code == 200
            person = await ask(admin, api, BROWSER)
            program = await ask(admin, api, PROGRAM)
            viewer = await ask(admin, api, EVENTSOURCE)
    assert is_page(person, 429, "1 streams open")
    assert is_json(program, 429, "too_many_streams")
    assert is_json(viewer, 429, "too_many_streams")


async def test_too_many_streams_in_one_request_is_a_400_for_every_reader(sim: Simulator) -> None:
    query = "&".join(f"call=CA{n:032x}" for n in range(17))  # one more than allowed
    async with running_app(sim) as live, live.client(Role.ADMIN) as admin:
        url = f"{live.url}/api/events?{query}"
        person = await ask(admin, url, BROWSER)
        program = await ask(admin, url, PROGRAM)
        viewer = await ask(admin, url, EVENTSOURCE)
        assert live.hub.streams == {}
    assert is_page(person, 400, "name 1 to 16 streams")
    assert is_json(program, 400, "bad_streams")
    assert is_json(viewer, 400, "bad_streams")


async def test_burki_down_is_a_502_where_the_answer_needs_it_and_no_refusal_of_a_live_view(
    sim: Simulator,
) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live, live.client(Role.ADMIN, timeout=30) as admin:
        await sim.stop()  # Burki is gone
        export = f"{live.url}/calls/{sid}/transcript.txt"
        person = await ask(admin, export, BROWSER)
        program = await ask(admin, export, PROGRAM)
        viewer = await ask(admin, f"{live.url}/api/calls/{sid}/events", EVENTSOURCE)
        page = await ask(admin, f"{live.url}/calls/{sid}", BROWSER)
    assert is_page(person, 502, "Burki did not answer as it should")
    assert is_json(program, 502, "burki_error")
    assert viewer.status == 200  # the stream opens and says Burki's condition in-band
    assert page.status == 200  # the live page shows what its stream knows


async def test_a_refused_key_is_a_502_on_pages_and_said_in_band_on_streams(sim: Simulator) -> None:
    sid = sim.add_call()
    wrong = {"burki_api_key": "wrong-key-777"}
    async with running_app(sim, **wrong) as live, live.client(Role.ADMIN) as admin:
        page = f"{live.url}/calls/{sid}"
        person = await ask(admin, page, BROWSER)
        program = await ask(admin, page, PROGRAM)
        viewer = await ask(admin, f"{live.url}/api/calls/{sid}/events", EVENTSOURCE)
    assert is_page(person, 502, "Burki refused the dashboard's API key.")
    assert is_json(program, 502, "burki_refused_key")
    assert "wrong-key-777" not in person.body + program.body
    assert viewer.status == 200


async def test_a_form_without_its_token_is_a_403_page_json_or_htmx_fragment(
    sim: Simulator,
) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live, live.client(Role.SUPERVISOR) as ada:
        url = f"{live.url}/calls/{sid}/claim"
        form = {"action": "claim"}
        person = await ask(ada, url, BROWSER, form)
        program = await ask(ada, url, PROGRAM, form)
        htmx = await ask(ada, url, {"HX-Request": "true"}, form)
    assert is_page(person, 403, "The form expired; refresh the page and try again.")
    assert is_json(program, 403, "form_expired")
    assert htmx.status == 403 and htmx.body.startswith('<span class="error">The form expired')


@pytest.mark.parametrize(
    ("accept", "preferred"),
    [
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "text/html"),
        ("application/json", "application/json"),
        ("text/event-stream", "text/event-stream"),
        ("application/json;q=0.5, text/html", "text/html"),
        ("text/html;q=0.2, application/json;q=0.9", "application/json"),
        ("text/html;q=0, application/json;q=0.1", "application/json"),
        ("*/*", None),
        ("", None),
        ("text/html;q=nonsense", None),
    ],
)
def test_the_accept_header_names_the_reader(accept: str, preferred: str | None) -> None:
    assert preferred_type(accept) == preferred


@given(st.text(max_size=300))
def test_any_accept_header_is_read_without_failing(accept: str) -> None:
    assert preferred_type(accept) in (None, *KNOWN_TYPES)


async def _boom(request: Request) -> Response:
    raise RuntimeError("a bug, with a secret in its message: sk-123")


BUGS = ("/boom", "/api/boom")  # beside the app's own routes, which the error page links


@asynccontextmanager
async def serving(app: Starlette) -> AsyncIterator[str]:
    """``app`` on a real uvicorn, port 0, until the block exits."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="critical", lifespan="off")
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    await wait_started(server, task)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def test_a_bug_is_a_500_page_for_people_and_500_json_for_programs_never_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bugs = [GuardedRoute(path, _boom, guard=PUBLIC, audit="none") for path in BUGS]
    app = Starlette(routes=[*bugs, *routes()], exception_handlers=errorpages.APP_HANDLERS)
    async with serving(app) as url, httpx.AsyncClient() as client:
        person = await client.get(url + "/boom", headers=BROWSER)
        program = await client.get(url + "/api/boom")
    assert person.status_code == 500 and "The error was logged." in person.text
    assert person.headers["content-type"].startswith("text/html")
    assert program.status_code == 500
    assert program.json() == {"error": "internal_error", "message": "The error was logged."}
    assert all("sk-123" not in a.text and "Traceback" not in a.text for a in (person, program))
    assert "RuntimeError" in caplog.text  # the traceback went to the log
