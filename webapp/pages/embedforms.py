"""Making and revoking embed links from the admin page, each step audited.

A link is made only for what Burki knows: a call or campaign id Burki answers
404 for (or that it cannot be asked about) gets a form error and no link, so an
instance cannot hand out links to ids it merely guessed. The wallboard needs no
lookup. The link's base URL follows :func:`~webapp.access.embedlinks.link_base`.
"""

from __future__ import annotations

from datetime import UTC

from starlette.requests import Request

from webapp.access.embedlinks import (
    WALLBOARD,
    EmbedLinks,
    EmbedScope,
    embed_scope,
    link_base,
    parse_ttl,
)
from webapp.access.embedstore import EmbedLinkRecord, EmbedStoreError
from webapp.access.wiring import principal_of
from webapp.pages.known import held_elsewhere
from webapp.pages.state import app_state, record
from webapp.wire.rest import NotFound, RestError
from webapp.wire.streamkey import DEFAULT_ORG


class EmbedFormError(Exception):
    """The form's answer: a sentence for the admin, a status, and what the audit log says."""

    def __init__(self, message: str, status: int = 400, audit: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.audit = audit or message


async def mint(request: Request, kind: str, ident: str, ttl: str, org: str = DEFAULT_ORG) -> str:
    """A new link's URL (shown once) to ``kind`` ``ident`` of ``org``; EmbedFormError when no
    link was made."""
    try:
        scope = embed_scope(kind, ident if kind != "wallboard" else WALLBOARD, org)
        seconds = parse_ttl(ttl)
    except ValueError as exc:
        raise EmbedFormError(str(exc), audit="bad input") from None
    if scope.org not in app_state(request).tenants:
        raise EmbedFormError("No such organisation.", 404, audit="no such organisation")
    await _known(request, scope)
    who = principal_of(request)
    embeds: EmbedLinks = app_state(request).access.embeds
    by = who.name if who is not None else "unknown"
    try:
        made = await embeds.mint(scope.kind, scope.ident, seconds, by, scope.org)
    except EmbedStoreError as exc:
        raise EmbedFormError(str(exc), 409) from None
    until = made.record.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    await record(request, f"embed link {made.record.id} made for {scope}, until {until}")
    where = app_state(request).links_base
    return made.url(link_base(where.public_url, str(request.base_url), where.bind_host))


async def revoke(request: Request, link_id: str) -> EmbedLinkRecord:
    who = principal_of(request)
    embeds: EmbedLinks = app_state(request).access.embeds
    by = who.name if who is not None else "unknown"
    try:
        done = await embeds.revoke(link_id, by)
    except EmbedStoreError as exc:
        raise EmbedFormError(str(exc), 404) from None
    await record(request, f"embed link {done.id} revoked ({done.scope})")
    return done


async def _known(request: Request, scope: EmbedScope) -> None:
    """Raise EmbedFormError unless Burki knows the call or campaign ``scope`` names."""
    key = scope.stream
    if key is None:
        return
    tenant = app_state(request).tenants.get(key.org)  # its own organisation's key, only
    rest = tenant.rest
    kind = "call" if key.kind == "call" else "campaign"
    if held_elsewhere(app_state(request), key):  # another organisation's: nothing asked
        raise EmbedFormError(
            f"Burki has no {kind} {key.id}: no link was made.", audit=f"Burki has no {key}"
        )

    async def ask() -> object:
        return await (rest.call(key.id) if key.kind == "call" else rest.campaign(int(key.id)))

    try:
        await tenant.missing.lookup(key, ask)
    except NotFound:
        raise EmbedFormError(
            f"Burki has no {kind} {key.id}: no link was made.", audit=f"Burki has no {key}"
        ) from None
    except RestError:
        raise EmbedFormError(
            f"Could not ask Burki whether {kind} {key.id} exists; no link was made. Try again.",
            502,  # Burki failed (the error map's rule for its REST)
            audit=f"Burki did not answer for {key}",
        ) from None
