"""Where events go: the endpoints of ``WEBHOOK_ENDPOINTS``, and how each is routed.

The setting is a JSON list of objects::

    [{"url": "https://hooks.example.com/burki", "secret": "<at least 16 characters>",
      "events": ["alert", "campaign", "call_status"]},
     {"url": "https://hooks.slack.com/services/T/B/X", "format": "slack",
      "severities": ["high"], "kinds": ["keyword", "sentiment"]}]

- ``events`` names groups of stream event types (:data:`EVENT_GROUPS`); left out,
  all of them (``alert`` only for the chat formats).
- ``format``: ``signed`` (default: the signed JSON body of
  :mod:`webapp.alerts.signed`), ``slack`` or ``teams`` (their incoming-webhook
  message formats, :mod:`webapp.alerts.slack`, :mod:`webapp.alerts.teams`). A chat hook's URL is its
  secret, so it takes no ``secret``; a signed one needs it.
- ``severities`` and ``kinds`` route alerts: only alerts of those severities
  (low, medium, high) and kinds (e.g. keyword, sentiment) go there; left out, all.
- ``org``: the slug of the one Burki organisation whose events go there; left out, the
  route is global and gets every organisation's (each payload names its organisation).

The e-mail route is built from the ``ALERT_EMAIL_*`` settings as one more
endpoint of format ``email`` (its URL the SMTP server's ``smtp://host:port``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import httpx

from webapp.wire.streamkey import ORG_PATTERN, ORG_RULE

Format = Literal["signed", "slack", "teams", "email"]
FORMATS: tuple[Format, ...] = ("signed", "slack", "teams")  # what the setting may name
SEVERITIES = ("low", "medium", "high")
EVENT_GROUPS: dict[str, frozenset[str]] = {
    "campaign": frozenset({"progress", "contact", "campaign_completed"}),
    "alert": frozenset({"alert"}),
    "call_status": frozenset({"call_status"}),
}
MIN_SECRET_LENGTH = 16
_KEYS = frozenset({"url", "secret", "events", "format", "severities", "kinds", "org"})


@dataclass(frozen=True, slots=True, repr=False)
class Endpoint:
    url: str
    secret: str
    events: frozenset[str] = frozenset(EVENT_GROUPS)
    format: Format = "signed"
    severities: frozenset[str] = frozenset()  # empty: every severity
    kinds: frozenset[str] = frozenset()  # empty: every kind of alert
    org: str = ""  # the one organisation whose events come here; "": every one's (global)

    def __repr__(self) -> str:
        return f"Endpoint(url={self.safe_url!r}, events={sorted(self.events)!r})"

    def sees(self, org: str) -> bool:
        """Whether organisation ``org``'s events may come here (a global route sees all)."""
        return not self.org or self.org == org

    def wants(self, type: str, data: dict[str, Any] | None = None) -> bool:
        """Whether an event of this SSE ``type`` (an alert: of this severity and kind) goes here."""
        if not any(type in EVENT_GROUPS.get(group, ()) for group in self.events):
            return False
        if type != "alert" or data is None:
            return True
        if self.severities and data.get("severity") not in self.severities:
            return False
        return not self.kinds or data.get("kind") in self.kinds

    @property
    def safe_url(self) -> str:
        return safe_url(self.url)

    @property
    def secrets(self) -> tuple[str, ...]:
        """What log lines must mask: the secret, and the URL's password, query and fragment,
        and for a chat hook its path (Slack's and Teams' hooks carry their secret there).

        httpx logs every request's full URL at INFO; give these to the logging
        set-up's redacting filter.
        """
        parts = urlsplit(self.url)
        values = [value for _, value in parse_qsl(parts.query)]
        path = parts.path if self.format in ("slack", "teams") and len(parts.path) > 1 else ""
        found = (self.secret, parts.password, parts.query, *values, parts.fragment, path)
        return tuple(dict.fromkeys(s for s in found if s))


