"""Changes of stream state and the SSE frames they are rendered into, once.

A :class:`~webapp.calls.change.Change` is what a call's or campaign's pipeline
(``webapp.calls``) returns: an SSE event type and a JSON-able payload, not yet numbered. The
replay log numbers it and calls :func:`render`, which turns it into a
:class:`Frame` whose bytes every viewer is sent unchanged.

The bytes are exactly what ``sse_starlette.ServerSentEvent(data=<json>,
event=<type>, id=<id>, sep="\\n").encode()`` produces, so an SSE response can
yield ``frame.wire`` as-is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from webapp.wire.streamkey import StreamKey


@dataclass(frozen=True, slots=True)
class Frame:
    """A numbered, rendered event: the same bytes for every viewer.

    ``body`` is ``event:`` and ``data:`` lines and the blank line that ends the
    event; ``wire`` is ``id: <id>`` followed by ``body`` (what a single-stream
    viewer gets; a multi-stream connection writes its own cursor id before
    ``body``). ``data`` is shared by every holder of the frame: read it, never
    mutate it.

    ``html`` holds the frame rendered for each page view that watches the stream
    (an unnamed SSE message without its id line), filled once, when the frame is
    emitted, from the state at that moment.

    ``stream`` is the stream the frame belongs to, as a key (the payload carries
    it as a string for API clients); None for a frame of no stream (the
    directory's "something changed").
    """

    id: str
    type: str
    data: dict[str, Any]
    body: bytes
    wire: bytes
    stream: StreamKey | None = None
    html: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)


def render(id: str, type: str, data: dict[str, Any], stream: StreamKey | None = None) -> Frame:
    """Render an event once, for ``stream`` (its key leads the payload as ``"stream"``).

    The payload is compact JSON (``ensure_ascii=False``), which escapes every
    control character, so it is always one ``data:`` line.

    Raises ``ValueError`` when ``id`` or ``type`` holds a line break (it would
    break the framing) or ``data`` holds NaN or an infinity (not JSON), and
    ``TypeError`` when ``data`` holds something JSON cannot encode.
    """
    for name, value in (("id", id), ("type", type)):
        if "\n" in value or "\r" in value:
            raise ValueError(f"an SSE {name} cannot hold a line break")
    if stream is not None:
        data = {"stream": str(stream), **data}
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    body = f"event: {type}\ndata: {payload}\n\n".encode()
    wire = f"id: {id}\n".encode() + body
    return Frame(id=id, type=type, data=data, body=body, wire=wire, stream=stream)
