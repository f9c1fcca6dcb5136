"""What happens on each simulated WebSocket connection, and broadcasting to them.

A connection is checked (fault on connect, authentication, open-source quirks,
access, the per-call limit) and refused with Burki's error frame and close code,
or it becomes a :class:`Peer`: greeted, registered, replayed to, and answered
until it ends. Registration comes *after* the greeting and *before* the replay,
as in Burki, so a live segment can land in the middle of the replay.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request
from websockets.protocol import State

from webapp.simulator import dialects, wire
from webapp.simulator.handshake import Route, credentials, parse_route
from webapp.simulator.model import Dialect, Outcome, Segment
from webapp.simulator.peer import Peer
from webapp.simulator.streams import Streams
from webapp.simulator.wire import Frame, Subject, encode

if TYPE_CHECKING:
    from webapp.simulator.server import Simulator

logger = logging.getLogger("webapp.simulator")


@dataclass(frozen=True)
class Refusal:
    frame: Frame
    code: int
    reason: str


class Session:
    """The connection handler of every stream, the live peers, and broadcasting."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.streams = Streams()

    async def handle(self, ws: ServerConnection) -> None:
        """The connection handler: from the accepted socket to its end."""
        assert ws.request is not None
        route = parse_route(ws.request.path)
        assert route is not None  # process_request answered 404 otherwise
        faults = self.sim.faults
        if faults.close_code_on_connect is not None:
            code = faults.close_code_on_connect
            logger.info("%s: closing at once with %d (fault)", route.key, code)
            await ws.close(code, "Simulated failure")
            return
        refusal = self._admit(route, ws.request)
        if refusal is not None:
            await self._refuse(ws, route, refusal)
            return
        peer = Peer(ws, route.key, lambda: self.sim.faults, faults.drop_after_messages)
        try:
            if faults.hang_on_connect:
                await self._hang_at_once(peer)
            else:
                await self._stream(peer, route)
        finally:
            self.streams.remove(peer)
            peer.finished.set()

    def _admit(self, route: Route, request: Request) -> Refusal | None:
        sim, now = self.sim, self.sim.store.clock()
        subject = _subject(route)
        found = credentials(request.path, request.headers)
        if sim.oss_quirks and (found is None or found[0] != "query"):
            # The open-source server reads headers wrongly and fails with 1011.
            return Refusal(wire.initialization_failed(subject, now), 1011, "Internal server error")
        valid = found is not None and hmac.compare_digest(found[1].encode(), sim.api_key.encode())
        if not valid or sim.faults.database_down:  # no database: no key can be checked
            return Refusal(wire.authentication_failed(subject, now), 1008, "Authentication failed")
        # Another organisation's id is "access denied", as Burki answers a foreign call;
        # the open-source server answers an unknown one so too.
        foreign = sim.holds_elsewhere(route.key)
        if (sim.oss_quirks and not self.holds(route)) or route.key in sim.faults.denied or foreign:
            what = route.kind
            frame = wire.access_denied(subject, now, what)
            return Refusal(frame, 1008, f"Access denied to this {what}")
        limit = sim.max_connections_per_call
        if route.kind == "call" and limit is not None and self.streams.count(route.key) >= limit:
            return Refusal(wire.rate_limited(subject, now), 1008, "Rate limit exceeded")
        assert found is not None
        logger.info("%s: connection accepted (key via %s)", route.key, found[0])
        return None

    def holds(self, route: Route) -> bool:
        """Whether this world has the call or campaign ``route`` names."""
        if route.kind == "call":
            return route.ident in self.sim.store.calls
        return route.campaign_id in self.sim.store.campaigns

    async def _refuse(self, ws: ServerConnection, route: Route, refusal: Refusal) -> None:
        logger.info("%s: refused (%d %s)", route.key, refusal.code, refusal.reason)
        try:
            await ws.send(encode(refusal.frame))
        except ConnectionClosed:
            return
        await ws.close(refusal.code, refusal.reason)

    async def _hang_at_once(self, peer: Peer) -> None:
        logger.info("%s: hanging at once (fault)", peer.key)
        self.streams.add_hung(peer)
        peer.hang()
        await peer.ws.wait_closed()  # until drop() or stop() aborts it

    async def _stream(self, peer: Peer, route: Route) -> None:
        writer = asyncio.create_task(peer.run_writer(), name=f"simulator writer {route.key}")
        try:
            if route.kind == "call":
                await self._open_call(peer, route.ident)
            else:
                self._open_campaign(peer, route.campaign_id)
            await self._listen(peer, route)
        except ConnectionClosed:
            pass
        finally:
            writer.cancel()
            await asyncio.wait([writer])
            if not writer.cancelled() and (failure := writer.exception()) is not None:
                logger.error("%s: the writer failed", route.key, exc_info=failure)

    async def _open_call(self, peer: Peer, sid: str) -> None:
        oss = self.sim.oss_quirks
        if oss:
            # The open-source server joins the socket to the broadcast before it greets
            # it, so a live frame can come before connection_established.
            self.streams.add(peer)
            await asyncio.sleep(max(0.0, self.sim.faults.greeting_delay))
        now = self.sim.store.clock()
        call = self.sim.store.calls.get(sid)
        peer.send(encode(wire.connection_established(sid, now)))
        if call is None:
            peer.send(encode(wire.not_found({"call_sid": sid}, now, "Call")))
            if not oss:
                self.streams.add(peer)
            return
        # The status goes before the history, an ended call's too ("completed", then
        # every stored segment; nothing marks the end of the replay).
        peer.send(encode(wire.call_status(call, now, oss)))
        history = list(call.segments)
        if not oss:
            self.streams.add(peer)
        await self._replay(peer, sid, history)

    async def _replay(self, peer: Peer, sid: str, history: list[Segment]) -> None:
        oss = self.sim.oss_quirks
        for n, segment in enumerate(history):
            if n:
                # Yield between segments, so live traffic really can interleave.
                await asyncio.sleep(max(0.0, self.sim.faults.replay_delay))
                if peer.ws.state is not State.OPEN:
                    return
            peer.send(encode(wire.transcript(sid, segment, self.sim.store.clock(), oss, True)))

    def _open_campaign(self, peer: Peer, campaign_id: int) -> None:
        now, oss = self.sim.store.clock(), self.sim.oss_quirks
        campaign = self.sim.store.campaigns.get(campaign_id)
        if campaign is None:
            dialect: Dialect = self.sim.campaign_dialect or "B"
            frames = [_hello(dialect, campaign_id, now), _campaign_not_found(campaign_id, now)]
        else:
            frames = dialects.greeting(campaign, now, oss)
        for frame in frames:
            peer.send(encode(frame))
        self.streams.add(peer)

    async def _listen(self, peer: Peer, route: Route) -> None:
        async for message in peer.ws:
            if peer.handler_dead:
                continue  # the socket is read (protocol pings answered), nothing served
            try:
                request = json.loads(message)
            except ValueError:
                if self.sim.oss_quirks:  # the open-source handler dies on a bad frame
                    now = self.sim.store.clock()
                    peer.send(encode(wire.error(_subject(route), now, "Internal server error")))
                    self.kill(peer)
                continue
            if isinstance(request, dict):
                for frame in self._answer(route, request):
                    peer.send(encode(frame))

    def kill(self, peer: Peer) -> None:
        """The handler of ``peer`` dies; its socket stays open (see ``Simulator.kill_handlers``)."""
        logger.info("%s: the handler died; the socket stays open", peer.key)
        peer.handler_dead = True
        self.streams.mark_hung(peer)

    def _answer(self, route: Route, request: dict[str, Any]) -> list[Frame]:
        """Frames answering one client message (none for what Burki ignores)."""
        kind, now, oss = request.get("type"), self.sim.store.clock(), self.sim.oss_quirks
        store = self.sim.store
        if route.kind == "call":
            call = store.calls.get(route.ident)
            if kind == "ping":
                return [wire.pong(now)]
            if kind == "request_status":
                if call is None:
                    return [wire.not_found({"call_sid": route.ident}, now, "Call")]
                return [wire.call_status(call, now, oss, requested=True)]
            return []
        campaign = store.campaigns.get(route.campaign_id)
        if campaign is None:
            return [_campaign_not_found(route.campaign_id, now)] if kind else []
        if kind == "ping":
            stamp = wire.epoch(now) if campaign.dialect == "C" else wire.naive(now)
            return [{"type": "pong", "timestamp": stamp}]
        if kind == "request_update":
            return [dialects.progress(campaign, now, oss)]
        if kind == "request_history" and campaign.dialect == "C":
            return [dialects.metrics_history(campaign, _hours(request.get("hours")), now)]
        return []

    def broadcast(self, key: str, frames: list[Frame]) -> None:
        """Queue live frames for every live socket of ``key`` (encoded once)."""
        peers = self.streams.peers(key)
        texts = [encode(frame) for frame in frames] if peers else []
        for peer in peers:
            for text in texts:
                peer.send_live(text)

    def advance(self, campaign_id: int, outcome: Outcome) -> None:
        store = self.sim.store
        contact = store.advance_campaign(campaign_id, outcome)
        campaign = store.campaigns[campaign_id]
        frames = dialects.contact_done(campaign, contact, store.clock(), self.sim.oss_quirks)
        self.broadcast(f"campaign:{campaign_id}", frames)


def _subject(route: Route) -> Subject:
    if route.kind == "call":
        return {"call_sid": route.ident}
    return {"campaign_id": route.campaign_id}


def _hello(dialect: Dialect, campaign_id: int, now: datetime) -> Frame:
    if dialect == "C":
        return {"type": "connection_ack", "campaign_id": campaign_id, "timestamp": wire.epoch(now)}
    return dialects.hello(campaign_id, now)


def _campaign_not_found(campaign_id: int, now: datetime) -> Frame:
    return wire.not_found({"campaign_id": campaign_id}, now, "Campaign")


def _hours(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return 24.0
