"""An ended stream's frames, packed: their bytes once, compressed, for late viewers.

A live frame holds its JSON payload as a dict (for the stages that read it when it is
emitted: webhooks, the history, page views), its bytes twice (``wire`` is ``id:`` +
``body``) and its HTML for each page view. Once a stream has ended, late viewers only
ever need its bytes and its HTML (an exact resume), so :func:`pack` keeps ``wire`` and
``html`` alone, compressed together, and :func:`unpack` gives back frames equal to the
ones packed: the same bytes, and ``data`` read back from the JSON those bytes carry.

Pure: no I/O. ``marshal`` only ever reads what :func:`pack` wrote in this process.
"""

from __future__ import annotations

import json
import marshal
import zlib

from webapp.relay.frames import Frame
from webapp.wire.streamkey import StreamKey


def pack(frames: list[Frame]) -> bytes:
    """``frames``' bytes and HTML, compressed as one."""
    return zlib.compress(marshal.dumps([(f.wire, f.html) for f in frames]))


def unpack(packed: bytes, stream: StreamKey | None) -> list[Frame]:
    """The frames :func:`pack` packed (of ``stream``), in order."""
    return [_frame(wire, html, stream) for wire, html in marshal.loads(zlib.decompress(packed))]


def _frame(wire: bytes, html: dict[str, bytes], stream: StreamKey | None) -> Frame:
    head, _, body = wire.partition(b"\n")  # "id: <id>", then "event: <type>\ndata: <json>\n\n"
    event, _, rest = body.partition(b"\n")
    payload = rest.removeprefix(b"data: ").rstrip(b"\n")
    return Frame(
        id=head.removeprefix(b"id: ").decode(),
        type=event.removeprefix(b"event: ").decode(),
        data=json.loads(payload),
        body=body,
        wire=wire,
        stream=stream,
        html=dict(html),
    )
