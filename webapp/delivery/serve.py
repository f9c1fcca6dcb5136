"""Serving a viewer: the one loop from a subscriber to the chunks of an SSE response.

Every stream endpoint (the JSON API, the live pages, the wallboard, the
overview) reads its subscriber the same way: each batch of queued frames
becomes one write, a due heartbeat becomes the endpoint's heartbeat bytes, and
the subscriber's close ends the response. What differs is only how a batch is
encoded, so that is the one thing an endpoint hands in.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable

from starlette.requests import Request

from webapp.delivery.sseresponse import StreamResponse, direct_sink
from webapp.relay.frames import Frame
from webapp.relay.hub import Hub
from webapp.relay.subscriber import Subscriber

PING = b": ping\n\n"  # the JSON API's heartbeat: a comment
SSE = StreamResponse  # what a stream endpoint returns (an ASGI app, not a Starlette Response)


def last_event_id(request: Request) -> str | None:
    """The viewer's resume position: ``Last-Event-ID``, or the ``last_event_id`` parameter.

    htmx's SSE extension reconnects with a fresh EventSource, which drops the header.
    """
    value = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    return value or None


async def batches(
    sub: Subscriber,
    encode: Callable[[list[Frame]], bytes],
    heartbeat: bytes,
    *,
    until_end: bool = False,
) -> AsyncGenerator[bytes, None]:
    """``encode(batch)`` for each batch ``sub`` hands out, ``heartbeat`` when one is due.

    Ends when the subscriber is closed and drained, or, with ``until_end``,
    right after a batch whose last frame is the stream's ``end``.

    When the response offers a direct sink, frames that find the reader parked
    are encoded and written by the subscriber's flush (no wake-up of this task),
    except an ``end`` that ends the response: that one comes through here; and so
    is a due heartbeat, by the heartbeats' sweep.
    """
    sink = direct_sink()
    if sink is not None:
        sub.direct = sink.frames(encode, heartbeat, until_end)
    try:
        while (batch := await sub.get_batch()) is not None:
            if not batch:
                if sink is None or not sink.write(heartbeat):
                    yield heartbeat
                continue
            yield encode(batch)
            if until_end and batch[-1].type == "end":
                return
    finally:
        sub.direct = None


def sse_response(hub: Hub, chunks: AsyncGenerator[bytes, None]) -> StreamResponse:
    """The SSE response every stream endpoint uses: lean writes, a stall deadline, no-store.

    Not a Starlette ``Response``: :class:`StreamResponse` is a plain ASGI app,
    which Starlette's routes serve all the same (so endpoints return ``Response | SSE``).
    """
    cuts = hub.metrics.viewer_cuts.labels("stalled")
    return StreamResponse(chunks, stall_timeout=hub.config.stall_timeout, on_stall=cuts.inc)
