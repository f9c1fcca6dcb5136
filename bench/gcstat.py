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
"""

from __future__ import annotations

import gc
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
