"""The directory: which calls are ongoing and which campaigns run, polled from Burki's REST.

Burki has no stream of "a call started", so the overview and the wallboard
learn about new calls by polling (every ``DIRECTORY_POLL_INTERVAL`` s, only
while someone watches). Each change is offered to the watchers' subscribers as
a ``directory`` frame; a watcher reads :attr:`calls` and :attr:`campaigns`.

Ownership: the app's lifespan owns the directory and calls :meth:`close`; the
directory owns its poll task, which stops a grace period after the last watcher.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from webapp.relay.frames import render
from webapp.relay.subscriber import Subscriber
from webapp.watch.assistants import AssistantNames
from webapp.wire.rest import BurkiRest, CallSummary, CampaignSummary, NotFound, RestError
from webapp.wire.streamkey import StreamKey

log = logging.getLogger(__name__)

MAX_LISTED = 200
MAX_ALERTS = 50
MAX_ASSISTANTS = 4096  # assistant names kept by call SID (cards name the assistant by them)
CAMPAIGNS_RECHECK = 600.0
"""Seconds before a Burki that answered 404 for its campaign list is asked again."""

# calls, their error, campaigns, theirs, and whether Burki has a campaign API at all
Listed = tuple[list[CallSummary], str | None, list[CampaignSummary], str | None, bool]


class SharedListing(Protocol):
    """Several nodes share one poller of the lists (``webapp.cluster.listing``).

    ``lists(fetch)``: Burki's lists, fetched here with ``fetch`` when this node is
    the one that polls, else as the polling node last stored them.
    """

    async def lists(self, fetch: Callable[[], Awaitable[Listed]]) -> Listed: ...


class Directory:
    def __init__(
        self,
        rest: BurkiRest,
        interval: float,
        grace: float,
        clock: Callable[[], float] = time.monotonic,
        shared: SharedListing | None = None,
    ) -> None:
        self.rest = rest
        self.shared = shared
        self.interval = interval
        self.grace = grace
        self.clock = clock
        self.calls: list[CallSummary] = []
        self.campaigns: list[CampaignSummary] = []
        self.error: str | None = None  # the call list could not be read
        self.campaign_error: str | None = None  # the campaign list could not be read
        self.campaigns_missing_at: float | None = None  # when Burki said it has no campaigns
        self.assistants = AssistantNames(rest, clock=clock)
        self.loaded = False
        self.alerts: deque[dict[str, Any]] = deque(maxlen=MAX_ALERTS)
        self._assistants: OrderedDict[str, str] = OrderedDict()  # call SID -> assistant name
        self._watchers: set[Subscriber] = set()
        self._task: asyncio.Task[None] | None = None
        self._idle: asyncio.Task[None] | None = None

    @property
    def has_campaigns(self) -> bool:
        """False while Burki says it has no campaign API (the open-source server)."""
        return self.campaigns_missing_at is None

    async def refresh(self) -> bool:
        """Poll once; return whether anything changed (and tell the watchers).

        Calls and campaigns are read apart: a Burki without campaigns (404) still
        lists its calls, and is not asked for campaigns again for a while.
        """
        shared = self.shared
        listed = await (shared.lists(self._fetch) if shared is not None else self._fetch())
        calls, error, campaigns, campaign_error, has_campaigns = listed
        if has_campaigns != self.has_campaigns:  # as the polling node found it
            self.campaigns_missing_at = None if has_campaigns else self.clock()
        before = (self.calls, self.campaigns, self.error, self.campaign_error)
        changed = (calls, campaigns, error, campaign_error) != before
        self.calls, self.campaigns, self.error = calls, campaigns, error
        self._remember_assistants(calls)
        self.campaign_error, self.loaded = campaign_error, True
        if changed:
            self._tell()
        return changed

    async def _fetch(self) -> Listed:
        (calls, error), (campaigns, campaign_error) = await asyncio.gather(
            self._read_calls(), self._read_campaigns()
        )
        return calls, error, campaigns, campaign_error, self.has_campaigns

    async def _read_calls(self) -> tuple[list[CallSummary], str | None]:
        try:
            calls = await self.rest.list_calls(status="ongoing", limit=MAX_LISTED)
        except RestError as exc:
            return self.calls, str(exc)
        return await self.assistants.fill(calls), None

    async def _read_campaigns(self) -> tuple[list[CampaignSummary], str | None]:
        missing = self.campaigns_missing_at
        if missing is not None and self.clock() - missing < CAMPAIGNS_RECHECK:
            return [], None
        try:
            campaigns = await self.rest.list_campaigns(status="running", limit=MAX_LISTED)
        except NotFound:
            self.campaigns_missing_at = self.clock()
            return [], None
        except RestError as exc:
            return self.campaigns, str(exc)
        self.campaigns_missing_at = None
        return campaigns, None

    def _remember_assistants(self, calls: list[CallSummary]) -> None:
        for call in calls:
            if call.assistant_name:
                self._assistants[call.call_sid] = call.assistant_name
                self._assistants.move_to_end(call.call_sid)
        while len(self._assistants) > MAX_ASSISTANTS:
            self._assistants.popitem(last=False)

    def assistant_for(self, call_sid: str) -> str | None:
        """The assistant Burki's call list named for this call (kept after it left the list)."""
        return self._assistants.get(call_sid)

    def add_alert(self, stream: StreamKey, alert: dict[str, Any]) -> None:
        """An alert raised on a stream: listed on the overview, newest first, once.

        A stream retired and opened again derives its alerts afresh from Burki's replay,
        under the same ids (as the webhooks, which post each once): already listed."""
        ident = alert.get("id")
        if ident is not None and any(
            a["stream"] == stream and a.get("id") == ident for a in self.alerts
        ):
            return
        self.alerts.appendleft({"stream": stream, "ident": stream.id, **alert})
        self._tell()

    def poke(self) -> None:
        """Something the lists show changed outside Burki's lists (a call went quiet)."""
        self._tell()

    def _tell(self) -> None:
        frame = render("", "directory", {})
        for sub in list(self._watchers):
            if not sub.offer(frame):
                self._watchers.discard(sub)

    def watch(self, sub: Subscriber) -> None:
        self._watchers.add(sub)
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        if self._task is None:
            self._task = asyncio.create_task(self._poll(), name="directory poll")

    def unwatch(self, sub: Subscriber) -> None:
        self._watchers.discard(sub)
        if not self._watchers and self._idle is None:
            self._idle = asyncio.create_task(self._stop_after(self.grace))

    def release_watchers(self) -> None:
        """End every watcher's response now (the server is shutting down)."""
        for sub in list(self._watchers):
            sub.close("shutdown")
        self._watchers.clear()

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.refresh()
            except Exception:  # never let the poll die silently: log and go on
                log.exception("directory poll failed")

    async def _stop_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self._idle = None
        await _cancel(self._task)
        self._task = None

    async def close(self) -> None:
        await _cancel(self._idle)
        await _cancel(self._task)
        self._task = self._idle = None


async def _cancel(task: asyncio.Task[None] | None) -> None:
    if task is not None and task is not asyncio.current_task():
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
