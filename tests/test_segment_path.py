"""One segment's path from Burki's frame to a viewer's queue, followed call by call: it enters
the stream once and never comes back into the relay from a page, and the rooms it crosses
stay small."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from tests import configs
from webapp.alerts.callalerts import CallAlerts
from webapp.alerts.keywords import KeywordRule
from webapp.pages import views
from webapp.relay.bulletin import Bulletin
from webapp.relay.config import Integrations
from webapp.relay.metrics import Metrics
from webapp.relay.stream import Stream
from webapp.relay.subscriber import Subscriber
from webapp.wire.callinfo import CallInfo
from webapp.wire.events import CallStatus, Transcript
from webapp.wire.streamkey import StreamKey

PACKAGE = Path(__file__).resolve().parent.parent / "webapp"
SID = "CA1"
T0 = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)


async def _retire(stream: Stream) -> None:
    return None


def module_of(frame: FrameType | None) -> str:
    return frame.f_globals.get("__name__", "") if frame is not None else ""


@contextmanager
def calls_into_webapp() -> Iterator[list[tuple[str, str, list[str]]]]:
    """Every call made into a ``webapp`` module while inside: (callee, caller, the modules of
    the frames below it)."""
    seen: list[tuple[str, str, list[str]]] = []

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event != "call" or not module_of(frame).startswith("webapp."):
            return
        below, back = [], frame.f_back
        while back is not None:
            below.append(module_of(back))
            back = back.f_back
        seen.append((module_of(frame), module_of(frame.f_back), below))

    sys.setprofile(profile)
    try:
        yield seen
    finally:
        sys.setprofile(None)


async def test_a_final_segment_enters_the_stream_once_and_never_goes_relay_pages_relay() -> None:
    rules = (KeywordRule("refund", severity="high"),)
    integrations = Integrations(
        alerts=lambda: CallAlerts(configs.alerts(rules=rules)),
        redaction=configs.redaction(),
        bulletin=Bulletin(),
    )
    stream = Stream(StreamKey.call(SID), None, configs.relay(), Metrics(), _retire, integrations)  # type: ignore[arg-type]
    stream.watch_view(views.CALL)
    stream.attach(Subscriber(), None)
    stream.feed(CallStatus(SID, "in-progress", T0, {"started_at": T0.isoformat()}))
    mark = stream.log.last_id
    said = Transcript(SID, "user", "I want a refund, card 4111 1111 1111 1111.", at=T0)
    with calls_into_webapp() as seen:
        stream.feed(said)
    entries = Counter(callee for callee, caller, _ in seen if callee != caller)
    assert entries["webapp.relay.stream"] == 1, [c for c in seen if c[0] == "webapp.relay.stream"]
    under_pages = [
        (callee, caller)
        for callee, caller, below in seen
        if callee.startswith("webapp.relay.") and any(m.startswith("webapp.pages.") for m in below)
    ]
    assert under_pages == []
    frames = stream.log.since(mark) or []
    assert [frame.type for frame in frames] == ["transcript", "alert"]
    assert {"segment", "sentiment", "metrics"} <= frames[0].data.keys()  # riding the segment
    assert all("call" in frame.html for frame in stream.log.since(mark) or [])
    stream.alarms.close()


def test_a_call_ends_at_its_start_plus_burkis_length_else_at_its_ended_at() -> None:
    started = "2027-01-15T08:00:00Z"
    by_length = CallInfo.of({"started_at": started, "duration": 42, "ended_at": "garbage"})
    assert by_length.end == datetime(2027, 1, 15, 8, 0, 42, tzinfo=UTC)
    told = CallInfo.of({"started_at": started, "ended_at": "2027-01-15T08:01:00+00:00"})
    assert told.end == datetime(2027, 1, 15, 8, 1, tzinfo=UTC)
    assert CallInfo.of({"duration": True, "assistant_id": True}) == CallInfo()


def test_no_module_of_the_calls_and_relay_rooms_is_over_400_lines_nor_the_stream_over_300() -> None:
    lines = {
        path.relative_to(PACKAGE).as_posix(): len(path.read_text().splitlines())
        for room in ("calls", "relay")
        for path in (PACKAGE / room).glob("*.py")
    }
    assert {name: n for name, n in lines.items() if n > 400} == {}
    assert lines["relay/stream.py"] < 300
