"""Imports go down the rooms of the design, and no package imports itself in a circle.

An AST walk over ``webapp/``: every ``import webapp...`` and ``from webapp...
import ...`` (type-checking imports too) is checked against the rooms' rules
(``/work/wt/PLAN.md``'s table: ``MAY_IMPORT``). The root modules (``app``,
``cli``, ``parts``, ``configs``, the ``settings`` package, ...) wire the rooms
together and may import any of them; no room imports the root. A room listed
here that does not exist yet (its package arrives later) is ruled all the same.

And no cycle of imports among the modules of a package: two modules that import
each other are one concept in two files, and their import order starts to matter
(a name half-defined when the other module reads it). The imports that count are
the ones that run: at module level, in a function (a deferred import hides a
cycle, it does not remove it), in a try or an if; not those under ``if
TYPE_CHECKING:``, which never run and only name a type for an annotation (a
Protocol in the lower module is the better shape, but a type-only back reference
does not tie the two modules at run time).
"""

from __future__ import annotations

import ast
import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "webapp"
ROOT = "root"

# What each room may import of ours, besides itself.
MAY_IMPORT: dict[str, set[str]] = {
    "wire": set(),  # Burki's protocol
    "calls": {"wire"},  # what a call and a campaign are, and what is derived from them
    "store": {"wire"},  # the database
    "relay": {"wire", "calls"},
    "alerts": {"relay", "calls", "wire"},
    "access": {"wire", "store"},  # NOT the relay: who may watch knows no stream internals
    "delivery": {"relay", "calls", "wire", "access"},  # how frames reach a viewer
    "watch": {"relay", "calls", "wire", "alerts"},  # what the dashboard watches on its own
    "history": {"store", "relay", "calls", "wire"},  # what a shift leaves behind, from the frames
    "cluster": {"relay", "calls", "wire", "access", "watch", "alerts"},  # nodes on Redis
    # Burki organisations: their keys at rest, and each one's running parts
    "orgs": {"wire", "store", "relay", "calls", "alerts", "watch"},
    "pages": {
        "wire",
        "calls",
        "store",
        "relay",
        "alerts",
        "access",
        "delivery",
        "watch",
        "cluster",
        "history",
        "orgs",
    },
    "simulator": set(),  # Burki's stand-in shares no code with the dashboard it tests
}
MAY_IMPORT[ROOT] = set(MAY_IMPORT)


def room_of(module: str) -> str:
    """``webapp.relay.stream`` -> ``relay``; ``webapp.app``, ``webapp.settings.base`` or
    ``webapp`` -> the root (a package that is no room, such as ``settings``, is the root's)."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in MAY_IMPORT:
        return parts[1]
    return ROOT


def resolved(node: ast.ImportFrom, module: str, is_package: bool = False) -> str:
    """The absolute module a ``from ... import`` names (relative ones against ``module``)."""
    base = node.module or ""
    if not node.level:
        return base
    package = module.split(".") if is_package else module.split(".")[:-1]
    package = package[: len(package) - (node.level - 1)]
    return ".".join([*package, *([base] if base else [])])


def imported(tree: ast.Module, module: str) -> list[tuple[int, str]]:
    """Every module of ours that ``tree`` (the source of ``module``) imports, by line."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = resolved(node, module)
            if base == "webapp":  # from webapp import probes: the names are the modules
                found += [(node.lineno, f"webapp.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, base))
    return [(line, name) for line, name in found if name.split(".")[0] == "webapp"]


def parse(source: str) -> ast.Module:
    """``ast.parse`` with the collector off, and once more if CPython 3.11.7 trips.

    3.11.7 keeps the AST constructor's recursion depth in one per-interpreter
    counter; a collection that runs finalizers (or another thread) in the middle
    of a conversion can leave it off and raise "AST constructor recursion depth
    mismatch" for a valid file (seen twice in full runs; fixed in later 3.11s).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        try:
            return ast.parse(source)
        except SystemError:
            return ast.parse(source)
    finally:
        if enabled:
            gc.enable()


def violations(source: str, module: str) -> list[str]:
    here = room_of(module)
    allowed = MAY_IMPORT[here] | {here}
    return [
        f"{module}:{line} ({here}) imports {name} ({room_of(name)})"
        for line, name in imported(parse(source), module)
        if room_of(name) not in allowed
    ]


def modules(package: Path = PACKAGE) -> list[tuple[str, Path]]:
    """Every module of ``package`` by dotted name (a package by its ``__init__``)."""
    found = []
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found.append((name, path))
    return found


def running_imports(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements of ``body`` that can run: everywhere but under ``if
    TYPE_CHECKING:`` (its ``else`` runs)."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
            continue
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from running_imports(node.orelse)
            continue
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            for child in getattr(node, field, []):
                yield from running_imports(
                    [child] if isinstance(child, ast.stmt) else list(child.body)
                )


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the modules of the same tree it imports at run time.

    ``from a import b`` is an edge to the module ``a.b`` where there is one, else to
    ``a``. Importing ``a.b`` also imports the package ``a`` first; that implicit edge
    is left out (a package's ``__init__`` that gathers its modules is no cycle).
    """
    found = modules(package)
    known = {name for name, _ in found}
    graph: dict[str, set[str]] = {}
    for name, path in found:
        edges: set[str] = set()
        for node in running_imports(parse(path.read_text()).body):
            if isinstance(node, ast.Import):
                edges |= {alias.name for alias in node.names}
                continue
            base = resolved(node, name, path.name == "__init__.py")
            edges |= {
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            }
        graph[name] = (edges & known) - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm, without
    recursion), each sorted; none: no cycle."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in order:
            continue
        work = [(start, iter(sorted(graph[start])))]
        order[start] = low[start] = len(order)
        stack.append(start)
        while work:
            node, edges = work[-1]
            step = next((e for e in edges if e not in order or e in stack), None)
            if step is not None and step not in order:
                order[step] = low[step] = len(order)
                stack.append(step)
                work.append((step, iter(sorted(graph.get(step, ())))))
                continue
            if step is not None:
                low[node] = min(low[node], order[step])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == order[node]:
                group = stack[stack.index(node) :]
                del stack[stack.index(node) :]
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def test_every_import_goes_down_the_stages_or_stays_in_its_room() -> None:
    wrong = [v for name, path in modules() for v in violations(path.read_text(), name)]
    assert wrong == []


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("webapp.wire.upstream", "from webapp.settings import Settings"),
        ("webapp.wire.upstream", "import webapp.relay.hub"),
        ("webapp.relay.stream", "from webapp.pages.views import View"),
        ("webapp.relay.stream", "if TYPE_CHECKING:\n    from webapp.alerts import webhooks"),
        ("webapp.access.wiring", "from webapp.pages.signin import SignInLinks"),
        ("webapp.alerts.webhooks", "from webapp.access.users import Role"),
        ("webapp.pages.templating", "from webapp import settings"),
        ("webapp.relay.hub", "from ..pages import api"),
        ("webapp.simulator.rest", "from webapp.wire.rest import BurkiRest"),
        ("webapp.access.streamguard", "from webapp.relay.hub import Hub"),
        ("webapp.access.auth", "if TYPE_CHECKING:\n    from webapp.relay import stream"),
        ("webapp.calls.health", "from webapp.relay.frames import Frame"),
        ("webapp.store.db", "from webapp.access.users import Role"),
        ("webapp.watch.directory", "from webapp.pages.state import AppState"),
        ("webapp.relay.hub", "from webapp.delivery import viewer"),
        ("webapp.cluster.replica", "from webapp.pages import views"),
    ],
)
def test_an_import_against_the_stages_is_caught(module: str, source: str) -> None:
    assert violations(source, module) != []


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("webapp.pages.api", "from webapp.relay import cursor"),
        ("webapp.pages.api", "from webapp.delivery import cursor"),
        ("webapp.alerts.callalerts", "from webapp.relay.frames import Change"),
        ("webapp.relay.ports", "from .frames import Frame"),
        ("webapp.app", "from webapp.pages import api"),
        ("webapp.app", "from webapp import parts, probes"),
        ("webapp.cluster.listing", "from webapp.watch.directory import Listed"),
        ("webapp.relay.stream", "from webapp.calls.callstate import CallState"),
        ("webapp.access.users", "from webapp.store import database"),
        ("webapp.delivery.viewer", "from webapp.access.caps import StreamCaps"),
        ("webapp.pages.overview", "from webapp.watch.directory import Directory"),
        ("webapp.app", "from webapp.settings.base import Area"),
        ("webapp.settings.access", "from webapp.access.users import Role"),
    ],
)
def test_an_import_down_the_stages_is_allowed(module: str, source: str) -> None:
    assert violations(source, module) == []


