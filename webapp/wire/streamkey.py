"""Stream keys (``call:<sid>``, ``campaign:<id>``) and the validation of ids from URLs.

A call id is opaque: Twilio names calls ``CA`` + 32 hex, Telnyx ``v3:`` + a long
URL-safe token, Vonage a UUID, SIP trunks their own. Anything Burki can produce is
accepted (up to 128 characters of ``[A-Za-z0-9._:~-]``); only what cannot be an id
is refused: slashes, spaces, control characters, dots only, too long. An id is
URL-encoded on every hop (:func:`quoted`), so ``:`` and ``~`` travel safely.

**One identity.** A :class:`StreamKey` is parsed once where a stream's name enters
(a URL, a cursor, an audit entry, a Burki list), carried as the object inside, and
rendered once where it leaves (an SSE payload, a cursor, a Redis key, a webhook,
the audit log) by ``str(key)``. It names its Burki organisation too: ``org``,
:data:`DEFAULT_ORG` unless given, which renders and parses exactly as before
(``call:<sid>``); any other organisation renders as ``<org>/call:<sid>`` (a call
id holds no ``/``) and parses only where the caller names it as known.
"""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

SID_PATTERN = re.compile(r"[A-Za-z0-9._:~-]{1,128}")
MAX_CAMPAIGN_ID = 2**31 - 1
SID_RULE = "a call id is 1 to 128 letters, digits or '.', '_', ':', '~', '-' (not only dots)"
STREAM_RULE = "a stream is call:<sid> or campaign:<id>"
CAMPAIGN_RULE = "a campaign id is a positive whole number"

DEFAULT_ORG = "default"  # the one organisation of BURKI_API_KEY: rendered as no prefix
ORG_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
ORG_RULE = "an organisation is 1 to 32 lower-case letters, digits or '-'"
ONLY_DEFAULT: frozenset[str] = frozenset({DEFAULT_ORG})
Kind = Literal["call", "campaign"]


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
    """A call or campaign of one Burki organisation; build with :meth:`call`,
    :meth:`campaign`, :meth:`of` or :meth:`parse`, which validate (the constructor
    does not)."""

    kind: Kind
    id: str
    org: str = DEFAULT_ORG

    def __str__(self) -> str:
        return self.render()

    def render(self) -> str:
        """The key as text, everywhere it leaves us: ``call:<sid>``, ``<org>/call:<sid>``."""
        local = f"{self.kind}:{self.id}"
        return local if self.org == DEFAULT_ORG else f"{self.org}/{local}"

    @property
    def upstream_path(self) -> str:
        if self.kind == "call":
            return f"/live-transcript/{quoted(self.id)}"
        return f"/ws/campaigns/{self.id}/progress"

    @classmethod
    def call(cls, sid: str, org: str = DEFAULT_ORG) -> StreamKey:
        if not valid_sid(sid):
            raise BadStreamId(SID_RULE)
        return cls("call", sid, _org(org))

    @classmethod
    def campaign(cls, campaign_id: str | int, org: str = DEFAULT_ORG) -> StreamKey:
        text = str(campaign_id)
        if not (text.isascii() and text.isdigit()) or len(text) > 10:
            raise BadStreamId(CAMPAIGN_RULE)
        number = int(text)
        if not 0 < number <= MAX_CAMPAIGN_ID:
            raise BadStreamId(CAMPAIGN_RULE)
        return cls("campaign", str(number), _org(org))

    @classmethod
    def of(cls, kind: str, ident: str, org: str = DEFAULT_ORG) -> StreamKey:
        """The key of a kind and an id given apart (a URL's two segments)."""
        if kind == "call":
            return cls.call(ident, org)
        if kind == "campaign":
            return cls.campaign(ident, org)
        raise BadStreamId(STREAM_RULE)

    @classmethod
    def parse(cls, text: str, orgs: Container[str] = ONLY_DEFAULT) -> StreamKey:
        """The key :meth:`render` wrote; an organisation prefix only of one in ``orgs``.

        BadStreamId (the same sentence as for a malformed key) for an unknown one.
        """
        head, slash, rest = text.partition("/")
        if slash and ORG_PATTERN.fullmatch(head):
            if head not in orgs or head == DEFAULT_ORG:  # the default is written bare
                raise BadStreamId(STREAM_RULE)
            org, text = head, rest
        else:
            org = DEFAULT_ORG
        kind, _, ident = text.partition(":")
        return cls.of(kind, ident, org)

    @classmethod
    def read(cls, text: str, orgs: Container[str] = ONLY_DEFAULT) -> StreamKey | None:
        """The key in ``text`` exactly as :meth:`render` writes it; None for anything else
        (a cursor's or an audit entry's word that names no stream of ours)."""
        try:
            key = cls.parse(text, orgs)
        except BadStreamId:
            return None
        return key if key.render() == text else None


def named_org(value: str, org: str) -> tuple[str, str]:
    """A stream named in a query (the multiplexed API's ``call=``, ``campaign=``): its
    organisation and id. ``acme/CA1`` names organisation ``acme`` (a call id holds no ``/``);
    a bare ``CA1`` is of ``org``, the route's. Unchecked: whether ``acme`` exists."""
    head, slash, ident = value.partition("/")
    return (head, ident) if slash else (org, value)


def _org(org: str) -> str:
    if org != DEFAULT_ORG and not ORG_PATTERN.fullmatch(org):
        raise BadStreamId(ORG_RULE)
    return org


ORG_PREFIX = "/o/"  # a page or API path of an organisation other than the default one
PAGE_PATHS = {"call": "/calls/", "campaign": "/campaigns/"}


def org_path(org: str, path: str) -> str:
    """``path`` (the default organisation's, from ``/``) as organisation ``org`` serves it:
    unchanged for the default one, ``/o/<org>`` + ``path`` for any other."""
    return path if org == DEFAULT_ORG else f"{ORG_PREFIX}{org}{path}"


def stream_path(key: StreamKey) -> str:
    """The dashboard page of ``key``, as a path: ``/calls/<sid>``, ``/campaigns/<id>``, and
    another organisation's the same under ``/o/<org>`` (``/o/acme/calls/CA1``).

    The one place a stream's page path is built outside the routes (alert messages' links;
    templates may use it too), so it follows the URL scheme wherever it changes."""
    return org_path(key.org, PAGE_PATHS[key.kind] + quoted(key.id))
