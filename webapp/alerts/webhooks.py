"""Webhooks: alerts, campaign events and call status POSTed to configured endpoints.

Endpoints and their routing come from one setting (:mod:`webapp.alerts.endpoints`).
A ``signed`` endpoint gets a signed JSON body (:mod:`webapp.alerts.signed`); a
``slack`` or ``teams`` one a chat message (:mod:`webapp.alerts.slack`,
:mod:`webapp.alerts.teams`); the ``email`` route an e-mail (:mod:`webapp.alerts.mail`).
All share one queue, retry and counter machinery: the lanes below.

Each route's :class:`~webapp.alerts.channel.Channel` (built once by
:func:`~webapp.alerts.channels.channel_for`) renders, signs and sends one item;
the signed request is described in :mod:`webapp.alerts.signed`.

**Organisations.** A route of one organisation (:attr:`Endpoint.org`) takes only that
organisation's events; a global route takes every organisation's. Every payload names
the stream's organisation: its slug and its display name (``org_names``, read when the
event is offered, so an organisation renamed or added at run time is named rightly).

**Delivery.** :meth:`WebhookDispatcher.offer` never awaits: it puts the event on
each matching endpoint's bounded queue (a full queue drops its oldest event and
counts it) and returns. One worker task per endpoint posts its queue in order,
one request at a time, so a slow or dead endpoint delays only itself. A 2xx is
delivered; a timeout, a connection error, 408, 425, 429 or 5xx is retried with
exponential backoff (at least ``Retry-After`` seconds, within the cap) up to
``max_attempts`` attempts, then given up; any other status fails at once.
Redirects are not followed. An event id offered twice to one endpoint is queued
once (among the last ``seen_size`` ids), but delivery is at least once: a POST
whose answer was lost is sent again, so receivers dedupe on the id.

**Across a cluster** (``marks`` given): the lease holder posts; each endpoint's delivery
mark in the shared store follows its deliveries, a frame at or before the mark is not
posted, and the node that takes a stream over queues every frame it kept after the mark
(:mod:`webapp.alerts.marks`): what a killed holder had queued is posted, once in the
normal case, twice at most when a POST was in flight.

Ownership: the app's lifespan owns the dispatcher: it calls :meth:`start` once
the loop runs and awaits :meth:`close` on shutdown, which cancels and awaits
every worker. Nothing else cancels them. Secrets appear in no repr, status,
error or log line of ours; URLs are shown without their userinfo, query and
fragment (httpx logs the full URL: mask :attr:`Endpoint.secrets`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from webapp.alerts.channel import Channel, HttpPost
from webapp.alerts.channels import Means, channel_for
from webapp.alerts.endpoints import (
    EVENT_GROUPS,
    MIN_SECRET_LENGTH,
    Endpoint,
    parse_endpoints,
    safe_url,
)
from webapp.alerts.lanes import Item, Lane, route_id
from webapp.alerts.mail import Mailer
from webapp.alerts.marks import Marks, resume
from webapp.relay.ports import DeliveryMarks, Outgoing
from webapp.wire.backoff import Backoff
from webapp.wire.streamkey import DEFAULT_ORG, StreamKey

log = logging.getLogger(__name__)

TEST_CALL = "TEST"  # what the "send a test" alert is about: a call of the route's organisation

__all__ = [
    "EVENT_GROUPS",
    "MIN_SECRET_LENGTH",
    "Endpoint",
    "WebhookDispatcher",
    "parse_endpoints",
    "safe_url",
]


class WebhookDispatcher:
    """Posts stream events to endpoints, off the caller's path (see the module docstring).

    ``client`` is used as given and left open; without one the dispatcher makes
    its own and closes it in :meth:`close`. ``timeout`` bounds one whole attempt.
    """

    def __init__(
        self,
        endpoints: Sequence[Endpoint],
        client: httpx.AsyncClient | None = None,
        *,
        queue_size: int = 1000,
        timeout: float = 5.0,
        max_attempts: int = 8,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        seen_size: int = 10_000,
        clock: Callable[[], float] = time.time,
        public_url: str = "",
        mailer: Mailer | None = None,
        marks: DeliveryMarks | None = None,
        org_names: Callable[[str], str] = str,
    ) -> None:
        self._lanes = [Lane(e, deque(maxlen=max(queue_size, 1)), route_id(e)) for e in endpoints]
        self.kept = max(queue_size, 1)  # what a cluster's stream keeps for a takeover
        self._marks = Marks(marks, timeout) if marks is not None else None
        for lane in self._lanes:
            lane.idle.set()
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(follow_redirects=False)
        means = Means(HttpPost(self._client, timeout), clock, public_url, mailer)
        self._channels: dict[Lane, Channel] = {
            lane: channel_for(lane.endpoint, means) for lane in self._lanes
        }
        self.timeout, self.max_attempts = timeout, max(max_attempts, 1)
        self._backoff = (backoff_base, backoff_cap)
        self._seen_size = max(seen_size, queue_size)
        self._clock = clock
        self._closed = False
        self._tests = itertools.count(1)
        self._org_names = org_names  # an organisation's slug -> its display name

    # -- the caller's side: never awaits ----------------------------------------------------

    def offer(self, stream_key: StreamKey, event_id: str, type: str, data: dict[str, Any]) -> None:
        """Queue an event for every endpoint that wants it (its organisation, its type);
        returns at once."""
        self._offer_to(self._wanting(stream_key, type, data), stream_key, event_id, type, data)

    def routes(self, stream_key: StreamKey, type: str, data: dict[str, Any]) -> list[str]:
        """The routes (endpoints) that take an event of this stream, type and data."""
        return [lane.id for lane in self._wanting(stream_key, type, data)]

    def _wanting(self, stream_key: StreamKey, type: str, data: dict[str, Any]) -> list[Lane]:
        return [
            lane
            for lane in self._lanes
            if lane.endpoint.sees(stream_key.org) and lane.endpoint.wants(type, data)
        ]

    def send(self, stream_key: StreamKey, item: Outgoing) -> None:
        """Queue a cluster stream's numbered frame on the routes it names; returns at once."""
        lanes = [lane for lane in self._lanes if lane.id in dict(item.numbers)]
        self._offer_to(lanes, stream_key, item.event_id, item.type, item.data, item)

    async def take_over(
        self, stream_key: StreamKey, kept: Sequence[Outgoing], counts: Mapping[str, int]
    ) -> None:
        """This node now posts ``stream_key``: queue every kept frame after each route's
        shared mark; count and log what is after it but no longer kept.

        Without the marks (the store away) every kept frame is queued: the check before
        each POST skips what was delivered, if the store is back by then.
        """
        if self._marks is None or (not kept and not counts):
            return
        marks = await self._marks.fetch(stream_key)
        for lane in self._lanes:
            if marks is None:
                queue = [item for item in kept if lane.id in dict(item.numbers)]
            else:
                resumed = resume(lane.id, kept, counts, marks.get(lane.id))
                queue = resumed.queue
                if resumed.lost:
                    lane.lost += resumed.lost
                    log.warning(
                        "webhook %s: %d event(s) of %s were neither delivered nor kept when"
                        " this node took it over; not posted",
                        lane.endpoint.safe_url,
                        resumed.lost,
                        stream_key,
                    )
            for item in queue:
                self._offer_to([lane], stream_key, item.event_id, item.type, item.data, item)

    def send_test(self) -> int:
        """A test alert to every endpoint that takes alerts, whatever its severity and kind
        routing (the "send a test" button of /admin): each about a call of the route's own
        organisation (a global route's: the default's), so the message names the
        organisation the route is for. How many endpoints it was queued for."""
        lanes = [lane for lane in self._lanes if lane.endpoint.wants("alert")]
        for lane in lanes:
            data = {
                "id": f"test-{int(self._clock())}-{next(self._tests)}",
                "kind": "test",
                "severity": "high",
                "message": "This is a test alert from Burki Live; routing works.",
            }
            stream = StreamKey("call", TEST_CALL, lane.endpoint.org or DEFAULT_ORG)
            self._offer_to([lane], stream, data["id"], "alert", data)
        return len(lanes)

    def _offer_to(
        self,
        lanes: list[Lane],
        stream_key: StreamKey,
        event_id: str,
        type: str,
        data: dict[str, Any],
        place: Outgoing | None = None,
    ) -> None:
        if not lanes or self._closed:
            return
        try:
            payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
            encoded = payload.encode()
        except (TypeError, ValueError):  # UnicodeEncodeError (a lone surrogate) is a ValueError
            log.error("webhook: event %s (%s) is not JSON; not sent", event_id, type)
            return
        item = Item(event_id, stream_key, type, encoded, self._org_name(stream_key.org))
        if place is not None:
            item = dataclasses.replace(item, epoch=place.epoch, numbers=place.numbers)
        for lane in lanes:
            self._enqueue(lane, item)

    def _org_name(self, org: str) -> str:
        try:
            return self._org_names(org)
        except Exception:  # a name is a courtesy: never the reason an alert is not sent
            log.exception("webhook: the name of organisation %s could not be read", org)
            return org

    def _enqueue(self, lane: Lane, item: Item) -> None:
        if item.event_id in lane.seen:
            lane.duplicates += 1
            return
        lane.seen[item.event_id] = None
        if len(lane.seen) > self._seen_size:
            lane.seen.popitem(last=False)
        if len(lane.queue) == lane.queue.maxlen:
            lane.dropped += 1  # the deque drops the oldest as we append
        lane.queue.append(item)
        lane.idle.clear()
        lane.wake.set()

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Start one worker per endpoint (needs a running loop; a second call does nothing)."""
        for lane in self._lanes:
            if lane.task is None and not self._closed:
                name = f"webhook {lane.endpoint.safe_url}"
                lane.task = asyncio.create_task(self._work(lane), name=name)

    async def wait_idle(self) -> None:
        """Return once every queue is empty and no request is in flight."""
        await asyncio.gather(*(lane.idle.wait() for lane in self._lanes))

    async def close(self, drain: float = 0.0) -> None:
        """Give queued events up to ``drain`` seconds, then cancel and await every worker."""
        if drain > 0:
            try:
                async with asyncio.timeout(drain):
                    await self.wait_idle()
            except TimeoutError:
                pass
        self._closed = True
        tasks = [lane.task for lane in self._lanes if lane.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if left := sum(lane.status()["queued"] for lane in self._lanes):
            log.warning("webhook: %d queued event(s) dropped on shutdown", left)
        if self._owns_client:
            await self._client.aclose()

    # -- what the admin page and /metrics read ----------------------------------------------

    def status(self) -> list[dict[str, Any]]:
        """Per endpoint: url (secrets stripped), its organisation (slug and name; "" for a
        global route), events, queued, counters, last success/error."""
        rows = [lane.status() for lane in self._lanes]
        for row in rows:
            row["org_name"] = self._org_name(row["org"]) if row["org"] else ""
        return rows

    def totals(self) -> dict[str, int]:
        """The counters summed over endpoints (plain ints, for Prometheus)."""
        keys = ("queued", "delivered", "failed", "dropped", "duplicates", "retries", "lost")
        rows = self.status()
        return {key: sum(int(row[key]) for row in rows) for key in keys}

    # -- the worker: one per endpoint -------------------------------------------------------

    async def _work(self, lane: Lane) -> None:
        while True:
            if not lane.queue:
                lane.idle.set()
                lane.wake.clear()
                await lane.wake.wait()
                continue
            lane.in_flight = item = lane.queue.popleft()
            try:
                if await self._marked(lane, item):  # another holder delivered it
                    lane.duplicates += 1
                    continue
                await self._deliver(lane, item)
                await self._advance(lane, item)
            except Exception:  # a bug must not stop the lane: log it, count it, go on
                log.exception("webhook %s: delivery failed", lane.endpoint.safe_url)
                lane.failed += 1
            finally:
                lane.in_flight = None

    async def _marked(self, lane: Lane, item: Item) -> bool:
        """Whether the shared mark says ``item`` was delivered (by another holder)."""
        place = item.mark(lane.id)
        if self._marks is None or place is None:
            return False
        return await self._marks.covers(item.stream, lane.id, place)

    async def _advance(self, lane: Lane, item: Item) -> None:
        """Delivered or given up: move the route's shared mark to ``item``."""
        place = item.mark(lane.id)
        if self._marks is None or place is None:
            return
        if not await self._marks.advance(item.stream, lane.id, place):
            log.warning(
                "webhook %s: delivery mark of %s not saved; a next holder may post %s again",
                lane.endpoint.safe_url,
                item.stream,
                item.event_id,
            )

    async def _deliver(self, lane: Lane, item: Item) -> None:
        base, cap = self._backoff
        backoff = Backoff(base=base, cap=cap)
        for attempt in range(1, self.max_attempts + 1):
            outcome = await self._channels[lane].attempt(item)
            now = datetime.fromtimestamp(self._clock(), UTC)
            if outcome.delivered:
                lane.delivered, lane.last_success = lane.delivered + 1, now
                return
            lane.last_error, lane.last_error_at = outcome.error, now
            if not outcome.retry or attempt == self.max_attempts:
                break
            lane.retries += 1
            await asyncio.sleep(backoff.next_delay(floor=min(outcome.retry_after, cap)))
        lane.failed += 1
        log.warning(
            "webhook %s: gave up on event %s after %d attempt(s): %s",
            lane.endpoint.safe_url,
            item.event_id,
            attempt,
            outcome.error,
        )
