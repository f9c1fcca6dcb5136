"""Health, readiness and Prometheus metrics endpoints."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from webapp.relay.metrics import CONTENT_TYPE


async def healthz(request: Request) -> Response:
    """Alive: the process answers."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready: started and not shutting down. No counts: anyone may ask (/metrics has them)."""
    hub = getattr(request.app.state, "hub", None)
    if hub is None or hub.closed:
        return JSONResponse({"status": "not ready"}, status_code=503)
    return JSONResponse({"status": "ready"})


async def metrics(request: Request) -> Response:
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE)
