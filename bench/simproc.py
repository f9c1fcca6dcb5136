"""The simulator's process: Burki's stand-in, with no per-call connection limit.

Commands: ``base_url``, ``add_call``, ``rate`` (``Faults.segment_rate``: final
segments per second on every in-progress call with a live socket, each carrying
``t=<send time> n=<seq>``), ``connections`` (live sockets of a stream),
``markers`` (the ``(n, t)`` of every paced segment of a call), ``end_call``,
``drop`` (abort a call's upstream sockets, as a network drop does) and ``burst``
(big segments at a set rate, then short ones, marked as the paced ones).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from functools import partial
from multiprocessing.connection import Connection

from bench.control import child_setup, serve
from webapp.simulator import Simulator

API_KEY = "bench-key"
MARKER = re.compile(r"t=(\d+\.\d+) n=(\d+)")


FILLER = "and then we went over the whole thing again "


async def burst(
    sim: Simulator,
    sid: str,
    big: int,
    size: int,
    per_second: float | None,
    short: int,
    short_rate: float,
) -> int:
    """``big`` segments of ``size`` bytes at ``per_second``, then ``short`` short ones at
    ``short_rate``, each marked ``t=<send time> n=<seq>`` when it goes; how many went."""
    filler = (FILLER * (size // len(FILLER) + 1))[:size]

    def said(first: int, count: int, text: str) -> Iterator[str]:
        return (f"t={time.time():.6f} n={n} {text}" for n in range(first, first + count))

    await sim.burst(sid, said(1, big, filler), per_second)
    await sim.burst(sid, said(big + 1, short, "and that was all"), short_rate)
    return big + short


def main(conn: Connection) -> None:
    child_setup("simulator")
    asyncio.run(_run(conn))


async def _run(conn: Connection) -> None:
    sim = Simulator(api_key=API_KEY, autoplay=False, max_connections_per_call=None)
    await sim.start()

    def rate(per_second: float | None) -> None:
        sim.faults.segment_rate = per_second

    def markers(sid: str) -> list[tuple[int, float]]:
        found = (MARKER.match(s.content) for s in sim.store.calls[sid].segments)
        return [(int(m[2]), float(m[1])) for m in found if m is not None]

    try:
        await serve(
            conn,
            {
                "base_url": lambda: sim.base_url,
                "add_call": lambda: sim.add_call(),
                "rate": rate,
                "connections": lambda sid: sim.connections(f"call:{sid}"),
                "markers": markers,
                "end_call": lambda sid: sim.set_call_status(sid, "completed"),
                "drop": lambda sid: sim.drop(f"call:{sid}"),
                "burst": partial(burst, sim),
            },
        )
    finally:
        sim.faults.segment_rate = None
        await sim.stop()
