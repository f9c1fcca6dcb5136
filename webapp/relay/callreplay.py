"""An ended call's replay, read to its end and turned into the stream's inputs.

:func:`~webapp.relay.replaydrain.drain` decides when the replay is over; this feeds
what it read to the stream. Alone each replayed input is fed at once; a cluster's
holder publishes them after the drain, in order. Owns no task and no timer beyond
the call: ``drain`` cancels and awaits what it started before it returns.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

from webapp.relay.inputs import Feed, Input, PollBatch
from webapp.relay.replaydrain import drain
from webapp.wire.events import Transcript, UpstreamError
from webapp.wire.sources import Sources
from webapp.wire.streamkey import StreamKey
from webapp.wire.upstream import Connecting, GaveUp, Item, Live, Reconnecting

log = logging.getLogger("webapp.relay.stream")


async def drain_replay(
    key: StreamKey,
    sources: Sources,
    items: AsyncIterator[Item],
    *,
    quiet: float,
    shared: bool,
    feed: Callable[[Input], None],
    publish: Feed,
) -> None:
    """The call ended; Burki may be replaying its stored transcript after the status."""
    stored = sources.stored_transcript(key.id, timeout=10 * quiet)
    # Alone each replayed input is fed at once; a cluster's holder publishes them after.
    drained: list[Input] = []

    def replayed(item: Input) -> None:
        if shared:
            drained.append(item)
        else:
            feed(item)

    def on_drained(item: Item) -> None:
        if not isinstance(item, Connecting | Live | Reconnecting | GaveUp | UpstreamError):
            replayed(item)

    def on_stored(segments: list[Transcript]) -> None:
        replayed(PollBatch())  # REST holds the whole transcript, as a replay does
        for segment in segments:
            replayed(segment)

    why = await drain(items, stored, on_drained, on_stored, quiet=quiet, bound=10 * quiet)
    for item in drained:
        await publish(item)
    log.info("stream %s: replay read to its end (%s)", key, why)
