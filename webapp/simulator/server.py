"""The simulator: Burki's two WebSocket streams and its REST API on one port.

Built on ``websockets.asyncio.server.serve``: a plain GET (no ``Upgrade``) is
answered by the REST routes from the ``process_request`` hook; an upgrade to a
stream path becomes a WebSocket handled by :meth:`Simulator._handle`. Owning the
transport lets the fault knobs act where real faults happen (TCP aborts, a peer
that stops reading).

Ownership: ``start`` creates the pacer task and, with autoplay, the autoplay
task; ``stop`` cancels both, aborts hung sockets, and closes the server, which
waits for every connection handler; each handler owns its peer's writer task
and cancels it on the way out. Nothing outlives ``stop``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Mapping, Sequence
from functools import partial
from http import HTTPStatus
from types import TracebackType
from typing import Self

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from webapp.simulator import actions
from webapp.simulator.control import StreamControl
from webapp.simulator.drivers import run_autoplay, run_pacer
from webapp.simulator.faults import Faults
from webapp.simulator.handshake import (
    FrameDataFilter,
    RedactingFilter,
    credentials,
    is_upgrade,
    parse_key,
    parse_route,
    token_subprotocol,
)
from webapp.simulator.model import DIALECTS, Dialect, Store, utc_now
from webapp.simulator.orgs import ORG_ID_STRIDE, RequestLog, checked_orgs, key_matches
from webapp.simulator.oss import CALLER_CLOCK_AHEAD, NULL_TIMING_EVERY
from webapp.simulator.rest import ListShape, Reply, Rest
from webapp.simulator.session import Session
from webapp.simulator.worldcontrol import WorldControl

logger = logging.getLogger("webapp.simulator")
ws_logger = logging.getLogger("webapp.simulator.websockets")
ws_logger.addFilter(RedactingFilter())
ws_logger.addFilter(FrameDataFilter())  # its frames are transcripts too (demo mode's logs)

CLOSE_TIMEOUT = 2.0


class Simulator(StreamControl, WorldControl):
    """A stand-in for Burki on one port: hosted Burki by default, the open-source
    server with ``oss_quirks`` (only ``?token=`` works, unknown calls are "access
    denied", REST lists redirect to a trailing slash, naive timestamps).

    ``seed`` and ``speed`` drive autoplay (``autoplay=False``: no traffic but what
    the caller scripts); ``campaign_dialect`` is the dialect of autoplay's campaigns
    and of scripted ones given none (None: autoplay's campaigns 1, 2, 3 speak A, B, C
    and their successors keep their dialect; scripted ones speak B);
    ``max_connections_per_call`` (None: no limit) and ``list_shape`` (``"list"``
    or ``"page"``) follow Burki's limits and REST shapes.

    ``orgs`` (name -> key; None: one organisation, ``org``, whose key is ``api_key``)
    makes one server serve several organisations, each with its own key and world:
    the first is this simulator itself (its scripting methods, store and faults), each
    other is :meth:`org` ``(name)``, seeded ``seed + n``. A key sees only its own
    organisation's calls and campaigns: another's id is a 404 on REST and
    ``access_denied`` (close 1008) on a stream, as Burki answers a foreign id.
    ``requests`` logs every request with the asking key's organisation (never the key).

    The scripting methods are synchronous and must be called on the simulator's
    event loop: they change the store, then queue frames for every live socket of
    the stream, which leave in order (see :class:`~webapp.simulator.peer.Peer`).
    Frames are in ``wire.py`` and ``dialects.py``; faults in ``faults.py``.
    """

    def __init__(
        self,
        api_key: str = "sim-key",
        seed: int = 7,
        speed: float = 1.0,
        oss_quirks: bool = False,
        campaign_dialect: Dialect | None = None,
        autoplay: bool = True,
        max_connections_per_call: int | None = 10,
        list_shape: ListShape = "list",
        campaign_api: bool | None = None,
        orgs: Mapping[str, str] | None = None,
        org: str = "default",
        org_number: int = 1,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        if campaign_dialect not in (None, *DIALECTS):
            raise ValueError("campaign_dialect must be None, 'A', 'B' or 'C'")
        if list_shape not in ("list", "page"):
            raise ValueError("list_shape must be 'list' or 'page'")
        pairs = checked_orgs(orgs) if orgs is not None else [(org, api_key)]
        (org, api_key), others = pairs[0], pairs[1:]
        self.org_name = org
        self.api_key = api_key
        self.seed = seed
        self.speed = speed
        self.oss_quirks = oss_quirks
        self.campaign_dialect = campaign_dialect
        self.autoplay = autoplay
        self.max_connections_per_call = max_connections_per_call
        # The open-source server has no campaigns at all (404 on REST, 403 on the socket).
        self.campaign_api = (not oss_quirks) if campaign_api is None else campaign_api
        timing = NULL_TIMING_EVERY if oss_quirks else None
        ahead = CALLER_CLOCK_AHEAD if oss_quirks else 0.0
        self.store = Store(
            random.Random(seed),
            utc_now,
            null_timing_every=timing,
            caller_clock_ahead=ahead,
            first_id=(org_number - 1) * ORG_ID_STRIDE + 1,
        )
        self.rest = Rest(
            self.store,
            api_key,
            oss_quirks,
            list_shape,
            campaign_api=self.campaign_api,
            database_down=lambda: self.faults.database_down,
            organization_id=org_number,
        )
        self.rest.on_action = partial(actions.act, self)  # None: a Burki without them (404)
        self.session = Session(self)
        self.port = 0
        self.host = "127.0.0.1"
        self._faults = Faults()
        self._faults_changed = asyncio.Event()
        self._faults.watch(self._faults_changed.set)
        self._server: Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.requests = RequestLog()
        self._worlds: dict[str, Simulator] = {org: self}
        for number, (name, key) in enumerate(others, start=2):
            self._worlds[name] = Simulator(
                key,
                seed + number - 1,
                speed,
                oss_quirks,
                campaign_dialect,
                autoplay,
                max_connections_per_call,
                list_shape,
                campaign_api,
                org=name,
                org_number=number,
            )
        self._home = self  # the simulator whose server serves this world

    def org(self, name: str) -> Simulator:
        """The world of organisation ``name`` (this simulator for the first); KeyError."""
        return self._worlds[name]

    @property
    def org_names(self) -> tuple[str, ...]:
        return tuple(self._worlds)

    def holds_elsewhere(self, stream_key: str) -> bool:
        """Whether another organisation of the same server has the stream ``stream_key``."""
        route = parse_key(stream_key)
        return any(
            world.session.holds(route) for world in self._home._worlds.values() if world is not self
        )

    def _world_of(self, offered: str | None) -> Simulator | None:
        """The world whose key is ``offered``; None for no key or an unknown one."""
        found = None
        for world in self._worlds.values():  # compare with every key: no early exit
            if key_matches(offered, world.api_key):
                found = world
        return found

    def __repr__(self) -> str:
        return f"<Simulator {self.host}:{self.port} oss={self.oss_quirks}>"

    @property
    def faults(self) -> Faults:
        return self._faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        self._faults.unwatch(self._faults_changed.set)
        self._faults = faults
        faults.watch(self._faults_changed.set)
        self._faults_changed.set()

    @property
    def faults_changed(self) -> asyncio.Event:
        """Set on every change of a fault knob; the pacer clears it."""
        return self._faults_changed

    @property
    def base_url(self) -> str:
        if not self.port:
            raise RuntimeError("the simulator was never started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return "ws" + self.base_url.removeprefix("http")

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host:port`` (0: any free port, then read ``self.port``)."""
        if self._server is not None:
            raise RuntimeError("the simulator is already started")
        self._server = await serve(
            self._handle,
            host,
            port,
            process_request=self._process_request,
            select_subprotocol=self._select_subprotocol,
            close_timeout=CLOSE_TIMEOUT,
            logger=ws_logger,
        )
        port = self._server.sockets[0].getsockname()[1]
        for world in self._worlds.values():
            world.host, world.port, world._home = host, port, self
            world._start_tasks()
        logger.info("Burki simulator listening on %s (oss=%s)", self.base_url, self.oss_quirks)

    def _start_tasks(self) -> None:
        name = "" if self._home is self else f" ({self.org_name})"
        pacer = asyncio.create_task(run_pacer(self), name=f"simulator pacer{name}")
        self._tasks.append(pacer)
        if self.autoplay:
            autoplay = asyncio.create_task(run_autoplay(self), name=f"simulator autoplay{name}")
            self._tasks.append(autoplay)
        for task in self._tasks:
            task.add_done_callback(_report_failure)

    async def stop(self) -> None:
        """Stop traffic, abort hung sockets, close every connection; idempotent."""
        tasks = [task for world in self._worlds.values() for task in world._tasks]
        for world in self._worlds.values():
            world._tasks = []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        server, self._server = self._server, None
        if server is None:
            return
        for world in self._worlds.values():
            for peer in world.session.streams.hung_peers():
                peer.abort()
        server.close()
        await server.wait_closed()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- the HTTP side ------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Log the request, then answer it from the world of the key it carries (the
        first world refuses a request with no valid key)."""
        upgrade = is_upgrade(request.headers)
        asker = self._world_of(_offered_key(request, upgrade))
        org = None if asker is None else asker.org_name
        self.requests.add(org, "ws" if upgrade else "rest", request.method, request.path)
        return (asker or self)._answer_request(connection, request, upgrade)

    def _answer_request(
        self, connection: ServerConnection, request: Request, upgrade: bool
    ) -> Response | None:
        if not upgrade:
            host = request.headers.get("Host", f"{self.host}:{self.port}")
            authorization = request.headers.get("Authorization")
            return _http(self.rest.handle(request.method, request.path, authorization, host))
        route = parse_route(request.path)
        if route is None:
            return _http(Reply(404, {"detail": "Not Found"}))
        self.session.streams.attempted(route.key)
        if route.kind == "campaign" and not self.campaign_api:
            return connection.respond(403, "")
        if self.faults.refuse_all:
            return connection.respond(503, "Service Unavailable\n")
        return None

    def _select_subprotocol(
        self, connection: ServerConnection, offered: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        """Accept with the ``burki-token-<key>`` subprotocol the client offered (hosted
        mode; the open-source server accepts with none)."""
        chosen = None if self.oss_quirks else token_subprotocol(list(offered))
        return None if chosen is None else Subprotocol(chosen)

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        asker = self._world_of(_offered_key(ws.request, upgrade=True))
        await (asker or self).session.handle(ws)

    # -- scripting ----------------------------------------------------------------------

    async def restart(self) -> None:
        """What a Burki restart does to open sockets: close each with 1012; keep serving."""
        peers = [p for world in self._worlds.values() for p in world.session.streams.every_peer()]
        await asyncio.gather(*(peer.ws.close(1012, "") for peer in peers))
        await asyncio.gather(*(peer.finished.wait() for peer in peers))


def _report_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (failure := task.exception()) is not None:
        logger.error("%s failed; its traffic has stopped", task.get_name(), exc_info=failure)


def _offered_key(request: Request, upgrade: bool) -> str | None:
    """The key a request carries: Bearer on REST; on a stream, as Burki looks for it."""
    if upgrade:
        found = credentials(request.path, request.headers)
        return None if found is None else found[1]
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    return key.strip() if scheme.lower() == "bearer" else None


def _http(reply: Reply) -> Response:
    body = b"" if reply.body is None else json.dumps(reply.body).encode()
    headers = Headers(
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
            *reply.headers,
        ]
    )
    return Response(reply.status, HTTPStatus(reply.status).phrase, headers, body)
