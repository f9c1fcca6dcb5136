"""Stream responses whose body is served after the middleware stack returned
(``webapp.access.held``): every stream route answers exactly as the whole stack answers,
for every kind of principal, and a held viewer keeps no layer of the stack alive.

The reference is the same app, with the same parts, served through Starlette's own
``__call__`` (no ``Held`` in the scope: the body is written in place, under every
middleware frame), on a second server: each request is asked of both, and the status,
the headers, a refusal's body (page or JSON), the first event of a stream and the audit
entries the request wrote must be the same, byte for byte.
"""

from __future__ import annotations

import asyncio
import difflib
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from tests.live import LiveApp, Viewer, running_app, wait_started
from tests.orgs import GLOBEX, two_org_app, two_org_sim
from webapp.access.embedlinks import WALLBOARD
from webapp.access.routes import GuardedRoute
from webapp.access.users import Role
from webapp.delivery.protocol import DashboardConfig, HeadTimeoutProtocol
from webapp.routes import routes
from webapp.simulator import Simulator

PASSWORD = "correct horse battery staple"
MANY = {"dashboard_streams_per_session": 1000, "dashboard_streams_per_user": 1000}
JSON = {"Accept": "application/json"}
HTML = {"Accept": "text/html"}
STREAM = ("content-type", "text/event-stream; charset=utf-8")
# Frames of these files are the middleware stack and the router: none may stay alive
# while a viewer is held.
STACK = re.compile(
    r"starlette/(middleware/|routing\.py|_exception_handler\.py|applications\.py)"
    r"|webapp/access/(auth|proxies|secheaders|sessions|bodylimit)\.py"
)


class Reference:
    """The app served through Starlette's own ``__call__``: the body written under the stack."""

    def __init__(self, app: Starlette) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await Starlette.__call__(self.app, scope, receive, send)


