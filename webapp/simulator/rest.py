"""The REST half of the simulated Burki: routes to JSON, over the same store as the streams.

Pure: :meth:`Rest.handle` takes a method, a request target and headers and returns
a :class:`Reply`; the server turns it into HTTP. Routes (all ``GET``, all with
``Authorization: Bearer <key>``):

- ``/api/v1/calls?status=&skip=&limit=``: calls, newest first (``ongoing`` is the
  REST name of ``in-progress``);
- ``/api/v1/calls/sid/{sid}`` and ``/api/v1/calls/sid/{sid}/transcripts``;
- ``/api/v1/campaigns?status=&skip=&limit=``, ``/api/v1/campaigns/{id}`` and
  ``/api/v1/campaigns/{id}/progress``;
- ``POST`` actions (:mod:`webapp.simulator.actions`): end a call, pause, resume or
  stop a campaign; 404 in open-source mode.

Lists are plain JSON lists, or ``{"items","total","skip","limit"}`` pages. In
open-source mode the two list paths answer 307 to the same path with a slash
(before any authentication, as FastAPI does) and every timestamp is naive.
"""

from __future__ import annotations

import hmac
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

from webapp.simulator.actions import ActionRefused, is_action
from webapp.simulator.dialects import activity, c_progress
from webapp.simulator.model import Call, Campaign, Store
from webapp.simulator.wire import stamp

ListShape = Literal["list", "page"]
Query = dict[str, list[str]]

_LISTS = ("/api/v1/calls", "/api/v1/campaigns")
_CALL = re.compile(r"/api/v1/calls/sid/(?P<sid>[^/]+)")
_TRANSCRIPTS = re.compile(r"/api/v1/calls/sid/(?P<sid>[^/]+)/transcripts")
_CAMPAIGN = re.compile(r"/api/v1/campaigns/(?P<id>[0-9]{1,18})")
_PROGRESS = re.compile(r"/api/v1/campaigns/(?P<id>[0-9]{1,18})/progress")


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: tuple[tuple[str, str], ...] = ()


class HttpError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def rest_status(status: str) -> str:
    return "ongoing" if status == "in-progress" else status


