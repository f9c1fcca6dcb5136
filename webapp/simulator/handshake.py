"""Reading a WebSocket upgrade request: which stream, which key, and how it came.

Pure functions over the request path and headers, plus the log filter that keeps
keys out of every log line the simulator's WebSocket server writes.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

from websockets.datastructures import Headers
from websockets.frames import Frame

Via = Literal["query", "header", "subprotocol"]
SUBPROTOCOL_PREFIX = "burki-token-"

_CALL_PATH = re.compile(r"/live-transcript/(?P<sid>[^/]{1,400})")
_CALL_SID = re.compile(r"[A-Za-z0-9._:~-]{1,128}")  # Twilio, Telnyx (v3:...), UUIDs, ...
_CAMPAIGN_PATH = re.compile(r"/ws/campaigns/(?P<id>[0-9]{1,18})/progress")
_SECRETS = re.compile(r"(token=|Bearer\s+|burki-token-)[^&\s,;'\"]+", re.IGNORECASE)


@dataclass(frozen=True)
class Route:
    """A stream endpoint: ``kind`` and its id; ``key`` names the stream (``call:CA..``)."""

    kind: Literal["call", "campaign"]
    ident: str

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.ident}"

    @property
    def campaign_id(self) -> int:
        return int(self.ident)


def parse_route(path: str) -> Route | None:
    """The stream a request path names, or None (the upgrade gets a 404)."""
    bare = urlsplit(path).path
    if match := _CALL_PATH.fullmatch(bare):
        sid = unquote(match["sid"])  # Burki's router decodes the path, as FastAPI does
        return Route("call", sid) if _CALL_SID.fullmatch(sid) and sid.strip(".") else None
    if match := _CAMPAIGN_PATH.fullmatch(bare):
        return Route("campaign", str(int(match["id"])))
    return None


def parse_key(key: str) -> Route:
    """The route of a stream key, ``call:<sid>`` or ``campaign:<id>``; ValueError otherwise."""
    kind, _, ident = key.partition(":")
    path = f"/live-transcript/{ident}" if kind == "call" else f"/ws/campaigns/{ident}/progress"
    route = parse_route(path) if kind in ("call", "campaign") else None
    if route is None:
        raise ValueError(f"not a stream key: {key!r} (want 'call:<sid>' or 'campaign:<id>')")
    return route


def is_upgrade(headers: Headers) -> bool:
    return any("websocket" in value.lower() for value in headers.get_all("Upgrade"))


def offered_subprotocols(headers: Headers) -> list[str]:
    values = headers.get_all("Sec-WebSocket-Protocol")
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def credentials(path: str, headers: Headers) -> tuple[Via, str] | None:
    """The key and how it came, first found of ``?token=``, Bearer header, subprotocol."""
    tokens = parse_qs(urlsplit(path).query).get("token")
    if tokens:
        return "query", tokens[0]
    authorization = headers.get("Authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return "header", value.strip()
    for offered in offered_subprotocols(headers):
        if offered.startswith(SUBPROTOCOL_PREFIX):
            return "subprotocol", offered.removeprefix(SUBPROTOCOL_PREFIX)
    return None


def token_subprotocol(offered: list[str]) -> str | None:
    return next((item for item in offered if item.startswith(SUBPROTOCOL_PREFIX)), None)


def redact(text: str) -> str:
    """Mask what follows ``token=``, ``Bearer `` and ``burki-token-``."""
    return _SECRETS.sub(lambda match: match[1] + "***", text)


class RedactingFilter(logging.Filter):
    """Rewrites a record's message with :func:`redact` (websockets logs paths and
    headers at debug level, and the key may be in either)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class FrameDataFilter(logging.Filter):
    """websockets logs each frame at debug with up to 75 characters of its data: the
    simulator's frames carry transcripts, so they are logged by kind and size only."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                f"{arg.opcode.name} [{len(arg.data)} bytes]" if isinstance(arg, Frame) else arg
                for arg in record.args
            )
        return True
