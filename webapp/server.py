"""uvicorn, told to end the live streams first when it shuts down.

uvicorn waits for open responses before it runs the app's lifespan shutdown,
and an SSE response never ends by itself. So on SIGTERM or Ctrl-C the server
first releases every viewer (their responses end at once, with no frame lost:
browsers resume elsewhere with their last id), then drains as usual, bounded by
``timeout_graceful_shutdown``; the lifespan then closes the hub's upstreams.
"""

from __future__ import annotations

import socket

import uvicorn
from starlette.applications import Starlette

from webapp.pages.state import state_of


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
