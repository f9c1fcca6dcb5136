"""The admin page: audit log (and its CSV), users, API tokens, webhook deliveries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from webapp.audit import AuditEntry, AuditLog, to_csv
from webapp.templating import templates

SHOWN = 200


@dataclass(frozen=True, slots=True)
class AdminPage:
    demo: bool
    audit: list[AuditEntry]
    users: list[Any]
    tokens: list[Any]
    webhooks: list[dict[str, Any]]
    retention_days: int


async def page(request: Request) -> Response:
    state = request.app.state
    audit: AuditLog = state.audit
    entries = await run_in_threadpool(audit.entries, SHOWN)
    admin = AdminPage(
        demo=state.demo,
        audit=entries,
        users=state.users.list(),
        tokens=state.tokens.list(),
        webhooks=state.webhooks.status() if state.webhooks is not None else [],
        retention_days=state.settings.dashboard_audit_retention_days,
    )
    return templates.TemplateResponse(request, "admin.html", {"page": admin})


async def audit_csv(request: Request) -> Response:
    days = request.query_params.get("days", "")
    since = None
    if days.isdigit() and 0 < int(days) <= 3650:
        since = datetime.now(UTC) - timedelta(days=int(days))
    audit: AuditLog = request.app.state.audit
    entries = await run_in_threadpool(audit.entries, None, since)
    return Response(
        to_csv(entries),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="burki-live-audit.csv"'},
    )
