"""uvicorn, configured in one place and told to end the live streams first when it shuts down.

:func:`uvicorn_config` is the only way the dashboard (and its tests) configure
uvicorn: forwarded headers are left to the app (``webapp.access.proxies``, so
uvicorn's default of trusting 127.0.0.1 never applies), a client gets
``DASHBOARD_HEADER_TIMEOUT`` seconds to send a request's head (uvicorn's h11
protocol has no such timeout: a half-sent request would hold its connection
forever), the head is bounded in size, connections are limited, and the
access log masks query tokens.

uvicorn waits for open responses before it runs the app's lifespan shutdown,
and an SSE response never ends by itself. So on SIGTERM or Ctrl-C the server
first releases every viewer (their responses end at once, with no frame lost:
browsers resume elsewhere with their last id), then drains as usual, bounded by
``timeout_graceful_shutdown``; the lifespan then closes the hub's upstreams.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

import h11
import uvicorn
from starlette.applications import Starlette
from uvicorn.protocols.http.h11_impl import H11Protocol

from webapp.logs import QUERY_TOKENS
from webapp.pages.state import state_of
from webapp.settings import Settings


class DashboardServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: Starlette) -> None:
        super().__init__(config)
        self.dashboard = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        state = state_of(self.dashboard)
        if state is not None:
            state.hub.release_viewers()
            state.directory.release_watchers()
        await super().shutdown(sockets)


class DashboardConfig(uvicorn.Config):
    header_timeout: float = 10.0


class HeadTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request head is not complete in time.

    The clock runs whenever the connection waits for a request head: from
    connect, and again from the first byte of each keep-alive request (idle
    time before it is uvicorn's keep-alive timeout).
    """

    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self._arm()  # still waiting for (the rest of) a head
        else:
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._head_timer is None:
            seconds = getattr(self.config, "header_timeout", DashboardConfig.header_timeout)
            self._head_timer = self.loop.call_later(seconds, self._too_slow)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _too_slow(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.logger.info("closed a connection that sent no complete request head in time")
            self.transport.close()


def uvicorn_config(app: Starlette, settings: Settings, **overrides: Any) -> DashboardConfig:
    """The uvicorn configuration of the dashboard; tests override host, port and the like."""
    logging.getLogger("uvicorn.access").addFilter(QUERY_TOKENS)
    logging.getLogger("uvicorn.error").addFilter(QUERY_TOKENS)
    options: dict[str, Any] = {
        "host": settings.dashboard_host,
        "port": settings.dashboard_port,
        "log_config": None,
        "timeout_graceful_shutdown": max(1, round(settings.dashboard_shutdown_timeout)),
        "proxy_headers": False,  # the app decides whom to believe (webapp.access.proxies)
        "http": HeadTimeoutProtocol,
        "timeout_keep_alive": max(1, round(settings.dashboard_keepalive_timeout)),
        "h11_max_incomplete_event_size": settings.dashboard_max_header_bytes,
        "limit_concurrency": settings.dashboard_max_connections,
    }
    config = DashboardConfig(app, **(options | overrides))
    config.header_timeout = settings.dashboard_header_timeout
    return config
