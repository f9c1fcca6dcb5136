"""The open-source Burki server's own habits, as recorded from it (``../shared/burki-traces/``).

Used by the simulator in open-source mode (``oss_quirks``): the call ids of other
telephony providers, and the ``call_status`` shapes of its live broadcasts. The
rest of the mode lives where each habit acts (the session, the REST routes).
"""

from __future__ import annotations

import base64
import random
import uuid
from datetime import datetime

from webapp.simulator.model import Call
from webapp.simulator.wire import Frame, naive

NULL_TIMING_EVERY = 4
"""Every fourth stored segment has null ``segment_start``/``segment_end``."""

CALLER_CLOCK_AHEAD = 2.0
"""Seconds the caller's segment times run ahead of the assistant's: the server times the
caller on the speech recogniser's stream clock and the assistant in seconds since the
call started, and the two start at different moments (so an answer seems to start
before its question ended)."""


def telnyx_call_id(rng: random.Random) -> str:
    """A Telnyx call control id: ``v3:`` and a long URL-safe token."""
    token = base64.urlsafe_b64encode(rng.randbytes(48)).decode().rstrip("=")
    return f"v3:{token}"


def uuid_call_id(rng: random.Random) -> str:
    """A Vonage-style call id: a UUID."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def provider_call_id(sid: str, n: int, rng: random.Random) -> str:
    """The ``n``-th demo call's id: Twilio (``sid`` as is), Telnyx or UUID, in turn."""
    return (sid, telnyx_call_id(rng), uuid_call_id(rng))[n % 3]


def live_start(call: Call, now: datetime) -> Frame:
    """The broadcast when media starts: ``in-progress`` and the third metadata shape."""
    return {
        "type": "call_status",
        "call_sid": call.call_sid,
        "timestamp": naive(now),
        "status": "in-progress",
        "metadata": {
            "assistant_id": call.assistant_id,
            "to_number": call.twilio_phone,
            "from_number": call.customer_phone,
            "call_type": call.direction,
        },
    }


def live_status(call: Call, now: datetime) -> Frame:
    """A live status change: the start shape, or the end's ``duration`` only."""
    if call.status == "in-progress":
        return live_start(call, now)
    return {
        "type": "call_status",
        "call_sid": call.call_sid,
        "timestamp": naive(now),
        "status": call.status,
        "metadata": {"duration": call.duration},
    }
