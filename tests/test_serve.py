"""The one relay loop: batches become writes, a due heartbeat its bytes, the end ends it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import aclosing

from starlette.requests import Request

from webapp.delivery.serve import batches, last_event_id
from webapp.delivery.sseresponse import _SINK
from webapp.relay.frames import Frame, render
from webapp.relay.subscriber import Subscriber
from webapp.wire.streamkey import StreamKey

KEY = StreamKey.call("CA1")


def frame(n: int, type: str = "transcript") -> Frame:
    return render(f"e-{n}", type, {"n": n}, KEY)


def ids(batch: list[Frame]) -> bytes:
    return b",".join(f.id.encode() for f in batch) + b";"


async def test_each_batch_is_one_write_and_a_closed_subscriber_ends_the_loop() -> None:
    sub = Subscriber(8)
    for n in (1, 2):
        sub.offer(frame(n))
    async with aclosing(batches(sub, ids, b"beat")) as chunks:
        assert await anext(chunks) == b"e-1,e-2;"
        sub.offer(frame(3))
        sub.close("viewer left")
        assert [chunk async for chunk in chunks] == [b"e-3;"]


async def test_a_due_heartbeat_is_written_as_the_endpoints_heartbeat_bytes() -> None:
    sub = Subscriber(8, heartbeat=0.01)
    async with aclosing(batches(sub, ids, b"beat")) as chunks:
        assert await anext(chunks) == b"beat"
        sub.offer(frame(1))
        assert await anext(chunks) == b"e-1;"


async def test_until_end_stops_right_after_the_end_frame_even_if_more_is_queued() -> None:
    sub = Subscriber(8)
    for f in (frame(1), frame(2, "end")):
        sub.offer(f)
    async with aclosing(batches(sub, ids, b"beat", until_end=True)) as chunks:
        assert [chunk async for chunk in chunks] == [b"e-1,e-2;"]
    assert sub.closed_reason is None  # it ended on the frame, not because the viewer left


def request(headers: dict[str, str], query: str = "") -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "headers": raw, "query_string": query.encode()})


def test_the_resume_position_comes_from_the_header_or_the_query_parameter() -> None:
    assert last_event_id(request({"Last-Event-ID": "ab-3"})) == "ab-3"
    assert last_event_id(request({}, "last_event_id=ab-4")) == "ab-4"
    assert last_event_id(request({"Last-Event-ID": "ab-3"}, "last_event_id=ab-4")) == "ab-3"
    assert last_event_id(request({}, "last_event_id=")) is None
    assert last_event_id(request({})) is None


async def test_a_due_heartbeat_goes_straight_to_the_socket_when_the_response_offers_it() -> None:
    """No write through the server for a heartbeat a writable socket takes now."""
    written: list[bytes] = []
    beat = asyncio.Event()

    class Sink:
        def write(self, chunk: bytes) -> bool:
            written.append(chunk)
            beat.set()
            return True

        def frames(
            self, encode: Callable[[list[Frame]], bytes], heartbeat: bytes, until_end: bool
        ) -> Callable[[list[Frame]], bool]:
            return lambda frames: self.write(encode(frames) if frames else heartbeat)

    sink = Sink()
    sub = Subscriber(8, heartbeat=0.01)
    token = _SINK.set(sink)
    try:
        chunks = batches(sub, ids, b"beat")
        async with aclosing(chunks):
            sub.offer(frame(1))
            assert await anext(chunks) == b"e-1;"  # the reader's own write
            rest = asyncio.create_task(anext(chunks, None))
            await asyncio.wait_for(beat.wait(), 5)
            sub.close("done")
            assert await rest is None  # the heartbeat was never the response's to write
    finally:
        _SINK.reset(token)
    assert set(written) == {b"beat"}
