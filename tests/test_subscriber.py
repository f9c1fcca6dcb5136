"""One viewer's bounded queue: order, latest-wins progress, and cutting a slow viewer."""

from __future__ import annotations

import asyncio

from webapp.relay.frames import Frame, render
from webapp.relay.heartbeats import heartbeats_of
from webapp.relay.subscriber import Subscriber
from webapp.wire.streamkey import StreamKey

_seq = iter(range(1, 1_000_000))


def frame(type: str, stream: str = "campaign:42", **data: object) -> Frame:
    return render(f"e-{next(_seq)}", type, data, StreamKey.parse(stream))


def drain(sub: Subscriber) -> list[Frame]:
    taken = list(sub._queue)
    sub._queue.clear()
    return taken


async def test_frames_come_out_in_the_order_they_were_offered() -> None:
    sub = Subscriber()
    frames = [frame("transcript", "call:CA1", n=n) for n in range(5)]
    assert all(sub.offer(f) for f in frames)
    assert await sub.get_batch() == frames


async def test_latest_progress_wins_and_every_other_event_is_kept() -> None:
    sub = Subscriber()
    offered = [
        frame("progress", n=1),
        frame("contact", n=1),
        frame("progress", n=2),
        frame("progress", "campaign:7", n=1),
        frame("progress", n=3),
        frame("campaign_completed"),
        frame("end"),
    ]
    for f in offered:
        assert sub.offer(f)
    kept = drain(sub)
    assert [(f.type, f.data["stream"], f.data.get("n")) for f in kept] == [
        ("contact", "campaign:42", 1),
        ("progress", "campaign:7", 1),
        ("progress", "campaign:42", 3),
        ("campaign_completed", "campaign:42", None),
        ("end", "campaign:42", None),
    ]
    ids = [int(f.id.split("-")[1]) for f in kept]
    assert ids == sorted(ids)
    assert sub.coalesced == 2


async def test_a_progress_already_taken_by_the_reader_is_not_coalesced() -> None:
    sub = Subscriber()
    first = frame("progress", n=1)
    sub.offer(first)
    assert await sub.get_batch() == [first]
    second = frame("progress", n=2)
    sub.offer(second)
    assert await sub.get_batch() == [second]
    assert sub.coalesced == 0


async def test_progress_coalescing_keeps_a_full_queue_from_overflowing() -> None:
    sub = Subscriber(capacity=2)
    sub.offer(frame("transcript"))
    for n in range(10):
        assert sub.offer(frame("progress", n=n))
    assert sub.closed_reason is None
    assert [f.data.get("n") for f in drain(sub)] == [None, 9]


async def test_overflow_cuts_the_subscriber_and_wakes_a_blocked_reader() -> None:
    sub = Subscriber(capacity=3)
    reader = asyncio.create_task(sub.get_batch())
    await asyncio.sleep(0)  # the reader is now waiting on an empty queue
    first = frame("transcript")
    sub.offer(first)
    assert await reader == [first]
    for _ in range(3):
        assert sub.offer(frame("transcript"))
    assert sub.offer(frame("transcript")) is False
    assert sub.closed_reason == "queue_full"
    assert await asyncio.wait_for(sub.get_batch(), 1) is None  # the backlog is gone with it
    assert sub.offer(frame("end")) is False


async def test_a_blocked_reader_is_woken_by_overflow_while_it_waits() -> None:
    sub = Subscriber(capacity=1)
    sub.offer(frame("transcript"))
    assert await sub.get_batch() is not None
    reader = asyncio.create_task(sub.get_batch())
    await asyncio.sleep(0)
    assert sub.offer(frame("transcript"))  # the reader is woken, but has not run yet...
    assert sub.offer(frame("transcript")) is False  # ...when this one overflows
    assert await asyncio.wait_for(reader, 1) is None


async def test_close_wakes_a_waiting_reader_with_end_of_stream() -> None:
    sub = Subscriber()
    reader = asyncio.create_task(sub.get_batch())
    await asyncio.sleep(0)
    assert not reader.done()
    sub.close("viewer left")
    assert await asyncio.wait_for(reader, 1) is None
    assert sub.closed_reason == "viewer left"


async def test_close_still_delivers_frames_already_queued_unless_discarded() -> None:
    sub = Subscriber()
    end = frame("end")
    sub.offer(end)
    sub.close("call ended")
    sub.close("shutdown")  # the first reason sticks
    assert sub.offer(frame("transcript")) is False
    assert await sub.get_batch() == [end]
    assert await sub.get_batch() is None
    assert sub.closed_reason == "call ended"

    dropped = Subscriber()
    dropped.offer(frame("transcript"))
    dropped.close("shutdown", discard=True)
    assert await dropped.get_batch() is None


async def test_get_batch_returns_a_burst_as_one_batch_in_order() -> None:
    sub = Subscriber(capacity=8)
    frames = [render(f"e-{n}", "transcript", {"n": n}, StreamKey.call("CA1")) for n in range(1, 4)]
    for frame in frames:
        assert sub.offer(frame)
    assert await sub.get_batch() == frames
    sub.close("done")
    assert await sub.get_batch() is None


