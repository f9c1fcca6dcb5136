"""What reference cycles a scenario leaves behind as garbage, and whose they are.

Reference counting frees an object the moment nothing refers to it; only objects
in a reference cycle wait for the cycle detector (and, while frozen, for the
server's next sweep: see ``webapp/collector.py``). :func:`cyclic_garbage` runs a
scenario with the collector disabled, then collects once with
``gc.DEBUG_SAVEALL``, so that what it finds is kept to be looked at instead of
freed. The garbage is split into connected groups (each group is one or more
cycles and what only they held); a group is the dashboard's when one of its
objects is: an instance of a class, or a frame, coroutine or function of code,
of ``webapp`` (not its simulator), Starlette, uvicorn or the websockets
client, or a socket transport of the dashboard's (the server's end of a viewer's
connection, or its own end of an upstream's: told apart by port). Test clients
and the in-process simulator make garbage of their own; it is counted apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import types
import weakref
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

# h11 is not named: the test clients (httpx) speak it too; uvicorn's objects hold the server's.
OUR_MODULES = (
    "webapp.",
    "starlette.",
    "uvicorn.",
    "websockets.asyncio.client",
    "websockets.client",
)
NOT_OURS = ("webapp.simulator",)
OUR_PATHS = ("/webapp/", "/starlette/", "/uvicorn/", "/websockets/asyncio/client.py")


@dataclass
class Garbage:
    """The cyclic garbage of a scenario, by type: the dashboard's (``ours``) and the rest."""

    ours: Counter[str] = field(default_factory=Counter)
    others: Counter[str] = field(default_factory=Counter)
    groups: list[list[str]] = field(default_factory=list)
    """Each of our groups, as the type names of its objects (for the failure message)."""
    kept: list[list[object]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.ours.values())

    def describe(self, groups: int = 5) -> str:
        kinds = ", ".join(f"{name} {n}" for name, n in self.ours.most_common(20))
        shown = "\n".join(
            f"  group of {len(g)}: " + ", ".join(f"{k} {n}" for k, n in Counter(g).most_common(12))
            for g in self.groups[:groups]
        )
        return f"{self.total} objects of ours in cycles ({kinds})\n{shown}"


@asynccontextmanager
async def cyclic_garbage(
    server_port: int | None = None, upstream_port: int | None = None, keep: int = 0
) -> AsyncIterator[Garbage]:
    """Count the cyclic garbage made inside the block (filled in when it exits).

    A transport is the dashboard's when its local port is ``server_port`` (the
    dashboard's) or its peer's is ``upstream_port`` (Burki's). ``keep`` of our groups
    are kept whole in ``kept`` (to look at while debugging)."""
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    found = Garbage()
    try:
        yield found
    finally:
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            gens = _asyncgens()
            before = {id(g): g.ag_code for g in gens}
            watched = _watch(found)
            gc.collect()
            _sort(gc.garbage, found, keep, (server_port, upstream_port))
            _finalized(before, {id(g) for g in gens}, found)
            _freed_by_finalizers(watched, {id(o) for o in gc.garbage}, found)
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            if enabled:
                gc.enable()
        gc.collect()


def _sort(
    garbage: list[object], found: Garbage, keep: int, ports: tuple[int | None, int | None]
) -> None:
    for group in _groups(garbage):
        names = [_name(o) for o in group]
        if any(_ours(o) or _our_transport(o, *ports) for o in group):
            found.ours.update(names)
            found.groups.append(names)
            if len(found.kept) < keep:
                found.kept.append(group)
        else:
            found.others.update(names)
    found.groups.sort(key=len, reverse=True)


def _watch(found: Garbage) -> list[tuple[weakref.ref[object], int, str]]:
    """A weak reference to each of the dashboard's objects now (generators and protocol
    objects among them), to see which the collection frees."""
    watched = []
    for obj in gc.get_objects():
        if isinstance(type(obj).__module__, str) and _ours(obj):  # (a class's own is a slot)
            with contextlib.suppress(TypeError):  # not every kind takes a weak reference
                watched.append((weakref.ref(obj), id(obj), _name(obj)))
    return watched


def _freed_by_finalizers(
    watched: list[tuple[weakref.ref[object], int, str]], saved: set[int], found: Garbage
) -> None:
    """What a collection frees without keeping it in ``gc.garbage``: a suspended generator in
    a cycle is finalized (closed), its frame lets go, and the cycle falls apart by reference
    counting, the generator with it, before ``DEBUG_SAVEALL`` could keep anything. Such
    objects are the dashboard's cyclic garbage all the same (waiting for a sweep while
    frozen); each is counted once, with what the collector kept."""
    freed = [name for ref, key, name in watched if ref() is None and key not in saved]
    if freed:
        found.ours.update(freed)
        found.groups.append([*freed, "(freed while the collector finalized a cycle)"])


