"""A real dashboard on 127.0.0.1 (uvicorn, port 0) in front of a real simulator, and SSE viewers."""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from httpx_sse import ServerSentEvent, aconnect_sse
from playwright.async_api import Browser, Page
from starlette.applications import Starlette

from tests.conftest import SIM_KEY
from webapp import parts
from webapp.access.users import Role
from webapp.access.wiring import SESSION_COOKIE
from webapp.app import create_app
from webapp.pages.state import AppState, state_of
from webapp.relay.hub import Hub
from webapp.server import DashboardServer, uvicorn_config
from webapp.settings import Settings
from webapp.simulator import Simulator

SESSION_SECRET = "test-session-secret-0123456789abcdef-xyz"

FAST = {
    "burki_keepalive_interval": 0.5,
    "burki_ping_timeout": 0.4,
    "burki_connect_timeout": 2.0,
    "relay_grace_period": 0.3,
    "relay_linger": 5.0,
    "relay_poll_interval": 0.2,
    "relay_heartbeat": 15.0,
    "monitor_enabled": False,  # a test of monitoring turns it on: others follow their viewers
}


@dataclass
class LiveApp:
    url: str
    app: Starlette
    server: uvicorn.Server

    @property
    def state(self) -> AppState:
        return app_state_of(self.app)

    @property
    def hub(self) -> Hub:
        return self.state.hub

    @asynccontextmanager
    async def client(
        self, role: Role | None = Role.ADMIN, **kwargs: Any
    ) -> AsyncIterator[httpx.AsyncClient]:
        """An HTTP client signed in (session cookie) as a user of ``role`` (None: signed out)."""
        async with httpx.AsyncClient(**kwargs) as client:
            if role is not None:
                link = self.state.access.links.issue(f"test-{role.value}", role)
                await client.get(self.url + link)
                assert SESSION_COOKIE in client.cookies, "the sign-in link did not sign in"
            yield client

    async def page(
        self, browser: Browser, role: Role = Role.ADMIN, start: str = "/signin", **kwargs: Any
    ) -> Page:
        """A browser page signed in as a user of ``role``, left on ``start``."""
        page = await browser.new_page(**kwargs)
        link = self.state.access.links.issue(f"test-{role.value}", role)
        await page.goto(f"{self.url}{link}&next={start}")
        return page

    async def token(self, role: Role) -> str:
        """A new API token of ``role``, in plain text."""
        name = f"test-{role.value}-{len(await self.state.access.tokens.list())}"
        return str(await self.state.access.tokens.create(name, role))


@asynccontextmanager
async def running_app(
    sim: Simulator,
    clock: Callable[[], float] = time.time,
    *,
    demo: bool | None = None,
    port: int = 0,
    **overrides: Any,
) -> AsyncIterator[LiveApp]:
    """Serve the dashboard against ``sim`` until the block exits, then shut it down.

    Its store is a SQLite file in a temporary folder of its own (unless the
    overrides name a ``database_url``);
    ``clock`` is the one its sessions and embed links read (a test may set it by hand).
    ``demo=True`` makes it a demo instance (against ``sim`` all the same);
    ``port`` 0 is any free one (a restart test serves again on the port it had).
    """
    with tempfile.TemporaryDirectory() as folder:
        async with _serving(sim, Path(folder), clock, overrides, demo, port) as live:
            yield live


