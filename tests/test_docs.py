"""The README and docs/ point only at things that exist: every relative link and image
resolves to a file, and every #anchor names a heading of the file it points into."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
CODE = re.compile(r"`[^`\n]*`")


def prose(text: str) -> str:
    """The text without code blocks and code spans, where a `[x](y)` is not a link."""
    return CODE.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*]|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for line in FENCE.sub("", path.read_text()).splitlines():
        heading = re.match(r"#{1,6} (.+)", line)
        if heading:
            base = slug(heading.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> list[str]:
    return [
        target
        for target in LINK.findall(prose(path.read_text()))
        if not re.match(r"[a-z][a-z0-9+.-]*:", target)  # https:, mailto: ...: not ours
    ]


def test_the_docs_are_found() -> None:
    names = {path.name for path in DOCS}
    assert {"README.md", "architecture.md", "configuration.md", "api.md"} <= names


def test_a_heading_anchor_is_what_github_makes_of_it() -> None:
    assert slug("Past one machine: several nodes on Redis") == (
        "past-one-machine-several-nodes-on-redis"
    )
    assert slug("Benchmark: `make bench`") == "benchmark-make-bench"
    assert slug("Stress: the cluster's ids under load") == "stress-the-clusters-ids-under-load"


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.name)
def test_every_relative_link_and_image_resolves(doc: Path) -> None:
    broken = []
    for target in links(doc):
        path, _, anchor = target.partition("#")
        file = (doc.parent / path).resolve() if path else doc
        if not file.exists():
            broken.append(f"{target}: no file {file.relative_to(ROOT)}")
        elif anchor and anchor not in anchors(file):
            broken.append(f"{target}: no heading #{anchor} in {file.relative_to(ROOT)}")
    assert not broken, f"{doc.relative_to(ROOT)}: " + "; ".join(broken)


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.name)
def test_no_link_leaves_the_repository(doc: Path) -> None:
    outside = [
        t
        for t in links(doc)
        if not (doc.parent / t.partition("#")[0]).resolve().is_relative_to(ROOT)
    ]
    assert not outside, f"{doc.relative_to(ROOT)} links outside the repository: {outside}"
