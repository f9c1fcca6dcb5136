"""The admin page: audit log (and its CSV), users, API tokens, webhook deliveries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from webapp.access.audit import AuditEntry, AuditLog, to_csv
from webapp.access.auth import csrf_ok
from webapp.access.embedlinks import EmbedSigner, link_base, parse_ttl
from webapp.pages.state import app_state, record
from webapp.pages.templating import templates
from webapp.wire.streamkey import StreamKey

SHOWN = 200


@dataclass(frozen=True, slots=True)
class AdminPage:
    demo: bool
    embed_link: str | None
    embed_error: str | None
    audit: list[AuditEntry]
    users: list[Any]
    tokens: list[Any]
    webhooks: list[dict[str, Any]]
    retention_days: int
    tested: int | None = None  # a test alert was just queued for this many routes
    forwarded_from: str | None = None  # X-Forwarded-For came from this untrusted peer


async def page(request: Request) -> Response:
    return await _page(request)


async def embed_link(request: Request) -> Response:
    """Make a signed, expiring embed link for one call or campaign (the CLI's embed-link)."""
    form = await request.form(max_files=0, max_fields=6)
    if not csrf_ok(request, str(form.get("csrf") or "")):
        return await _page(request, error="The form expired; please try again.", status=403)
    kind, ident, ttl = (str(form.get(name) or "")[:100] for name in ("kind", "ident", "ttl"))
    try:
        key = StreamKey.call(ident) if kind == "call" else StreamKey.campaign(ident)
        seconds = parse_ttl(ttl or "8h")
    except ValueError as exc:
        return await _page(request, error=str(exc), status=400)
    signer: EmbedSigner = app_state(request).access.embeds
    where = app_state(request).links_base
    base = link_base(where.public_url, str(request.base_url), where.bind_host)
    link = signer.link(base, key.kind, key.id, seconds)
    return await _page(request, link=link)


async def alert_test(request: Request) -> Response:
    """Queue a test alert for every route that takes alerts (Slack, Teams, e-mail, signed)."""
    form = await request.form(max_files=0, max_fields=2)
    if not csrf_ok(request, str(form.get("csrf") or "")):
        return await _page(request, error="The form expired; please try again.", status=403)
    dispatcher = app_state(request).webhooks
    tested = dispatcher.send_test() if dispatcher is not None else 0
    await record(request, f"test alert to {tested} route(s)")
    return await _page(request, tested=tested)


async def _page(
    request: Request,
    link: str | None = None,
    error: str | None = None,
    status: int = 200,
    tested: int | None = None,
) -> Response:
    state = app_state(request)
    entries = await run_in_threadpool(state.access.audit.entries, SHOWN)
    admin = AdminPage(
        demo=state.demo,
        embed_link=link,
        embed_error=error,
        audit=entries,
        users=state.access.users.list(),
        tokens=state.access.tokens.list(),
        webhooks=state.webhooks.status() if state.webhooks is not None else [],
        retention_days=state.audit_retention_days,
        tested=tested,
        forwarded_from=state.access.forwarding.peer,
    )
    return templates.TemplateResponse(request, "admin.html", {"page": admin}, status_code=status)


async def audit_csv(request: Request) -> Response:
    days = request.query_params.get("days", "")
    since = None
    if days.isdigit() and 0 < int(days) <= 3650:
        since = datetime.now(UTC) - timedelta(days=int(days))
    audit: AuditLog = app_state(request).access.audit
    entries = await run_in_threadpool(audit.entries, None, since)
    return Response(
        to_csv(entries),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="burki-live-audit.csv"'},
    )
