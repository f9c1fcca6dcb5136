"""Stream keys (``call:<sid>``, ``campaign:<id>``) and the validation of ids from URLs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

SID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_CAMPAIGN_ID = 2**31 - 1


class BadStreamId(ValueError):
    """An id from a URL that cannot name a Burki call or campaign."""


@dataclass(frozen=True, slots=True)
class StreamKey:
    kind: Literal["call", "campaign"]
    id: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"

    @property
    def upstream_path(self) -> str:
        if self.kind == "call":
            return f"/live-transcript/{self.id}"
        return f"/ws/campaigns/{self.id}/progress"

    @classmethod
    def call(cls, sid: str) -> StreamKey:
        if not SID_PATTERN.fullmatch(sid):
            raise BadStreamId("a call id is 1 to 64 letters, digits, '_' or '-'")
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
