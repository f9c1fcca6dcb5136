"""Health, readiness and Prometheus metrics endpoints."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from webapp.pages.state import app_state, record, state_of
from webapp.relay.metrics import CONTENT_TYPE


async def healthz(request: Request) -> Response:
    """Alive: the process answers."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready: started and not shutting down. No counts: anyone may ask (/metrics has them)."""
    state = state_of(request.app)
    if state is None or state.hub.closed:
        return JSONResponse({"status": "not ready"}, status_code=503)
    if state.store is not None and not await state.store.ping():
        return JSONResponse({"status": "not ready", "reason": "redis"}, status_code=503)
    return JSONResponse({"status": "ready"})


async def metrics(request: Request) -> Response:
    await record(request, "metrics", once=True)  # a scraper every 15 s is one entry a day
    return Response(app_state(request).metrics.render(), media_type=CONTENT_TYPE)