def safe_url(url: str) -> str:
    """``url`` as scheme, host and a short hash of the whole URL: ``https://host/…#1a2b3c4d``.

    Secrets hide in userinfo, the query, the fragment and, for Slack-style
    hooks, the path itself; the hash still tells two endpoints on one host apart.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "(invalid URL)"
    host = f"[{host}]" if ":" in host else host
    netloc = host if port is None else f"{host}:{port}"
    digest = hashlib.sha256(url.encode()).hexdigest()[:8]
    return urlunsplit((parts.scheme, netloc, "/…", "", digest))


def parse_endpoints(text: str) -> list[Endpoint]:
    """The endpoints in a setting string (format above); blank gives none.

    Raises ValueError with a one-line message naming the endpoint by position;
    the message never holds a secret or a whole URL.
    """
    if not text.strip():
        return []
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        # from None: the exception's .doc holds the whole text, secrets and all.
        where = f"line {exc.lineno} column {exc.colno}"
        raise ValueError(f"webhook endpoints are not valid JSON ({exc.msg} at {where})") from None
    if not isinstance(raw, list):
        raise ValueError("webhook endpoints must be a JSON list of objects")
    return [_endpoint(item, number) for number, item in enumerate(raw, start=1)]


def _endpoint(item: object, number: int) -> Endpoint:
    where = f"webhook endpoint {number}"
    if not isinstance(item, dict):
        raise ValueError(f"{where} must be an object with url, secret and events")
    if unknown := sorted(str(key)[:20] for key in set(item) - _KEYS):
        raise ValueError(
            f"{where}: unknown key(s) {', '.join(unknown)} ({', '.join(sorted(_KEYS))})"
        )
    url, format = item.get("url"), item.get("format", "signed")
    if not isinstance(url, str) or not _is_http_url(url):
        raise ValueError(f"{where}: url must be an http or https URL with a host")
    if format not in FORMATS:
        raise ValueError(f"{where}: format must be one of {', '.join(FORMATS)}")
    secret = item.get("secret", "" if format != "signed" else None)
    if not isinstance(secret, str) or (format == "signed" and len(secret) < MIN_SECRET_LENGTH):
        raise ValueError(f"{where}: secret must be a string of {MIN_SECRET_LENGTH}+ characters")
    default = sorted(EVENT_GROUPS) if format == "signed" else ["alert"]
    events = _names(item.get("events", default), EVENT_GROUPS, f"{where}: events", "event group")
    severities = _names(item.get("severities", []), SEVERITIES, f"{where}: severities", "severity")
    kinds = item.get("kinds", [])
    if not isinstance(kinds, list) or not all(isinstance(k, str) and k for k in kinds):
        raise ValueError(f"{where}: kinds must be a list of alert kinds (e.g. keyword)")
    return Endpoint(url, secret, events, format, severities, frozenset(kinds), org(item, where))


def org(item: dict[str, Any], where: str) -> str:
    """The route's organisation (its slug), "" when it has none (a global route)."""
    found = item.get("org", "")
    if found == "":
        return ""
    if not isinstance(found, str) or not ORG_PATTERN.fullmatch(found):
        raise ValueError(f"{where}: org must be an organisation's slug ({ORG_RULE})")
    return found


def _names(value: object, allowed: Any, what: str, noun: str) -> frozenset[str]:
    choices = ", ".join(sorted(allowed))
    if not isinstance(value, list) or (noun == "event group" and not value):
        raise ValueError(f"{what} must be a non-empty list of {choices}")
    if bad := [str(v)[:20] for v in value if not isinstance(v, str) or v not in allowed]:
        raise ValueError(f"{what}: unknown {noun}(s) {', '.join(bad)} ({choices})")
    return frozenset(value)


def _is_http_url(url: str) -> bool:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return False
    return parsed.scheme in ("http", "https") and bool(parsed.host)
