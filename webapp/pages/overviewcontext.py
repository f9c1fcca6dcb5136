"""The overview's context: its filters, and what it shows of each organisation's lists.

One organisation's lists, or every one the person may see merged: each call, campaign,
alert and "needs attention" row carries its stream's key, the path prefix of its
organisation's pages and, where the page shows several, its organisation's name (the
tag). Calls sort by attention across every organisation shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from starlette.requests import Request

from webapp.access.auth import Principal
from webapp.calls.callstate import CallState
from webapp.calls.campaignstate import CampaignState
from webapp.orgs.tenants import Tenant
from webapp.pages.attention import (
    attention_reasons,
    attention_scores,
    needs_attention,
    ranked,
)
from webapp.pages.callers import call_name
from webapp.pages.orgscope import Scope, may_see, org_base
from webapp.relay.hub import Hub
from webapp.watch.directory import Directory
from webapp.wire.rest import CallSummary, CampaignSummary
from webapp.wire.streamkey import BadStreamId, StreamKey

MAX_QUERY = 100
MAX_ALERTS_SHOWN = 20


@dataclass(frozen=True, slots=True)
class Filters:
    q: str = ""
    status: str = ""
    assistant: str = ""
    sort: str = "attention"  # "attention" (highest score first) or "listed" (Burki's order)

    @classmethod
    def of(cls, request: Request) -> Filters:
        params = request.query_params
        q, status, assistant = (
            params.get(name, "").strip()[:MAX_QUERY] for name in ("q", "status", "assistant")
        )
        sort = "listed" if params.get("sort") == "listed" else "attention"
        return cls(q, status, assistant, sort)

    def keep_call(self, call: CallSummary) -> bool:
        text = self.q.lower()
        found = not text or any(
            text in (value or "").lower()
            for value in (call.call_sid, call.customer_phone, call.twilio_phone)
        )
        return found and self._matches(call.status, call.assistant_name)

    def keep_campaign(self, campaign: CampaignSummary) -> bool:
        text = self.q.lower()
        found = not text or text in campaign.name.lower() or text == str(campaign.id)
        return found and self._matches(campaign.status, campaign.assistant_name)

    def _matches(self, status: str, assistant: str | None) -> bool:
        return (not self.status or status == self.status) and (
            not self.assistant or assistant == self.assistant
        )

    def query(self) -> dict[str, str]:
        values = {"q": self.q, "status": self.status, "assistant": self.assistant}
        return {k: v for k, v in (values | {"sort": self.sort}).items() if v}


@dataclass(frozen=True, slots=True)
class CallRow:
    """An ongoing call as the overview lists it."""

    call: CallSummary
    key: StreamKey
    base: str  # the path prefix of its organisation's pages ("" for the default one)
    org: str  # its organisation's name where the page shows several, else ""
    score: int | None  # None: its stream is not open here (no score yet)
    reasons: str
    quiet: bool  # its stream says nothing was said for a long while


@dataclass(frozen=True, slots=True)
class CampaignRow:
    campaign: CampaignSummary
    key: StreamKey
    base: str
    org: str


@dataclass(frozen=True, slots=True)
class NeedRow:
    """A call of the "Needs attention" list: its score, reasons and claim."""

    sid: str
    score: int
    reasons: list[dict[str, Any]]
    claim: dict[str, Any] | None
    assistant: str | None
    customer: str | None
    base: str
    org: str


@dataclass(frozen=True, slots=True)
class AlertRow:
    alert: dict[str, Any]
    name: str  # the call's name on screen
    base: str
    org: str


@dataclass(frozen=True, slots=True)
class Listing:
    """The overview's connection line: whether Burki's lists are being read, in words."""

    state: str
    message: str


@dataclass(frozen=True, slots=True)
class ListError:
    org: str  # the organisation's name where the page shows several, else ""
    message: str


@dataclass(frozen=True, slots=True)
class OverviewContext:
    """What ``index.html`` renders, whole or block by block."""

    calls: list[CallRow]
    campaigns: list[CampaignRow]
    total_calls: int
    total_campaigns: int
    statuses: list[str]
    assistants: list[str]
    filters: Filters
    errors: list[ListError]
    campaign_errors: list[ListError]
    has_campaigns: bool
    alerts: list[AlertRow]
    all_alerts: int
    sees_calls: bool
    sees_campaigns: bool
    needs: list[NeedRow]
    threshold: int
    listing: Listing
    tagged: bool  # several organisations shown: rows carry their organisation's name
    base: str = ""  # the path prefix of the organisation the page names ("": of all shown)

    def template(self) -> dict[str, Any]:
        """The context as the template reads it (its fields by name)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True, slots=True)
