"""The naive design we compare against: one upstream WebSocket per viewer.

What a Burki SDK user would write first: each SSE request opens its own socket
to Burki with ``?token=`` (websockets' defaults: permessage-deflate, protocol
pings every 20 s), decodes each message and re-encodes it as ``data: ...``.
No shared state, no replay log, no dedupe, no heartbeat: as cheap per event as
an SSE proxy gets, which makes the comparison conservative. It needs Burki's
10-connections-per-call limit lifted (the bench's simulator has none).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from urllib.parse import quote

import websockets
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route


def create_naive_app(ws_base_url: str, api_key: str) -> Starlette:
    token = quote(api_key, safe="")

    async def call_events(request: Request) -> StreamingResponse:
        url = f"{ws_base_url}/live-transcript/{request.path_params['sid']}?token={token}"
        return StreamingResponse(
            _relay(url), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
        )

    return Starlette(routes=[Route("/api/calls/{sid}/events", call_events)])


async def _relay(url: str) -> AsyncIterator[str]:
    async with websockets.connect(url) as ws:
        async for message in ws:
            yield f"data: {json.dumps(json.loads(message))}\n\n"
