"""One webhook route's lane: its queue, dedupe memory, counters and worker, and the item
it carries (see :mod:`webapp.alerts.webhooks`, which owns and runs the lanes)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from webapp.alerts.endpoints import Endpoint
from webapp.calls.change import iso
from webapp.relay.ports import Mark
from webapp.wire.streamkey import StreamKey


@dataclass(frozen=True, slots=True)
class Item:
    event_id: str
    stream: StreamKey
    type: str
    data: bytes  # the payload's JSON, serialised once when offered
    org_name: str = ""  # the display name of the stream's organisation
    epoch: str = ""  # in a cluster: what the numbers count under
    numbers: tuple[tuple[str, int], ...] = ()  # per route: its number (see ports.Outgoing)

    def mark(self, route: str) -> Mark | None:
        """Where this item puts ``route``'s delivery mark (None: it has no place)."""
        n = dict(self.numbers).get(route, 0)
        return Mark(self.epoch, n) if self.epoch and n else None

    def body(self, sent_at: str) -> bytes:
        """The request body: the payload as serialised when offered, stamped ``sent_at``."""
        head = json.dumps(
            {
                "id": self.event_id,
                "stream": str(self.stream),
                "org": self.stream.org,
                "org_name": self.org_name,
                "type": self.type,
            },
            ensure_ascii=False,
        )
        tail = json.dumps(sent_at)
        return f'{head[:-1]},"data":'.encode() + self.data + f',"sent_at":{tail}}}'.encode()


@dataclass(eq=False)
class Lane:
    """One endpoint's queue, dedupe memory, counters and worker task."""

    endpoint: Endpoint
    queue: deque[Item]
    id: str = ""  # the route's name in the shared marks (a digest: no secret in a key)
    seen: OrderedDict[str, None] = field(default_factory=OrderedDict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    idle: asyncio.Event = field(default_factory=asyncio.Event)
    in_flight: Item | None = None
    task: asyncio.Task[None] | None = None
    delivered: int = 0
    failed: int = 0
    dropped: int = 0
    duplicates: int = 0
    retries: int = 0
    lost: int = 0  # frames a takeover found neither delivered nor kept
    last_success: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None

    def status(self) -> dict[str, Any]:
        return {
            "url": self.endpoint.safe_url,
            "format": self.endpoint.format,
            "events": sorted(self.endpoint.events),
            "severities": sorted(self.endpoint.severities),
            "kinds": sorted(self.endpoint.kinds),
            "org": self.endpoint.org,  # "": every organisation's
            "queued": len(self.queue) + (self.in_flight is not None),
            "delivered": self.delivered,
            "failed": self.failed,
            "dropped": self.dropped,
            "duplicates": self.duplicates,
            "retries": self.retries,
            "lost": self.lost,
            "last_success": iso(self.last_success),
            "last_error": self.last_error,
            "last_error_at": iso(self.last_error_at),
        }


def route_id(endpoint: Endpoint) -> str:
    """A route's name, the same on every node of one configuration, with no secret in it.

    A route of one organisation is another route than the same URL's global one (a global
    route's name is what it was before there were organisations: its marks carry over)."""
    named = f"{endpoint.format} {endpoint.url}" + (f" {endpoint.org}" if endpoint.org else "")
    return hashlib.sha256(named.encode()).hexdigest()[:16]