@asynccontextmanager
async def _serving(
    sim: Simulator,
    folder: Path,
    clock: Callable[[], float],
    overrides: dict[str, Any],
    demo: bool | None = None,
    port: int = 0,
) -> AsyncIterator[LiveApp]:
    base = {
        "burki_api_key": SIM_KEY,
        "burki_base_url": sim.base_url,
        "dashboard_users_file": folder / "users.toml",
        "dashboard_tokens_file": folder / "tokens.toml",
        "dashboard_audit_file": folder / "audit.jsonl",
        "dashboard_database_file": folder / "store.sqlite3",
        "dashboard_session_secret": SESSION_SECRET,
    }
    settings = Settings(**(base | FAST | overrides))
    access = parts.access(settings, clock, demo=demo)
    app = create_app(settings, demo=demo, access=access)
    config = uvicorn_config(app, settings, host="127.0.0.1", port=port, timeout_graceful_shutdown=2)
    server = DashboardServer(config, app)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    await wait_started(server, task)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield LiveApp(f"http://127.0.0.1:{port}", app, server)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def wait_started(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    # uvicorn offers no started event; its own flag is the only signal there is.
    for _ in range(500):
        if server.started:
            return
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    raise AssertionError("uvicorn did not start")


@dataclass
class Viewer:
    """A real SSE client that records every event it receives, in order."""

    base: str
    path: str
    last_id: str | None = None
    events: list[ServerSentEvent] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _figures: dict[str, dict[str, Any]] = field(default_factory=dict)  # by stream, merged

    def start(self, client: httpx.AsyncClient, *, query_resume: bool = False) -> Viewer:
        self._task = asyncio.create_task(self._read(client, query_resume))
        return self

    async def _read(self, client: httpx.AsyncClient, query_resume: bool) -> None:
        headers, url = {}, self.base + self.path
        if self.last_id is not None and query_resume:
            sep = "&" if "?" in url else "?"
            url += f"{sep}last_event_id={self.last_id}"
        elif self.last_id is not None:
            headers["Last-Event-ID"] = self.last_id
        async with aconnect_sse(client, "GET", url, headers=headers) as source:
            source.response.raise_for_status()
            async for event in source.aiter_sse():
                follow_figures(self._figures, event)
                self.events.append(event)
                if event.id:
                    self.last_id = event.id
                self._changed.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def ended(self, timeout: float = 10.0) -> None:
        """Return once the server ended the response (it closed the stream by itself)."""
        assert self._task is not None, "the viewer was not started"
        await asyncio.wait_for(asyncio.shield(self._task), timeout)

    async def wait_for(self, predicate: Any, timeout: float = 5.0) -> ServerSentEvent:
        """Await the first recorded event (old or new) that satisfies ``predicate``."""

        async def scan() -> ServerSentEvent:
            seen = 0
            while True:
                for event in self.events[seen:]:
                    if predicate(event):
                        return event
                seen = len(self.events)
                if self._task is not None and self._task.done():
                    self._task.result()
                    raise AssertionError("the SSE response ended")
                self._changed.clear()
                await self._changed.wait()

        try:
            return await asyncio.wait_for(scan(), timeout)
        except TimeoutError:
            kinds = [(e.event, e.data[:80]) for e in self.events]
            raise AssertionError(f"timed out; received {kinds}") from None


@asynccontextmanager
async def watching(
    sim: Simulator, sid: str, role: Role = Role.ADMIN, **overrides: Any
) -> AsyncIterator[tuple[LiveApp, httpx.AsyncClient, Viewer]]:
    """A dashboard serving ``sim``, a client signed in as ``role`` and an SSE viewer of call
    ``sid`` whose upstream is live; the viewer stops when the block exits."""
    async with running_app(sim, **overrides) as live, live.client(role, timeout=10) as client:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        await viewer.wait_for(is_event("status", state="live"))
        try:
            yield live, client, viewer
        finally:
            await viewer.stop()


def data(event: ServerSentEvent) -> dict[str, Any]:
    value = json.loads(event.data)
    assert isinstance(value, dict)
    return value


def segments(events: list[ServerSentEvent]) -> list[str]:
    """Final segment texts a viewer has been shown, from snapshots and transcript events."""
    shown: list[str] = []
    for event in events:
        if event.event == "snapshot":
            shown = [s["content"] for s in data(event).get("segments", [])]
        elif event.event == "transcript" and data(event)["segment"]["is_final"]:
            shown.append(data(event)["segment"]["content"])
    return shown


def placed(events: list[ServerSentEvent]) -> list[str]:
    """The final lines one stream's viewer holds, each where its event put it, as the page
    does: a late one (Burki replayed it after a newer live one) is inserted at its index."""
    shown: list[str] = []
    for event in events:
        if event.event == "snapshot":
            shown = [s["content"] for s in data(event).get("segments", [])]
        elif event.event == "transcript" and data(event)["segment"]["is_final"]:
            segment = data(event)["segment"]
            shown.insert(segment["index"], segment["content"])
    return shown


def holds_all(viewer: Viewer, lines: list[str]) -> Any:
    """A ``wait_for`` predicate: ``viewer`` has been shown every one of ``lines``, wherever.

    Not "the last line arrived": Burki's replay after a reconnect can deliver a live line
    before older ones it replays, which then arrive later and are inserted before it."""
    wanted = set(lines)
    return lambda _event: wanted <= set(placed(viewer.events))


def follow_figures(held: dict[str, dict[str, Any]], event: ServerSentEvent) -> None:
    """Merge ``event``'s call figures into ``held`` (by stream), as docs/api.md tells a client
    to (event shapes version 3: a ``metrics`` carries the members that changed, a snapshot all
    of them), and pin the call's whole figures after it on the event (see :func:`part`)."""
    try:
        payload = json.loads(event.data)
    except ValueError:
        return
    if not isinstance(payload, dict) or not isinstance(payload.get("stream"), str):
        return
    stream = payload["stream"]
    if event.event == "snapshot" and isinstance(payload.get("metrics"), dict):
        held[stream] = payload["metrics"]
    elif event.event == "metrics":
        held[stream] = {**held.get(stream, {}), **payload}
    elif event.event == "transcript" and isinstance(payload.get("metrics"), dict):
        held[stream] = {**held.get(stream, {}), **payload["metrics"]}
    else:
        return
    event.figures = {k: v for k, v in held[stream].items() if k != "stream"}  # type: ignore[attr-defined]


def part(event: ServerSentEvent, kind: str) -> dict[str, Any] | None:
    """``kind``'s data in ``event``: the event itself, or, for a ``sentiment`` or
    ``metrics``, what rides in a segment's ``transcript`` event (event shapes version 2).

    For ``metrics``, a :class:`Viewer`'s events give the call's whole figures after the
    event, as its client merged them (version 3), not only the members that changed."""
    if kind == "metrics" and event.event != "snapshot" and hasattr(event, "figures"):
        return dict(event.figures)
    if event.event == kind:
        return data(event)
    if event.event == "transcript" and kind in ("sentiment", "metrics"):
        found = data(event).get(kind)
        return found if isinstance(found, dict) else None
    return None


def parts_of(events: list[ServerSentEvent], kind: str) -> list[dict[str, Any]]:
    """Every ``kind`` a viewer was sent, in order, wherever it rode (see :func:`part`)."""
    return [found for event in events if (found := part(event, kind)) is not None]


def is_event(kind: str, **fields: Any) -> Any:
    def check(event: ServerSentEvent) -> bool:
        if event.event != kind:
            return False
        payload = data(event)
        return all(payload.get(k) == v for k, v in fields.items())

    return check


def is_live(event: ServerSentEvent) -> bool:
    """The upstream is live: a status event says so, or the first snapshot already does (a
    cluster node whose stream went live before the viewer came sends no status after it)."""
    if event.event == "snapshot":
        return bool(data(event)["connection"]["state"] == "live")
    return bool(is_event("status", state="live")(event))


def has_segment(content: str) -> Any:
    def check(event: ServerSentEvent) -> bool:
        if event.event == "transcript":
            return bool(data(event)["segment"]["content"] == content)
        if event.event == "snapshot":
            return any(s["content"] == content for s in data(event).get("segments", []))
        return False

    return check


def app_state_of(app: Starlette) -> AppState:
    """The running app's parts (its lifespan has started them)."""
    state = state_of(app)
    assert state is not None, "the app has not started"
    return state


async def csrf_of(client: httpx.AsyncClient, url: str) -> str:
    """The session's CSRF token, as the page at ``url`` carries it in a form."""
    found = re.search(r'name="csrf" value="([^"]+)"', (await client.get(url)).text)
    assert found, f"{url} carries no CSRF token"
    return found.group(1)
