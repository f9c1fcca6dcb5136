"""What one held SSE connection keeps: ``python -m bench.heldmem [--viewers 1000]``.

Our proxy (tracing allocations from its start) holds ``n`` idle viewers of one silent
call, then ``2n``; the difference between the two snapshots, divided by ``n``, is what
one more idle viewer costs, grouped by the traceback that allocated it (``--frames``
deep), beside the count of live objects per viewer by type (gc-tracked objects) and
the RSS slope. A measurement tool (issue 27), not part of ``make bench``.
"""

from __future__ import annotations

import argparse
import time
from multiprocessing.connection import Connection
from typing import Any

from bench import proxies, simproc, viewers
from bench.control import Child
from bench.procstat import rss_kib


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.heldmem")
    parser.add_argument("--viewers", type=int, default=1000)
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args(argv)
    n = args.viewers
    with (
        Child("simulator", simproc.main) as sim,
        Child("viewers", viewers.main) as clients,
    ):
        base_url = sim.call("base_url")
        with Child("ours-proxy", traced_proxy, base_url, args.frames) as px:
            sid = sim.call("add_call")
            port, token = px.call("port"), px.call("token")
            path = proxies.stream_path("ours", [sid])
            points = []
            for want in (n, 2 * n):
                have = clients.call("alive")
                clients.call(
                    "open",
                    port=port,
                    path=path,
                    sids=[sid],
                    n=want - have,
                    token=token,
                    timeout=900,
                )
                time.sleep(3.0)
                px.call("settle")
                points.append((clients.call("alive"), rss_kib(px.pid)))
                px.call("snapshot", name=str(want))
            found = px.call("compare", before=str(n), after=str(2 * n), top=args.top, timeout=600)
            clients.call("close_all")
    added = points[1][0] - points[0][0]
    print(f"viewers {points[0][0]} -> {points[1][0]}; RSS {points[0][1]} -> {points[1][1]} KiB")
    print(f"RSS per viewer: {(points[1][1] - points[0][1]) / added:.2f} KiB")
    print(f"traced per viewer: {found['total'] / added / 1024:.2f} KiB")
    print("\nby allocating line (bytes per viewer, blocks per viewer):")
    for size, count, lines in found["lines"]:
        print(f"{size / added:8.0f} B {count / added:6.2f}  " + lines[0])
    print("\nby traceback, caller > callee (bytes per viewer, blocks per viewer):")
    for size, count, lines in found["stats"]:
        print(f"{size / added:8.0f} B {count / added:6.2f}  " + " > ".join(lines))
    print("\nlive gc-tracked objects per viewer, by type:")
    for name, count in found["objects"]:
        print(f"{count / added:8.2f}  {name}")
    return 0


def traced_proxy(conn: Connection, base_url: str, frames: int) -> None:
    """Our proxy, as the scale bench runs it, with allocations traced from its start."""
    import tracemalloc

    tracemalloc.start(frames)
    proxies.main(conn, "ours", base_url, 256, handlers=_handlers())


def _handlers() -> dict[str, Any]:
    import gc
    import tracemalloc
    from collections import Counter

    snaps: dict[str, Any] = {}
    counts: dict[str, Counter[str]] = {}

    def settle() -> None:
        gc.unfreeze()  # the collector's frozen objects are not listed by gc.get_objects()
        gc.collect()

    def snapshot(name: str) -> None:
        gc.unfreeze()
        gc.collect()
        snaps[name] = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__)]
        )
        counts[name] = Counter(
            f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.get_objects()
        )

    def compare(before: str, after: str, top: int) -> dict[str, Any]:
        diff = snaps[after].compare_to(snaps[before], "traceback")
        total = sum(d.size_diff for d in diff)
        lines = snaps[after].compare_to(snaps[before], "lineno")[:top]
        by_line = [(d.size_diff, d.count_diff, [_where(d.traceback[0])]) for d in lines]
        stats = [
            (
                d.size_diff,
                d.count_diff,
                [f"{f.filename.split('/')[-1]}:{f.lineno}" for f in d.traceback],
            )
            for d in diff[:top]
        ]
        objects = (counts[after] - counts[before]).most_common(top)
        return {"total": total, "stats": stats, "lines": by_line, "objects": objects}

    return {"settle": settle, "snapshot": snapshot, "compare": compare}


def _where(frame: Any) -> str:
    return f"{frame.filename.split('/')[-1]}:{frame.lineno}"


if __name__ == "__main__":
    raise SystemExit(main())
