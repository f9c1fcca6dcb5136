"""How a call is named on screen: by its caller and assistant, never by its raw id alone.

:func:`caller_text` is the ONE place a caller's number becomes display text:
every page, card, alert and notification goes through it (as the ``caller``
filter), so how numbers are shown (in full, masked) is decided here once.
The raw call id stays in the link's URL and its tooltip.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

MAX_REMEMBERED = 4096  # assistant names kept by call id (the last calls Burki listed)
_assistants: OrderedDict[str, str] = OrderedDict()


class Listed(Protocol):
    @property
    def call_sid(self) -> str: ...
    @property
    def assistant_name(self) -> str | None: ...


def remember_assistants(calls: Iterable[Listed]) -> None:
    """Burki's call list names each call's assistant; a call's live stream often carries only
    its ``assistant_id``. Kept (bounded) so cards and captions can name the assistant."""
    for call in calls:
        if call.assistant_name:
            _assistants[call.call_sid] = call.assistant_name
            _assistants.move_to_end(call.call_sid)
    while len(_assistants) > MAX_REMEMBERED:
        _assistants.popitem(last=False)


def assistant_of(sid: str, metadata: Mapping[str, Any]) -> str | None:
    """The call's assistant by name: as its stream says, else as Burki's list said."""
    name = metadata.get("assistant_name")
    return name if isinstance(name, str) and name else _assistants.get(sid)


NUMBER_FIELDS = ("customer_phone_number", "from_number", "customer_phone", "to_phone_number")


def caller_text(number: str | None) -> str:
    """A caller's number as people see it on every screen ("" when unknown)."""
    return (number or "").strip()


def caller_of(metadata: Mapping[str, Any]) -> str | None:
    """The caller's number from a call's metadata, whichever shape Burki sent."""
    for name in NUMBER_FIELDS:
        value = metadata.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def call_name(caller: str | None, assistant: str | None, sid: str) -> str:
    """``+1555… · Billing assistant``; ``call …ef755edba`` when neither is known."""
    parts = [p for p in (caller_text(caller), (assistant or "").strip()) if p]
    return " · ".join(parts) if parts else f"call …{sid[-8:]}"
