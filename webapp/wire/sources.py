"""Where a stream's events come from: the Burki WebSocket, or REST polls in fallback.

A stream never knows which one fed it: both give the same normalised events,
and the stream's dedupe holds across them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from webapp.wire.events import CallStatus, Event, Progress, Transcript
from webapp.wire.rest import BurkiRest, CallSummary, RestError
from webapp.wire.streamkey import DEFAULT_ORG, StreamKey
from webapp.wire.upstream import AuthMemory, Upstream, UpstreamConfig

NAME_TIMEOUT = 3.0
HISTORY_HOURS = 24  # how far back a campaign's chart is filled from Burki's metrics history


class WrongOrg(LookupError):
    """A stream of another organisation asked of this one's sources: its key is never used
    for it."""


class Sources:
    """One Burki organisation's sources: its key and base URL (``config``), its REST client.

    ``org``: the organisation they serve; :meth:`of` hands them out for that
    organisation's streams only, so a stream is never opened with another's key.
    """

    def __init__(self, config: UpstreamConfig, rest: BurkiRest, org: str = DEFAULT_ORG) -> None:
        self.config = config
        self.rest = rest
        self.org = org
        self.memory = AuthMemory()

    def of(self, key: StreamKey) -> Sources:
        """These sources, for a stream of their organisation (a one-organisation source book);
        :class:`WrongOrg` for any other."""
        if key.org != self.org:
            raise WrongOrg(key.org)
        return self

    def upstream(self, key: StreamKey) -> Upstream:
        async def check() -> bool | None:
            if key.kind == "call":
                return await self.rest.call_exists(key.id)
            return await self.rest.campaign_exists(int(key.id))

        # Dialect C answers request_history with metrics_history: a campaign's chart past.
        history = ({"type": "request_history", "hours": HISTORY_HOURS},)
        return Upstream(
            self.config,
            key.upstream_path,
            self.memory,
            access_check=check,
            on_live=history if key.kind == "campaign" else (),
        )

    async def campaign_name(self, campaign_id: int) -> str | None:
        """The campaign's name for its dashboard (the stream does not carry it), if Burki says."""
        try:
            async with asyncio.timeout(NAME_TIMEOUT):
                return (await self.rest.campaign(campaign_id)).name or None
        except (RestError, TimeoutError):
            return None

    async def campaign_progress(self, campaign_id: int) -> Progress | None:
        """The campaign's counters from REST, if Burki says in time (None: not on this Burki)."""
        try:
            async with asyncio.timeout(NAME_TIMEOUT):
                return await self.rest.campaign_progress(campaign_id)
        except (RestError, TimeoutError):
            return None

    async def call_end(self, call_sid: str) -> CallStatus | None:
        """The call's end as its REST object says (``ended_at``, ``duration``), as a status
        to fold in: the open-source server's on-connect status of an ended call has neither.
        None when Burki cannot say in time, or says nothing of its end."""
        try:
            async with asyncio.timeout(NAME_TIMEOUT):
                call = await self.rest.call(call_sid)
        except (RestError, TimeoutError):
            return None
        if call.ended_at is None and call.duration is None:
            return None
        return CallStatus(call_sid, call.status, metadata=_times(call))

    async def stored_transcript(self, call_sid: str, timeout: float) -> list[Transcript] | None:
        """Every stored segment of a call from REST; None when Burki cannot say in time."""
        try:
            async with asyncio.timeout(timeout):
                return await self.rest.transcripts(call_sid)
        except (RestError, TimeoutError):
            return None

    async def poll(self, key: StreamKey) -> list[Event]:
        """One REST poll: the events a stream would have received, in order."""
        if key.kind == "campaign":
            return [await self.rest.campaign_progress(int(key.id))]
        call = await self.rest.call(key.id)
        status = CallStatus(key.id, call.status)  # one status word already (see rest.py)
        if status.terminal:  # and when it ended, which the page's clock stops at
            status = CallStatus(key.id, call.status, metadata=_times(call))
        segments: list[Event] = list(await self.rest.transcripts(key.id))
        # A finished call's status goes last, so its final segments are shown before the end.
        return [*segments, status] if status.terminal else [status, *segments]


def _times(call: CallSummary) -> dict[str, Any]:
    """The call's start, end and length as a status's metadata (those REST knows)."""
    metadata: dict[str, Any] = {}
    for name, moment in (("started_at", call.started_at), ("ended_at", call.ended_at)):
        if moment is not None:
            metadata[name] = moment.isoformat()
    if call.duration is not None:
        metadata["duration"] = call.duration
    return metadata
