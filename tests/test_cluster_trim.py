"""A capped input log on real Redis: a node that cannot read it from the start, or fell
behind what it keeps, numbers its frames apart (reset + snapshot), never under ids that
name other frames on other nodes; and a new holder publishes no request twice."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
import redis
from redis.asyncio import Redis

from tests import configs
from tests.cluster import LEASE, flush, redis_module
from tests.live import SESSION_SECRET
from tests.redisserver import RedisServer
from tests.test_cluster import HeldBack, _answered, _answers, hub_of
from webapp.cluster import codec
from webapp.cluster.bus import Bus
from webapp.relay.frames import Frame
from webapp.relay.inputs import ClaimMade
from webapp.relay.stream import Stream
from webapp.relay.subscriber import Subscriber
from webapp.simulator import Simulator
from webapp.wire.streamkey import StreamKey

__all__ = ["redis_module"]  # the module's redis-server fixture

KEPT = 4  # inputs the log keeps (MAXLEN ~ 4, in stream nodes of 4 entries)
SAID = 40  # lines said: far more inputs than the log keeps


@pytest.fixture
def trimming(redis_module: RedisServer) -> Iterator[RedisServer]:
    """A flushed Redis whose streams are stored in nodes of ``KEPT`` entries, so that
    ``MAXLEN ~ KEPT`` trims the log to a handful of entries (as 20,000 does a long call)."""
    flush(redis_module)
    with redis.Redis.from_url(redis_module.url) as client:
        client.config_set("stream-node-max-entries", KEPT)
        try:
            yield redis_module
        finally:
            client.config_set("stream-node-max-entries", 100)


def capped(server: RedisServer, node: str) -> Bus:
    config = configs.bus(node, LEASE, log_entries=KEPT, secret=SESSION_SECRET)
    return Bus(Redis.from_url(server.url, decode_responses=True), config)


def watching(stream: Stream, last_id: str | None = None) -> tuple[Subscriber, list[Frame]]:
    """A viewer of ``stream`` (as the SSE endpoint attaches one), and what it got first."""
    sub = Subscriber(capacity=1000)
    return sub, stream.attach(sub, last_id)


async def until_line(sub: Subscriber, content: str) -> list[Frame]:
    """The frames ``sub`` gets until one shows the line ``content``."""
    got: list[Frame] = []
    async with asyncio.timeout(15):
        while not any(content in json.dumps(f.data) for f in got):
            batch = await sub.get_batch()
            assert batch is not None, "the viewer was cut"
            got += batch
    return got


def numbered(stream: Stream) -> dict[str, str]:
    """Every frame the stream numbered, by id (its replay log holds them all here)."""
    frames = stream.log.since(f"{stream.log.epoch}-0") or []
    return {f.id: f.type + json.dumps(f.data, sort_keys=True) for f in frames}


def same_ids_same_frames(one: Stream, other: Stream) -> None:
    a, b = numbered(one), numbered(other)
    assert a and b
    assert [i for i in a.keys() & b.keys() if a[i] != b[i]] == []


async def first_kept(server: RedisServer, key: StreamKey) -> int:
    """The number of the oldest input the log still keeps."""
    async with Redis.from_url(server.url, decode_responses=True) as client:
        oldest = await client.xrange(f"burki:in:{key}", count=1)
    return int(oldest[0][1]["n"])


async def say_many(sim: Simulator, sid: str, holder: Subscriber) -> None:
    for n in range(SAID):
        sim.add_segment(sid, "user", f"line {n}")
    await until_line(holder, f"line {SAID - 1}")


@asynccontextmanager
async def holding(
    sim: Simulator, server: RedisServer, key: StreamKey
) -> AsyncIterator[tuple[Stream, Subscriber]]:
    """Node 1 holds ``key`` (its upstream runs): its stream, and a viewer of it."""
    async with hub_of(sim, capped(server, "node-1")) as hub:
        stream = hub.stream(key)
        viewer, _ = watching(stream)
        await sim.wait_for_connections(str(key), 1)
        yield stream, viewer


def resumes_apart(one: Stream, other: Stream) -> None:
    """A viewer of either node resuming on the other gets reset + snapshot."""
    for here, there in ((one, other), (other, one)):
        _, first = watching(there, here.log.last_id)
        assert [f.type for f in first] == ["reset", "snapshot"]


async def test_a_node_starting_on_a_trimmed_log_numbers_its_frames_apart(
    sim: Simulator, trimming: RedisServer
) -> None:
    """Node b starts on a call whose first inputs the log no longer keeps: under the shared
    epoch its frame 1 would be the holder's frame 1, another frame, and a viewer resuming
    from b on a (or back) would get frames it never missed, or miss some."""
    sid = sim.add_call()
    key = StreamKey.call(sid)
    async with holding(sim, trimming, key) as (a, on_a):
        await say_many(sim, sid, on_a)
        assert await first_kept(trimming, key) > 1
        async with hub_of(sim, capped(trimming, "node-2")) as hub_b:
            b = hub_b.stream(key)
            await hub_b.ready([key])
            on_b, first = watching(b)
            assert [f.type for f in first] == ["snapshot"]
            sim.add_segment(sid, "assistant", "after the trim")
            await until_line(on_a, "after the trim")
            await until_line(on_b, "after the trim")
            same_ids_same_frames(a, b)
            resumes_apart(a, b)
            assert sim.connections_total(str(key)) == 1


async def test_a_node_that_fell_behind_the_trim_tells_its_viewers_reset_and_snapshot(
    sim: Simulator, trimming: RedisServer
) -> None:
    """Node b reads, then stops reading while the holder says more than the log keeps:
    what it goes on with is not what it missed. Its viewer is told (reset + snapshot),
    and its later frames are numbered apart from the holder's."""
    sid = sim.add_call()
    key = StreamKey.call(sid)
    async with holding(sim, trimming, key) as (a, on_a):
        held = HeldBack(trimming.url, "node-2")
        held.let_go.set()
        async with hub_of(sim, held) as hub_b:
            b = hub_b.stream(key)
            on_b, _ = watching(b)
            sim.add_segment(sid, "assistant", "before")
            await until_line(on_b, "before")
            held.let_go.clear()  # b reads no more (one read may still be under way)
            await say_many(sim, sid, on_a)
            assert await first_kept(trimming, key) > 2
            held.let_go.set()
            sim.add_segment(sid, "assistant", "after the trim")
            got = await until_line(on_b, "after the trim")
            told = [f.type for f in got if f.type in ("reset", "snapshot")]
            assert told == ["reset", "snapshot"]
            assert next(f for f in got if f.type == "reset").data["reason"] == "gap"
            await until_line(on_a, "after the trim")
            same_ids_same_frames(a, b)
            resumes_apart(a, b)


async def test_a_new_holder_does_not_publish_a_request_whose_answer_was_trimmed(
    sim: Simulator, trimming: RedisServer
) -> None:
    """A claim asked for and published long ago: its answer is trimmed from the input log
    while the request is still in the request log. The next holder goes on after it."""
    sid = sim.add_call()
    key = StreamKey.call(sid)
    asker = capped(trimming, "node-9")
    async with holding(sim, trimming, key) as (_, on_a):
        ada = await asker.request(str(key), codec.encode(ClaimMade("claim", "ada", False, "")))
        await _answered(asker, str(key), ada)
        await say_many(sim, sid, on_a)
        assert await _answers(asker, str(key), ada) == 0  # its answer is trimmed
    async with hub_of(sim, capped(trimming, "node-2")) as hub:
        stream = hub.stream(key)
        await sim.wait_for_connections(str(key), 1, timeout=10)  # the next holder runs
        bob = await asker.request(str(key), codec.encode(ClaimMade("claim", "bob", False, "")))
        await _answered(asker, str(key), bob)
        assert await _answers(asker, str(key), ada) == 0  # not published again
        assert stream.claims.snapshot() == {"by": "bob", "kind": "claim", "at": ""}
    await asker.close()
