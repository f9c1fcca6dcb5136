"""The admin page's Organisations: list, add, remove, rotate a key; each step audited.

A key is typed into a password field, sealed at once and never sent back: the page
confirms it masked (its last 4 characters) and the listing shows a fingerprint. The
change is in force on this node when the answer comes back (the book is read again at
once), on every other node within ``ORG_REFRESH_SECONDS``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from starlette.requests import Request

from webapp.orgs.book import OrgBook
from webapp.orgs.model import OrgError
from webapp.orgs.sealing import MasterKeyError
from webapp.pages.state import app_state, record
from webapp.store.database import StoreConflict, StoreError

FIELD_LIMIT = 1100  # characters read of a field (a key is 1024 at most)


@dataclass(frozen=True, slots=True)
class OrgLine:
    slug: str
    name: str
    base_url: str
    key_set_at: datetime | None
    fingerprint: str
    fixed: bool  # BURKI_API_KEY's: changed in the settings, not here
    served: bool  # running on this node now


@dataclass(frozen=True, slots=True)
class OrgsPanel:
    lines: list[OrgLine]
    note: str | None = None  # what was just done (a key masked, never the key)
    error: str | None = None
    entered: dict[str, str] = field(default_factory=dict)  # the add form's slug, name, URL
    master_key: bool = True  # BURKI_MASTER_KEY is set: keys can be sealed


class OrgFormError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def book_of(request: Request) -> OrgBook:
    runner = app_state(request).orgs
    if runner is None or runner.book is None:
        raise OrgFormError("this dashboard has no organisation book", 409)
    return runner.book


async def panel(request: Request, note: str | None = None, error: str | None = None,
                entered: dict[str, str] | None = None) -> OrgsPanel:  # fmt: skip
    """What the Organisations section shows: the fixed one of ``BURKI_API_KEY`` first."""
    state = app_state(request)
    runner = state.orgs
    lines = [
        OrgLine(t.slug, t.org.name, t.org.base_url, None, "BURKI_API_KEY", True, True)
        for t in state.tenants
        if runner is not None and t.slug in runner.fixed
    ]
    book = runner.book if runner is not None else None
    if book is not None:
        try:
            listed = await book.listed()
        except StoreError as exc:
            listed, error = [], error or str(exc)
        lines += [
            OrgLine(
                each.org.slug,
                each.org.name,
                each.org.base_url,
                each.key_set_at,
                each.fingerprint,
                False,
                each.org.slug in state.tenants,
            )
            for each in listed
        ]
    master = book is not None and book.master is not None
    return OrgsPanel(lines, note, error, entered or {}, master)


async def _form(request: Request, *names: str) -> dict[str, str]:
    form = await request.form(max_files=0, max_fields=8)
    return {name: str(form.get(name) or "")[:FIELD_LIMIT] for name in names}


async def add(request: Request) -> OrgsPanel:
    fields = await _form(request, "slug", "name", "url", "key")
    entered = {k: fields[k][:200] for k in ("slug", "name", "url")}  # never the key
    try:
        org, shown = await book_of(request).add(
            fields["slug"], fields["name"], fields["url"], fields["key"]
        )
    except (OrgError, MasterKeyError, StoreConflict, OrgFormError) as exc:
        await record(request, f"organisation add refused: {_said(exc)}", org="")
        return await panel(request, error=str(exc), entered=entered)
    await record(request, f"organisation {org.slug} added", org=org.slug)
    await _in_force(request)
    return await panel(request, note=f"Organisation {org.slug} ({org.name}) added; key {shown}.")


async def remove(request: Request) -> OrgsPanel:
    slug = (await _form(request, "slug"))["slug"][:64]
    try:
        await book_of(request).remove(slug)
    except (OrgError, OrgFormError) as exc:
        await record(request, f"organisation {slug} remove refused: {_said(exc)}", org="")
        return await panel(request, error=str(exc))
    await record(request, f"organisation {slug} removed", org=slug)
    await _in_force(request)
    return await panel(request, note=f"Organisation {slug} removed; its streams have ended.")


async def rotate_key(request: Request) -> OrgsPanel:
    fields = await _form(request, "slug", "key")
    slug = fields["slug"][:64]
    try:
        shown = await book_of(request).rotate_key(slug, fields["key"])
    except (OrgError, MasterKeyError, OrgFormError) as exc:
        await record(request, f"organisation {slug} key rotation refused: {_said(exc)}", org="")
        return await panel(request, error=str(exc))
    await record(request, f"organisation {slug} key rotated", org=slug)
    await _in_force(request)
    return await panel(request, note=f"Organisation {slug} has a new key {shown}.")


def _said(exc: Exception) -> str:
    return str(exc)[:120]


async def _in_force(request: Request) -> None:
    """Read the book now, so this node serves the change before the page answers; then
    tell the cluster's other nodes to read it too."""
    runner = app_state(request).orgs
    if runner is not None:
        await runner.changed()