class Shown:
    """One organisation's part of the page: its lists, and who may see what in it."""

    tenant: Tenant
    tag: str
    sees_calls: bool
    sees_campaigns: bool

    @property
    def directory(self) -> Directory:
        return self.tenant.directory

    @property
    def slug(self) -> str:
        return self.tenant.slug

    @property
    def base(self) -> str:
        return org_base(self.slug)

    @property
    def calls(self) -> list[CallSummary]:
        return self.directory.calls if self.sees_calls else []

    @property
    def campaigns(self) -> list[CampaignSummary]:
        return self.directory.campaigns if self.sees_campaigns else []


def shown_parts(scope: Scope, who: Principal | None) -> list[Shown]:
    """Each organisation the page shows, with what ``who`` may see of it."""
    return [
        Shown(
            t, scope.name_of(t.slug), may_see(who, t.slug, "call"), may_see(who, t.slug, "campaign")
        )
        for t in scope.shown
    ]


def context(
    parts: list[Shown],
    filters: Filters,
    hub: Hub | None,
    threshold: int,
    tagged: bool = False,
    base: str = "",
) -> OverviewContext:
    """Each role sees only what it may: calls for call roles, campaigns for campaign roles,
    organisation by organisation."""
    calls = [row for part in parts for row in _call_rows(part, hub)]
    every_call = [c for part in parts for c in part.calls]
    every_campaign = [c for part in parts for c in part.campaigns]
    shown = [row for row in calls if filters.keep_call(row.call)]
    if filters.sort == "attention":
        shown.sort(key=lambda row: -(row.score or 0))
    return OverviewContext(
        calls=shown,
        campaigns=[row for part in parts for row in _campaign_rows(part, filters, hub)],
        total_calls=len(every_call),
        total_campaigns=len(every_campaign),
        statuses=sorted({c.status for c in every_call} | {c.status for c in every_campaign}),
        assistants=sorted({a for a in (c.assistant_name for c in every_call) if a}),
        filters=filters,
        errors=[
            ListError(p.tag, p.directory.error) for p in parts if p.sees_calls and p.directory.error
        ],
        campaign_errors=[
            ListError(p.tag, p.directory.campaign_error)
            for p in parts
            if p.directory.campaign_error
        ],
        has_campaigns=any(p.directory.has_campaigns for p in parts) or not parts,
        alerts=[row for part in parts for row in _alert_rows(part, hub)][:MAX_ALERTS_SHOWN],
        all_alerts=sum(len(org_alerts(p.directory, p.slug)) for p in parts if p.sees_calls),
        sees_calls=any(p.sees_calls for p in parts),
        sees_campaigns=any(p.sees_campaigns for p in parts),
        needs=_needs(parts, hub, threshold),
        threshold=threshold,
        listing=listing_state(parts),
        tagged=tagged,
        base=base,
    )


def _call_rows(part: Shown, hub: Hub | None) -> list[CallRow]:
    calls = part.calls
    scores = attention_scores(hub, calls, part.slug) if hub is not None else {}
    reasons = attention_reasons(hub, calls, part.slug) if hub is not None else {}
    quiet = quiet_calls(hub, part.slug) if hub is not None else frozenset()
    rows = []
    for call in calls:
        try:
            key = StreamKey.call(call.call_sid, part.slug)
        except BadStreamId:
            continue
        sid = call.call_sid
        rows.append(
            CallRow(
                call, key, part.base, part.tag, scores.get(sid), reasons.get(sid, ""), sid in quiet
            )
        )
    return rows


