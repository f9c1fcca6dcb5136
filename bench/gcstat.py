"""The soak's look inside our dashboard's process (commands of the proxy child).

- ``gcinfo``: frozen objects, the collector's collections so far, the hub's streams
  and viewers (never ``gc.get_objects()``: it hands out references to objects other
  threads may still be building, and a tuple being resized then fails);
- ``census``: the reference cycles that became garbage, by type: every frozen
  object is unfrozen, one full collection runs with ``gc.DEBUG_SAVEALL`` (so what
  it finds is kept, to be counted, instead of freed), then freed, and what was
  frozen is frozen again. With the collector's freezing on, that is every cycle
  made since the last sweep; with it off, since the last full collection.
- ``signin``: a sign-in link of an admin, for the page viewers' session cookie.
- ``heap``: where the process's memory sits: pymalloc's arenas (used and free bytes in
  them, from ``sys._debugmallocstats``), glibc's heap (``mallinfo2``: in use, free, and
  mmapped blocks) and what :mod:`tracemalloc` traces, when it runs: RSS that none of
  them holds in use is free memory the allocators keep (fragmentation).
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import gc
import os
import re
import sys
import tempfile
import tracemalloc
import types
from collections import Counter
from typing import Any

from webapp.access.users import Role
from webapp.pages.state import state_of
from webapp.server import DashboardServer


def handlers(server: DashboardServer) -> dict[str, Any]:
    return {
        "gcinfo": lambda: gcinfo(server),
        "census": lambda top=25: census(server, top),
        "signin": lambda: signin(server),
        "heap": heap,
        "sweep_trace": sweep_trace,
        "orphans": orphans,
    }


def gcinfo(server: DashboardServer) -> dict[str, Any]:
    state = state_of(server.dashboard)
    streams = list(state.hub.streams.values()) if state is not None else []
    return {
        "frozen": gc.get_freeze_count(),
        "collections": [g["collections"] for g in gc.get_stats()],
        "streams": len(streams),
        "viewers": sum(s.viewer_count for s in streams),
    }


def census(server: DashboardServer, top: int = 25) -> dict[str, Any]:
    """Cyclic garbage by type (``module.qualname``), and how many objects in all."""
    frozen = gc.get_freeze_count()
    gc.unfreeze()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        found = Counter(_name(o) for o in gc.garbage)
        total = len(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    gc.collect()  # what DEBUG_SAVEALL kept is garbage again: freed now
    if frozen and server.collector is not None:
        gc.freeze()
    return {"total": total, "by_type": found.most_common(top)}


def signin(server: DashboardServer) -> str:
    state = state_of(server.dashboard)
    assert state is not None
    return state.access.links.issue("soak", Role.ADMIN)


def _name(obj: object) -> str:
    kind = type(obj)
    return f"{kind.__module__}.{kind.__qualname__}"


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
            "fsmblks", "uordblks", "fordblks", "keepcost",
        )
    ]  # fmt: skip


@functools.cache
def _libc() -> ctypes.CDLL:
    """glibc, loaded once (a ctypes library is a knot of cycles: one per look would be
    garbage the census counts)."""
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _Mallinfo2
    return libc


def _mallinfo2() -> _Mallinfo2:
    info: _Mallinfo2 = _libc().mallinfo2()
    return info


def heap() -> dict[str, float]:
    """MiB: pymalloc's arenas (all, blocks in use), glibc's heap (in use, free; mmapped
    blocks), and what tracemalloc traces (0 when it does not run)."""
    mib = 1024 * 1024
    found: dict[str, float] = {}
    with tempfile.TemporaryFile("w+") as out:
        saved = os.dup(2)
        sys.stderr.flush()
        os.dup2(out.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        text = out.read()
    arenas = re.search(r"# arenas allocated current\s*=\s*([\d,]+)", text)
    used = re.search(r"# bytes in allocated blocks\s*=\s*([\d,]+)", text)
    if arenas and used:
        found["arenas"] = int(arenas.group(1).replace(",", "")) * 1024 * 1024 / mib
        found["arena_used"] = int(used.group(1).replace(",", "")) / mib
    try:
        info = _mallinfo2()
        found["malloc_used"] = info.uordblks / mib
        found["malloc_free"] = info.fordblks / mib
        found["malloc_mmap"] = info.hblkhd / mib
    except (OSError, AttributeError):
        pass
    found["traced"] = tracemalloc.get_traced_memory()[0] / mib if tracemalloc.is_tracing() else 0
    return found


def _describe(obj: object) -> str:
    name = _name(obj)
    if isinstance(obj, types.FrameType):
        code = obj.f_code
        return f"frame {code.co_qualname} {code.co_filename.rsplit('/', 2)[-1]}:{obj.f_lineno}"
    if isinstance(obj, types.TracebackType):
        code = obj.tb_frame.f_code
        return f"traceback {code.co_qualname} {code.co_filename.rsplit('/', 2)[-1]}"
    if isinstance(obj, list | dict | tuple | set):
        items = obj.values() if isinstance(obj, dict) else obj
        return f"{name} len {len(obj)}: {sorted({_name(x) for x in items})[:5]}"
    return name


def sweep_trace(top: int = 20) -> dict[str, Any]:
    """What one full collection (the collector's sweep: all unfrozen) frees, by where it was
    allocated (``tracemalloc`` must run), and the async generators it finalized. The census
    cannot see a cycle that falls apart while the collection finalizes one of its
    generators (freed by reference counting then, never in ``gc.garbage``): this can."""
    frozen = gc.get_freeze_count()
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
    first = tracemalloc.take_snapshot().filter_traces(ignore)
    gens = getattr(asyncio.get_running_loop(), "_asyncgens", ())
    before = {id(g): f"{g.ag_code.co_qualname} {g.ag_code.co_filename}" for g in gens}
    gc.unfreeze()
    collected = gc.collect()
    after = {id(g) for g in gens}
    finalized = Counter(name for key, name in before.items() if key not in after)
    second = tracemalloc.take_snapshot().filter_traces(ignore)
    if frozen:
        gc.freeze()
    diffs = second.compare_to(first, "traceback")
    rows = []
    for stat in diffs[:top]:
        frames = " < ".join(
            f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno}" for f in list(stat.traceback)[-6:][::-1]
        )
        rows.append(f"{stat.size_diff / 1024:9.1f} KiB {stat.count_diff:7d} blocks  {frames}")
    return {"collected": collected, "rows": rows, "finalized": finalized.most_common(10)}


def orphans(samples: int = 3, depth: int = 10) -> dict[str, Any]:
    """websockets' deflate contexts that no open upstream connection owns (before any
    collection), and for a few of them who refers to them, step by step (the first referrer
    that is not this look's own): how the parser's cycle was found."""
    frozen = gc.get_freeze_count()
    gc.unfreeze()
    try:
        everything = gc.get_objects()
        live = {
            id(ext)
            for o in everything
            if type(o).__name__ == "ClientConnection" and o.protocol.state.name == "OPEN"
            for ext in o.protocol.extensions
        }
        closed = [
            o for o in everything if type(o).__name__ == "PerMessageDeflate" and id(o) not in live
        ]
        sample = closed[:samples]
        mine = {id(everything), id(closed), id(sample)}
        chains = []
        for conn in sample:
            steps = []
            obj: object = conn
            seen = {id(conn)}
            for _ in range(depth):
                refs = [
                    r
                    for r in gc.get_referrers(obj)
                    if id(r) not in mine
                    and id(r) not in seen
                    and not isinstance(r, types.FrameType)
                ]
                mine.add(id(refs))
                if not refs:
                    steps.append("(no referrer)")
                    break
                names = [_describe(r)[:80] for r in refs[:4]]
                steps.append(f"{len(refs)}: " + " | ".join(names))
                obj = refs[0]
                seen.add(id(obj))
            chains.append(steps)
        count = len(closed)
        del everything, closed, sample
    finally:
        if frozen:
            gc.freeze()
    return {"closed": count, "chains": chains}
