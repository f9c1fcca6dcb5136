"""Health, readiness and Prometheus metrics endpoints."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from webapp.pages.state import app_state, record, state_of
from webapp.relay.metrics import CONTENT_TYPE
from webapp.store.database import StoreUnavailable
from webapp.store.store import Store

DATABASE_PROBE = 2.0  # seconds a readiness probe waits for the database


async def healthz(request: Request) -> Response:
    """Alive: the process answers."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready: started and not shutting down. No counts: anyone may ask (/metrics has them).

    The database down is said (``"down": ["database"]``) but keeps the node ready (200):
    open and new live views do not need it, and a balancer that pulled every node for it
    would end them all. Sign-in and the admin pages answer 503 meanwhile.
    """
    state = state_of(request.app)
    if state is None or state.hub.closed:
        return JSONResponse({"status": "not ready"}, status_code=503)
    if state.store is not None and not await state.store.ping():
        return JSONResponse({"status": "not ready", "reason": "redis"}, status_code=503)
    if not await database_answers(state.access.store):
        return JSONResponse({"status": "degraded", "down": ["database"]})
    return JSONResponse({"status": "ready"})


async def database_answers(store: Store) -> bool:
    try:
        await asyncio.wait_for(store.ping(), DATABASE_PROBE)
    except (StoreUnavailable, TimeoutError):
        return False
    return True


async def metrics(request: Request) -> Response:
    await record(request, "metrics", once=True)  # a scraper every 15 s is one entry a day
    return Response(app_state(request).metrics.render(), media_type=CONTENT_TYPE)
