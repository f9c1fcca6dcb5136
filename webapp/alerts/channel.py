"""What every alert channel is: one attempt at delivering one queued item.

A channel (:mod:`~webapp.alerts.signed`, :mod:`~webapp.alerts.slack`,
:mod:`~webapp.alerts.teams`, :mod:`~webapp.alerts.mail`) renders an item in its
own format, signs it if its format is signed, sends it once and says how that
went (:class:`Outcome`): delivered, or the error and whether another attempt is
worth it. Queues, dedupe, retries with backoff and the counters are the
dispatcher's (:mod:`webapp.alerts.webhooks`), the same for every channel.

:class:`HttpPost` is the one POST the web channels share: the whole attempt
bounded by ``timeout``, redirects not followed, the answer's body never read.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from webapp.alerts import messages
from webapp.alerts.lanes import Item
from webapp.alerts.messages import Summary


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one attempt went; ``retry_after``: the least wait the receiver asked for."""

    delivered: bool
    retry: bool = False
    error: str = ""
    retry_after: float = 0.0


class Channel(Protocol):
    """One route's way out: ``attempt`` renders, signs and sends ``item`` once.

    It never raises for a failed delivery (that is an :class:`Outcome`); an
    exception is a bug, which the dispatcher logs and counts as a failure.
    """

    async def attempt(self, item: Item) -> Outcome: ...


def retryable(status: int) -> bool:
    """Whether an HTTP status is worth another attempt (overload, rate limit, server error)."""
    return status in (408, 425, 429) or status >= 500


@dataclass(frozen=True, slots=True)
class HttpPost:
    """POSTs a body with ``client`` (left open), ``timeout`` bounding one whole attempt."""

    client: httpx.AsyncClient
    timeout: float

    async def __call__(self, url: str, body: bytes, headers: dict[str, str]) -> Outcome:
        try:
            # The outer timeout bounds the whole attempt; httpx's bounds each read.
            async with asyncio.timeout(self.timeout):
                request = self.client.stream(
                    "POST", url, content=body, headers=headers, timeout=self.timeout
                )
                async with request as response:  # the body is never read
                    status, retry_after = response.status_code, response.headers.get("retry-after")
        except (TimeoutError, httpx.TimeoutException):
            return Outcome(False, retry=True, error=f"timed out after {self.timeout:g} s")
        except httpx.TransportError as exc:  # refused, reset, DNS, protocol errors
            return Outcome(False, retry=True, error=type(exc).__name__)
        if 200 <= status < 300:
            return Outcome(True)
        return Outcome(False, retryable(status), f"HTTP {status}", _seconds(retry_after))


def _seconds(retry_after: str | None) -> float:
    """``Retry-After`` in seconds when it is a number of seconds (dates are ignored)."""
    value = (retry_after or "").strip()
    return float(value) if value.isascii() and value.isdigit() else 0.0


@dataclass(frozen=True, slots=True, repr=False)
class ChatHookChannel:
    """A chat's incoming webhook (Slack, Teams): the hook URL is its secret, so nothing is
    signed; ``message`` makes the chat's JSON of what the event says, with its page's link."""

    name: str  # shown instead of the URL
    url: str  # the secret: never shown
    post: HttpPost
    public_url: str  # the message's link points here
    message: Callable[[Summary], dict[str, Any]]

    def __repr__(self) -> str:
        return f"{self.name}()"

    async def attempt(self, item: Item) -> Outcome:
        summary = messages.of(item, self.public_url)
        body = json.dumps(self.message(summary), ensure_ascii=False).encode()
        return await self.post(self.url, body, {"Content-Type": "application/json"})
