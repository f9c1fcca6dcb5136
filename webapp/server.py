"""uvicorn, configured in one place and told to end the live streams first when it shuts down.

:func:`uvicorn_config` is the only way the dashboard (and its tests) configure
uvicorn: forwarded headers are left to the app (``webapp.access.proxies``, so
uvicorn's default of trusting 127.0.0.1 never applies), a client gets
``DASHBOARD_HEADER_TIMEOUT`` seconds to send a request's head (uvicorn's h11
protocol has no such timeout: a half-sent request would hold its connection
forever), the head is bounded in size however it arrives, a body must come at a
minimum rate and within a deadline, connections are limited in total and per client
address (:mod:`webapp.delivery.protocol`, our h11 protocol), and the access log masks
query tokens.

uvicorn waits for open responses before it runs the app's lifespan shutdown,
and an SSE response never ends by itself. So on SIGTERM or Ctrl-C the server
first releases every viewer (their responses end at once, with no frame lost:
browsers resume elsewhere with their last id), then drains as usual, bounded by
``timeout_graceful_shutdown``; the lifespan then closes the hub's upstreams.

Once started, the server keeps the garbage collector's full collections off the
live path (:mod:`webapp.collector`).

uvicorn's main loop wakes ten times a second to see whether it should exit (and once a
second refreshes its ``date`` header): ten wake-ups of the loop a second, each a timer,
a future and a step of its task, with nothing to do. Ours wakes once a second (the
``date`` header's pace), and at once when told to exit: setting ``should_exit`` (a
signal handler, a test, the bench) wakes it.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
from typing import Any

import uvicorn
from starlette.applications import Starlette

from webapp.access.netaddr import Network
from webapp.collector import Collector
from webapp.delivery.connguard import AddressShare, BodyPace
from webapp.delivery.protocol import DashboardConfig, HeadTimeoutProtocol
from webapp.logs import QUERY_TOKENS
from webapp.pages.state import state_of
from webapp.settings import Settings
from webapp.transports import release_closed_transports

TICK = 1.0
"""Seconds between the main loop's looks (uvicorn's: 0.1); its ``date`` header's pace."""


class DashboardServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: Starlette) -> None:
        self._exit = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._nap: asyncio.Future[None] | None = None
        super().__init__(config)
        self.dashboard = app
        self.collector: Collector | None = None

    @property
    def should_exit(self) -> bool:
        return self._exit

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        self._exit = value
        loop = self._loop
        if value and loop is not None and not loop.is_closed():
            # Thread-safe: uvicorn's signal handlers run between two bytecodes of the
            # loop's thread, even while the loop waits in select().
            loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        nap = self._nap
        if nap is not None and not nap.done():
            nap.set_result(None)

    async def main_loop(self) -> None:
        """uvicorn's main loop, once a second: ``on_tick`` sees a counter of tenths of a
        second (its ``date`` header is refreshed on every whole second), and the loop ends
        as soon as ``should_exit`` is set."""
        loop = self._loop = asyncio.get_running_loop()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 10) % 864000
            self._nap = loop.create_future()
            timer = loop.call_later(TICK, self._wake)
            try:
                if not self._exit:
                    await self._nap
            finally:
                timer.cancel()
                self._nap = None
            should_exit = await self.on_tick(counter)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        release_closed_transports()  # closed connections freed at once (Python 3.11)
        await super().startup(sockets)
        interval = getattr(self.config, "gc_freeze_interval", 0.0)
        if interval and not self.should_exit:
            sweep = getattr(self.config, "gc_sweep", 0.0)
            self.collector = Collector(interval=interval, sweep=sweep)
            self.collector.start()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.collector is not None:
            self.collector.stop()
            gc.unfreeze()  # what is left is the collector's again
            self.collector = None
        state = state_of(self.dashboard)
        if state is not None:
            state.hub.release_viewers()
            for each in state.tenants:
                each.directory.release_watchers()
        await super().shutdown(sockets)


def address_share(settings: Settings, trusted: list[Network]) -> AddressShare:
    """Each client address's share of ``DASHBOARD_MAX_CONNECTIONS``."""
    share = settings.dashboard_max_connections_per_address
    return AddressShare(share or max(1, settings.dashboard_max_connections // 4), trusted)


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
    config.max_head_bytes = settings.dashboard_max_header_bytes
    config.body_pace = BodyPace(
        grace=min(settings.dashboard_header_timeout, settings.dashboard_body_timeout),
        min_rate=float(settings.dashboard_body_min_rate),
        timeout=settings.dashboard_body_timeout,
    )
    config.address_share = address_share(settings, list(settings.trusted_proxies))
    config.gc_freeze_interval = settings.dashboard_gc_freeze_interval
    config.gc_sweep = settings.dashboard_gc_sweep_minutes * 60
    return config