def _campaign_rows(part: Shown, filters: Filters, hub: Hub | None) -> list[CampaignRow]:
    kept = [c for c in part.campaigns if filters.keep_campaign(c)]
    return [
        CampaignRow(c, StreamKey.campaign(c.id, part.slug), part.base, part.tag)
        for c in live_campaigns(kept, hub, part.slug)
    ]


def _needs(parts: list[Shown], hub: Hub | None, threshold: int) -> list[NeedRow]:
    if hub is None:
        return []
    tags = {p.slug: (p.base, p.tag) for p in parts}
    found = [n for p in parts for n in needs_attention(hub, p.calls, threshold, p.slug)]
    return [
        NeedRow(
            n["sid"],
            n["score"],
            n["reasons"],
            n["claim"],
            n["assistant"],
            n["customer"],
            *tags[n["key"].org],
        )
        for n in ranked(found)
    ]


def org_alerts(directory: Directory, org: str) -> list[dict[str, Any]]:
    """The alerts raised on this organisation's streams (the bulletin holds every one's)."""
    return [a for a in directory.alerts if _org_of(a) == org]


def _org_of(alert: dict[str, Any]) -> str | None:
    stream = alert.get("stream")
    return stream.org if isinstance(stream, StreamKey) else None


def _alert_rows(part: Shown, hub: Hub | None) -> list[AlertRow]:
    """The recent alerts of calls still going on (an ended call needs nobody now): the
    first screen stays on what needs a supervisor; the alert history has the rest."""
    if not part.sees_calls:
        return []
    ongoing = {c.call_sid for c in part.calls}
    alerts = [a for a in org_alerts(part.directory, part.slug) if a.get("ident") in ongoing]
    names = call_names(part.calls, hub, part.slug)
    return [
        AlertRow(a, names.get(a["ident"]) or call_name(None, None, a["ident"]), part.base, part.tag)
        for a in alerts[:MAX_ALERTS_SHOWN]
    ]


def call_names(
    calls: list[CallSummary], hub: Hub | None, org: str, others: Iterable[str] = ()
) -> dict[str, str]:
    """Each call's name on screen (caller and assistant) by SID: from Burki's list, and for
    ``others`` it no longer has (ended calls) from the call's open stream, if any."""
    names = {c.call_sid: call_name(c.customer_phone, c.assistant_name, c.call_sid) for c in calls}
    for sid in others:
        if sid in names or hub is None:
            continue
        try:
            stream = hub.streams.get(StreamKey.call(sid, org))
        except BadStreamId:
            continue
        if stream is not None and isinstance(stream.state, CallState):
            info = stream.state.info
            names[sid] = call_name(info.caller, info.assistant_name or stream.assistant_hint, sid)
    return names


def live_campaigns(
    campaigns: list[CampaignSummary], hub: Hub | None, org: str
) -> list[CampaignSummary]:
    """The listed campaigns, with the status their open stream knows (fresher than the
    list, polled every few seconds): one that finished shows as finished at once."""
    shown = []
    for c in campaigns:
        key = StreamKey.campaign(str(c.id), org)
        stream = hub.streams.get(key) if hub is not None else None
        state = stream.state if stream is not None else None
        if isinstance(state, CampaignState) and state.status not in ("unknown", c.status):
            c = replace(c, status=state.status)
        shown.append(c)
    return shown


def quiet_calls(hub: Hub, org: str) -> frozenset[str]:
    """The calls of ``org`` whose open stream says "no activity" (nothing said for long)."""
    return frozenset(
        key.id
        for key, stream in list(hub.streams.items())
        if key.org == org and isinstance(stream.state, CallState) and stream.state.no_activity
    )


def listing_state(parts: list[Shown]) -> Listing:
    """Whether Burki's lists are being read, in words (an organisation's failure named)."""
    for part in parts:
        if part.directory.error:
            tag = f"{part.tag}: " if part.tag else ""
            return Listing("error", f"{tag}Burki's call list could not be read.")
    every = f"{parts[0].directory.interval:g}" if parts else "?"
    return Listing("live", f"Connected to Burki: its lists are read every {every} s.")
