"""Jinja2 for pages and fragments: one environment, autoescape on, blocks rendered alone.

Every live region of a page is a named block. The page renders it in place on
first load; :func:`render_block` renders the same block alone for each SSE
update, so both come from one source.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import pass_context
from starlette.datastructures import URL
from starlette.requests import Request
from starlette.templating import Jinja2Templates

from webapp.access.csrf import csrf_token
from webapp.pages.callers import call_name, caller_text
from webapp.pages.orgscope import nav_base, switcher
from webapp.pages.state import state_of
from webapp.wire.streamkey import quoted

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"  # beside webapp/, not in it


def _who(request: Request) -> dict[str, Any]:
    """Who is signed in, the CSRF token for their forms, whether the data is simulated, and
    the organisation switcher's entries (every page, embeds and error pages too; not SSE
    fragments)."""
    principal = request.scope.get("state", {}).get("principal")
    token = csrf_token(request) if "session" in request.scope else ""
    running = state_of(request.app)
    return {
        "principal": principal,
        "csrf": token,
        "demo_data": bool(running and running.demo),
        "org_choices": switcher(request),
        "nav_base": nav_base(request),
    }


templates = Jinja2Templates(directory=TEMPLATES, context_processors=[_who])
env = templates.env


@pass_context
def url_in(context: Any, home: str, name: str, /, **params: Any) -> URL:
    """``url_for`` of route ``name`` as the organisation whose URLs start at ``home`` serves
    it (``""``: the default one's, unchanged; ``/o/acme``: the same path under it)."""
    url: URL = context["request"].url_for(name, **params)
    return url.replace(path=home + url.path) if home else url


def render_block(template: str, block: str, context: dict[str, Any]) -> str:
    """Render one named block of ``template`` with ``context`` (autoescaped)."""
    compiled = env.get_template(template)
    return "".join(compiled.blocks[block](compiled.new_context(context)))


def clock(value: str | None) -> str:
    """``2026-11-24T10:02:03Z`` -> ``10:02:03`` (UTC); empty when unknown."""
    if not value:
        return ""
    try:
        return datetime.fromisoformat(value).strftime("%H:%M:%S")
    except ValueError:
        return ""


def duration(seconds: float | None) -> str:
    """Seconds -> ``m:ss`` or ``h:mm:ss``."""
    if seconds is None:
        return ""
    total = max(int(seconds), 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def secs(value: float | None) -> str:
    """Seconds as ``3.1 s``; ``n/a`` when unknown."""
    return "n/a" if not isinstance(value, int | float) else f"{value:.1f} s"


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}%"


_STATUS_WORDS = {"in-progress": "in progress", "no-answer": "no answer"}


def status_word(status: str | None) -> str:
    """A call status as people read it (``in-progress`` -> ``in progress``)."""
    return _STATUS_WORDS.get(status or "", status or "")


CAMPAIGN_WORDS = {
    "running": "running",
    "paused": "paused",
    "completed": "finished",
    "cancelled": "stopped",
    "failed": "failed",
    "unknown": "status not known yet",
}


def campaign_status(status: str | None) -> str:
    """A campaign status as people read it (a stopped campaign is Burki's ``cancelled``)."""
    return CAMPAIGN_WORDS.get(status or "", status or "")


def campaign_title(name: str | None, ident: object) -> str:
    """A campaign's name with its id, once: Burki's names often end in ``#<id>`` already."""
    tag = f"#{ident}"
    if not name:
        return f"Campaign {tag}"
    return name if name.rstrip().endswith(tag) else f"{name} {tag}"


_DOM_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-")


def dom_id(ident: str) -> str:
    """``ident`` as the tail of an HTML id that is also a plain CSS selector.

    Call ids may hold ``:``, ``.`` or ``~`` (Telnyx's ``v3:...``), which would break
    ``#card-<id>``; each other character becomes ``_`` and its hex code, so
    distinct ids stay distinct.
    """
    return "".join(c if c in _DOM_SAFE else f"_{ord(c):02x}" for c in ident)


env.filters.update(
    clock=clock,
    duration=duration,
    percent=percent,
    secs=secs,
    status_word=status_word,
    dom_id=dom_id,
    urlpart=quoted,
    caller=caller_text,
    campaign_status=campaign_status,
)
env.globals.update(call_name=call_name, campaign_title=campaign_title, url_in=url_in)
