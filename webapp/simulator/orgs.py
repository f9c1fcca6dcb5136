"""Several Burki organisations on one simulator: whose key asked, and the request log.

One simulator may serve several organisations, each with its own API key and its own
world (calls, campaigns, assistants; see ``Simulator(orgs=...)``). A request is served
by the world whose key it carries; a request with no valid key by the first world,
which refuses it as Burki does.

Every request is logged (:class:`RequestLog`): REST method and path, or the WebSocket
path, with the *name* of the organisation whose key asked (None: no valid key). The key
itself is never kept: the query string is redacted, and a key is only ever compared.
Tests read the log to prove which organisation's key asked for what.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit

from webapp.simulator.handshake import redact

Channel = Literal["rest", "ws"]
ORG_ID_STRIDE = 1_000_000
"""Each organisation's world numbers its calls and campaigns from ``(n - 1) * stride + 1``:
Burki's ids are rows of one database, never shared between organisations."""


@dataclass(frozen=True)
class Logged:
    """One request as the simulator saw it; ``org`` is the asking key's organisation."""

    org: str | None
    channel: Channel
    method: str
    path: str
    """The request target, percent-decoded, with any ``token=`` redacted."""

    def names(self, ident: str) -> bool:
        """Whether the request's path names ``ident`` (a call sid or campaign id)."""
        bare = urlsplit(self.path).path
        return any(part == ident for part in bare.split("/"))


class RequestLog:
    """Every request the simulator received, in order of arrival."""

    def __init__(self) -> None:
        self._entries: list[Logged] = []

    def add(self, org: str | None, channel: Channel, method: str, target: str) -> None:
        self._entries.append(Logged(org, channel, method, redact(unquote(target))))

    def __iter__(self) -> Iterator[Logged]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def of(self, org: str | None) -> list[Logged]:
        """The requests made with ``org``'s key (None: with no valid key)."""
        return [entry for entry in self._entries if entry.org == org]

    def naming(self, ident: str) -> list[Logged]:
        """The requests whose path names ``ident``."""
        return [entry for entry in self._entries if entry.names(ident)]

    def clear(self) -> None:
        self._entries.clear()


def checked_orgs(orgs: Mapping[str, str]) -> list[tuple[str, str]]:
    """``orgs`` (name -> key) as a list; ValueError for none, an empty name or key, or a
    key given to two organisations (a key names exactly one)."""
    pairs = list(orgs.items())
    if not pairs:
        raise ValueError("orgs needs at least one organisation")
    for name, key in pairs:
        if not name or not key:
            raise ValueError("every organisation needs a name and a key")
    if len({key for _, key in pairs}) != len(pairs):
        raise ValueError("two organisations share a key")
    return pairs


def key_matches(offered: str | None, key: str) -> bool:
    return offered is not None and hmac.compare_digest(offered.encode(), key.encode())
