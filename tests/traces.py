"""The frames recorded from the real open-source Burki server, and a server that replays them.

``/work/shared/burki-traces/*.jsonl`` (one probe a line). :class:`TraceServer` answers
``/live-transcript/{sid}`` by sending, verbatim, the frames recorded for that call,
then closing as recorded (or staying open, as the real server did); every plain
HTTP request gets the real server's 404 body.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

TRACES = Path("/work/shared/burki-traces")


def load(name: str) -> list[dict[str, Any]]:
    """Every probe of one trace file."""
    lines = (TRACES / name).read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def probe(name: str, check: str) -> dict[str, Any]:
    return next(p for p in load(name) if p.get("check") == check)


def call_frames() -> dict[str, list[dict[str, Any]]]:
    """The frames a viewer of each recorded call received, by call id."""
    calls = {}
    for check in ("token_query_ongoing", "token_query_completed"):
        messages = probe("probe.jsonl", check)["messages"]
        calls[messages[0]["call_sid"]] = messages
    for entry in load("sim_call.jsonl"):
        if "viewer_received" in entry:
            calls[entry["call_sid"]] = entry["viewer_received"]
    return calls


@dataclass
class TraceServer:
    base_url: str
    connections: int = 0


@asynccontextmanager
async def trace_server() -> AsyncIterator[TraceServer]:
    frames = call_frames()
    holder = TraceServer("")

    def http(connection: ServerConnection, request: Request) -> Response | None:
        if "websocket" in request.headers.get("Upgrade", "").lower():
            return None
        body = b'{"detail":"Not Found"}'
        headers = Headers([("Content-Type", "application/json"), ("Content-Length", "22")])
        return Response(404, "Not Found", headers, body)

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        holder.connections += 1
        sid = unquote(urlsplit(ws.request.path).path.rsplit("/", 1)[-1])
        for message in frames.get(sid, []):
            await ws.send(json.dumps(message))
        await ws.wait_closed()  # the real server kept the socket open

    async with serve(handler, "127.0.0.1", 0, process_request=http) as server:
        port = server.sockets[0].getsockname()[1]
        holder.base_url = f"http://127.0.0.1:{port}"
        yield holder
        server.close()
