"""What an ended call keeps while it lingers, part by part (a command of the soak's proxy).

``lingering``: for every ended stream in the hub, the bytes reachable from each of its
parts (the replay log's frames: their JSON ``data``, their bytes, their HTML for page
views; the features: state, redactor, health, alerts, claims; the snapshot it keeps),
each object counted once, for the first part that reaches it, by ``sys.getsizeof``.
The walk follows containers and our own objects only (``webapp.calls``, ``webapp.relay``
``.frames``, ``webapp.wire.events`` ...), never a module, a class, a function, the hub or
the settings, so shared things are not charged to a stream.

``trace_start`` / ``trace_top``: :mod:`tracemalloc` in the dashboard's process, and its
biggest live allocations grouped by the first frames of their traceback in our code.
"""

from __future__ import annotations

import sys
import tracemalloc
from collections import deque
from collections.abc import Iterable
from datetime import datetime
from statistics import median
from typing import Any

from webapp.pages.state import state_of
from webapp.server import DashboardServer

_LEAVES = (str, bytes, bytearray, int, float, bool, type(None), datetime, memoryview)
_CONTAINERS = (dict, list, tuple, set, frozenset, deque)
_OURS = (
    "webapp.calls",
    "webapp.relay.frames",
    "webapp.relay.replaylog",
    "webapp.wire.events",
    "webapp.wire.callinfo",
    "webapp.alerts",
    "webapp.relay.compact",
)
_STOP = ("Hub", "Stream", "Subscriber", "Metrics", "RelayConfig", "Integrations")


def handlers(server: DashboardServer) -> dict[str, Any]:
    return {
        "lingering": lambda: lingering(server),
        "trace_start": lambda frames=25: tracemalloc.start(frames),
        "trace_top": lambda top=30: trace_top(top),
    }


def deep_size(roots: Iterable[object], seen: set[int]) -> int:
    """Bytes of ``roots`` and what they hold (see the module's doc), not counting ``seen``."""
    total = 0
    todo = list(roots)
    while todo:
        obj = todo.pop()
        if id(obj) in seen or not _walked(obj):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, dict):
            todo.extend(obj.keys())
            todo.extend(obj.values())
        elif isinstance(obj, _CONTAINERS):
            todo.extend(obj)
        elif not isinstance(obj, _LEAVES):
            todo.extend(_fields(obj))
    return total


def _walked(obj: object) -> bool:
    if isinstance(obj, _LEAVES) or type(obj) in _CONTAINERS or isinstance(obj, _CONTAINERS):
        return True
    kind = type(obj)
    return kind.__module__.startswith(_OURS) and kind.__name__ not in _STOP


def _fields(obj: object) -> list[object]:
    found = list(getattr(obj, "__dict__", {}).values())
    for klass in type(obj).__mro__:
        for name in getattr(klass, "__slots__", ()):
            if hasattr(obj, name):
                found.append(getattr(obj, name))
    return found


def parts_of(stream: Any) -> dict[str, list[object]]:
    """A stream's parts, by name, in the order their bytes are charged."""
    frames = list(stream.log._frames)
    features = stream.features
    found: dict[str, list[object]] = {
        "log: frame html": [f.html for f in frames],
        "log: frame bytes": [getattr(f, "body", None) for f in frames]
        + [getattr(f, "wire", None) for f in frames],
        "log: frame data": [getattr(f, "data", None) for f in frames],
        "log: frames": [stream.log._frames, *frames],
        "log: packed": [getattr(stream.log, "_packed", None)],  # an ended stream's (packing)
        "state": [features.state],
        "redactor": [getattr(features, "redactor", None)],
        "health": [getattr(features, "health", None)],
        "alerts": [getattr(features, "alerts", None)],
        "claims etc.": [features],
        "kept snapshot": [getattr(stream, "_kept", None)],
    }
    return found


def lingering(server: DashboardServer) -> dict[str, Any]:
    """Per part: the median and total bytes over the ended streams; how many there are."""
    state = state_of(server.dashboard)
    streams = list(state.hub.streams.values()) if state is not None else []
    ended = [s for s in streams if s.ended]
    sizes: dict[str, list[int]] = {}
    frames: list[int] = []
    for stream in ended:
        seen: set[int] = set()
        frames.append(len(stream.log))
        for name, roots in parts_of(stream).items():
            sizes.setdefault(name, []).append(deep_size(roots, seen))
    return {
        "streams": len(streams),
        "ended": len(ended),
        "frames_median": median(frames) if frames else 0,
        "parts": {n: (median(v), sum(v)) for n, v in sizes.items()},
    }


def trace_top(top: int) -> list[tuple[str, int, int]]:
    """The biggest live allocations by traceback, each named by its frames in our code."""
    if not tracemalloc.is_tracing():
        return []
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__)]
    )
    grouped: dict[str, list[int]] = {}
    for stat in snapshot.statistics("traceback"):
        ours = [f for f in stat.traceback if "/webapp/" in f.filename][-4:]
        name = (
            " < ".join(f"{f.filename.rsplit('/webapp/', 1)[1]}:{f.lineno}" for f in reversed(ours))
            or stat.traceback[-1].filename.rsplit("/", 1)[-1]
        )
        entry = grouped.setdefault(name, [0, 0])
        entry[0] += stat.size
        entry[1] += stat.count
    ranked = sorted(grouped.items(), key=lambda kv: -kv[1][0])[:top]
    return [(name, size, count) for name, (size, count) in ranked]
