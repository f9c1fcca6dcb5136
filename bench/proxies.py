"""The proxy's process: our relay (``create_app``) or the naive design, under uvicorn.

Ours runs the way ``burki-dashboard run`` does (``webapp.server``'s configuration
and server, on 127.0.0.1, port 0, no access log); the naive design under a plain
uvicorn. The process's CPU time and memory are the design's and the server's,
nothing else. Commands: ``port``, ``token`` (an admin API token of our dashboard,
None for the naive one), ``follow`` (nothing to do: both open their upstreams on
demand) and ``gc`` (the garbage collector's pauses since the last call, by
generation: how many, the longest, the total, in ms) and ``embed`` (an embed link's
token for one call, which opens its pages' HTML updates under ``/embed/live/``; None for
the naive design).
"""

from __future__ import annotations

import asyncio
import gc
import tempfile
import time
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import uvicorn

from bench import gcstat, lingerstat
from bench.control import child_setup, serve, serving_port
from bench.naive import create_naive_app
from bench.simproc import API_KEY
from webapp.app import create_app
from webapp.server import DashboardServer, uvicorn_config
from webapp.settings import Settings

DESIGNS = ("ours", "naive")  # plus "ours-redaction-off" for the redaction A/B rounds
MAX_CONNECTIONS = 30_000
"""Our connection limit in the bench (10,000 idle viewers; the default is meant for people)."""


def stream_path(design: str, sids: list[str]) -> str:
    """A viewer's SSE path: one call's events, or several calls over one connection."""
    if len(sids) == 1:
        return f"/api/calls/{sids[0]}/events"
    if design == "naive":
        raise ValueError("the naive design serves one call per connection")
    return "/api/events?" + "&".join(f"call={sid}" for sid in sids)


def settings_for(base_url: str, viewer_queue: int, state_dir: Path, **extra: Any) -> Settings:
    """Our dashboard's settings against the bench's simulator (defaults otherwise); the
    users, tokens and audit files live in ``state_dir``, never in the repository."""
    files = {
        name: state_dir / f"{name}.data"
        for name in (
            "dashboard_users_file",
            "dashboard_tokens_file",
            "dashboard_audit_file",
            "dashboard_database_file",
        )
        if name in Settings.model_fields
    }
    # One token stands for every simulated viewer: lift the stream caps meant for people.
    uncapped = {
        name: 1_000_000
        for name in (
            "dashboard_streams_per_session",
            "dashboard_streams_per_user",
            "dashboard_streams_total",
            "dashboard_max_connections_per_address",  # every viewer comes from this host
        )
        if name in Settings.model_fields
    }
    if "dashboard_streams_per_request" in Settings.model_fields:  # the wallboard's 48 calls
        uncapped["dashboard_streams_per_request"] = 64
    return Settings(
        burki_api_key=API_KEY,
        burki_base_url=base_url,
        relay_viewer_queue=viewer_queue,
        dashboard_log_level="warning",
        dashboard_max_connections=MAX_CONNECTIONS,
        **files,
        **uncapped,
        **extra,
    )


async def api_token(server: uvicorn.Server, name: str = "bench") -> str | None:
    """An admin API token for the viewers and /metrics, made in the running dashboard's
    store (None for the naive design, which has none)."""
    if not isinstance(server, DashboardServer):
        return None
    from webapp.access.users import Role
    from webapp.pages.state import state_of

    return str(await state_of(server.dashboard).access.tokens.create(name, Role.ADMIN))


async def embed_token(server: uvicorn.Server, sid: str) -> str | None:
    """An embed link's token for call ``sid`` (its pages' HTML updates need no session)."""
    if not isinstance(server, DashboardServer):
        return None
    from webapp.pages.state import state_of

    minted = await state_of(server.dashboard).access.embeds.mint("call", sid, 86_400, "bench")
    return minted.token


LISTEN = {"host": "127.0.0.1", "port": 0, "access_log": False, "backlog": 4096}


def build_server(
    design: str,
    base_url: str,
    viewer_queue: int,
    state_dir: Path,
    overrides: dict[str, Any] | None = None,
) -> uvicorn.Server:
    if design.startswith("ours"):
        extra = {"redaction_enabled": False} if design == "ours-redaction-off" else {}
        settings = settings_for(base_url, viewer_queue, state_dir, **extra, **(overrides or {}))
        app = create_app(settings, demo=False)
        config = uvicorn_config(app, settings, timeout_graceful_shutdown=2, **LISTEN)
        return DashboardServer(config, app)
    naive = create_naive_app("ws" + base_url.removeprefix("http"), API_KEY)
    plain = uvicorn.Config(naive, log_config=None, timeout_graceful_shutdown=2, **LISTEN)
    return uvicorn.Server(plain)


def main(
    conn: Connection,
    design: str,
    base_url: str,
    viewer_queue: int,
    overrides: dict[str, Any] | None = None,
    handlers: dict[str, Any] | None = None,
) -> None:
    """Serve ``design``; ``overrides`` are more of our dashboard's settings (the soak's),
    ``handlers`` more commands (``bench.heldmem``'s)."""
    child_setup(f"{design} proxy")
    with tempfile.TemporaryDirectory(prefix="burki-bench-") as state_dir:
        server = build_server(design, base_url, viewer_queue, Path(state_dir), overrides)
        asyncio.run(_run(conn, server, extra=handlers or {}))


async def _run(
    conn: Connection,
    server: uvicorn.Server,
    token_name: str = "bench",
    extra: dict[str, Any] | None = None,
) -> None:
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    port = await serving_port(server, task)
    token = await api_token(server, token_name)
    pauses = GcPauses()
    handlers = {
        "port": lambda: port,
        "token": lambda: token,
        "gc": pauses.take,
        "embed": partial(embed_token, server),
    }
    if isinstance(server, DashboardServer):
        handlers |= gcstat.handlers(server) | lingerstat.handlers(server)
    try:
        await serve(conn, handlers | {"follow": lambda sids: None} | (extra or {}))
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 60)  # 500 monitored streams close slowly on a busy machine


class GcPauses:
    """Records how long each garbage collection stops the process (``gc.callbacks``)."""

    def __init__(self) -> None:
        self._started = 0.0
        self._pauses: list[tuple[int, float]] = []
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self._pauses.append((info["generation"], (time.perf_counter() - self._started) * 1000))

    def take(self) -> dict[int, tuple[int, float, float]]:
        """``{generation: (count, longest ms, total ms)}`` since the last call."""
        pauses, self._pauses = self._pauses, []
        found: dict[int, tuple[int, float, float]] = {}
        for generation in sorted({g for g, _ in pauses}):
            ms = [p for g, p in pauses if g == generation]
            found[generation] = (len(ms), max(ms), sum(ms))
        return found
