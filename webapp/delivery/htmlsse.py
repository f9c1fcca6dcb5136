"""SSE messages that carry HTML for htmx 4's SSE extension.

htmx swaps only *unnamed* messages (no ``event:`` line) and treats their data as
HTML; named messages become DOM events. So page streams send HTML unnamed and
use names only for control: ``end`` (closes the connection for good, matched by
``hx-sse:close="end"``) and ``heartbeat`` (comments are invisible to a page, and
the page's stale indicator needs to see something).
"""

from __future__ import annotations

import re

from sse_starlette import ServerSentEvent

_LINES = re.compile(r"\r\n|\r|\n")

END = b"event: end\ndata: \n\n"


def message(html: str) -> bytes:
    """An unnamed SSE message whose data is ``html``, one ``data:`` line per line."""
    lines = _LINES.split(html.strip()) or [""]
    return b"".join(b"data: " + line.encode() + b"\n" for line in lines) + b"\n"


def with_id(event_id: str, body: bytes) -> bytes:
    return b"id: " + event_id.encode() + b"\n" + body


HEARTBEAT = ServerSentEvent(data="", event="heartbeat", sep="\n").encode()


def partial(target: str, swap: str, html: str) -> str:
    """Wrap ``html`` so htmx swaps it into ``target`` (a CSS selector) with ``swap``."""
    return f'<hx-partial hx-target="{target}" hx-swap="{swap}">{html}</hx-partial>'
