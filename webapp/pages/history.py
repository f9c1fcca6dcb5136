"""The history pages: every alert of a time range (and its CSV), and the shift report.

Both read the store (:mod:`webapp.store.history`) through the app's
:class:`~webapp.history.keeper.Keeper`, for one organisation (``/o/{org}/history/...``)
or every one the person may see (unprefixed; :mod:`webapp.pages.orgscope`), each row
tagged with its organisation where several are shown; a range is ``since``/``until`` (UTC,
``YYYY-MM-DDTHH:MM`` as a ``datetime-local`` field sends it) or the last
``hours``. A filter form re-renders the results block with htmx (the same page,
``hx-select``), and works as a plain GET without script. The CSV defuses every
cell a spreadsheet would run as a formula, as the audit export does.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from webapp.access.audit import FORMULA_STARTS
from webapp.history.keeper import Keeper
from webapp.history.report import SEVERITIES, hours_per_bar, shift
from webapp.pages.charts import bar_length, stacked_columns
from webapp.pages.orgscope import Scope, org_base, page_base, record_shown, scope_of
from webapp.pages.state import app_state
from webapp.pages.templating import templates
from webapp.store.database import StoreUnavailable
from webapp.store.history import AlertFilter
from webapp.store.records import AlertRecord

KINDS = ("sentiment", "keyword")
MAX_HOURS = 24 * 31
FORM_TIME = "%Y-%m-%dT%H:%M"
CSV_FIELDS = ("at", "call_id", "assistant", "severity", "kind", "message", "excerpt")
CSV_HANDLED = ("handled_by", "handled_how", "handled_at")


@dataclass(frozen=True, slots=True)
class Range:
    since: datetime
    until: datetime

    @property
    def fields(self) -> dict[str, str]:
        """The range as a form shows it: to the minute, ``until`` rounded up (so what the
        page listed is still listed when the form is sent back)."""
        until = self.until
        if until.second or until.microsecond:
            until = until.replace(second=0, microsecond=0) + timedelta(minutes=1)
        return {"since": self.since.strftime(FORM_TIME), "until": until.strftime(FORM_TIME)}


def time_range(request: Request, default_hours: int) -> Range:
    """The range the query names; 400 with a sentence for a value that is not one."""
    params, now = request.query_params, datetime.now(UTC)
    until = _moment(params.get("until", ""), "until") or now
    since = _moment(params.get("since", ""), "since")
    if since is None:
        hours = params.get("hours", "")
        if hours and not (hours.isdigit() and 0 < int(hours) <= MAX_HOURS):
            raise HTTPException(400, f"hours: a whole number from 1 to {MAX_HOURS}.")
        since = until - timedelta(hours=int(hours) if hours else default_hours)
    if since >= until:
        raise HTTPException(400, "since must come before until.")
    if until - since > timedelta(hours=MAX_HOURS):
        raise HTTPException(400, f"a range spans at most {MAX_HOURS // 24} days.")
    return Range(since, until)


def _moment(text: str, name: str) -> datetime | None:
    if not text:
        return None
    try:
        found = datetime.fromisoformat(text)
    except ValueError:
        raise HTTPException(400, f"{name}: not a time (YYYY-MM-DDTHH:MM, UTC).") from None
    return found.replace(tzinfo=UTC) if found.tzinfo is None else found.astimezone(UTC)


def alert_filter(request: Request, when: Range, orgs: Collection[str]) -> AlertFilter:
    params = request.query_params
    severity, kind = params.get("severity", ""), params.get("kind", "")
    handled = params.get("handled", "")
    if severity not in ("", *SEVERITIES):
        raise HTTPException(400, f"severity: one of {', '.join(SEVERITIES)}.")
    if kind not in ("", *KINDS):
        raise HTTPException(400, f"kind: one of {', '.join(KINDS)}.")
    if handled not in ("", "yes", "no"):
        raise HTTPException(400, "handled: yes or no.")
    which = AlertFilter(
        since=when.since,
        until=when.until,
        severity=severity,
        kind=kind,
        assistant=params.get("assistant", "")[:128],
        handled=None if not handled else handled == "yes",
    )
    return replace(which, orgs=frozenset(orgs))


@dataclass(frozen=True, slots=True)
class Shown:
    """The organisations a history page shows: the path prefix of its own links, and each
    row's organisation's path prefix and tag (where several are shown)."""

    base: str
    bases: dict[str, str]
    tags: dict[str, str]

    @classmethod
    def of(cls, scope: Scope) -> Shown:
        bases = {t.slug: org_base(t.slug) for t in scope.shown}
        tags = {t.slug: scope.name_of(t.slug) for t in scope.shown} if scope.tagged else {}
        return cls(page_base(scope), bases, tags)


def keeper(request: Request) -> Keeper:
    found = app_state(request).history
    if found is None:
        raise HTTPException(503, "This dashboard keeps no history (it has no database).")
    return found


def unavailable(exc: StoreUnavailable) -> HTTPException:
    return HTTPException(503, "The history's database cannot be reached right now; try again.")


async def alerts_page(request: Request) -> Response:
    scope = scope_of(request, "call")
    when = time_range(request, 24)
    which = alert_filter(request, when, scope.slugs)
    rows = keeper(request).rows
    try:
        found = await rows.alerts(which)
        assistants = await rows.assistants(when.since, when.until, scope.slugs)
    except StoreUnavailable as exc:
        raise unavailable(exc) from None
    await record_shown(request, scope, "alert history (stored)", once=True)  # excerpts
    context = {
        "alerts": found,
        "range": when.fields,
        "which": which,
        "assistants": assistants,
        "severities": SEVERITIES,
        "kinds": KINDS,
        "query": request.url.query,
        "shown": Shown.of(scope),
    }
    return templates.TemplateResponse(request, "history_alerts.html", context)


async def alerts_csv(request: Request) -> Response:
    scope = scope_of(request, "call")
    which = alert_filter(request, time_range(request, 24), scope.slugs)
    try:
        found = await keeper(request).rows.alerts(which)
    except StoreUnavailable as exc:
        raise unavailable(exc) from None
    await record_shown(request, scope, f"alert history export ({len(found)} alerts)")
    return Response(
        to_csv(found, scope.tagged),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="burki-live-alerts.csv"'},
    )


def to_csv(alerts: list[AlertRecord], orgs: bool = False) -> str:
    """The alerts as CSV; ``orgs``: several organisations' alerts, each row naming its
    organisation (a first column ``org``, its slug)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*(["org"] if orgs else []), *CSV_FIELDS, *CSV_HANDLED])
    for a in alerts:
        cells = [_iso(a.at), a.call_id, a.assistant, a.severity, a.kind, a.message, a.excerpt]
        handled = [a.handled_by or "", a.handled_how or "", _iso(a.handled_at)]
        org = [a.org] if orgs else []
        writer.writerow([_defuse(cell) for cell in (*org, *cells, *handled)])
    return out.getvalue()


