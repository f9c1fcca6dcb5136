"""How a call is named on screen: by its caller and assistant, never by its raw id alone.

:func:`caller_text` is the ONE place a caller's number becomes display text:
every page, card, alert and notification goes through it (as the ``caller``
filter). The numbers arrive labelled already: the upstream and REST clients
pass them through :func:`webapp.wire.caller.caller_label` as they read them
(``REDACTION_CALLER_NUMBERS``: the last four digits by default), so no raw
number reaches a page, a stream, Redis or a post.
The raw call id stays in the link's URL and its tooltip.
"""

from __future__ import annotations


def caller_text(number: str | None) -> str:
    """A caller's number as people see it on every screen ("" when unknown)."""
    return (number or "").strip()


def call_name(caller: str | None, assistant: str | None, sid: str) -> str:
    """``+1555… · Billing assistant``; ``call …ef755edba`` when neither is known."""
    parts = [p for p in (caller_text(caller), (assistant or "").strip()) if p]
    return " · ".join(parts) if parts else f"call …{sid[-8:]}"
