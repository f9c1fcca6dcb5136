"""The viewers' process: many :class:`SseViewer` connections, and what they saw.

Commands: ``open`` (n more viewers of one call, a bounded number connecting at
once; answers once each got its first event or failed), ``open_stalled`` (n that
send their request on a socket with a small receive buffer and never read),
``stalled_open`` (how many of those the server has not cut yet), ``alive``, ``stats``
(latency, loss and duplicates over a window, against what the simulator sent)
and ``close_all``. Its CPU is its own: it never counts against the proxy.
"""

from __future__ import annotations

import asyncio
import math
import socket
from collections import Counter
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from typing import Any

from bench.control import child_setup, serve
from bench.sseclient import SseViewer

HOST = "127.0.0.1"


@dataclass
class WindowStats:
    viewers: int
    expected_per_viewer: int
    delivered: int
    """Markers (segments) received during the window (by receive time), all viewers."""
    frames: int
    """SSE events of any type received during the window, all viewers."""
    sse_bytes: int
    """Their bytes (the SSE text, without HTTP chunk framing)."""
    latencies: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    lost: int
    lost_max: int
    viewers_with_loss: int
    duplicates: int
    duplicates_max: int
    disconnected: int
    first_p50_ms: float
    """Per event, the latency of its first viewer: the path up to the fan-out."""
    first_max_ms: float
    spread_p50_ms: float
    """Per event, last viewer's latency minus first's: the time the fan-out takes."""
    spread_max_ms: float
    late_events: int
    """Events whose last viewer had them more than ``LATE_MS`` after they were sent."""


LATE_MS = 150.0
TCP_ESTABLISHED = 1  # tcp_info's first byte (Linux)


def _tcp_state(sock: socket.socket) -> int:
    if sock.fileno() < 0:
        return 0
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]


def main(conn: Connection) -> None:
    child_setup("viewers")
    asyncio.run(_run(conn))


async def _run(conn: Connection) -> None:
    pool = Pool()
    try:
        await serve(
            conn,
            {
                "open": pool.open,
                "open_stalled": pool.open_stalled,
                "stalled_open": pool.stalled_open,
                "alive": pool.alive,
                "stats": lambda **kw: asdict(pool.stats(**kw)),
                "close_all": pool.close_all,
                "per_event": pool.per_event,
            },
        )
    finally:
        pool.close_all()