def _asyncgens() -> weakref.WeakSet[types.AsyncGeneratorType[object, object]]:
    """The running loop's async generators (it keeps them, weakly, to close at shutdown)."""
    found = getattr(asyncio.get_running_loop(), "_asyncgens", None)
    return found if found is not None else weakref.WeakSet()


def _finalized(before: dict[int, types.CodeType], after: set[int], found: Garbage) -> None:
    """An async generator in cyclic garbage does not stay in ``gc.garbage``: the collector
    finalizes it, and the loop's hook revives it to close it in a task of its own (freeing
    what it held then). So it is found by its leaving the loop's set during the collection
    (with the collector off, nothing else frees one meanwhile)."""
    for key, code in before.items():
        if key in after:
            continue
        name = f"async_generator:{code.co_name}"
        path = code.co_filename
        ours = any(p in path for p in OUR_PATHS) and "/simulator/" not in path
        (found.ours if ours else found.others)[name] += 1
        if ours:
            found.groups.append([name, "(finalized by the collector, closed by the loop)"])


def _groups(objects: list[object]) -> Iterable[list[object]]:
    """The objects, split into groups connected by references among themselves."""
    index = {id(o): i for i, o in enumerate(objects)}
    parent = list(range(len(objects)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, obj in enumerate(objects):
        for ref in gc.get_referents(obj):
            j = index.get(id(ref))
            if j is not None:
                parent[root(i)] = root(j)
    groups: dict[int, list[object]] = {}
    for i, obj in enumerate(objects):
        groups.setdefault(root(i), []).append(obj)
    return groups.values()


def _ours(obj: object) -> bool:
    code = _code(obj)
    if code is not None:
        path = code.co_filename
        return any(p in path for p in OUR_PATHS) and "/webapp/simulator/" not in path
    module = type(obj).__module__ + "."
    return module.startswith(OUR_MODULES) and not module.startswith(NOT_OURS)


def _our_transport(obj: object, server: int | None, upstream: int | None) -> bool:
    if not issubclass(type(obj), asyncio.Transport):  # type(): obj may be a dead weak proxy
        return False
    local, peer = obj.get_extra_info("sockname"), obj.get_extra_info("peername")
    return (local is not None and local[1] == server) or (peer is not None and peer[1] == upstream)


def _code(obj: object) -> types.CodeType | None:
    kind = type(obj)  # not isinstance: a dead weak proxy raises on any look at its referent
    if kind is types.FrameType:
        return obj.f_code  # type: ignore[attr-defined,no-any-return]
    if kind is types.CoroutineType:
        return obj.cr_code  # type: ignore[attr-defined,no-any-return]
    if kind is types.GeneratorType:
        return obj.gi_code  # type: ignore[attr-defined,no-any-return]
    if kind is types.AsyncGeneratorType:
        return obj.ag_code  # type: ignore[attr-defined,no-any-return]
    if kind is types.FunctionType:
        return obj.__code__  # type: ignore[attr-defined,no-any-return]
    if kind is types.MethodType:
        return _code(obj.__func__)  # type: ignore[attr-defined]
    return None


def _name(obj: object) -> str:
    kind = type(obj)
    name = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )
    code = _code(obj)
    if code is not None:
        return f"{name}:{code.co_name}"
    return name


def edges(group: list[object]) -> str:
    """Who refers to whom inside ``group`` (by attribute or key where one is found)."""
    ids = {id(o): i for i, o in enumerate(group)}
    lines = []
    for i, obj in enumerate(group):
        links = []
        for ref in gc.get_referents(obj):
            j = ids.get(id(ref))
            if j is not None:
                links.append(f"{_via(obj, ref)}->{j}")
        lines.append(f"{i} {_name(obj)} {_short(obj)}: {' '.join(links)}")
    return "\n".join(lines)


def _via(obj: object, ref: object) -> str:
    if isinstance(obj, dict):
        for k, v in obj.items():
            if v is ref:
                return f"[{str(k)[:30]}]"
    for name in getattr(obj, "__slots__", ()) or ():
        if getattr(obj, name, None) is ref:
            return "." + name
    if type(obj) is types.FrameType:
        for k, v in obj.f_locals.items():  # type: ignore[attr-defined]
            if v is ref:
                return f"local {k}"
    return ""


def _short(obj: object) -> str:
    try:
        text = repr(obj)
    except Exception:
        return "?"
    return text[:90].replace("\n", " ")
