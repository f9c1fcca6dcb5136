"""The Burki WebSocket client: one reconnecting connection to one stream.

:class:`Upstream` yields normalised events interleaved with status items
(:class:`Connecting`, :class:`Live`, :class:`Reconnecting`, :class:`GaveUp`).
It owns its reconnect delays (websockets' own reconnect loop retries a server
that accepts and then closes with no delay at all), its keepalive and its
authentication fallback. Frames that cannot be used are logged, without their
content, and skipped.

The key goes in ``Authorization: Bearer`` first, so that it stays out of access
logs; in ``auto`` mode, a server that fails the connection before anything was
established (the open-source Burki server closes with 1011: its header parsing
crashes) is retried at once with ``?token=``, and :class:`AuthMemory` remembers
what worked for that base URL.

Cancellation: the consumer owns the iteration. Cancelling the task that awaits
the next item, or closing the iterator, closes the socket (within
``close_timeout``) and stops the keepalive task; nothing outlives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import ssl
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.protocol import State
from websockets.typing import Subprotocol

from webapp.wire.backoff import Backoff
from webapp.wire.caller import CallerShown, label_callers
from webapp.wire.events import CallStatus, Connected, Event, Pong, Skipped, UpstreamError
from webapp.wire.failures import Ending, Failure, FailureKind, classify, not_found, refused_missing
from webapp.wire.normalise import parse
from webapp.wire.redact import redact, without_frame_data

log = logging.getLogger(__name__)


class _WireLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """websockets' logger for our sockets, with the key masked.

    At debug level websockets logs request lines and headers, which carry the key
    (``?token=``, ``Authorization``), and the start and end of every frame, which
    carry transcript text: frames are logged by kind and size only. Disabling the
    logger is not enough: any ``logging.config.dictConfig`` (uvicorn runs one)
    re-enables it.
    """

    def __init__(self, secret: str) -> None:
        super().__init__(logging.getLogger("webapp.wire.upstream.wire"), {})
        self.secret = secret

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if self.isEnabledFor(level):
            text = str(msg) % without_frame_data(args) if args else str(msg)
            kwargs.pop("exc_info", None)  # a traceback could quote the URL
            self.logger.log(level, redact(text, self.secret), **kwargs)


class AuthMode(StrEnum):
    """How the API key travels upstream (``auto``: the header, then ``?token=`` if refused)."""

    AUTO = "auto"
    HEADER = "header"
    QUERY = "query"
    SUBPROTOCOL = "subprotocol"


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    """``BURKI_*`` (built by ``webapp.configs``: no defaults here but fixed tuning)."""

    ws_base_url: str
    api_key: str = field(repr=False)
    auth_mode: AuthMode
    keepalive_interval: float
    pong_timeout: float
    ping_timeout: float
    connect_timeout: float
    backoff_cap: float
    auth_retry: float  # after Burki refused the key: the least wait before trying again
    max_frame_bytes: int
    ca_bundle: str | None  # verify a private Burki's certificate against this PEM
    callers: CallerShown  # how callers' numbers in call metadata are labelled
    compression: bool  # permessage-deflate offered to Burki
    close_timeout: float = 2.0  # no setting
    backoff_base: float = 1.0  # no setting
    healthy_after: float = 10.0  # no setting


def _let_go(ws: ClientConnection) -> None:
    """Break the cycle a closed connection's protocol is left in, so that reference counting
    frees it (and its deflate contexts, its buffers) at once.

    websockets' sans-I/O protocol parses with a generator it keeps (``protocol.parser``),
    whose frame holds the protocol: a cycle that ends only when the generator does, at the
    end of the stream. A connection closed from our side, or dropped, leaves it suspended,
    and the cycle is then freed only by the collector's full collection: with the server's
    freeze (``webapp/collector.py``), at its next sweep. Closed here once the connection is
    (no byte can reach the parser any more); an unclosed one is left to websockets."""
    protocol = ws.protocol
    if protocol.state is State.CLOSED:
        protocol.parser.close()


class AuthMemory:
    """Which way of sending the key worked, per base URL. Shared by every stream of an app."""

    def __init__(self) -> None:
        self._modes: dict[str, AuthMode] = {}

    def mode_for(self, config: UpstreamConfig) -> AuthMode:
        if config.auth_mode is not AuthMode.AUTO:
            return config.auth_mode
        return self._modes.get(config.ws_base_url, AuthMode.HEADER)

    def remember(self, config: UpstreamConfig, mode: AuthMode) -> None:
        if config.auth_mode is AuthMode.AUTO:
            self._modes[config.ws_base_url] = mode


@dataclass(frozen=True, slots=True)
class Connecting:
    attempt: int


@dataclass(frozen=True, slots=True)
class Live:
    auth_mode: AuthMode


@dataclass(frozen=True, slots=True)
class Reconnecting:
    attempt: int
    delay: float
    failure: Failure


@dataclass(frozen=True, slots=True)
class GaveUp:
    failure: Failure


Status = Connecting | Live | Reconnecting | GaveUp
Item = Event | Status

# Tells a missing call from a forbidden one when Burki says "access denied"
# (the open-source server answers an unknown call that way): True exists, False missing.
AccessCheck = Callable[[], Awaitable[bool | None]]


class Upstream:
    """One Burki stream at ``path`` (e.g. ``/live-transcript/CA..``), reconnecting until fatal.

    Iterate :meth:`items`; it ends after a :class:`GaveUp` (authentication or
    access denied: retrying those is pointless and looks like abuse). Every
    other failure yields :class:`Reconnecting` and tries again after a backoff
    that is reset only by a connection that stayed healthy ``healthy_after`` s.
    """

    def __init__(
        self,
        config: UpstreamConfig,
        path: str,
        memory: AuthMemory | None = None,
        *,
        access_check: AccessCheck | None = None,
        rng: random.Random | None = None,
        on_live: tuple[dict[str, Any], ...] = (),
    ) -> None:
        self.config = config
        self.path = path
        self.memory = memory or AuthMemory()
        self.failures_in_row = 0
        self._access_check = access_check
        self._rng = rng or random.Random()
        self._backoff = Backoff(base=config.backoff_base, cap=config.backoff_cap, rng=self._rng)
        self.on_live = on_live  # JSON messages sent once each connection is established

    async def items(self) -> AsyncGenerator[Item, None]:
        attempt = 0
        while True:
            yield Connecting(attempt)
            mode = self.memory.mode_for(self.config)
            session = _Session(self, mode)
            async for item in session.run():
                yield item
            header_auth = mode is not AuthMode.QUERY
            ending = classify(
                session.ending, header_auth=header_auth, auth_retry=self.config.auth_retry
            )
            failure = await self._resolve(ending, session.ending)
            if (
                failure.kind is FailureKind.HEADER_REJECTED
                and self.config.auth_mode is AuthMode.AUTO
            ):
                log.info("upstream %s: header auth not understood, retrying with query", self.path)
                self.memory.remember(self.config, AuthMode.QUERY)
                continue
            if session.healthy:
                self._backoff.reset()
            self.failures_in_row = 0 if session.established else self.failures_in_row + 1
            if failure.fatal:
                log.warning("upstream %s: giving up: %s", self.path, failure.message)
                yield GaveUp(failure)
                return
            attempt = 1 if session.established else attempt + 1  # failures in a row
            delay = (
                _prompt_delay(self._rng)
                if failure.prompt
                else self._backoff.next_delay(floor=self._floor(failure))
            )
            log.info("upstream %s: %s retry in %.1fs", self.path, failure.message, delay)
            yield Reconnecting(attempt, delay, failure)
            await asyncio.sleep(delay)

    def _floor(self, failure: Failure) -> float:
        return self.config.auth_retry if failure.kind is FailureKind.AUTH else failure.floor

    async def _resolve(self, failure: Failure, ending: Ending) -> Failure:
        """Ask REST whether the subject exists when Burki's refusal may mean it does not:
        "access denied" (the open-source server's answer for an unknown call), or a
        403 at the handshake (its answer on the campaign socket, which it lacks)."""
        refused = failure.kind is FailureKind.ACCESS_DENIED or ending.handshake_status == 403
        if not refused or self._access_check is None:
            return failure
        try:
            exists = await self._access_check()
        except Exception:
            log.exception("upstream %s: access check failed", self.path)
            return failure
        if exists is False:
            if ending.handshake_status != 403:
                return not_found()
            return refused_missing("campaign" if "/campaigns/" in self.path else "call")
        return failure

    def url(self, mode: AuthMode) -> str:
        url = self.config.ws_base_url + self.path
        if mode is AuthMode.QUERY:
            url += "?token=" + quote(self.config.api_key, safe="")
        return url


class _Session:
    """One connection attempt: connect, read until it ends, record how it ended."""

    def __init__(self, upstream: Upstream, mode: AuthMode) -> None:
        self.up = upstream
        self.mode = mode
        self.ending = Ending()
        self.established = False
        self.healthy = False
        self._error: UpstreamError | None = None
        self._ponged = asyncio.Event()
        self._pong_missed: float | None = None

    async def run(self) -> AsyncIterator[Item]:
        config = self.up.config
        ws: ClientConnection | None = None
        try:
            async with connect(
                self.up.url(self.mode),
                additional_headers=self._headers(),
                subprotocols=self._subprotocols(),
                proxy=None,
                open_timeout=config.connect_timeout,
                ping_interval=config.ping_timeout,
                ping_timeout=config.ping_timeout,
                close_timeout=config.close_timeout,
                compression="deflate" if config.compression else None,
                max_size=max(4 * config.max_frame_bytes, 16 * 1024 * 1024),
                logger=_WireLog(config.api_key),
                **_tls(config),
            ) as ws:
                async for item in self._read(ws):
                    yield item
        except InvalidStatus as exc:
            self.ending = Ending(handshake_status=exc.response.status_code)
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            self.ending = Ending(exception=type(exc).__name__)
        finally:
            if ws is not None:
                _let_go(ws)

    async def _read(self, ws: ClientConnection) -> AsyncIterator[Item]:
        keepalive = asyncio.create_task(self._keepalive(ws))
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            while True:
                try:
                    frame = await ws.recv()
                except ConnectionClosed as exc:
                    self._ended(exc)
                    return
                was_established = self.established
                for item in self._handle(frame):
                    yield item
                if self.established and not was_established:
                    for message in self.up.on_live:  # e.g. request_history
                        with contextlib.suppress(ConnectionClosed):  # recv() will say so
                            await ws.send(json.dumps(message))
                if self._error is not None and self._error.code == "not_found":
                    await ws.close(1000, "not found")  # the socket would stay open, idle
                    self.ending = Ending(established=self.established, error=self._error)
                    return
        finally:
            keepalive.cancel()
            # websockets keeps what ended its parser (a dropped connection's EOFError), whose
            # traceback holds the parser's frame and so the protocol: a cycle per drop, freed
            # only by the cycle detector. The ending is recorded by now; let it go.
            ws.protocol.parser_exc = None
            lasted = loop.time() - started
            self.healthy = self.established and lasted >= self.up.config.healthy_after

    def _handle(self, frame: str | bytes) -> list[Item]:
        # Any frame read since the ping is the handler's answer: a burst Burki sent before
        # its pong can keep the pong unread behind it for longer than the pong timeout.
        self._ponged.set()
        event = parse(frame, self.up.config.max_frame_bytes)
        if isinstance(event, CallStatus) and event.metadata:
            # Labelled as read: no stream state, Redis input, page or post holds the number.
            event = replace(event, metadata=label_callers(event.metadata, self.up.config.callers))
        if isinstance(event, Skipped):
            log.warning("upstream %s: skipped a frame: %s", self.up.path, event.reason)
            return []
        if isinstance(event, UpstreamError):
            self._error = event
            log.warning("upstream %s: error frame (%s)", self.up.path, event.code)
            return [event] if event.code == "other" else []
        items: list[Item] = []
        if not self.established:
            self.established = True
            self.up.memory.remember(self.up.config, self.mode)
            items.append(Live(self.mode))
        if not isinstance(event, Pong | Connected):
            items.append(event)
        return items

    async def _keepalive(self, ws: ClientConnection) -> None:
        """Send Burki's JSON ping every ``keepalive_interval`` s and await its ``pong``.

        Protocol pings (websockets' job) find a dead peer, but not a dead handler: the
        open-source server can stop serving a socket while its protocol layer still
        answers pings. A JSON ping left unanswered for ``pong_timeout`` s (no frame at
        all read since: a dead handler sends no broadcast either) closes the connection,
        which then counts as dropped (reconnect, dedupe the replay).
        """
        config = self.up.config
        ping = json.dumps({"type": "ping"})
        try:
            while True:
                await asyncio.sleep(config.keepalive_interval)
                self._ponged.clear()
                await ws.send(ping)
                try:
                    async with asyncio.timeout(config.pong_timeout):
                        await self._ponged.wait()
                except TimeoutError:
                    log.warning(
                        "upstream %s: no pong within %gs", self.up.path, config.pong_timeout
                    )
                    self._pong_missed = config.pong_timeout
                    await ws.close(1000, "no pong")
                    return
        except ConnectionClosed:
            return

    def _ended(self, exc: ConnectionClosed) -> None:
        close = exc.rcvd
        self.ending = Ending(
            established=self.established,
            close_code=close.code if close is not None else None,
            close_reason=redact(close.reason, self.up.config.api_key) if close else "",
            error=self._error,
            pong_missed=self._pong_missed,
        )

    def _headers(self) -> dict[str, str]:
        if self.mode is AuthMode.HEADER:
            return {"Authorization": f"Bearer {self.up.config.api_key}"}
        return {}

    def _subprotocols(self) -> list[Subprotocol] | None:
        if self.mode is AuthMode.SUBPROTOCOL:
            return [Subprotocol(f"burki-token-{self.up.config.api_key}")]
        return None


def _tls(config: UpstreamConfig) -> dict[str, Any]:
    """Certificates are always verified; a CA bundle adds a private deployment's root."""
    if config.ca_bundle is None or not config.ws_base_url.startswith("wss://"):
        return {}
    return {"ssl": ssl.create_default_context(cafile=config.ca_bundle)}


RESTART_DELAY = 1.0


def _prompt_delay(rng: random.Random) -> float:
    """After a restart: back within a second or two, jittered so viewers do not stampede."""
    return RESTART_DELAY * (0.5 + rng.random())
