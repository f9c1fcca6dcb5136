"""The admin page: audit log (and its CSV, by organisation), embed links, users and their roles
per organisation, API tokens (each of one organisation), webhook deliveries."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from webapp.access.audit import AuditEntry, AuditLog, to_csv
from webapp.access.embedstore import EmbedLinkRecord
from webapp.access.tokens import TokenError
from webapp.access.users import EVERY_ORG, UserError, parse_role
from webapp.calls.campaignstate import CampaignState
from webapp.orgs.tenants import Tenant, Tenants
from webapp.pages import orgforms
from webapp.pages.embedforms import EmbedFormError, mint, revoke
from webapp.pages.orgforms import OrgsPanel
from webapp.pages.overviewcontext import call_names
from webapp.pages.state import AppState, app_state, record
from webapp.pages.templating import campaign_title, templates
from webapp.store.database import StoreError
from webapp.wire.streamkey import DEFAULT_ORG, StreamKey

PER_PAGE = 25  # audit rows per page
MAX_PAGES = 400


@dataclass(frozen=True, slots=True)
class AdminPage:
    demo: bool
    embed_link: str | None
    embed_error: str | None
    audit: list[AuditEntry]
    audit_labels: list[str]  # each entry's "what" with its call or campaign named
    audit_page: int
    audit_more: bool  # an older page follows
    users: list[Any]
    tokens: list[Any]
    webhooks: list[dict[str, Any]]
    retention_days: int
    tested: int | None = None  # a test alert was just queued for this many routes
    embeds: list[EmbedLinkRecord] = field(default_factory=list)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    embed_note: str | None = None  # a link was just revoked
    forwarded_from: str | None = None  # X-Forwarded-For came from this untrusted peer
    monitoring: list[Monitoring] = field(default_factory=list)  # each organisation's (none: off)
    orgs: list[str] = field(default_factory=list)  # the organisations of this dashboard
    audit_org: str | None = None  # the audit log shown is this organisation's ('': none's)
    made_token: str | None = None  # a token just created: shown this once
    user_error: str | None = None  # a grant, revocation or token refused
    org_book: OrgsPanel | None = None  # the org book's organisations, keys never shown


@dataclass(frozen=True, slots=True)
class Monitoring:
    """What one organisation's monitor holds: per node (a cluster's counts of this
    organisation alone), and what its cap left out (named, never silent)."""

    org: str  # its slug
    name: str  # its name on screen
    cap: int
    counts: list[tuple[str, int]]
    unmonitored: list[tuple[str, str]]  # (key, name on screen)
    refused: int


def monitoring(request: Request) -> list[Monitoring]:
    """Every organisation's monitor, in the book's order; empty when monitoring is off."""
    state = app_state(request)
    return [found for tenant in state.tenants if (found := _monitoring(state, tenant))]


def _monitoring(state: AppState, tenant: Tenant) -> Monitoring | None:
    monitor = tenant.monitor
    if monitor is None:
        return None
    left = list(monitor.unmonitored)
    sids = (k.id for k in left if k.kind == "call")
    names = call_names(tenant.directory.calls, state.hub, tenant.slug, sids)
    counts = monitor.counts or {monitor.placement.node: monitor.holding}
    return Monitoring(
        org=tenant.slug,
        name=tenant.org.name,
        cap=monitor.config.max_streams,
        counts=sorted(counts.items()),
        unmonitored=[(str(k), names.get(k.id, str(k))) for k in left],
        refused=monitor.refusals,
    )


async def page(request: Request) -> Response:
    await record(request, "admin page", once=True)  # the audit log itself, users, tokens
    return await _page(request)


async def embed_link(request: Request) -> Response:
    """Make a signed, expiring embed link for a call, a campaign or the wallboard that Burki
    knows (the CLI's embed-link); each attempt past the CSRF check is audited."""
    form = await request.form(max_files=0, max_fields=6)
    kind, ident, ttl = (str(form.get(name) or "")[:100] for name in ("kind", "ident", "ttl"))
    org = str(form.get("org") or DEFAULT_ORG)[:32]
    try:
        made = await mint(request, kind, ident.strip(), ttl or "8h", org)
    except EmbedFormError as exc:
        await record(request, f"embed link refused: {exc.audit}")
        return await _page(request, error=str(exc), status=exc.status)
    return await _page(request, link=made)


async def embed_revoke(request: Request) -> Response:
    """Revoke one embed link: its pages and streams stop on every node (see embedlinks)."""
    form = await request.form(max_files=0, max_fields=4)
    try:
        done = await revoke(request, str(form.get("link") or "")[:64])
    except EmbedFormError as exc:
        return await _page(request, error=str(exc), status=exc.status)
    return await _page(request, note=f"Embed link {done.id} ({done.scope}) is revoked.")


async def alert_test(request: Request) -> Response:
    """Queue a test alert for every route that takes alerts (Slack, Teams, e-mail, signed)."""
    dispatcher = app_state(request).webhooks
    tested = dispatcher.send_test() if dispatcher is not None else 0
    await record(request, f"test alert to {tested} route(s)")
    return await _page(request, tested=tested)


async def org_add(request: Request) -> Response:
    """Add an organisation with its Burki key (a password field; sealed, never shown)."""
    return await _page(request, org_book=await orgforms.add(request))


async def org_remove(request: Request) -> Response:
    """Remove an organisation: its streams end, saying so, and its key is forgotten."""
    return await _page(request, org_book=await orgforms.remove(request))


async def org_rotate_key(request: Request) -> Response:
    """A new Burki key for an organisation: its streams reconnect with it."""
    return await _page(request, org_book=await orgforms.rotate_key(request))


async def grant(request: Request) -> Response:
    """Give a user a role in one organisation (``*``: every one); audited."""
    form = await request.form(max_files=0, max_fields=6)
    name, org, role = (str(form.get(key) or "")[:64] for key in ("name", "org", "role"))
    try:
        user = await app_state(request).access.users.grant(name, org, parse_role(role))
    except StoreError as exc:
        await record(request, f"role refused: {exc}")
        return await _page(request, user_error=str(exc), status=400)
    await record(request, f"role {role} in {org} given to {user.name}", org=_org_word(org))
    return await _page(request, note=f"{user.name} is now {user.roles}.")


async def revoke_role(request: Request) -> Response:
    """Take a user's role in one organisation away; their open streams of it end soon."""
    form = await request.form(max_files=0, max_fields=6)
    name, org = (str(form.get(key) or "")[:64] for key in ("name", "org"))
    try:
        user = await app_state(request).access.users.revoke(name, org)
    except UserError as exc:
        await record(request, f"role revocation refused: {exc}")
        return await _page(request, user_error=str(exc), status=400)
    await record(request, f"role in {org} taken from {user.name}", org=_org_word(org))
    return await _page(request, note=f"{user.name} is now {user.roles}.")


async def token_create(request: Request) -> Response:
    """Create an API token of one organisation; shown once, on the page that answers."""
    form = await request.form(max_files=0, max_fields=6)
    name, org, role = (str(form.get(key) or "")[:64] for key in ("name", "org", "role"))
    try:
        token = await app_state(request).access.tokens.create(name, parse_role(role), org)
    except (TokenError, StoreError) as exc:
        await record(request, f"token refused: {exc}")
        return await _page(request, user_error=str(exc), status=400)
    await record(request, f"token {name.casefold()} ({role}) created", org=org)
    return await _page(request, made_token=token)


def _org_word(org: str) -> str:
    return "" if org.strip() == EVERY_ORG else org.strip()


async def _page(
    request: Request,
    link: str | None = None,
    error: str | None = None,
    status: int = 200,
    tested: int | None = None,
    note: str | None = None,
    made_token: str | None = None,
    user_error: str | None = None,
    org_book: OrgsPanel | None = None,
) -> Response:
    state = app_state(request)
    asked = request.query_params.get("audit_page", "1")
    number = min(max(int(asked), 1), MAX_PAGES) if asked.isdigit() and len(asked) < 6 else 1
    audit_org = audit_filter(request)
    entries = await state.access.audit.entries(number * PER_PAGE + 1, org=audit_org)
    shown = entries[(number - 1) * PER_PAGE : number * PER_PAGE]
    admin = AdminPage(
        demo=state.demo,
        embed_link=link,
        embed_error=error,
        audit=shown,
        audit_labels=audit_labels(shown, request),
        audit_page=number,
        audit_more=len(entries) > number * PER_PAGE,
        users=await state.access.users.list(),
        tokens=await state.access.tokens.list(),
        webhooks=state.webhooks.status() if state.webhooks is not None else [],
        retention_days=state.audit_retention_days,
        tested=tested,
        embeds=await state.access.embeds.list(),
        embed_note=note,
        forwarded_from=state.access.forwarding.peer,
        monitoring=monitoring(request),
        orgs=sorted(state.tenants.slugs),
        audit_org=audit_org,
        made_token=made_token,
        user_error=user_error,
        org_book=org_book or await orgforms.panel(request),
    )
    if org_book is not None and org_book.error is not None:
        status = 400
    return templates.TemplateResponse(request, "admin.html", {"page": admin}, status_code=status)


def audit_filter(request: Request) -> str | None:
    """The organisation whose audit entries are asked for (``?org=``; ``-``: those of none);
    None: every entry."""
    asked = request.query_params.get("org", "")[:32]
    return None if not asked else "" if asked == "-" else asked


def audit_labels(entries: list[AuditEntry], request: Request) -> list[str]:
    """What each entry opened, with the call named by caller and assistant and the campaign
    by its name where this node knows them (the raw key stays in the row's tooltip). A key
    is named from its own organisation's lists and streams only: the same call or campaign
    id of another organisation is another stream, with another name."""
    state = app_state(request)
    if not state.tenants:
        return [entry.what for entry in entries]
    keys = {key for entry in entries for key in _named(entry.what, state.tenants).values()}
    names = _stream_names(state, keys)

    def label(token: re.Match[str]) -> str:
        word = _core(token[0])
        key = StreamKey.read(word, state.tenants)
        name = names.get(key) if key is not None else None
        return token[0].replace(word, f"{key.kind} {name}") if key and name else token[0]

    return [_WORD.sub(label, entry.what) for entry in entries]


_WORD = re.compile(r"\S+")


def _core(token: str) -> str:
    """A word of an entry without the punctuation around it (``acme/call:CA1,`` -> the key)."""
    return token.strip(",;()").rstrip(":")


def _named(what: str, orgs: Tenants) -> dict[str, StreamKey]:
    """The stream keys an entry's words name (``call:CA1``, ``acme/campaign:7,``), by the
    word as written, of the organisations this node serves."""
    words = (_core(token) for token in what.split())
    return {word: key for word in words if (key := StreamKey.read(word, orgs))}


def _stream_names(state: AppState, keys: set[StreamKey]) -> dict[StreamKey, str]:
    """Each key's name on screen, from its own organisation's lists and open streams."""
    names: dict[StreamKey, str] = {}
    for tenant in state.tenants:
        mine = [k for k in keys if k.org == tenant.slug]
        if not mine:
            continue
        sids = [k.id for k in mine if k.kind == "call"]
        for sid, name in call_names(tenant.directory.calls, state.hub, tenant.slug, sids).items():
            names[StreamKey("call", sid, tenant.slug)] = name
        for c in tenant.directory.campaigns:
            names[StreamKey("campaign", str(c.id), tenant.slug)] = campaign_title(c.name, c.id)
    for key in keys:
        stream = state.hub.streams.get(key) if key.kind == "campaign" else None
        if stream is not None and isinstance(stream.state, CampaignState) and stream.state.name:
            names[key] = campaign_title(stream.state.name, key.id)
    return {key: name for key, name in names.items() if key in keys}


async def audit_csv(request: Request) -> Response:
    days = request.query_params.get("days", "")
    since = None
    if days.isdigit() and 0 < int(days) <= 3650:
        since = datetime.now(UTC) - timedelta(days=int(days))
    await record(request, f"audit log export ({days} days)" if since else "audit log export")
    audit: AuditLog = app_state(request).access.audit
    entries = await audit.entries(None, since, audit_filter(request))
    return Response(
        to_csv(entries),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="burki-live-audit.csv"'},
    )