async def test_a_heartbeat_comes_as_an_empty_batch_from_the_subscribers_own_timer() -> None:
    sub = Subscriber(capacity=8, heartbeat=0.01)
    assert await asyncio.wait_for(sub.get_batch(), 1) == []
    assert await asyncio.wait_for(sub.get_batch(), 1) == []  # and again, on its own
    sub.close("done")
    assert await sub.get_batch() is None


async def parked(sub: Subscriber) -> asyncio.Task[list[Frame] | None]:
    """A reader waiting in ``get_batch`` with nothing queued."""
    reader = asyncio.create_task(sub.get_batch())
    await asyncio.sleep(0)  # one step: the reader runs up to its wait
    assert sub._parked
    return reader


async def test_a_burst_for_a_parked_reader_goes_to_the_direct_path_in_one_call() -> None:
    sub, calls = Subscriber(), []
    sub.direct = lambda frames: calls.append(frames) or True
    reader = await parked(sub)
    burst = [frame("transcript", "call:CA1"), frame("sentiment", "call:CA1")]
    assert all(sub.offer(f) for f in burst)
    await asyncio.sleep(0)  # the loop's flush
    assert calls == [burst] and len(sub) == 0 and sub.direct_writes == 2
    assert not reader.done()  # never woken
    reader.cancel()


async def test_frames_the_socket_cannot_take_now_go_to_the_reader_in_order() -> None:
    sub = Subscriber()
    sub.direct = lambda frames: False
    reader = await parked(sub)
    burst = [frame("transcript", "call:CA1", n=n) for n in range(3)]
    assert all(sub.offer(f) for f in burst)
    assert await reader == burst
    assert sub.direct_writes == 0


async def test_a_close_in_the_middle_of_a_burst_still_delivers_it_through_the_reader() -> None:
    sub, calls = Subscriber(), []
    sub.direct = lambda frames: calls.append(frames) or True
    reader = await parked(sub)
    end = frame("end", "call:CA1")
    assert sub.offer(end)
    sub.close("ended")
    assert await reader == [end]
    await asyncio.sleep(0)
    assert calls == []


async def test_offering_several_frames_wakes_the_reader_once_with_all_of_them_in_order() -> None:
    sub = Subscriber()
    reading = asyncio.create_task(sub.get_batch())
    await asyncio.sleep(0)  # the reader is parked
    frames = [frame("transcript", "call:CA1", n=1), frame("metrics", "call:CA1", n=1)]
    assert sub.offer_all(frames)
    assert await reading == frames


async def test_offering_several_frames_past_the_bound_cuts_the_viewer_and_keeps_none() -> None:
    sub = Subscriber(capacity=2)
    assert not sub.offer_all([frame("transcript", "call:CA1", n=n) for n in range(3)])
    assert sub.closed_reason == "queue_full" and len(sub) == 0
    assert not sub.offer(frame("transcript", "call:CA1", n=4))


async def test_a_heartbeat_is_due_only_after_a_period_without_frames() -> None:
    """A viewer that is being sent frames needs no heartbeat: the sweep looks twice a
    period, and only one that finds nothing sent since its last look beats."""
    sub = Subscriber(capacity=8, heartbeat=60.0)
    beats = heartbeats_of(asyncio.get_running_loop(), 60.0)
    reader = await parked(sub)  # joins the loop's sweep
    sent = frame("transcript", "call:CA1")
    sub.offer(sent)
    assert await reader == [sent]
    beats.sweep()  # frames went out in this half period
    assert not sub._beat
    beats.sweep()  # the next look: a silent half period
    assert sub._beat
    assert await asyncio.wait_for(sub.get_batch(), 1) == []
    sub.close("done")
    assert sub not in beats.subscribers


async def test_a_due_heartbeat_goes_to_the_direct_path_without_waking_the_reader() -> None:
    sub, calls = Subscriber(capacity=8, heartbeat=60.0), []
    sub.direct = lambda frames: calls.append(frames) or True
    beats = heartbeats_of(asyncio.get_running_loop(), 60.0)
    reader = await parked(sub)
    beats.sweep()  # what went out before it waited counts: no heartbeat yet
    beats.sweep()
    assert calls == [[]] and not reader.done()
    beats.sweep()  # the heartbeat counts as sent: the next is a period later
    assert calls == [[]]
    beats.sweep()
    assert calls == [[], []] and not reader.done()
    sub.close("done")
    assert await reader is None


async def test_many_waiting_viewers_share_one_heartbeat_timer() -> None:
    loop = asyncio.get_running_loop()
    timers = len(getattr(loop, "_scheduled"))  # noqa: B009
    subs = [Subscriber(capacity=8, heartbeat=30.0) for _ in range(100)]
    readers = [await parked(sub) for sub in subs]
    assert len(getattr(loop, "_scheduled")) - timers <= 1  # noqa: B009
    for sub in subs:
        sub.close("done")
    assert [await reader for reader in readers] == [None] * 100
