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
"""

from __future__ import annotations

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


class DashboardServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: Starlette) -> None:
        super().__init__(config)
        self.dashboard = app
        self.collector: Collector | None = None

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
