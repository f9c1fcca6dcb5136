"""The application factory: ``create_app(settings)`` wires every part together."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from functools import partial

from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from webapp import parts
from webapp.access.held import HELD, Held
from webapp.access.wiring import Access
from webapp.pages import (
    errorpages,
)
from webapp.pages.state import NAME
from webapp.routes import routes
from webapp.settings import Settings

Stop = Callable[[], Awaitable[None]]


class DashboardApp(Starlette):
    """Starlette, serving an SSE response's body after its stack returned
    (:mod:`webapp.access.held`): an idle viewer holds no middleware frame."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        held = scope[HELD] = Held(send)
        try:
            await super().__call__(scope, receive, send)
        except BaseException:
            held.body = None  # the stack failed after a start: no body, but every ``after``
            await held.serve()
            raise
        finally:
            # The Held keeps ``send``, bound to uvicorn's request cycle, which holds the
            # scope: left in, every request would end as a reference cycle (its connection,
            # headers, session and all) for the cycle detector, not freed by reference counting.
            del scope[HELD]
        await held.serve()


def create_app(
    settings: Settings,
    *,
    demo: bool | None = None,
    access: Access | None = None,
    on_shutdown: Iterable[Stop] = (),
) -> Starlette:
    """Build the app. ``demo`` marks data as simulated (default: no key was configured).

    ``on_shutdown``: companions started before the app (the demo simulator),
    which its lifespan stops last.
    """
    simulated = settings.demo if demo is None else demo
    access = access or parts.access(settings, demo=simulated)
    return DashboardApp(
        routes=routes(),
        exception_handlers=errorpages.APP_HANDLERS,
        middleware=parts.middleware(access, settings),
        lifespan=partial(_lifespan, settings, access, simulated, tuple(on_shutdown)),
    )


@asynccontextmanager
async def _lifespan(
    settings: Settings, access: Access, demo: bool, on_shutdown: tuple[Stop, ...], app: Starlette
) -> AsyncIterator[None]:
    """Owns every long-lived part: the organisations' parts (REST clients, directories,
    monitors), the hub and its streams, the companions.

    Shutdown closes the hub first, so open SSE responses end promptly.
    """
    await access.open()  # StoreUnavailable stops the start: nothing is served without a schema
    state = parts.app_state(settings, access, demo)
    setattr(app.state, NAME, state)
    if state.webhooks is not None:
        state.webhooks.start()
    if state.history is not None:
        state.history.start()
    orgs = state.orgs
    try:
        if orgs is not None:  # each organisation's parts, the org book read once
            await orgs.start()
        await access.audit.prune()
        yield
    finally:
        if orgs is not None:  # monitors and directories first: they hold streams open
            await orgs.close()
        await state.hub.close()
        if orgs is not None:  # after the hub: its streams' polls use the REST clients
            await orgs.aclose_clients()
        if state.history is not None:  # after the hub: the streams' last records are in
            await state.history.close()
        if state.store is not None:
            await state.store.close()
        if state.webhooks is not None:
            await state.webhooks.close()
        for stop in reversed(on_shutdown):
            await stop()
        if access.shared_throttle is not None:
            await access.shared_throttle.close()
        if access.shared_caps is not None:
            await access.shared_caps.close()
        if access.shared_once is not None:
            await access.shared_once.close()
        access.close()
        await access.aclose()
