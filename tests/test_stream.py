"""One stream: what a viewer gets first, exact resume, its state's one writer, views, close."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tests.hubs import frames_until, hub_on, of_type
from webapp.relay.frames import Frame
from webapp.relay.stream import Stream
from webapp.relay.subscriber import Subscriber
from webapp.simulator import Simulator
from webapp.wire.streamkey import StreamKey


@dataclass
class CountingView:
    """A page view that renders each frame as its type, or fails on ``fails``."""

    name: str = "counting"
    fails: str = ""
    seen: list[str] = field(default_factory=list)

    def update(self, stream: Stream, frame: Frame) -> bytes:
        if frame.type == self.fails:
            raise RuntimeError("a template bug")
        self.seen.append(frame.type)
        return frame.type.encode()


async def test_a_new_viewer_gets_a_snapshot_a_resume_exactly_what_it_missed(
    sim: Simulator,
) -> None:
    sid = sim.add_call()
    async with hub_on(sim) as hub:
        stream = hub.stream(StreamKey.call(sid))
        first = Subscriber()
        [snapshot] = stream.attach(first, None)
        assert snapshot.type == "snapshot" and snapshot.stream == stream.key
        await frames_until(first, of_type("status", state="live"))
        mark = stream.log.last_id
        sim.add_segment(sid, "user", "one")
        sim.add_segment(sid, "user", "two")
        await frames_until(first, lambda f: f.type == "transcript" and "two" in str(f.data))
        missed = stream.attach(Subscriber(), mark)
        said = [f.data["segment"]["content"] for f in missed if f.type == "transcript"]
        assert said == ["one", "two"]
        assert [f.type for f in stream.attach(Subscriber(), "elsewhere-3")] == [
            "reset",
            "snapshot",
        ]


async def test_a_campaign_name_is_written_by_the_stream_and_sent_as_an_event_once(
    sim: Simulator,
) -> None:
    campaign = sim.add_campaign("Spring renewals")
    async with hub_on(sim) as hub:
        stream = hub.stream(StreamKey.campaign(campaign))
        sub = Subscriber()
        stream.attach(sub, None)
        await frames_until(sub, of_type("campaign_name", name="Spring renewals"))
        stream.name_campaign("Spring renewals")  # the page fetched the same name: no event
        stream.name_campaign("Autumn renewals")
        renamed = await frames_until(sub, of_type("campaign_name"))
        assert [f.data["name"] for f in renamed] == ["Autumn renewals"]
        assert stream.snapshot().data["name"] == "Autumn renewals"


async def test_each_frame_is_rendered_once_per_watched_view_and_a_failing_view_stops_nothing(
    sim: Simulator,
) -> None:
    sid = sim.add_call()
    async with hub_on(sim) as hub:
        stream = hub.stream(StreamKey.call(sid))
        good, bad = CountingView(), CountingView(name="bad", fails="transcript")
        stream.watch_view(good)
        stream.watch_view(bad)
        sub = Subscriber()
        stream.attach(sub, None)
        await frames_until(sub, of_type("status", state="live"))
        sim.add_segment(sid, "user", "hello")
        [*_, said] = await frames_until(sub, of_type("transcript"))
        assert said.html == {"counting": b"transcript"}  # "bad" failed: its page resets
        assert stream.for_view([said], bad) == [stream.snapshot()]
        assert stream.for_view([said], good) == [said]
        assert good.seen.count("transcript") == 1


async def test_a_completed_call_ends_its_viewers_and_close_ends_the_rest(sim: Simulator) -> None:
    sid = sim.add_call()
    async with hub_on(sim) as hub:
        stream = hub.stream(StreamKey.call(sid))
        sub, other = Subscriber(), Subscriber()
        stream.attach(sub, None)
        stream.attach(other, None)
        await frames_until(sub, of_type("status", state="live"))
        sim.set_call_status(sid, "completed")
        await frames_until(sub, of_type("end"))
        assert stream.ended and stream.connection_state == "ended"
        await stream.close("retired")
        assert other.closed_reason == "retired" and stream.subscribers == set()


class Recording(Subscriber):
    """A subscriber that notes how its frames were offered: one list per offer."""

    def __init__(self) -> None:
        super().__init__()
        self.offers: list[list[Frame]] = []

    def offer_all(self, frames: Sequence[Frame]) -> bool:
        self.offers.append(list(frames))
        return super().offer_all(frames)


async def test_the_frames_of_one_input_are_offered_together_each_under_its_own_id(
    sim: Simulator,
) -> None:
    """A final segment makes a transcript frame carrying the call's figures (and a caller's,
    with alerts on, its sentiment), and a status line a frame of its own: each viewer gets
    an input's frames in one offer (one write), and a resume from between them is exact."""
    sid = sim.add_call()
    async with hub_on(sim) as hub:
        stream = hub.stream(StreamKey.call(sid))
        sub = Recording()
        stream.attach(sub, None)
        await frames_until(sub, of_type("status", state="live"))
        sim.add_segment(sid, "user", "one final segment")
        await frames_until(sub, of_type("transcript"))  # its input's offer is in, whole
        said = next(o for o in sub.offers if any(f.type == "transcript" for f in o))
        assert [f.type for f in said] == ["transcript"] and "metrics" in said[0].data
        sim.set_call_status(sid, "completed")  # a status: the figures in a frame of their own
        await frames_until(sub, of_type("call_status"))
        group = next(o for o in sub.offers if any(f.type == "call_status" for f in o))
        assert [f.type for f in group][:2] == ["call_status", "metrics"]
        ids = [f.id for f in group]
        logged = [f.id for f in stream.log.since(mark(ids)) or []]
        assert len(set(ids)) == len(ids) and ids == logged[: len(ids)]
        after_status = stream.attach(Subscriber(), ids[0])
        assert [f.id for f in after_status] == logged[1:]


def mark(ids: list[str]) -> str:
    """The id just before the first of ``ids`` (same epoch, one less)."""
    epoch, seq = ids[0].rsplit("-", 1)
    return f"{epoch}-{int(seq) - 1}"