def _iso(at: datetime | None) -> str:
    return at.isoformat().replace("+00:00", "Z") if at is not None else ""


def _defuse(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


async def shift_page(request: Request) -> Response:
    scope = scope_of(request, "call")
    when = time_range(request, 12)
    rows, orgs = keeper(request).rows, scope.slugs
    try:
        calls = await rows.calls(when.since, when.until, orgs=orgs)
        alerts = await rows.alerts(AlertFilter(when.since, when.until, orgs=orgs))
        actions = await rows.actions(when.since, when.until, orgs=orgs)
        campaigns = await rows.campaigns(when.since, when.until, orgs=orgs)
    except StoreUnavailable as exc:
        raise unavailable(exc) from None
    await record_shown(request, scope, "shift report", once=True)
    state = app_state(request)
    report = shift(when.since, when.until, calls, alerts, actions, state.attention_threshold)
    latency_top = max((a.p95 or 0.0 for a in report.assistants), default=0.0)
    dead_top = max((a.dead_air for a in report.assistants), default=0)
    context = {
        "report": report,
        "campaigns": campaigns,
        "range": when.fields,
        "hours": stacked_columns([h.counts for h in report.hours], SEVERITIES),
        "per_bar": hours_per_bar(when.since, when.until),
        "latency_top": latency_top,
        "dead_top": dead_top,
        "bar": bar_length,
        "severities": SEVERITIES,
        "shown": Shown.of(scope),
    }
    return templates.TemplateResponse(request, "shift.html", context)
