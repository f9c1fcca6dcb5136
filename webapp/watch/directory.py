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
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from webapp.relay.bulletin import Bulletin
from webapp.relay.subscriber import Subscriber
from webapp.watch.assistants import AssistantNames
from webapp.wire.rest import BurkiRest, CallSummary, CampaignSummary, NotFound, RestError
from webapp.wire.streamkey import DEFAULT_ORG

log = logging.getLogger(__name__)

T = TypeVar("T")

PAGE = 100  # Burki's documented page of calls (``limit=100``)
MAX_LISTED = 5000  # at most this many calls (and campaigns) read per poll: 50 pages
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
        bulletin: Bulletin | None = None,
        org: str = DEFAULT_ORG,  # whose lists: the assistant names it posts are that org's
    ) -> None:
        self.rest = rest
        self.org = org
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
        # What the streams post (alerts, a call gone quiet) and the watchers: the relay's.
        self.bulletin = bulletin or Bulletin()
        self.alerts = self.bulletin.alerts
        # This directory's watchers decide when it polls; the bulletin's (every
        # organisation's, shared) are told of every change.
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
            calls = await every_page(self.rest.list_calls, "ongoing", lambda c: c.call_sid)
        except RestError as exc:
            return self.calls, str(exc)
        return await self.assistants.fill(calls), None

    async def _read_campaigns(self) -> tuple[list[CampaignSummary], str | None]:
        missing = self.campaigns_missing_at
        if missing is not None and self.clock() - missing < CAMPAIGNS_RECHECK:
            return [], None
        try:
            campaigns = await every_page(self.rest.list_campaigns, "running", lambda c: c.id)
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
                self.bulletin.name_assistant(call.call_sid, call.assistant_name, self.org)

    def assistant_for(self, call_sid: str) -> str | None:
        """The assistant Burki's call list named for this call (kept after it left the list)."""
        return self.bulletin.assistant_for(call_sid, self.org)

    def _tell(self) -> None:
        self.bulletin.tell()

    def watch(self, sub: Subscriber) -> None:
        self._watchers.add(sub)
        self.bulletin.watchers.add(sub)
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        if self._task is None:
            self._task = asyncio.create_task(self._poll(), name="directory poll")

    def unwatch(self, sub: Subscriber) -> None:
        self._watchers.discard(sub)
        self.bulletin.watchers.discard(sub)
        if not self._watchers and self._idle is None:
            self._idle = asyncio.create_task(self._stop_after(self.grace))

    def release_watchers(self) -> None:
        """End every watcher's response now (the server is shutting down)."""
        for sub in list(self._watchers):
            sub.close("shutdown")
            self.bulletin.watchers.discard(sub)
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


async def every_page(
    read: Callable[..., Awaitable[list[T]]], status: str, ident: Callable[[T], object]
) -> list[T]:
    """Every row of a Burki list, page by page, up to ``MAX_LISTED``.

    A page shorter than asked is the last. The list moves while it is read (newest
    first: a call that starts between two pages pushes one row onto the next page), so a
    row seen twice is kept once; a row missed so is read on the next poll.
    """
    seen: dict[object, T] = {}
    for skip in range(0, MAX_LISTED, PAGE):
        page = await read(status=status, skip=skip, limit=PAGE)
        for row in page:
            seen.setdefault(ident(row), row)
        if len(page) < PAGE:
            break
    return list(seen.values())
