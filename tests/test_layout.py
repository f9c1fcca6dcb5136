"""Imports go down the stages of the design: pages -> relay -> wire, access and alerts beside.

An AST walk over ``webapp/``: every ``import webapp...`` and ``from webapp...
import ...`` (type-checking imports too) is checked against the rooms' rules.
The root modules (``app``, ``cli``, ``parts``, ``settings``, ...) wire the rooms
together and may import any of them; no room imports the root.
"""

from __future__ import annotations

import ast
import gc
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "webapp"
ROOT = "root"

# What each room may import of ours, besides itself.
MAY_IMPORT: dict[str, set[str]] = {
    "wire": set(),
    "relay": {"wire"},
    "alerts": {"relay", "wire"},
    "access": {"relay", "wire", "store"},
    "store": {"wire"},  # the database: below access
    "history": {"store", "relay", "wire"},  # what a shift leaves behind, from the frames
    "pages": {"relay", "wire", "access", "alerts", "store", "history"},
    "cluster": {"relay", "wire", "access"},  # several nodes on Redis: below the pages
    "simulator": set(),  # Burki's stand-in shares no code with the dashboard it tests
    ROOT: {
        "wire",
        "relay",
        "alerts",
        "access",
        "pages",
        "simulator",
        "cluster",
        "store",
        "history",
    },
}


def room_of(module: str) -> str:
    """``webapp.relay.stream`` -> ``relay``; ``webapp.app`` or ``webapp`` -> the root."""
    parts = module.split(".")
    if len(parts) > 1 and (PACKAGE / parts[1]).is_dir():
        return parts[1]
    return ROOT


def imported(tree: ast.Module, module: str) -> list[tuple[int, str]]:
    """Every module of ours that ``tree`` (the source of ``module``) imports, by line."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                package = module.split(".")[: -node.level]
                base = ".".join([*package, *([base] if base else [])])
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


def modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found.append((name, path))
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
    ],
)
def test_an_import_against_the_stages_is_caught(module: str, source: str) -> None:
    assert violations(source, module) != []


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("webapp.pages.api", "from webapp.relay import cursor"),
        ("webapp.alerts.callalerts", "from webapp.relay.frames import Change"),
        ("webapp.relay.ports", "from .frames import Frame"),
        ("webapp.app", "from webapp.pages import api"),
        ("webapp.app", "from webapp import parts, probes"),
    ],
)
def test_an_import_down_the_stages_is_allowed(module: str, source: str) -> None:
    assert violations(source, module) == []


def test_every_room_says_what_it_is_for_and_what_it_may_import() -> None:
    for room in MAY_IMPORT.keys() - {ROOT}:
        doc = ast.get_docstring(ast.parse((PACKAGE / room / "__init__.py").read_text()))
        assert doc and "import" in doc, f"webapp/{room}/__init__.py has no rule in its docstring"
