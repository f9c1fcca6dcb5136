"""The soak's viewers' process: 30-60 SSE viewers coming and going, as people do.

A viewer watches one live call (``/api/calls/<sid>/events``), sometimes several over
one connection (``/api/events?call=...``) or a call page's HTML stream
(``/live/call/call/<sid>``, signed in with a session cookie). Each stays a few seconds
to a minute; when it goes, it may come back with its ``Last-Event-ID`` (a resume), with
an id of an epoch the server never made (a reset and a snapshot), or not at all. How
many watch at once wanders between ``low`` and ``high``.

Commands: ``start`` (port, token, cookie), ``calls`` (the live calls to pick from),
``stats`` (sessions opened, resumes, resets, errors, viewers now) and ``close_all``.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from bench.control import child_setup, serve
from bench.sseclient import SseViewer

HOST = "127.0.0.1"
BOGUS_ID = "0000000000-1"  # an epoch no stream has: the server answers reset + snapshot


class ChurnViewer(SseViewer):
    """An SSE viewer that keeps only its last event id and whether the stream ended."""

    def __init__(self, port: int, path: str, token: str | None, headers: str) -> None:
        super().__init__(HOST, port, path, (), token)
        if headers:
            self.request = self.request.replace(
                b"\r\n\r\n", b"\r\n" + headers.encode() + b"\r\n\r\n"
            )
        self.last_id: str | None = None
        self.ended = False
        self.events = 0

    def _accept(self, head: bytes) -> bool:
        status = head.partition(b"\r\n")[0].decode(errors="replace")
        if status.split(" ", 2)[1] == "200":
            return super()._accept(head)
        if not self.ready.done():  # else: given up on already (timed out)
            self.ready.set_exception(ConnectionError(status))
        self.close()
        return False

    def _event(self, event: bytes, now: float) -> None:
        if not self.ready.done():
            self.ready.set_result(None)
        if not event or event.startswith(b":"):
            return
        self.events += 1
        for line in event.split(b"\n", 3)[:3]:
            if line.startswith(b"id:"):
                self.last_id = line[3:].strip().decode() or self.last_id
            elif line.startswith(b"event:") and line[6:].strip() == b"end":
                self.ended = True


@dataclass
class Plan:
    low: int = 30
    high: int = 60
    period: float = 180.0  # seconds for the number of viewers to go from low to high and back
    stay: tuple[float, float] = (3.0, 60.0)
    resume: float = 0.3  # of the viewers that go, how many come back with their last id
    reset: float = 0.1  # ... with an id the server cannot resume
    several: float = 0.15  # of new viewers, how many watch several calls on one connection
    page: float = 0.2  # ... how many read a call page's HTML stream


@dataclass
class Watching:
    viewer: ChurnViewer
    sids: list[str]
    kind: str  # "api", "several", "page"
    leaves_at: float


@dataclass
class Churn:
    plan: Plan = field(default_factory=Plan)
    port: int = 0
    token: str | None = None
    cookie: str = ""
    live: list[str] = field(default_factory=list)
    watching: list[Watching] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    rng: random.Random = field(default_factory=lambda: random.Random(20))
    began: float = field(default_factory=time.monotonic)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def target(self) -> int:
        phase = (time.monotonic() - self.began) / self.plan.period * 2 * math.pi
        mid, half = (self.plan.low + self.plan.high) / 2, (self.plan.high - self.plan.low) / 2
        return round(mid - half * math.cos(phase))

    def tick(self) -> None:
        now = time.monotonic()
        for w in list(self.watching):
            if w.viewer.closed_at is not None or now >= w.leaves_at:
                self.watching.remove(w)
                self._leave(w)
        while self.live and len(self.watching) + len(self._tasks) < self.target():
            self._spawn(self._new())

    def _new(self) -> tuple[list[str], str, str | None]:
        roll = self.rng.random()
        if roll < self.plan.several and len(self.live) > 1:
            return (
                self.rng.sample(self.live, min(len(self.live), self.rng.randint(2, 6))),
                "several",
                None,
            )
        kind = "page" if roll < self.plan.several + self.plan.page and self.cookie else "api"
        return [self.rng.choice(self.live)], kind, None

    def _leave(self, w: Watching) -> None:
        w.viewer.close()
        if w.viewer.ended or not set(w.sids) <= set(self.live):
            return  # the call ended: nothing to come back to
        roll = self.rng.random()
        if roll < self.plan.resume and w.viewer.last_id is not None:
            self.counts["resumes"] += 1
            self._spawn((w.sids, w.kind, w.viewer.last_id), delay=self.rng.uniform(0, 2))
        elif roll < self.plan.resume + self.plan.reset:
            self.counts["resets"] += 1
            self._spawn((w.sids, w.kind, BOGUS_ID), delay=self.rng.uniform(0, 2))

    def _spawn(self, what: tuple[list[str], str, str | None], delay: float = 0.0) -> None:
        task = asyncio.get_running_loop().create_task(self._open(*what, delay))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _open(self, sids: list[str], kind: str, last_id: str | None, delay: float) -> None:
        await asyncio.sleep(delay)
        path, headers = self._path(sids, kind), ""
        if last_id is not None:
            headers = f"Last-Event-ID: {last_id}"
        if kind == "page":
            headers = "\r\n".join(h for h in (headers, f"Cookie: {self.cookie}") if h)
        token = None if kind == "page" else self.token
        viewer = ChurnViewer(self.port, path, token, headers)
        self.counts["sessions"] += 1
        try:
            async with asyncio.timeout(30):
                await asyncio.get_running_loop().create_connection(lambda: viewer, HOST, self.port)
                await viewer.ready
        except (OSError, TimeoutError) as exc:
            viewer.close()
            if not (set(sids) - set(self.live)):  # not just a call that ended meanwhile
                self.errors[f"{kind}: {type(exc).__name__}: {exc}"[:100]] += 1
            return
        stay = self.rng.uniform(*self.plan.stay)
        self.watching.append(Watching(viewer, sids, kind, time.monotonic() + stay))

    @staticmethod
    def _path(sids: list[str], kind: str) -> str:
        if kind == "several":
            return "/api/events?" + "&".join(f"call={sid}" for sid in sids)
        if kind == "page":
            return f"/live/call/call/{sids[0]}"
        return f"/api/calls/{sids[0]}/events"

    def stats(self) -> dict[str, Any]:
        return {**self.counts, "viewers": len(self.watching), "errors": dict(self.errors)}

    def close_all(self) -> int:
        for w in self.watching:
            w.viewer.close()
        closed, self.watching = len(self.watching), []
        for task in self._tasks:
            task.cancel()
        return closed


def main(conn: Connection) -> None:
    child_setup("churn")
    asyncio.run(_run(conn))


async def _run(conn: Connection) -> None:
    churn: Churn | None = None
    ticking: asyncio.Task[None] | None = None

    async def ticker(c: Churn) -> None:
        while True:
            c.tick()
            await asyncio.sleep(0.2)

    def start(port: int, token: str | None, cookie: str, **plan: Any) -> None:
        nonlocal churn, ticking
        if ticking is not None:
            ticking.cancel()
        if churn is not None:
            churn.close_all()
        churn = Churn(Plan(**plan), port, token, cookie)
        ticking = asyncio.get_running_loop().create_task(ticker(churn))

    def calls(sids: list[str]) -> None:
        if churn is not None:
            churn.live = sids

    try:
        await serve(
            conn,
            {
                "start": start,
                "calls": calls,
                "stats": lambda: churn.stats() if churn else {},
                "close_all": lambda: churn.close_all() if churn else 0,
            },
        )
    finally:
        if ticking is not None:
            ticking.cancel()
        if churn is not None:
            churn.close_all()