def test_every_room_says_what_it_is_for_and_what_it_may_import() -> None:
    for room in MAY_IMPORT.keys() - {ROOT}:
        if not (PACKAGE / room).is_dir():
            continue  # a room still to come (another branch brings it)
        doc = ast.get_docstring(ast.parse((PACKAGE / room / "__init__.py").read_text()))
        assert doc and "import" in doc, f"webapp/{room}/__init__.py has no rule in its docstring"


def test_no_package_imports_itself_in_a_circle() -> None:
    assert cycles(import_graph()) == []


def test_the_import_graph_sees_the_package() -> None:
    """Not vacuous: the real graph has the edges the code plainly has."""
    graph = import_graph()
    assert "webapp.relay.frames" in graph["webapp.relay.stream"]
    assert "webapp.settings.base" in graph["webapp.settings.upstream"]  # relative
    assert "webapp.watch.directory" in graph["webapp.cluster.listing"]


TYPED = "from typing import TYPE_CHECKING\n"
ELSE_A = "else:\n    from pkg import a\n"
TREE = {
    "__init__.py": "",
    "a.py": "from pkg import b\n",
    "b.py": "from . import c\n",
    "c.py": "from pkg.d import thing\n",
    "d.py": "thing = 1\n",
}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, []),
        ({"d.py": "from .a import x\n"}, [["pkg.a", "pkg.b", "pkg.c", "pkg.d"]]),
        ({"c.py": "import pkg.a\n"}, [["pkg.a", "pkg.b", "pkg.c"]]),
        ({"b.py": "def late():\n    from pkg import a\n"}, [["pkg.a", "pkg.b"]]),
        (
            {"b.py": "try:\n    from pkg.a import x\nexcept ImportError:\n    pass\n"},
            [["pkg.a", "pkg.b"]],
        ),
        (
            {"b.py": TYPED + "if TYPE_CHECKING:\n    from pkg import a\n"},
            [],
        ),
        (
            {"b.py": "import typing\nif typing.TYPE_CHECKING:\n    pass\n" + ELSE_A},
            [["pkg.a", "pkg.b"]],
        ),
        (
            {"d.py": "from . import c\n", "b.py": "from pkg import a\n"},
            [["pkg.a", "pkg.b"], ["pkg.c", "pkg.d"]],
        ),
        ({"__init__.py": "from pkg import a\n"}, []),  # a package gathering its modules
    ],
)
def test_a_cycle_of_imports_is_found_in_a_tiny_tree(
    tmp_path: Path, changes: dict[str, str], expected: list[list[str]]
) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    for name, source in (TREE | changes).items():
        (package / name).write_text(source)
    assert sorted(cycles(import_graph(package))) == expected
