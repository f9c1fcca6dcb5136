"""The signed webhook: the event as JSON, signed with the endpoint's secret.

**The request.** A ``POST`` with ``Content-Type: application/json`` and the body
``{"id", "stream", "org", "org_name", "type", "data", "sent_at"}``: the event id (the
idempotency key), the stream key (``call:<sid>``, ``campaign:<id>``, another
organisation's ``<org>/call:<sid>``), the slug and display name of the stream's Burki
organisation, the event type, its payload as on the SSE stream, and when this attempt was
sent. Headers:

- ``X-Burki-Live-Event-Id``: the event id again;
- ``X-Burki-Live-Signature``: ``t=<unix seconds>,v1=<hex HMAC-SHA256>``, the HMAC
  keyed with the endpoint's secret over ``f"{t}."`` followed by the raw body
  bytes (the scheme Stripe uses). A receiver recomputes it, compares in
  constant time and rejects a ``t`` too far from its clock (:func:`verify`).
  Each attempt is signed afresh, so a late retry is not rejected as stale.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from webapp.alerts.channel import HttpPost, Outcome
from webapp.alerts.lanes import Item
from webapp.calls.change import iso

SIGNATURE_HEADER = "X-Burki-Live-Signature"
EVENT_ID_HEADER = "X-Burki-Live-Event-Id"
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Burki-Live-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    secret: str, header: str, body: bytes, tolerance: float = 300, now: float | None = None
) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` within ``tolerance`` seconds of now.

    Several ``v1=`` values may be given (one per secret while rotating); any may
    match. A malformed header is simply not valid. Compares in constant time.
    """
    pairs = [part.strip().partition("=") for part in header.split(",")]
    stamps = [value for key, _, value in pairs if key == "t"]
    given = [value.encode("utf-8", "replace") for key, _, value in pairs if key == "v1"]
    if len(stamps) != 1 or not given or not _TIMESTAMP.fullmatch(stamps[0]):
        return False
    timestamp = int(stamps[0])
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).partition(",v1=")[2].encode()
    return any([hmac.compare_digest(expected, value) for value in given])


@dataclass(frozen=True, slots=True, repr=False)
class SignedChannel:
    """Posts the item's body, stamped and signed at ``clock()`` for each attempt."""

    url: str
    secret: str
    post: HttpPost
    clock: Callable[[], float]

    def __repr__(self) -> str:
        return "SignedChannel()"

    async def attempt(self, item: Item) -> Outcome:
        sent = self.clock()
        body = item.body(iso(datetime.fromtimestamp(sent, UTC)) or "")
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self.secret, int(sent), body),
            EVENT_ID_HEADER: item.event_id,
        }
        return await self.post(self.url, body, headers)
