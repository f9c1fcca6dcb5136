"""Callers' phone numbers: the one place a caller's number becomes display text.

Burki names the caller's number in a call's metadata (``customer_phone_number``
on connect, ``from_number``/``to_number`` at media start) and in its REST call
rows (``customer_phone``). The same numbers are masked in transcripts, so they
are labelled where they are read (the upstream client, the REST client), before
anything stores, shows or sends them: a stream's metadata (its state, a cluster's
Redis inputs, pages, wallboard, captions, embeds, the JSON SSE API, webhooks,
chat and e-mail) and the directory's call summaries (overview, search, the
actions' confirm pages) only ever hold :func:`caller_label`'s text.

``REDACTION_CALLER_NUMBERS`` decides the label: ``last4`` (the default,
``••••0100``), ``full`` (as Burki sent it) or ``hidden`` (``[phone]``). Live
views are rendered once for every viewer, so the label is the same for every
role that may watch the call. Read a call's caller through ``CallInfo.caller``
(``webapp.wire.callinfo``: a stream's metadata, by :func:`caller_of`) or
``CallSummary.customer_phone`` (REST rows): both hold labels. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

CallerShown = Literal["last4", "full", "hidden"]
HIDDEN = "[phone]"
DOTS = "••••"
# The metadata fields that hold the caller's side of a call (the business line,
# ``to_phone_number``/``twilio_phone``, is not the caller's).
CALLER_FIELDS = ("customer_phone_number", "customer_phone", "from_number", "to_number")


def caller_label(number: object, shown: CallerShown = "last4") -> str:
    """The text a caller's ``number`` is shown as; "" when there is none.

    Idempotent: a label labelled again is the same label, so text that may
    already be one (a summary read back from a cluster's Redis) can pass
    through again. Fewer than four digits are shown as ``[phone]`` under ``last4``.
    """
    if number is None or isinstance(number, bool):
        return ""
    text = str(number).strip()[:64]
    if not text:
        return ""
    if shown == "full":
        return text
    digits = [c for c in text if c.isdigit()]
    if shown == "hidden" or len(digits) < 4:
        return HIDDEN
    return DOTS + "".join(digits[-4:])


def label_callers(metadata: Mapping[str, Any], shown: CallerShown) -> dict[str, Any]:
    """``metadata`` with each caller field's value replaced by its label."""
    return {
        name: caller_label(value, shown) if name in CALLER_FIELDS and value else value
        for name, value in metadata.items()
    }


def caller_of(metadata: Mapping[str, Any]) -> str:
    """The caller's number in a call's metadata as shown, "" when it names none.

    Metadata is labelled where it is read (:func:`label_callers`), so this picks
    the label; it never labels again (the setting may be ``full``). ``to_number``
    names the caller only on an outbound call.
    """
    outbound = str(metadata.get("call_type") or metadata.get("direction") or "").startswith("out")
    order = ("customer_phone_number", "customer_phone", "to_number" if outbound else "from_number")
    for name in order:
        if metadata.get(name):
            return str(metadata[name])
    return ""