class Rest:
    def __init__(
        self,
        store: Store,
        api_key: str,
        oss: bool,
        list_shape: ListShape,
        campaign_api: bool = True,
        database_down: Callable[[], bool] = lambda: False,
        organization_id: int = 1,
    ) -> None:
        self.store = store
        self.oss = oss
        self.list_shape = list_shape
        self.campaign_api = campaign_api
        self._database_down = database_down
        self.organization_id = organization_id
        self._key = api_key.encode()
        self.on_action: Callable[[str], dict[str, Any]] | None = None  # the simulator's
        self.served: Counter[str] = Counter()  # requests per path, for tests to count calls

    def handle(self, method: str, target: str, authorization: str | None, host: str) -> Reply:
        url = urlsplit(target)
        self.served[url.path] += 1
        if self.oss and url.path in _LISTS:
            query = f"?{url.query}" if url.query else ""
            return Reply(307, None, (("Location", f"http://{host}{url.path}/{query}"),))
        try:
            if method == "POST" and self.on_action is not None and is_action(url.path):
                if self.oss:  # the open-source server has none of the action endpoints
                    raise HttpError(404, "Not Found")
                self._authenticate(authorization)
                return Reply(200, self._act(url.path))
            handler = self._route(url.path)
            if method != "GET":
                raise HttpError(405, "Method Not Allowed")
            self._authenticate(authorization)
            return Reply(200, handler(parse_qs(url.query)))
        except HttpError as exc:
            return Reply(exc.status, {"detail": exc.detail})

    def _act(self, path: str) -> dict[str, Any]:
        assert self.on_action is not None
        try:
            return self.on_action(path)
        except ActionRefused as exc:
            raise HttpError(exc.status, exc.detail) from None

    def _route(self, path: str) -> Callable[[Query], Any]:
        if path.rstrip("/") == "/api/v1/calls":
            return self._calls
        if path.rstrip("/") == "/api/v1/assistants":
            return self._assistants
        if path.startswith("/api/v1/campaigns") and not self.campaign_api:
            raise HttpError(404, "Not Found")  # the open-source server has no campaigns
        if path.rstrip("/") == "/api/v1/campaigns":
            return self._campaigns
        for pattern, handler in (
            (_CALL, self._call),
            (_TRANSCRIPTS, self._transcripts),
            (_CAMPAIGN, self._campaign),
            (_PROGRESS, self._progress),
        ):
            if match := pattern.fullmatch(path):
                return partial(handler, unquote(match.group(1)))  # FastAPI decodes paths
        raise HttpError(404, "Not Found")

    def _authenticate(self, authorization: str | None) -> None:
        scheme, _, key = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(key.strip().encode(), self._key):
            raise HttpError(401, "Invalid API key")
        if self._database_down():
            detail = "Authentication required. Provide a valid API key or login session."
            raise HttpError(401, detail)

    def _assistants(self, query: Query) -> Any:
        names = self.store.assistant_names()
        return [{"id": ident, "name": name} for ident, name in sorted(names.items())]

    def _calls(self, query: Query) -> Any:
        wanted = _text(query, "status")
        calls = [
            c
            for c in reversed(self.store.calls.values())
            if wanted is None or wanted in (c.status, rest_status(c.status))
        ]
        return self._page([self.call_json(c) for c in calls], query, default_limit=100)

    def _call(self, sid: str, query: Query) -> Any:
        return self.call_json(self._find_call(sid))

    def _transcripts(self, sid: str, query: Query) -> Any:
        call = self._find_call(sid)
        speaker = _text(query, "speaker")
        rows = []
        for s in call.segments:
            if speaker is not None and s.speaker != speaker:
                continue
            row = {
                "id": s.id,
                "call_id": call.id,
                "speaker": s.speaker,
                "content": s.content,
                "is_final": s.is_final,
                "confidence": s.confidence,
                "segment_start": s.segment_start,
                "segment_end": s.segment_end,
                "created_at": stamp(s.created_at, self.oss),
            }
            if not self.oss:  # the open-source server's rows have no timestamp
                row["timestamp"] = stamp(s.created_at, self.oss)
            rows.append(row)
        return rows

    def _campaigns(self, query: Query) -> Any:
        wanted = _text(query, "status")
        campaigns = [
            c for c in reversed(self.store.campaigns.values()) if wanted in (None, c.status)
        ]
        return self._page([self.campaign_json(c) for c in campaigns], query, default_limit=50)

    def _campaign(self, ident: str, query: Query) -> Any:
        return self.campaign_json(self._find_campaign(ident))

    def _progress(self, ident: str, query: Query) -> Any:
        campaign = self._find_campaign(ident)
        return {
            "campaign_id": campaign.id,
            "status": campaign.status,
            "progress": c_progress(campaign.counts()),
            "metrics": self._metrics(campaign),
            "recent_activity": [activity(c, self.oss) for c in campaign.recent()],
        }

    def _metrics(self, campaign: Campaign) -> dict[str, Any]:
        counts = campaign.counts()
        answered = sum(1 for c in campaign.contacts if (c.duration or 0) > 0)
        return {
            "total_duration_seconds": campaign.total_duration,
            "average_duration_seconds": round(campaign.total_duration / counts.done, 1)
            if counts.done
            else 0.0,
            "success_rate": counts.success_rate,
            "answer_rate": round(answered / counts.done * 100, 2) if counts.done else 0.0,
            "completion_rate": counts.percent_done,
            "cost_estimate": round(counts.total * 0.35, 2),
            "actual_cost": campaign.total_cost,
            "last_updated": stamp(self.store.clock(), self.oss),
        }

    def call_json(self, call: Call) -> dict[str, Any]:
        if self.oss:  # the open-source server's shape: no direction, names or counts
            return {
                "call_sid": call.call_sid,
                "to_phone_number": call.twilio_phone,
                "customer_phone_number": call.customer_phone,
                "call_meta": {},
                "id": call.id,
                "assistant_id": call.assistant_id,
                "status": rest_status(call.status),
                "duration": call.duration,
                "started_at": stamp(call.started_at, self.oss),
                "ended_at": stamp(call.ended_at, self.oss),
            }
        return {
            "id": call.id,
            "organization_id": self.organization_id,
            "call_sid": call.call_sid,
            "status": rest_status(call.status),
            "direction": call.direction,
            "customer_phone": call.customer_phone,
            "twilio_phone": call.twilio_phone,
            "telephony_provider": "twilio",
            "assistant_id": call.assistant_id,
            "assistant_name": call.assistant_name,
            "started_at": stamp(call.started_at, self.oss),
            "ended_at": stamp(call.ended_at, self.oss),
            "duration": call.duration,
            "transcript_count": len(call.segments),
            "created_at": stamp(call.started_at, self.oss),
        }

    def campaign_json(self, campaign: Campaign) -> dict[str, Any]:
        counts = campaign.counts()
        return {
            "id": campaign.id,
            "organization_id": self.organization_id,
            "assistant_id": campaign.assistant_id,
            "name": campaign.name,
            "description": campaign.description,
            "campaign_type": "call",
            "status": campaign.status,
            "assistant_name": campaign.assistant_name,
            "total_contacts": counts.total,
            "completed_contacts": counts.successful,
            "failed_contacts": counts.failed,
            "created_at": stamp(campaign.created_at, self.oss),
            "started_at": stamp(campaign.started_at, self.oss),
            "completed_at": stamp(campaign.completed_at, self.oss),
        }

    def _find_call(self, sid: str) -> Call:
        if sid not in self.store.calls:
            raise HttpError(404, f"Call with SID {sid} not found")
        return self.store.calls[sid]

    def _find_campaign(self, ident: str) -> Campaign:
        campaign = self.store.campaigns.get(int(ident))
        if campaign is None:
            raise HttpError(404, f"Campaign {int(ident)} not found")
        return campaign

    def _page(self, items: list[dict[str, Any]], query: Query, default_limit: int) -> Any:
        skip = _number(query, "skip", 0)
        limit = _number(query, "limit", default_limit)
        window = items[skip : skip + limit]
        if self.list_shape == "page":
            return {"items": window, "total": len(items), "skip": skip, "limit": limit}
        return window


def _text(query: Query, name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _number(query: Query, name: str, default: int) -> int:
    value = _text(query, name)
    if value is None:
        return default
    if not value.isdigit():
        raise HttpError(422, f"{name} must be a non-negative integer")
    return int(value)