class Pool:
    def __init__(self) -> None:
        self.viewers: list[SseViewer] = []
        self.stalled: list[socket.socket] = []

    async def open_stalled(
        self, port: int, path: str, n: int, token: str | None = None, rcvbuf: int = 4096
    ) -> int:
        """Open ``n`` viewers that send their request and then never read a byte, their
        ``SO_RCVBUF`` set to ``rcvbuf`` before connect (a laptop whose lid closed)."""
        loop = asyncio.get_running_loop()
        request = SseViewer(HOST, port, path, (), token).request
        for _ in range(n):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.setblocking(False)
            await loop.sock_connect(sock, (HOST, port))
            await loop.sock_sendall(sock, request)
            self.stalled.append(sock)
        return n

    def stalled_open(self) -> int:
        """How many stalled viewers' connections are still established (unread, the
        server's reset or close shows in the TCP state without reading a byte)."""
        return sum(1 for sock in self.stalled if _tcp_state(sock) == TCP_ESTABLISHED)

    async def open(
        self,
        port: int,
        path: str,
        sids: list[str],
        n: int,
        token: str | None = None,
        at_once: int = 50,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        """Open ``n`` viewers of ``sids`` at ``path``; how many got a first event or comment,
        and why the others failed."""
        gate = asyncio.Semaphore(at_once)
        watched = tuple(sids)
        errors: Counter[str] = Counter()

        async def one() -> None:
            async with gate:
                viewer = SseViewer(HOST, port, path, watched, token)
                try:
                    async with asyncio.timeout(timeout):
                        await asyncio.get_running_loop().create_connection(
                            lambda: viewer, HOST, port
                        )
                        await viewer.ready
                except (OSError, TimeoutError) as exc:
                    errors[f"{type(exc).__name__}: {exc}"[:120]] += 1
                    viewer.close()
                    return
                self.viewers.append(viewer)

        await asyncio.gather(*(one() for _ in range(n)))
        return {"ready": n - sum(errors.values()), "errors": dict(errors), "alive": self.alive()}

    def alive(self) -> int:
        return sum(1 for v in self.viewers if v.closed_at is None)

    def close_all(self) -> int:
        closed = len(self.viewers)
        for viewer in self.viewers:
            viewer.close()
        for sock in self.stalled:
            sock.close()
        self.viewers, self.stalled = [], []
        return closed

    def stats(
        self, start: float, end: float, sent: dict[str, list[tuple[int, float]]]
    ) -> WindowStats:
        """What the viewers saw of the segments the simulator sent in ``[start, end)`` (the
        viewers of some call: one opened with no ``sids``, a page's, is not counted)."""
        expected = {sid: {n for n, t in marks if start <= t < end} for sid, marks in sent.items()}
        counted = [viewer for viewer in self.viewers if viewer.sids]
        latencies: list[float] = []
        by_event: dict[int, list[float]] = {}
        lost: list[int] = []
        dups: list[int] = []
        delivered = frames = sse_bytes = 0
        for viewer in counted:
            delivered += sum(1 for _, _, got in viewer.marks if start <= got < end)
            frames += sum(1 for got in viewer.received if start <= got < end)
            sse_bytes += sum(
                size
                for got, size in zip(viewer.received, viewer.sizes, strict=True)
                if start <= got < end
            )
            seen: Counter[int] = Counter()
            for n, t, got in viewer.marks:
                if start <= t < end:
                    seen[n] += 1
                    if seen[n] == 1:
                        latencies.append((got - t) * 1000)
                        by_event.setdefault(n, []).append(latencies[-1])
            wanted = set().union(*(expected.get(sid, set()) for sid in viewer.sids))
            lost.append(len(wanted - seen.keys()))
            dups.append(sum(count - 1 for count in seen.values()))
        latencies.sort()
        firsts = sorted(min(x) for x in by_event.values())
        spreads = sorted(max(x) - min(x) for x in by_event.values())
        return WindowStats(
            viewers=len(counted),
            expected_per_viewer=sum(len(e) for e in expected.values()),
            delivered=delivered,
            frames=frames,
            sse_bytes=sse_bytes,
            latencies=len(latencies),
            p50_ms=_quantile(latencies, 0.50),
            p90_ms=_quantile(latencies, 0.90),
            p99_ms=_quantile(latencies, 0.99),
            p999_ms=_quantile(latencies, 0.999),
            max_ms=latencies[-1] if latencies else math.nan,
            lost=sum(lost),
            lost_max=max(lost, default=0),
            viewers_with_loss=sum(1 for x in lost if x),
            duplicates=sum(dups),
            duplicates_max=max(dups, default=0),
            disconnected=sum(1 for v in counted if v.closed_at is not None),
            first_p50_ms=_quantile(firsts, 0.5),
            first_max_ms=firsts[-1] if firsts else math.nan,
            spread_p50_ms=_quantile(spreads, 0.5),
            spread_max_ms=spreads[-1] if spreads else math.nan,
            late_events=sum(1 for x in by_event.values() if max(x) > LATE_MS),
        )

    def per_event(self, start: float, end: float) -> list[tuple[int, float, float, float, float]]:
        """For each segment sent in ``[start, end)``: ``(n, sent, first, median, last)``
        receive latencies in ms over the viewers (a diagnostic of the fan-out)."""
        by_event: dict[int, tuple[float, list[float]]] = {}
        for viewer in self.viewers:
            for n, t, got in viewer.marks:
                if start <= t < end:
                    by_event.setdefault(n, (t, []))[1].append((got - t) * 1000)
        rows = []
        for n, (t, lat) in sorted(by_event.items()):
            lat.sort()
            rows.append((n, t, lat[0], _quantile(lat, 0.5), lat[-1]))
        return rows


def _quantile(ordered: list[float], q: float) -> float:
    """Nearest-rank quantile of a sorted list (NaN when empty)."""
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]
