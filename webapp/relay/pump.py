"""Burki's upstream read into a stream's inputs: what the stream's pump task runs.

:func:`pump` publishes a campaign's name and counters from REST first, then each
upstream item, and, once a call's state has ended, asks REST when it ended if its status
did not say (:func:`_call_end`), then reads the call's replay to its
end (:func:`drain_replay`; :func:`~webapp.relay.replaydrain.drain` decides when it is
over) before it publishes :class:`~webapp.calls.inputs.Finished`. Alone each
replayed frame is fed at once; a cluster's holder publishes them after the drain,
in order; Burki's stored transcript, when the drain ends on it, is published after
it (one input a loop turn) either way. ``publish`` is read afresh at each use: the
stream swaps it when this node stops running the upstream. Nothing here owns a task
or a timer: the stream's pump task runs this, and the stream's close cancels it;
``drain`` cancels and awaits what it started before it returns.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from typing import Protocol

from webapp.calls.callstate import CallState
from webapp.calls.campaignstate import CampaignState
from webapp.calls.inputs import CampaignNamed, Feed, Finished, Input, PollBatch
from webapp.relay.poller import Polled
from webapp.relay.replaydrain import drain
from webapp.wire.events import CallStatus, Transcript, UpstreamError
from webapp.wire.sources import Sources
from webapp.wire.streamkey import StreamKey
from webapp.wire.upstream import Connecting, GaveUp, Item, Live, Reconnecting

log = logging.getLogger("webapp.relay.stream")

NAME_WAIT = 3.0  # seconds the upstream waits at most for an assistant's name


class Pumped(Polled, Protocol):
    """What the pump reads of its stream: the poller's, and where a drained replay goes."""

    def feed(self, item: Input) -> None: ...


async def pump(
    stream: Pumped,
    sources: Sources,
    *,
    replay_quiet: float,
    shared: bool,
    name: Callable[[StreamKey, int], Awaitable[str]] | None = None,
) -> None:
    """Run Burki's upstream for one stream, publishing each input, until the stream ends."""
    key, state = stream.key, stream.state
    publish: Callable[[], Feed] = stream.publisher

    def finished() -> bool:
        return stream.ended

    if isinstance(state, CampaignState):
        await _campaign_so_far(key, sources, state, finished, publish)
    upstream = sources.upstream(key)
    unnamed = name is not None and isinstance(state, CallState)
    async with aclosing(upstream.items()) as items:
        async for item in items:
            await publish()(item)
            if unnamed and isinstance(item, CallStatus) and isinstance(state, CallState):
                assert name is not None
                unnamed = not await _name_assistant(key, state, name, publish)
            if state.ended or finished():
                break
        if isinstance(state, CallState) and state.ended and not finished():
            await _call_end(key, sources, state, publish)
            await drain_replay(
                key,
                sources,
                items,
                quiet=replay_quiet,
                shared=shared,
                feed=stream.feed,
                publish=publish,
            )
    if state.ended and not finished():
        await publish()(Finished())


async def _name_assistant(
    key: StreamKey,
    state: CallState,
    name: Callable[[StreamKey, int], Awaitable[str]],
    publish: Callable[[], Feed],
) -> bool:
    """Name the call's assistant when its status gives only ``assistant_id`` (the
    open-source server's), as the overview does; True once it is named (or asked for)."""
    ident = state.info.assistant_id
    if state.info.assistant_name:
        return True
    if ident is None:
        return False  # a later status may carry it
    try:
        async with asyncio.timeout(NAME_WAIT):
            named = await name(key, ident)
    except TimeoutError:
        return True  # the page shows no name rather than wait on Burki's REST
    await publish()(CallStatus(key.id, state.status, metadata={"assistant_name": named}))
    return True


async def _call_end(
    key: StreamKey, sources: Sources, state: CallState, publish: Callable[[], Feed]
) -> None:
    """An ended call whose status says neither when it ended nor how long it lasted (the
    open-source server's on-connect status): its REST object says both. Without them
    its length would be measured up to whenever the dashboard connected."""
    if any(state.metadata.get(k) is not None for k in ("ended_at", "duration")):
        return
    end = await sources.call_end(key.id)
    if end is not None:
        await publish()(dataclasses.replace(end, status=state.status))


async def _campaign_so_far(
    key: StreamKey,
    sources: Sources,
    state: CampaignState,
    finished: Callable[[], bool],
    publish: Callable[[], Feed],
) -> None:
    """Name and counters from REST before the socket: a campaign opened mid-run
    starts from where it stands, not from zero."""
    if state.name is None:
        await publish()(CampaignNamed(await sources.campaign_name(int(key.id))))
    progress = await sources.campaign_progress(int(key.id))
    if progress is not None and not finished():
        await publish()(progress)


async def drain_replay(
    key: StreamKey,
    sources: Sources,
    items: AsyncIterator[Item],
    *,
    quiet: float,
    shared: bool,
    feed: Callable[[Input], None],
    publish: Callable[[], Feed],
) -> None:
    """The call ended; Burki may be replaying its stored transcript after the status."""
    stored = sources.stored_transcript(key.id, timeout=10 * quiet)
    # Alone each replayed frame is fed at once; a cluster's holder publishes them after.
    # The stored transcript, the last thing the drain hands over, is published after it
    # either way: one input a loop turn, as the pump feeds (hundreds of segments the
    # stream lacks, fed in one go, would overflow every viewer's queue).
    drained: list[Input] = []

    def on_drained(item: Item) -> None:
        if isinstance(item, Connecting | Live | Reconnecting | GaveUp | UpstreamError):
            return
        if shared:
            drained.append(item)
        else:
            feed(item)

    def on_stored(segments: list[Transcript]) -> None:
        drained.append(PollBatch())  # REST holds the whole transcript, as a replay does
        drained.extend(segments)

    why = await drain(items, stored, on_drained, on_stored, quiet=quiet, bound=10 * quiet)
    for item in drained:
        await publish()(item)
    log.info("stream %s: replay read to its end (%s)", key, why)