@asynccontextmanager
async def reference(live: LiveApp) -> AsyncIterator[str]:
    """A second server of ``live``'s app (its lifespan already runs), through the stack."""
    config = DashboardConfig(
        Reference(live.app),  # type: ignore[arg-type]
        host="127.0.0.1",
        port=0,
        log_config=None,
        lifespan="off",
        proxy_headers=False,
        http=HeadTimeoutProtocol,
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    await wait_started(server, task)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        state = live.state
        state.hub.release_viewers()
        await asyncio.wait_for(task, 10)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: str  # a refusal's whole body; a stream's first event's name


def _header(name: bytes, value: bytes) -> tuple[str, str]:
    text = value.decode("latin-1")
    if name.lower() == b"set-cookie":  # the signed value carries the second it was signed
        cookie, _, attributes = text.partition(";")
        text = cookie.partition("=")[0] + "=<signed>;" + attributes
    return name.decode("latin-1").lower(), text


async def ask(client: httpx.AsyncClient, base: str, path: str, headers: dict[str, str]) -> Answer:
    """The answer to GET ``path``; the server's own address in a page's links reads <base>."""
    async with client.stream("GET", base + path, headers=headers) as response:
        kept = [_header(n, v) for n, v in response.headers.raw if n.lower() != b"date"]
        if "text/event-stream" not in response.headers.get("content-type", ""):
            body = (await response.aread()).decode().replace(base, "<base>")
            return Answer(response.status_code, kept, body)
        first = b""
        async for chunk in response.aiter_raw():
            first += chunk
            if b"\n\n" in first:
                break
        # The first event only: what else the first read holds is timing (a status frame
        # may come in the same write or the next).
        events = re.findall(r"^event: ?(.*)$", first.split(b"\n\n")[0].decode(), re.M)
        return Answer(response.status_code, kept, events[0] if events else "(comment)")


def _diff(ours: Answer, theirs: Answer) -> list[str]:
    lines = difflib.unified_diff(theirs.body.splitlines(), ours.body.splitlines(), lineterm="")
    return [*lines, *(str(h) for h in ours.headers if h not in theirs.headers)]


class AuditSpy:
    """Every call of the audit log's ``record`` (before its folding), by route."""

    def __init__(self, live: LiveApp) -> None:
        self.calls: list[tuple[Any, ...]] = []
        audit = live.state.access.audit
        real = audit.record

        async def record(who: str, via: str, what: str, route: str, address: str, **kw: Any) -> Any:
            self.calls.append((who, via, what, route, address, tuple(sorted(kw.items()))))
            return await real(who, via, what, route, address, **kw)  # type: ignore[arg-type]

        audit.record = record  # type: ignore[method-assign]

    def of(self, route: str) -> list[tuple[Any, ...]]:
        return [c for c in self.calls if c[3] == route]


@dataclass
class Principal:
    name: str
    client: httpx.AsyncClient
    headers: dict[str, str]
    query: Callable[[str], str]  # what it adds to a route's query (an embed link's token)


def stream_urls(sid: str, cid: int, gsid: str, gcid: int) -> dict[str, str]:
    """Every stream route of the table, by name and path, with values that open it."""
    found: dict[str, str] = {}
    for route in routes():
        if not (isinstance(route, GuardedRoute) and route.guard.stream):
            continue
        in_org = route.path.startswith("/o/{org}")
        values = {
            "org": GLOBEX,
            "sid": gsid if in_org else sid,
            "campaign_id": gcid if in_org else cid,
            "view": "call",
            "kind": "call",
            "ident": gsid if in_org else sid,
        }
        path = route.path.format(**values)
        if route.name == "events":
            path += f"?call={values['sid']}&campaign={values['campaign_id']}"
        found[f"{route.name} {route.path}"] = path
    return found


async def password_person(live: LiveApp, name: str, grants: dict[str, Role]) -> httpx.AsyncClient:
    users = live.state.access.users
    await users.add(name, PASSWORD, None)
    for org, granted in grants.items():
        await users.grant(name, org, granted)
    client = httpx.AsyncClient(timeout=10)
    form = await client.get(f"{live.url}/signin")
    found = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert found
    data = {"name": name, "password": PASSWORD, "csrf": found[1], "next": "/"}
    assert (await client.post(f"{live.url}/signin", data=data)).status_code == 303
    return client


async def linked(live: LiveApp, role: Role) -> httpx.AsyncClient:
    client = httpx.AsyncClient(timeout=10)
    await client.get(live.url + live.state.access.links.issue(f"test-{role.value}", role))
    return client


async def embed_query(live: LiveApp, sid: str, gsid: str) -> Callable[[str], str]:
    """A route's embed link token: the call's (or the board's) of the route's organisation."""
    embeds = live.state.access.embeds
    tokens = {
        ("call", False): (await embeds.mint("call", sid, 3600, "test")).token,
        ("call", True): (await embeds.mint("call", gsid, 3600, "test", org=GLOBEX)).token,
        ("board", False): (await embeds.mint("wallboard", WALLBOARD, 3600, "test")).token,
        ("board", True): (
            await embeds.mint("wallboard", WALLBOARD, 3600, "test", org=GLOBEX)
        ).token,
    }

    def query(path: str) -> str:
        kind = "board" if "wallboard" in path else "call"
        return f"token={tokens[kind, path.startswith('/o/')]}"

    return query


async def test_every_stream_route_answers_each_principal_as_the_whole_stack_does() -> None:
    async with two_org_sim() as sim, two_org_app(sim, **MANY) as live, reference(live) as ref:
        sid, cid = sim.add_call(), sim.add_campaign(name="Q", dialect="B", contacts=3)
        globex = sim.org(GLOBEX)
        gsid, gcid = globex.add_call(), globex.add_campaign(name="G", dialect="B", contacts=3)
        token = await live.token(Role.ADMIN)
        nobody = httpx.AsyncClient(timeout=10)
        principals = [
            Principal("anonymous", nobody, {}, lambda _: ""),
            Principal("anonymous page", nobody, HTML, lambda _: ""),
            Principal("session admin", await linked(live, Role.ADMIN), {}, lambda _: ""),
            Principal("session supervisor", await linked(live, Role.SUPERVISOR), {}, lambda _: ""),
            Principal("token", nobody, {"Authorization": f"Bearer {token}"}, lambda _: ""),
            Principal("embed", nobody, {}, await embed_query(live, sid, gsid)),
            Principal(
                "wrong org",
                await password_person(live, "gina", {GLOBEX: Role.ADMIN}),
                {},
                lambda _: "",
            ),
        ]
        spy = AuditSpy(live)
        opened: dict[str, set[str]] = {}

        async def compare(name: str, path: str) -> None:
            route = path.partition("?")[0]
            for who in principals:
                for accept in ({}, JSON):
                    extra = who.query(path)
                    url = path + (("&" if "?" in path else "?") + extra if extra else "")
                    headers = who.headers | accept
                    before = len(spy.of(route))
                    ours = await ask(who.client, live.url, url, headers)
                    middle = len(spy.of(route))
                    theirs = await ask(who.client, ref, url, headers)
                    case = (name, who.name, accept)
                    assert ours == theirs, (case, _diff(ours, theirs))
                    audited = spy.of(route)
                    assert audited[before:middle] == audited[middle:], case
                    if ours.status == 200 and STREAM in ours.headers:
                        opened.setdefault(name, set()).add(who.name)

        urls = stream_urls(sid, cid, gsid, gcid)
        try:
            await asyncio.gather(*(compare(name, path) for name, path in urls.items()))
        finally:
            for who in principals:
                await who.client.aclose()
        assert len(urls) == 16  # every stream route, unprefixed and under /o/{org}
        assert {name for name, who in opened.items() if "session admin" in who} == set(urls), opened


async def test_a_stream_over_the_cap_is_refused_as_the_whole_stack_refuses_it(
    sim: Simulator,
) -> None:
    sid = sim.add_call()
    cid = sim.add_campaign(name="Q", dialect="B", contacts=3)
    caps = {"dashboard_streams_per_session": 1}
    async with running_app(sim, **caps) as live, reference(live) as ref:
        client = await linked(live, Role.ADMIN)
        spy = AuditSpy(live)
        held = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        try:
            await held.wait_for(lambda e: e.event == "snapshot")
            for name, path in stream_urls(sid, cid, sid, cid).items():
                if path.startswith("/o/"):
                    continue
                for accept in ({}, JSON, HTML):
                    route = path.partition("?")[0]
                    before = len(spy.of(route))
                    ours = await ask(client, live.url, path, accept)
                    middle = len(spy.of(route))
                    theirs = await ask(client, ref, path, accept)
                    assert ours == theirs, (name, accept, _diff(ours, theirs))
                    assert ours.status == 429, (name, ours)
                    audited = spy.of(route)
                    assert audited[before:middle] == audited[middle:], (name, accept)
        finally:
            await held.stop()
            await client.aclose()


def _stack_of(task: asyncio.Task[Any]) -> list[str]:
    """The files and names of the frames a task's coroutine is suspended in, outermost first
    (down to an async generator, whose own frames are not reachable from its awaiter)."""
    found: list[str] = []
    coro: Any = task.get_coro()
    while coro is not None:
        frame = getattr(coro, "cr_frame", None)
        if frame is not None:
            found.append(f"{frame.f_code.co_filename}:{frame.f_code.co_qualname}")
        coro = getattr(coro, "cr_await", None)
    return found


async def test_a_held_viewer_keeps_no_frame_of_the_middleware_stack(sim: Simulator) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live:
        token = await live.token(Role.ADMIN)
        session = await linked(live, Role.ADMIN)
        bearer = httpx.AsyncClient(timeout=10, headers={"Authorization": f"Bearer {token}"})
        viewers = [
            Viewer(live.url, f"/api/calls/{sid}/events").start(session),
            Viewer(live.url, f"/live/call/call/{sid}").start(session),
            Viewer(live.url, "/wallboard/updates").start(session),
            Viewer(live.url, "/overview/updates").start(session),
            Viewer(live.url, f"/api/events?call={sid}").start(bearer),
        ]
        try:
            for viewer in viewers:  # each had its opening: it is held now
                await viewer.wait_for(lambda e: True)
            stacks = [_stack_of(task) for task in asyncio.all_tasks()]
            held = [s for s in stacks if "run_asgi" in s[0] and any("sseresponse" in f for f in s)]
            assert len(held) == len(viewers)
            for stack in held:
                kept = [frame for frame in stack if STACK.search(frame)]
                assert kept == [], kept
        finally:
            for viewer in viewers:
                await viewer.stop()
            await session.aclose()
            await bearer.aclose()


async def test_a_held_viewer_that_leaves_gives_back_its_place_and_its_subscriber(
    sim: Simulator,
) -> None:
    """No task waits for the client to leave: the connection's loss ends the held body, its
    subscriber and its place under the caps go at once, and the next stream is let in."""
    sid = sim.add_call()
    async with running_app(sim, dashboard_streams_per_session=1) as live:
        client = await linked(live, Role.ADMIN)
        try:
            for _ in range(3):
                viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
                await viewer.wait_for(lambda e: e.event == "snapshot")
                assert live.state.access.caps.open["total"] == 1
                await viewer.stop()
                for _ in range(500):  # the server hears of the close on its own time
                    if live.state.access.caps.open["total"] == 0:
                        break
                    await asyncio.sleep(0.01)
                assert live.state.access.caps.open["total"] == 0
                assert all(stream.viewer_count == 0 for stream in live.hub.streams.values())
        finally:
            await client.aclose()
