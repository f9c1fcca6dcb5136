"""Stream keys (``call:<sid>``, ``campaign:<id>``) and the validation of ids from URLs.

A call id is opaque: Twilio names calls ``CA`` + 32 hex, Telnyx ``v3:`` + a long
URL-safe token, Vonage a UUID, SIP trunks their own. Anything Burki can produce is
accepted (up to 128 characters of ``[A-Za-z0-9._:~-]``); only what cannot be an id
is refused: slashes, spaces, control characters, dots only, too long. An id is
URL-encoded on every hop (:func:`quoted`), so ``:`` and ``~`` travel safely.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

SID_PATTERN = re.compile(r"[A-Za-z0-9._:~-]{1,128}")
MAX_CAMPAIGN_ID = 2**31 - 1
SID_RULE = "a call id is 1 to 128 letters, digits or '.', '_', ':', '~', '-' (not only dots)"


class BadStreamId(ValueError):
    """An id from a URL that cannot name a Burki call or campaign."""


def valid_sid(sid: str) -> bool:
    """Whether ``sid`` can be a Burki call id (see the module docstring)."""
    return bool(SID_PATTERN.fullmatch(sid)) and sid.strip(".") != ""


def quoted(ident: str) -> str:
    """``ident`` as one URL path segment: every reserved character percent-encoded."""
    return quote(ident, safe="")


@dataclass(frozen=True, slots=True)
class StreamKey:
    kind: Literal["call", "campaign"]
    id: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"

    @property
    def upstream_path(self) -> str:
        if self.kind == "call":
            return f"/live-transcript/{quoted(self.id)}"
        return f"/ws/campaigns/{self.id}/progress"

    @classmethod
    def call(cls, sid: str) -> StreamKey:
        if not valid_sid(sid):
            raise BadStreamId(SID_RULE)
        return cls("call", sid)

    @classmethod
    def campaign(cls, campaign_id: str | int) -> StreamKey:
        text = str(campaign_id)
        if not (text.isascii() and text.isdigit()) or len(text) > 10:
            raise BadStreamId("a campaign id is a positive whole number")
        number = int(text)
        if not 0 < number <= MAX_CAMPAIGN_ID:
            raise BadStreamId("a campaign id is a positive whole number")
        return cls("campaign", str(number))

    @classmethod
    def parse(cls, text: str) -> StreamKey:
        kind, _, ident = text.partition(":")
        if kind == "call":
            return cls.call(ident)
        if kind == "campaign":
            return cls.campaign(ident)
        raise BadStreamId("a stream is call:<sid> or campaign:<id>")
